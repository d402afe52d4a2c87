//go:build !(js && wasm)

package core

import "golang.org/x/oauth2"

// Token is an access token as the machines hand it out: an oauth2.Token,
// so Go programs pass it straight to oauth2.TokenSource and http.Client
// helpers. Browser builds declare their own (token_js.go).
type Token = oauth2.Token
