package native

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/gorilla/mux"
)

// DefaultCallbackPath is the path of the default redirect URI,
// http://127.0.0.1:PORT/callback.
const DefaultCallbackPath = "/callback"

// Incoming is one request that reached the redirect URI: its query, and
// the way to answer the page that is waiting for the outcome. The listener
// produces them; a driver may take them from other sources too (a pasted
// redirect URL), as long as each gets exactly one Reply.
type Incoming struct {
	Query url.Values
	reply chan<- Page
}

// Reply answers the waiting page. Later calls are ignored.
func (in *Incoming) Reply(p Page) {
	if in.reply == nil {
		return
	}
	select {
	case in.reply <- p:
	default:
	}
	in.reply = nil
}

// NewIncoming makes an [Incoming] for a callback that did not come through
// the listener; replies go to reply (buffered, or nil to drop them).
func NewIncoming(q url.Values, reply chan<- Page) *Incoming {
	return &Incoming{Query: q, reply: reply}
}

// Page is what the browser is shown after a callback.
type Page struct {
	Status  int
	Title   string
	Message string
}

// ListenerConfig says where the loopback listener listens.
type ListenerConfig struct {
	// RedirectURI, when set, is the exact redirect URI registered for the
	// client: http on a loopback host with a port (localhost listens on
	// both 127.0.0.1 and ::1). Otherwise the listener binds 127.0.0.1 on
	// Port and uses http://127.0.0.1:PORT/callback.
	RedirectURI string
	// Port is the fixed port to listen on; 0 picks a free one (RFC 8252
	// §7.3).
	Port int
}

// Listener is the loopback HTTP server that receives the authorization
// response (RFC 8252 §7.3). It answers GET on the callback path only, and
// lives only as long as the login (S14).
type Listener struct {
	redirect string
	path     string
	addrs    []net.Addr
	calls    chan *Incoming
	done     chan struct{}
	srv      *http.Server
	lns      []net.Listener
	once     sync.Once
	wg       sync.WaitGroup
}

// ErrPortInUse is returned when a fixed port is taken.
var ErrPortInUse = errors.New("port in use")

// Listen binds the loopback listener and starts serving.
func Listen(cfg ListenerConfig) (*Listener, error) {
	hosts, port, path, err := listenPlan(cfg)
	if err != nil {
		return nil, err
	}
	l := &Listener{path: path, calls: make(chan *Incoming), done: make(chan struct{})}
	for i, h := range hosts {
		ln, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				l.closeListeners()
				return nil, fmt.Errorf("%w: port %d on %s is already in use (is another login running?); pick another with --port or --redirect-uri", ErrPortInUse, port, h)
			}
			if i > 0 && (errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT)) {
				continue // no IPv6 loopback on this machine: 127.0.0.1 alone serves localhost
			}
			l.closeListeners()
			return nil, fmt.Errorf("listening on %s: %w", net.JoinHostPort(h, strconv.Itoa(port)), err)
		}
		if port == 0 {
			port = ln.Addr().(*net.TCPAddr).Port
		}
		l.lns = append(l.lns, ln)
		l.addrs = append(l.addrs, ln.Addr())
	}
	if cfg.RedirectURI != "" {
		l.redirect = cfg.RedirectURI
	} else {
		// The IP literal actually bound, never "localhost" (S12).
		l.redirect = "http://" + l.lns[0].Addr().String() + path
	}

	// SkipClean: mux would answer unclean paths (//x/callback) with a
	// redirect; the listener never redirects (S15).
	r := mux.NewRouter().SkipClean(true)
	// The path is compared as sent, byte for byte: a registered redirect
	// URI is a literal, never a mux template ({x} is not a wildcard).
	exact := func(req *http.Request, _ *mux.RouteMatch) bool { return req.URL.EscapedPath() == path }
	r.MatcherFunc(exact).Methods(http.MethodGet).HandlerFunc(l.callback)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writePage(w, Page{Status: http.StatusNotFound, Title: "Not found", Message: "Nothing here."})
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", http.MethodGet)
		writePage(w, Page{Status: http.StatusMethodNotAllowed, Title: "Method not allowed", Message: "Only GET is accepted here."})
	})
	l.srv = &http.Server{
		Handler:           l.ownHostOnly(r),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          nil,
	}
	for _, ln := range l.lns {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.srv.Serve(ln)
		}()
	}
	return l, nil
}

// ownHostOnly answers only requests addressed to the listener itself: the
// Host of its redirect URI or an address it bound (S40). A page on another
// site can point a name it controls at 127.0.0.1 (DNS rebinding) and reach
// the port; its requests still carry that name as their Host.
func (l *Listener) ownHostOnly(next http.Handler) http.Handler {
	own := map[string]bool{}
	if u, err := url.Parse(l.redirect); err == nil {
		own[strings.ToLower(u.Host)] = true
	}
	for _, a := range l.addrs {
		own[strings.ToLower(a.String())] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !own[strings.ToLower(r.Host)] {
			writePage(w, Page{Status: http.StatusMisdirectedRequest, Title: "Wrong host", Message: "This login listener answers only its own loopback address."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CheckListenerConfig reports what [Listen] would refuse in cfg (a redirect
// URI that is not http on a loopback host with a port, a port out of
// range) without binding anything: a command line is checked before any
// request is sent.
func CheckListenerConfig(cfg ListenerConfig) error {
	_, _, _, err := listenPlan(cfg)
	return err
}

// listenPlan derives the hosts, port and path to listen on.
func listenPlan(cfg ListenerConfig) (hosts []string, port int, path string, err error) {
	if cfg.RedirectURI == "" {
		if cfg.Port < 0 || cfg.Port > 65535 {
			return nil, 0, "", fmt.Errorf("invalid port %d", cfg.Port)
		}
		return []string{"127.0.0.1"}, cfg.Port, DefaultCallbackPath, nil
	}
	u, err := url.Parse(cfg.RedirectURI)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, 0, "", fmt.Errorf("invalid redirect URI %q: want http://127.0.0.1:PORT/PATH, http://[::1]:PORT/PATH or http://localhost:PORT/PATH", cfg.RedirectURI)
	}
	h := u.Hostname()
	switch {
	case h == "localhost":
		hosts = []string{"127.0.0.1", "::1"}
	case net.ParseIP(h) != nil && net.ParseIP(h).IsLoopback():
		hosts = []string{h}
	default:
		return nil, 0, "", fmt.Errorf("invalid redirect URI %q: the host must be loopback (127.0.0.1, [::1] or localhost)", cfg.RedirectURI)
	}
	if u.Port() == "" {
		return nil, 0, "", fmt.Errorf("invalid redirect URI %q: it needs an explicit port", cfg.RedirectURI)
	}
	port, err = strconv.Atoi(u.Port())
	if err != nil || port <= 0 || port > 65535 {
		return nil, 0, "", fmt.Errorf("invalid redirect URI %q: bad port", cfg.RedirectURI)
	}
	path = u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return hosts, port, path, nil
}

// RedirectURI is the redirect URI to send in the authorization request.
func (l *Listener) RedirectURI() string { return l.redirect }

// Addrs are the bound addresses.
func (l *Listener) Addrs() []net.Addr { return l.addrs }

// Callbacks delivers each GET on the callback path. Every one must be
// answered with Reply.
func (l *Listener) Callbacks() <-chan *Incoming { return l.calls }

func (l *Listener) callback(w http.ResponseWriter, r *http.Request) {
	reply := make(chan Page, 1)
	in := &Incoming{Query: r.URL.Query(), reply: reply}
	select {
	case l.calls <- in:
	case <-l.done:
		writePage(w, closedPage)
		return
	case <-r.Context().Done():
		return
	}
	select {
	case p := <-reply:
		writePage(w, p)
	case <-l.done:
		writePage(w, closedPage)
	case <-r.Context().Done():
	}
}

var closedPage = Page{Status: http.StatusGone, Title: "No login waiting", Message: "This login is over. Start it again from your terminal if you need to."}

// Close stops the listener; pages still waiting are told the login is over.
func (l *Listener) Close() error {
	l.once.Do(func() {
		close(l.done)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		l.srv.Shutdown(ctx) // lets pages being answered finish
		l.srv.Close()
		l.wg.Wait()
	})
	return nil
}

func (l *Listener) closeListeners() {
	for _, ln := range l.lns {
		ln.Close()
	}
}

// The pages are self-contained: inline style, no scripts, no external
// resources; every value is HTML-escaped (S16). Plain string building, not
// html/template: `auth token` links this package and should not pay for a
// template engine's start-up.
const pageHead = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>`

const pageStyle = ` — dualauth</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}h1{font-size:1.4em}</style>
</head><body><h1>`

func renderPage(p Page) string {
	t, m := html.EscapeString(p.Title), html.EscapeString(p.Message)
	return pageHead + t + pageStyle + t + "</h1><p>" + m + "</p></body></html>\n"
}

func writePage(w http.ResponseWriter, p Page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	if p.Status == 0 {
		p.Status = http.StatusOK
	}
	w.WriteHeader(p.Status)
	io.WriteString(w, renderPage(p))
}

// pageFor turns the end of a login into the page the browser shows. OAuth
// error codes are shown, descriptions from the server too, all escaped.
func pageFor(d core.Done) Page {
	if d.Err == nil {
		return Page{Status: http.StatusOK, Title: "Logged in", Message: "You are logged in. You can close this window and return to your terminal."}
	}
	var oe *core.OAuthError
	if errors.As(d.Err, &oe) {
		return Page{Status: http.StatusBadRequest, Title: "Login failed", Message: "The authorization server answered: " + oe.Error() + ". Return to your terminal."}
	}
	return Page{Status: http.StatusBadRequest, Title: "Login failed", Message: d.Err.Error() + ". Return to your terminal."}
}

// rejectTitle marks the page of a refused callback: the login still waits.
const rejectTitle = "Not accepted"

func rejectPage(err error) Page {
	return Page{Status: http.StatusBadRequest, Title: rejectTitle, Message: "This response does not belong to the login in progress (" + err.Error() + "). The login is still waiting."}
}
