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
	// Functions that read the wall clock, sleep, print or make entropy, by
	// import path: found under whatever name the file imports them.
	forbiddenCalls := map[string]bool{
		"time.Now": true, "time.Since": true, "time.Until": true, "time.Sleep": true, "time.After": true,
		"time.AfterFunc": true, "time.Tick": true, "time.NewTimer": true, "time.NewTicker": true,
		"golang.org/x/oauth2.GenerateVerifier": true, "fmt.Print": true, "fmt.Println": true, "fmt.Printf": true,
	}
	// What the core may use of x/oauth2: the Token type it hands Go
	// programs (token_oauth2.go). Token's methods that read the clock
	// (Valid) are refused below.
	oauth2Allowed := map[string]bool{"Token": true}
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
		imported := map[string]string{} // the name a file uses → the import path
		for _, imp := range file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if forbiddenImports[path] {
				t.Errorf("%s imports %q: the core must not do I/O", name, path)
			}
			local := path[strings.LastIndex(path, "/")+1:]
			if imp.Name != nil {
				local = imp.Name.Name
			}
			if local == "." {
				t.Errorf("%s dot-imports %q: its calls could not be told apart", name, path)
			}
			imported[local] = path
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s: go statement at %s: the core starts no goroutines", name, fset.Position(n.Pos()))
			case *ast.CallExpr:
				// oauth2.Token.Valid reads the wall clock (time.Now inside
				// x/oauth2); the core's own Entry.Valid takes the time.
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Valid" && len(n.Args) == 0 {
					t.Errorf("%s: .Valid() at %s: the clock is an input (oauth2.Token.Valid reads it)", name, fset.Position(n.Pos()))
				}
			case *ast.SelectorExpr:
				x, ok := n.X.(*ast.Ident)
				if !ok || x.Obj != nil { // a local variable, not a package
					return true
				}
				path, ok := imported[x.Name]
				if !ok {
					return true
				}
				if forbiddenCalls[path+"."+n.Sel.Name] {
					t.Errorf("%s: %s.%s (%s) at %s: time and entropy are inputs", name, x.Name, n.Sel.Name, path, fset.Position(n.Pos()))
				}
				if path == "golang.org/x/oauth2" && !oauth2Allowed[n.Sel.Name] {
					t.Errorf("%s: %s.%s at %s: the core uses x/oauth2 for its Token type only", name, x.Name, n.Sel.Name, fset.Position(n.Pos()))
				}
			}
			return true
		})
	}
	is.True(checked >= 5) // the test really looked at the package
}
