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

// browserFetch performs a core request with the browser's fetch(). The
// request carries no cookies and no Referer: the token endpoint needs
// neither, and the page URL must not leak to the server.
func browserFetch(r core.Request) core.Fetched {
	init := js.ValueOf(map[string]any{
		"method":         r.Method,
		"credentials":    "omit",
		"cache":          "no-store",
		"referrerPolicy": "no-referrer",
		"redirect":       "follow",
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
	buf, err := await(resp.Call("arrayBuffer"))
	if err != nil {
		return core.Fetched{Err: fmt.Errorf("%w: reading the response: %v", errNetwork, err), Now: time.Now()}
	}
	body := make([]byte, buf.Get("byteLength").Int())
	js.CopyBytesToGo(body, jsGlobal.Get("Uint8Array").New(buf))
	ct := resp.Get("headers").Call("get", "content-type")
	out := core.Fetched{Now: time.Now(), Response: core.Response{Status: resp.Get("status").Int(), Body: body}}
	if ct.Type() == js.TypeString {
		out.Response.ContentType = ct.String()
	}
	return out
}
