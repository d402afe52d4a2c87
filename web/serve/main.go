// Command serve is the development server of the dualauth console: it
// serves the files of one directory (the built web/ folder) on a loopback
// address and nothing else.
//
//	go run ./web/serve -dir web            # http://127.0.0.1:8765/ ($PORT overrides)
//	serve -addr 127.0.0.1:0 -stdin-eof     # tests: prints {"url": ...}, exits on stdin EOF
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// contentTypes lists what the server hands out; any other file is a 404, so
// sources and build leftovers next to the page are never served.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".wasm": "application/wasm",
	".ts":   "text/plain; charset=utf-8",
	".svg":  "image/svg+xml",
	".ico":  "image/x-icon",
}

// csp allows the page's own files, the wasm, and requests to https servers
// and loopback ones (a local authorization server, the API box).
const csp = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' https: http://127.0.0.1:* http://localhost:*; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8765"
	}
	addr := flag.String("addr", "127.0.0.1:"+port, "loopback `address` to listen on")
	dir := flag.String("dir", "web", "`directory` to serve")
	stdinEOF := flag.Bool("stdin-eof", false, "exit when standard input ends (for tests that own the pipe)")
	flag.Parse()
	if err := run(*addr, *dir, *stdinEOF); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}

func run(addr, dir string, stdinEOF bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing to listen on %s: loopback addresses only", addr)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		return fmt.Errorf("%s has no index.html (run `make build-wasm` first?)", dir)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler(dir), ReadHeaderTimeout: 10 * time.Second}
	url := "http://" + ln.Addr().String() + "/"
	json.NewEncoder(os.Stdout).Encode(map[string]string{"url": url})
	fmt.Fprintln(os.Stderr, "serving", dir, "on", url)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if stdinEOF {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func handler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Revalidated on every use (a rebuilt wasm shows up at once), yet
		// cached, so Chromium can keep the compiled wasm code.
		h.Set("Cache-Control", "no-cache")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name == "" {
			name = "index.html"
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok || strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
			http.NotFound(w, r)
			return
		}
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", ct)
		if ct == contentTypes[".html"] || name == "dualauth-worker.js" { // a worker has the CSP of its own response
			h.Set("Content-Security-Policy", csp)
		}
		http.ServeContent(w, r, name, st.ModTime(), f)
	})
}
