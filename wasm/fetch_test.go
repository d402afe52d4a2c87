//go:build js && wasm

package main

import (
	"bytes"
	"errors"
	"strings"
	"syscall/js"
	"testing"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

// streamingServer replaces fetch with one that answers with the browser's
// own Response over a ReadableStream: total bytes of 'x' in chunks of
// chunk bytes, pulled on demand, with no Content-Length (as a chunked or
// unframed answer). It returns the JS object that counts what was pulled
// and whether the reader was cancelled, and a function that puts fetch back.
func streamingServer(total, chunk int) (stats js.Value, restore func()) {
	stats = jsGlobal.Get("Object").New()
	fake := jsGlobal.Get("Function").New("stats", "total", "chunk", `
		stats.pulled = 0; stats.cancelled = false;
		return function () {
			const body = new ReadableStream({
				pull(c) {
					if (stats.pulled >= total) { c.close(); return; }
					const n = Math.min(chunk, total - stats.pulled);
					stats.pulled += n;
					c.enqueue(new Uint8Array(n).fill(120));
				},
				cancel() { stats.cancelled = true; },
			}, { highWaterMark: 0 });
			return Promise.resolve(new Response(body, { status: 200, headers: { 'Content-Type': 'application/json' } }));
		};`).Invoke(stats, total, chunk)
	orig := jsGlobal.Get("fetch")
	jsGlobal.Set("fetch", fake)
	return stats, func() { jsGlobal.Set("fetch", orig) }
}

// A server that streams far more than core.MaxResponseBytes: the body is
// read as a stream and cancelled just past the cap (the rest is never
// pulled), and the core gets ErrTooLarge.
func TestBrowserFetch_StopsReadingABodyPastTheCap(t *testing.T) {
	is := is.New(t)
	const chunk = 64 << 10
	stats, restore := streamingServer(64<<20, chunk) // 64 MiB on offer
	defer restore()
	f := browserFetch(core.Request{Method: "GET", URL: "http://127.0.0.1:9/.well-known/openid-configuration", Header: map[string]string{}})
	is.True(errors.Is(f.Err, core.ErrTooLarge))
	is.True(stats.Get("cancelled").Bool())                              // the download was stopped
	is.True(stats.Get("pulled").Int() <= core.MaxResponseBytes+2*chunk) // not read to the end
}

// Bodies up to the cap, in uneven chunks and without a Content-Length,
// arrive whole; one byte more is too large.
func TestBrowserFetch_ReadsAStreamedBodyUpToTheCap(t *testing.T) {
	for _, c := range []struct {
		total, chunk int
		tooLarge     bool
	}{
		{0, 1, false},
		{5, 2, false},
		{core.MaxResponseBytes, 70001, false},
		{core.MaxResponseBytes + 1, 70001, true},
		{core.MaxResponseBytes + 1, core.MaxResponseBytes + 1, true},
	} {
		is := is.New(t)
		stats, restore := streamingServer(c.total, c.chunk)
		f := browserFetch(core.Request{Method: "GET", URL: "http://127.0.0.1:9/x", Header: map[string]string{}})
		restore()
		if c.tooLarge {
			is.True(errors.Is(f.Err, core.ErrTooLarge))
			is.True(stats.Get("cancelled").Bool())
			continue
		}
		is.NoErr(f.Err)
		is.Equal(f.Response.Status, 200)
		is.Equal(f.Response.ContentType, "application/json")
		is.Equal(len(f.Response.Body), c.total)
		is.True(bytes.Equal(f.Response.Body, bytes.Repeat([]byte("x"), c.total)))
		is.True(!stats.Get("cancelled").Bool())
	}
}

// Step-up in the browser: a 403 insufficient_scope to dualauth.fetch
// reaches the page as the API's Response, and the console line names the
// page's call, login({ host, scopes }), not the CLI's command.
func TestAPIFetch_InsufficientScopeNamesTheLoginCall(t *testing.T) {
	is := is.New(t)
	td := newTestDriver(t)
	td.signIn(t)
	fake := jsGlobal.Get("Function").New(`return function () {
		return Promise.resolve(new Response('{}', { status: 403, headers: { 'WWW-Authenticate': 'Bearer error="insufficient_scope", scope="admin:write"' } }));
	};`).Invoke()
	orig := jsGlobal.Get("fetch")
	jsGlobal.Set("fetch", fake)
	defer jsGlobal.Set("fetch", orig)
	caught := catchWarnings(t)

	res, err := td.apiFetch(fetchOptions{targetOptions: td.target(), input: js.ValueOf(td.srv.issuer + "/api/admin"), init: js.Undefined()})
	is.NoErr(err)
	warned := *caught
	is.Equal(res.(js.Value).Get("status").Int(), 403) // the API's own answer
	is.Equal(len(warned), 1)
	is.True(strings.Contains(warned[0], `403 insufficient_scope: log in again with the scopes it needs: login({ host: "`+td.srv.issuer+`", scopes: "`)) // the call
	is.True(strings.Contains(warned[0], ` admin:write" })`))
	is.True(!strings.Contains(warned[0], "auth login"))
}
