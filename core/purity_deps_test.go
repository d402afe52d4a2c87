//go:build !js && !wasip1

// Runs `go list`, which a js/wasm test binary cannot start; the source
// checks of TestCore_IsPure run on every target.

package core

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// TestCore_IsPureBeyondItsOwnSource follows the core's imports all the
// way down (`go list -deps`). It cannot ask that no I/O package is reached
// at all: fmt, crypto/rand and time reach os and syscall in every Go
// program. What it holds to is that of the core's own imports only
// golang.org/x/oauth2 (for its Token type, see TestCore_IsPure) brings in
// a package that talks to the world (net/http, os/exec, …), and that no
// other module is a dependency: a new import that quietly brings an HTTP
// client or a subprocess in fails here.
func TestCore_IsPureBeyondItsOwnSource(t *testing.T) {
	is := is.New(t)
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}{{range .Imports}} {{.}}{{end}}", ".").Output()
	is.NoErr(err) // go list -deps of the core
	imports := map[string][]string{}
	var self string
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		imports[f[0]] = f[2:]
		if f[1] == "false" && f[0] != "github.com/dualauth/dualauth/core" && !strings.HasPrefix(f[0], "golang.org/x/oauth2") {
			t.Errorf("the core depends on %s: only the standard library and golang.org/x/oauth2 are allowed", f[0])
		}
		self = f[0] // go list prints a package after its dependencies
	}
	is.Equal(self, "github.com/dualauth/dualauth/core")
	world := []string{"net/http", "os/exec", "net/rpc", "net/smtp", "plugin", "syscall/js", "log/slog"}
	reaches := map[string]bool{}
	var reach func(p string) bool
	reach = func(p string) bool {
		if r, ok := reaches[p]; ok {
			return r
		}
		reaches[p] = slices.Contains(world, p)
		for _, q := range imports[p] {
			if reach(q) {
				reaches[p] = true
			}
		}
		return reaches[p]
	}
	var through []string
	for _, p := range imports[self] {
		if reach(p) {
			through = append(through, p)
		}
	}
	is.Equal(through, []string{"golang.org/x/oauth2"}) // the core's only import that brings in net/http, os/exec, … (for its Token type only)
}
