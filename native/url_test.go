package native

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/deviceop"
	"github.com/dualauth/dualauth/internal/dpopapi"
	"github.com/matryer/is"
)

// resourceServer is a small API of our own that an oidc-provider protects:
// it answers 401 with resource_metadata (RFC 9728 §5.1) unless the request
// carries a JWT access token signed by the provider whose audience is this
// API, and it publishes its protected-resource metadata (unless
// wellKnown is false: then only the 401 says where it is).
type resourceServer struct {
	URL      string // the resource identifier: BASE/api
	issuer   string
	mu       sync.Mutex
	accepted int
	refused  []string
}

func startResourceServer(t *testing.T, issuer string, wellKnown bool) *resourceServer {
	t.Helper()
	rs := &resourceServer{issuer: issuer}
	mux := http.NewServeMux()
	meta := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"resource": rs.URL, "authorization_servers": []string{issuer}, "scopes_supported": []string{"api:read"}})
	}
	if wellKnown {
		mux.HandleFunc("GET /.well-known/oauth-protected-resource/api", meta)
	}
	mux.HandleFunc("GET /meta", meta)
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if err := rs.check(tok); !ok || err != nil {
			rs.mu.Lock()
			rs.refused = append(rs.refused, fmt.Sprint(err))
			rs.mu.Unlock()
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer resource_metadata="%s/meta", scope="api:read"`, strings.TrimSuffix(rs.URL, "/api")))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		rs.mu.Lock()
		rs.accepted++
		rs.mu.Unlock()
		io.WriteString(w, "hello")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	rs.URL = srv.URL + "/api"
	return rs
}

// check verifies the token as a resource server would: signature,
// issuer, audience (this API) and expiry.
func (rs *resourceServer) check(tok string) error {
	_, err := dpopapi.VerifyAccessToken(rs.issuer, rs.URL, tok)
	return err
}

func (rs *resourceServer) call(t *testing.T, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", rs.URL, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func urlProvider(t *testing.T) *deviceop.Server {
	t.Helper()
	op, err := deviceop.Start(deviceop.Options{ByURL: true, Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Close)
	return op
}

func (op *opBrowser) authorize(authURL string, _ <-chan error) {
	op.wg.Add(1)
	go func() {
		defer op.wg.Done()
		final, err := op.srv.Authorize(context.Background(), authURL)
		if err != nil {
			op.t.Errorf("provider login: %v", err)
			return
		}
		resp, err := http.Get(final.String())
		if err != nil {
			op.t.Errorf("GET callback: %v", err)
			return
		}
		resp.Body.Close()
	}()
}

type opBrowser struct {
	t   *testing.T
	srv *deviceop.Server
	wg  sync.WaitGroup
}

// urlLogin logs in to target by its URL alone: resolution, then the
// browser login without a client ID.
func urlLogin(t *testing.T, op *deviceop.Server, store Store, target string) (*core.Resolution, *core.Entry, error) {
	t.Helper()
	host, err := core.NormalizeHost(target)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Target: core.Target{Host: host}, Store: store, HTTPOptions: HTTPOptions{Timeout: 5 * time.Second}, LockTimeout: 3 * time.Second, Warn: func(string) {}}
	res, err := Resolve(context.Background(), o)
	if err != nil {
		return nil, nil, err
	}
	b := &opBrowser{t: t, srv: op}
	e, err := Login(context.Background(), LoginOptions{Options: o, Scopes: res.Scopes, Opener: Opener{Disabled: true}, Timeout: 15 * time.Second, OnAuthorize: b.authorize, Resolution: res})
	b.wg.Wait()
	return res, e, err
}

func registrations(op *deviceop.Server) int {
	n := 0
	for _, r := range op.Requests() {
		if r.Path == "/reg" && r.Status == 201 {
			n++
		}
	}
	return n
}

// The whole way in by URL: an API's metadata names oidc-provider; a client
// is registered there (RFC 7591) and reused by the next login; the token,
// asked with resource= (RFC 8707), has the API as its audience, and so has
// the refreshed one; `auth token URL` finds the login offline.
func TestURL_ProtectedResourceLoginRegistersOnceAndTheTokenIsForTheAPI(t *testing.T) {
	is := is.New(t)
	op := urlProvider(t)
	api := startResourceServer(t, op.Issuer, true)
	store := &FileCache{Dir: t.TempDir()}

	res, e, err := urlLogin(t, op, store, api.URL)
	is.NoErr(err)
	is.Equal(res.Kind, core.KindResource)
	is.Equal(res.Resource, api.URL)
	is.Equal(res.Issuer, op.Issuer)
	is.True(strings.HasPrefix(e.Resolution.ClientIDFrom, "registered at "+op.Issuer+"/reg"))
	is.Equal(api.call(t, e.AccessToken), 200) // audience: this API
	is.True(e.RefreshToken != "")

	_, e2, err := urlLogin(t, op, store, api.URL)
	is.NoErr(err)
	is.Equal(e2.ClientID, e.ClientID) // two logins, one registration
	is.Equal(registrations(op), 1)

	// Offline: the client comes from the cache, the login by the URL.
	o := Options{Target: core.Target{Host: api.URL}, Store: store}
	tok, err := Token(context.Background(), TokenOptions{Options: o})
	is.NoErr(err)
	is.Equal(tok.AccessToken, e2.AccessToken)

	// Refresh sends resource= again: the new token is for the API too.
	o.Warn = func(string) {}
	tok, err = Token(context.Background(), TokenOptions{Options: o, Force: true})
	is.NoErr(err)
	is.True(tok.AccessToken != e2.AccessToken)
	is.Equal(api.call(t, tok.AccessToken), 200)
	for _, r := range op.Requests() {
		if r.Path == "/token" {
			is.True(strings.Contains(strings.Join(r.Params, " "), "resource")) // on every token request
		}
	}
}

// Without the well-known document, the API's own 401 says where its
// metadata is.
func TestURL_ProtectedResourceFoundThroughItsOwn401(t *testing.T) {
	is := is.New(t)
	op := urlProvider(t)
	api := startResourceServer(t, op.Issuer, false)
	res, e, err := urlLogin(t, op, &FileCache{Dir: t.TempDir()}, api.URL)
	is.NoErr(err)
	is.True(strings.HasSuffix(res.KindFrom, "/meta"))
	is.Equal(api.call(t, e.AccessToken), 200)
}

// A second resource on the same issuer is a second login, with the same
// registered client.
func TestURL_SecondResourceOnTheSameIssuerIsASecondLogin(t *testing.T) {
	is := is.New(t)
	op := urlProvider(t)
	a := startResourceServer(t, op.Issuer, true)
	b := startResourceServer(t, op.Issuer, true)
	store := &FileCache{Dir: t.TempDir()}
	_, ea, err := urlLogin(t, op, store, a.URL)
	is.NoErr(err)
	_, eb, err := urlLogin(t, op, store, b.URL)
	is.NoErr(err)
	is.True(ea.Key() != eb.Key())
	is.Equal(ea.ClientID, eb.ClientID)
	is.Equal(a.call(t, eb.AccessToken), 401) // b's token is not for a
	is.Equal(b.call(t, eb.AccessToken), 200)
}

// The device grant takes the resolution too: resource= on the device
// authorization and token requests, so a device login to an API gets a
// token for that API.
func TestURL_DeviceLoginToAProtectedResourceGetsATokenForIt(t *testing.T) {
	is := is.New(t)
	op := urlProvider(t)
	api := startResourceServer(t, op.Issuer, true)
	o := Options{Target: core.Target{Host: api.URL}, ClientID: op.ClientID, Store: &FileCache{Dir: t.TempDir()},
		HTTPOptions: HTTPOptions{Timeout: 5 * time.Second}, LockTimeout: 3 * time.Second, Warn: func(string) {}}
	res, err := Resolve(context.Background(), o)
	is.NoErr(err)
	var wg sync.WaitGroup
	e, err := DeviceLogin(context.Background(), DeviceOptions{Options: o, Timeout: 30 * time.Second, Resolution: res,
		ShowCode: func(c core.ShowCode) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := op.Approve(context.Background(), c.VerificationURIComplete); err != nil {
					t.Errorf("approve: %v", err)
				}
			}()
		}})
	wg.Wait()
	is.NoErr(err)
	is.Equal(e.Resource, api.URL)
	is.Equal(api.call(t, e.AccessToken), 200)
	for _, r := range op.Requests() {
		if r.Path == "/device/auth" || r.Path == "/token" {
			is.True(strings.Contains(strings.Join(r.Params, " "), "resource"))
		}
	}
}
