// Command auth logs in to OAuth 2.0 / OpenID Connect servers from the
// terminal and hands out access tokens: `auth login HOST` once, then
// `auth token HOST` whenever a program needs a token. See `auth --help`.
package main

import (
	"os"
	"path/filepath"
	"strings"

	_ "github.com/dualauth/dualauth/internal/earlystack" // first: see its doc
)

func main() {
	a := newApp(os.Stdout, os.Stderr, os.Getenv)
	// A link named databricks is the Databricks CLI's token source for the
	// Databricks SDKs (see databricks.go).
	if strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe") == databricksName {
		os.Exit(a.runDatabricks(os.Args[1:]))
	}
	os.Exit(a.run(os.Args[1:]))
}
