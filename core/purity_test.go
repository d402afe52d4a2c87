package core

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// The core performs no I/O and owns no clock, entropy or goroutines
// (DESIGN.md): drivers do. This reads the package's own source.
func TestCore_IsPure(t *testing.T) {
	is := is.New(t)
	forbiddenImports := map[string]bool{
		"os": true, "os/exec": true, "os/signal": true, "io/fs": true, "io/ioutil": true, "path/filepath": true,
		"net": true, "net/http": true, "net/http/httptest": true, "net/rpc": true, "net/smtp": true,
		"syscall": true, "syscall/js": true, "unsafe": true, "log": true, "log/slog": true,
		"crypto/rand": true, "math/rand": true, "math/rand/v2": true, "runtime": true, "plugin": true,
	}
	forbiddenCalls := map[string]bool{
		"time.Now": true, "time.Since": true, "time.Until": true, "time.Sleep": true, "time.After": true,
		"time.AfterFunc": true, "time.Tick": true, "time.NewTimer": true, "time.NewTicker": true,
		"oauth2.GenerateVerifier": true, "fmt.Print": true, "fmt.Println": true, "fmt.Printf": true,
	}
	files, err := os.ReadDir(".")
	is.NoErr(err)
	checked := 0
	for _, f := range files {
		name := f.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		checked++
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, name, nil, 0)
		is.NoErr(err)
		for _, imp := range file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if forbiddenImports[path] {
				t.Errorf("%s imports %q: the core must not do I/O", name, path)
			}
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s: go statement at %s: the core starts no goroutines", name, fset.Position(n.Pos()))
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && forbiddenCalls[x.Name+"."+n.Sel.Name] {
					t.Errorf("%s: %s.%s at %s: time and entropy are inputs", name, x.Name, n.Sel.Name, fset.Position(n.Pos()))
				}
			}
			return true
		})
	}
	is.True(checked >= 5) // the test really looked at the package
}
