package earlystack

import (
	"go/parser"
	"go/token"
	"testing"

	"github.com/matryer/is"
)

// The package must import nothing, or its init no longer runs before the
// standard library's deep initialisers and stops doing its job.
func TestEarlystack_ImportsNothing(t *testing.T) {
	is := is.New(t)
	f, err := parser.ParseFile(token.NewFileSet(), "earlystack.go", nil, parser.ImportsOnly)
	is.NoErr(err)
	is.Equal(len(f.Imports), 0)
}
