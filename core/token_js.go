//go:build js && wasm

package core

import "time"

// Token is an access token as the machines hand it out. Browser builds
// declare the fields of oauth2.Token they use instead of importing
// golang.org/x/oauth2: that package imports net/http, whose package
// initialisation alone keeps ~0.45 MB (gzip) of client, TLS and HTTP/2 code
// in the wasm, over the 1.5 MB budget (DESIGN.md).
type Token struct {
	AccessToken  string
	TokenType    string
	RefreshToken string
	Expiry       time.Time
}
