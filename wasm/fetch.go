//go:build js && wasm

package main

import (
	"fmt"
	"syscall/js"
	"time"

	"github.com/dualauth/dualauth/core"
)

// fetchTimeout bounds every request: a server that never answers must not
// keep the token lock (and every other tab) waiting forever.
const fetchTimeout = 30 * time.Second

// opaqueRedirectStatus is the status a redirect the browser did not follow
// is reported with. fetch() hides which redirect it was (an opaque-redirect
// response has status 0, no headers and no body); 302, the generic
// redirect, stands for any of them.
const opaqueRedirectStatus = 302

// browserFetch performs a core request with the browser's fetch(). The
// request carries no cookies and no Referer: the token endpoint needs
// neither, and the page URL must not leak to the server.
//
// Redirects are never followed, as in the native driver (whose client
// returns the redirect response itself): following a 307 or 308 from the
// token endpoint would re-send the form — code and PKCE verifier, or the
// refresh token — to wherever the server points, cross-origin included
// (the request is CORS-simple). With redirect "manual" the browser stops at
// the redirect, and the core gets a 3xx response, as it does natively: a
// discovery candidate that redirects counts as "not here" and the next
// one is tried, a token or revocation endpoint that redirects is an HTTP
// error (redirect "error" would have made every redirect a network
// failure, which ends discovery at once). When such a response makes a
// flow fail, the driver reports it with the code unexpected_redirect.
func browserFetch(r core.Request) core.Fetched {
	init := js.ValueOf(map[string]any{
		"method":         r.Method,
		"credentials":    "omit",
		"cache":          "no-store",
		"referrerPolicy": "no-referrer",
		"redirect":       "manual",
	})
	headers := map[string]any{}
	for k, v := range r.Header {
		headers[k] = v
	}
	init.Set("headers", js.ValueOf(headers))
	if body := r.Body(); body != "" {
		init.Set("body", body)
	}
	if ts := jsGlobal.Get("AbortSignal"); ts.Truthy() && ts.Get("timeout").Truthy() {
		init.Set("signal", ts.Call("timeout", fetchTimeout.Milliseconds()))
	}
	p, err := call(func() js.Value { return jsGlobal.Call("fetch", r.URL, init) })
	if err != nil {
		return core.Fetched{Err: fmt.Errorf("%w: %v", errNetwork, err), Now: time.Now()}
	}
	resp, err := await(p)
	if err != nil {
		// fetch rejects with a bare TypeError for network and CORS
		// failures; say which, without the request.
		return core.Fetched{Err: fmt.Errorf("%w (%v)", errNetwork, err), Now: time.Now()}
	}
	if t := resp.Get("type"); t.Type() == js.TypeString && t.String() == "opaqueredirect" {
		return core.Fetched{Now: time.Now(), Response: core.Response{Status: opaqueRedirectStatus}}
	}
	body, err := readBody(resp)
	if err != nil {
		return core.Fetched{Err: err, Now: time.Now()}
	}
	// WWW-Authenticate and DPoP-Nonce are readable cross-origin only when
	// the server lists them in Access-Control-Expose-Headers (web/README.md).
	return core.Fetched{Now: time.Now(), Response: core.Response{
		Status:          resp.Get("status").Int(),
		Body:            body,
		ContentType:     header(resp, "content-type"),
		WWWAuthenticate: header(resp, "www-authenticate"),
		DPoPNonce:       header(resp, "dpop-nonce"),
	}}
}

// readBody reads a response's body as a stream, chunk by chunk, and stops
// as soon as it passes core.MaxResponseBytes: the reader is cancelled (the
// browser stops downloading) and the answer is core.ErrTooLarge. Reading
// it whole first (arrayBuffer) would let a hostile server fill the tab's
// memory. Content-Length is not trusted or needed: a body without one, or
// chunked, is counted the same way.
func readBody(resp js.Value) ([]byte, error) {
	stream := resp.Get("body")
	if stream.IsNull() || stream.IsUndefined() {
		return nil, nil // no body (204, 304, HEAD)
	}
	reader, err := call(func() js.Value { return stream.Call("getReader") })
	if err != nil {
		return nil, fmt.Errorf("%w: reading the response: %v", errNetwork, err)
	}
	var body []byte
	for {
		res, err := await(reader.Call("read"))
		if err != nil {
			return nil, fmt.Errorf("%w: reading the response: %v", errNetwork, err)
		}
		if res.Get("done").Truthy() {
			return body, nil
		}
		chunk := res.Get("value")
		n := chunk.Get("byteLength").Int()
		if len(body)+n > core.MaxResponseBytes {
			call(func() js.Value { return reader.Call("cancel") })
			return nil, core.ErrTooLarge
		}
		off := len(body)
		body = append(body, make([]byte, n)...)
		js.CopyBytesToGo(body[off:], chunk)
	}
}
