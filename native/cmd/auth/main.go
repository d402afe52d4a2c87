// Command auth logs in to OAuth 2.0 / OpenID Connect servers from the
// terminal and hands out access tokens: `auth login HOST` once, then
// `auth token HOST` whenever a program needs a token. See `auth --help`.
package main

import (
	"os"

	_ "github.com/dualauth/dualauth/internal/earlystack" // first: see its doc
)

func main() {
	os.Exit(newApp(os.Stdout, os.Stderr, os.Getenv).run(os.Args[1:]))
}
