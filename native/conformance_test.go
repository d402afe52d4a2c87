package native

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/conformance"
)

// TestConformance runs the driver conformance suite (internal/conformance)
// against the native driver: the real flows (Login, Token, Logout) on a
// file cache in a temp dir, the HTTP client talking to the suite's server
// on a loopback httptest server, and each redirect delivered to the login's
// loopback listener by an HTTP GET, as a browser delivers it.
func TestConformance(t *testing.T) {
	conformance.Run(t, "native", newConformanceDriver)
}

type conformanceDriver struct {
	t     *testing.T
	env   conformance.Env
	host  string
	cache *FileCache
	warn  *warnings
}

func newConformanceDriver(t *testing.T, env conformance.Env) conformance.Driver {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveCore(w, r, env.Server.Handle)
	}))
	t.Cleanup(srv.Close)
	w := &warnings{}
	return &conformanceDriver{t: t, env: env, host: srv.URL, cache: &FileCache{Dir: t.TempDir(), Warn: w.add}, warn: w}
}

// serveCore answers an HTTP request with handle, which takes and gives
// them as the core's data.
func serveCore(w http.ResponseWriter, r *http.Request, handle func(core.Request) core.Response) {
	req := core.Request{Method: r.Method, URL: "http://" + r.Host + r.URL.RequestURI(), Header: map[string]string{}}
	for _, h := range []string{"DPoP", "Authorization"} {
		if v := r.Header.Get(h); v != "" {
			req.Header[h] = v
		}
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || bytes.HasPrefix(body, []byte("{")) {
		req.JSON = body
	} else if r.Method == "POST" {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := r.ParseForm(); err == nil {
			req.Form = r.PostForm
		}
	}
	resp := handle(req)
	for h, v := range map[string]string{"Content-Type": resp.ContentType, "DPoP-Nonce": resp.DPoPNonce, "WWW-Authenticate": resp.WWWAuthenticate} {
		if v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.Status)
	w.Write(resp.Body)
}

func (d *conformanceDriver) options(clientID string) Options {
	return d.optionsAt(d.host, clientID)
}

func (d *conformanceDriver) optionsAt(host, clientID string) Options {
	return Options{
		Target:      core.Target{Host: host},
		ClientID:    clientID,
		Store:       d.cache,
		HTTPOptions: HTTPOptions{Timeout: 3 * time.Second},
		LockTimeout: 3 * time.Second,
		Warn:        d.warn.add,
		Now:         d.env.Now,
	}
}

func (d *conformanceDriver) Host() string { return d.host }

// Login resolves the host as `auth login HOST` does, then logs in; the
// "browser" signs in at the suite's server and GETs the redirect.
func (d *conformanceDriver) Login(clientID, dpop string) error {
	return d.LoginWith(conformance.LoginCall{Host: d.host, ClientID: clientID, DPoP: dpop})
}

// LoginResource is Login asking for resource (--resource; the browser's
// resource option).
func (d *conformanceDriver) LoginResource(clientID, resource string) error {
	return d.LoginWith(conformance.LoginCall{Host: d.host, ClientID: clientID, Resource: resource})
}

// LoginWith is Login at c.Host; with RedirectTaken, another program
// listens on the port of the redirect URI the registered client has.
func (d *conformanceDriver) LoginWith(c conformance.LoginCall) error {
	if c.RedirectTaken {
		l, err := d.takeRegisteredPort()
		if err != nil {
			return err
		}
		defer l.Close()
	}
	o := d.optionsAt(c.Host, c.ClientID)
	o.DPoP, o.Resource = c.DPoP, c.Resource
	res, err := Resolve(context.Background(), o)
	if err != nil {
		return err
	}
	o.Target = res.LoginTarget(o.Target)
	var wg sync.WaitGroup
	_, err = Login(context.Background(), LoginOptions{
		Options:    o,
		Resolution: res,
		Opener:     Opener{Disabled: true, Output: io.Discard},
		Timeout:    10 * time.Second,
		OnAuthorize: func(authURL string, _ <-chan error) {
			wg.Go(func() {
				back, err := d.env.Server.Authorize(authURL)
				if err != nil {
					d.t.Errorf("authorize: %v", err)
					return
				}
				resp, err := http.Get(back)
				if err != nil {
					d.t.Errorf("delivering the redirect: %v", err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		},
	})
	wg.Wait()
	return err
}

func (d *conformanceDriver) Token(clientID string, force bool) (conformance.Token, error) {
	e, err := Token(context.Background(), TokenOptions{Options: d.options(clientID), Force: force})
	if err != nil {
		return conformance.Token{}, err
	}
	return conformance.Token{AccessToken: e.AccessToken, TokenType: e.TokenType}, nil
}

// TokenResource is `auth token RESOURCE`.
func (d *conformanceDriver) TokenResource(clientID, resource string) (conformance.Token, error) {
	o := d.options(clientID)
	o.Target.Host = resource
	e, err := Token(context.Background(), TokenOptions{Options: o})
	if err != nil {
		return conformance.Token{}, err
	}
	return conformance.Token{AccessToken: e.AccessToken, TokenType: e.TokenType}, nil
}

func (d *conformanceDriver) Logout(clientID string) (bool, error) {
	e, err := Logout(context.Background(), d.options(clientID))
	return e != nil, err
}

func (d *conformanceDriver) Entries() (map[string]core.Entry, error) { return d.cache.Entries() }

func (d *conformanceDriver) Put(key string, e core.Entry) error { return d.cache.Save(key, e) }

func (d *conformanceDriver) Warnings() []string {
	d.warn.mu.Lock()
	defer d.warn.mu.Unlock()
	w := d.warn.msgs
	d.warn.msgs = nil
	return w
}

func (d *conformanceDriver) Keys() (int, error) {
	des, err := os.ReadDir(filepath.Join(d.cache.Dir, DPoPKeysDir))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	return len(des), err
}

// takeRegisteredPort listens on the port of the redirect URI of the client
// dualauth registered, as another program would.
func (d *conformanceDriver) takeRegisteredPort() (net.Listener, error) {
	entries, err := d.cache.Entries()
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Registration == nil || len(e.Registration.RedirectURIs) == 0 {
			continue
		}
		u, err := url.Parse(e.Registration.RedirectURIs[0])
		if err != nil {
			return nil, err
		}
		return net.Listen("tcp", u.Host)
	}
	return nil, errors.New("no registered client has a redirect URI")
}

// Fetch calls url as `auth api` does: the login named, else the one whose
// resource contains url, else the URL's origin's.
func (d *conformanceDriver) Fetch(rawURL, host string) (int, error) {
	if host == "" {
		if host = LoginForURL(d.cache, rawURL); host == "" {
			host = core.Origin(rawURL)
		}
	}
	resp, _, err := CallResource(context.Background(), ResourceOptions{
		TokenOptions: TokenOptions{Options: d.optionsAt(host, "")},
		Method:       http.MethodGet,
		URL:          rawURL,
		KeepNonces:   true, // as auth api: the next call is another process
	})
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// PutUnreadable writes a cache file that is not one: natively all logins
// share the file, so the whole of it is unreadable.
func (d *conformanceDriver) PutUnreadable(string) error {
	return os.WriteFile(d.cache.Path(), []byte("{\"version\": 1, \"tokens\": {\"x\": garbage"), 0o600)
}
