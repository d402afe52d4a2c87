package earlystack

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// The package must import nothing, or its init no longer runs before the
// standard library's deep initialisers and stops doing its job.
func TestEarlystack_ImportsNothing(t *testing.T) {
	is := is.New(t)
	files, err := filepath.Glob("*.go")
	is.NoErr(err)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		is.NoErr(err)
		is.Equal(len(ast.Imports), 0) // f
	}
}

// The auth command imports it, in the file with its main.
func TestEarlystack_TheAuthCommandImportsIt(t *testing.T) {
	is := is.New(t)
	src := filepath.Join("..", "..", "native", "cmd", "auth", "main.go")
	_, err := os.Stat(src)
	is.NoErr(err)
	ast, err := parser.ParseFile(token.NewFileSet(), src, nil, parser.ImportsOnly)
	is.NoErr(err)
	var paths []string
	for _, im := range ast.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		paths = append(paths, p)
	}
	is.True(slices.Contains(paths, "github.com/dualauth/dualauth/internal/earlystack"))
}
