package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matryer/is"
)

func testDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"index.html":        "<!doctype html><title>x</title>",
		"app.js":            "export {};",
		"dualauth.wasm":     "\x00asm",
		"notes.md":          "secret notes",
		".env":              "TOKEN=x",
		"sub/inner.js":      "nope",
		"serve/main.go":     "package main",
		"e2e/harness.mjs":   "nope",
		"dualauth.d.ts":     "export {};",
		"wasm_exec.js":      "// go",
		"style.css":         "body{}",
		"bench/baseline.go": "package main",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func get(h http.Handler, method, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}

func TestHandler_ServesThePageWithSecurityHeaders(t *testing.T) {
	is := is.New(t)
	h := handler(testDir(t))
	w := get(h, "GET", "/")
	is.Equal(w.Code, 200)
	is.Equal(w.Header().Get("Content-Type"), "text/html; charset=utf-8")
	is.Equal(w.Header().Get("X-Content-Type-Options"), "nosniff")
	is.Equal(w.Header().Get("Referrer-Policy"), "no-referrer")
	csp := w.Header().Get("Content-Security-Policy")
	is.True(strings.Contains(csp, "script-src 'self' 'wasm-unsafe-eval'")) // no inline script, no third party
	is.True(!strings.Contains(csp, "unsafe-inline"))

	w = get(h, "GET", "/dualauth.wasm")
	is.Equal(w.Code, 200)
	is.Equal(w.Header().Get("Content-Type"), "application/wasm") // instantiateStreaming needs it
}

func TestHandler_ServesOnlyTopLevelPageFiles(t *testing.T) {
	h := handler(testDir(t))
	for _, p := range []string{"/notes.md", "/.env", "/sub/inner.js", "/serve/main.go", "/e2e/harness.mjs", "/bench/baseline.go", "/../go.mod", "/missing.js"} {
		t.Run(p, func(t *testing.T) {
			is := is.New(t)
			is.Equal(get(h, "GET", p).Code, 404)
		})
	}
}

func TestHandler_RefusesMethodsOtherThanGetAndHead(t *testing.T) {
	is := is.New(t)
	h := handler(testDir(t))
	is.Equal(get(h, "POST", "/").Code, 405)
	is.Equal(get(h, "HEAD", "/app.js").Code, 200)
}

func TestRun_RefusesNonLoopbackAddresses(t *testing.T) {
	is := is.New(t)
	dir := testDir(t)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0"} {
		err := run(addr, dir, false)
		is.True(err != nil)
		is.True(strings.Contains(err.Error(), "loopback only") || strings.Contains(err.Error(), "loopback addresses only"))
	}
}
