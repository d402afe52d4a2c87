//go:build js && wasm

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall/js"
	"testing"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/conformance"
)

// TestConformance runs the driver conformance suite (internal/conformance)
// against the browser driver in headless Chromium: the JS API's methods
// (login, handleRedirect, token, logout) on the real IndexedDB,
// localStorage and navigator.locks, with fetch answered by the suite's
// server as data and each redirect handed to handleRedirect as the page
// loaded at the redirect URI would.
func TestConformance(t *testing.T) {
	conformance.Run(t, "wasm", newConformanceDriver)
}

type conformanceDriver struct {
	*testDriver
	env  conformance.Env
	host string

	mu     sync.Mutex
	warned []string
}

func newConformanceDriver(t *testing.T, env conformance.Env) conformance.Driver {
	td := newTestDriver(t)
	td.driver.fetch = func(r core.Request) core.Fetched {
		return core.Fetched{Response: env.Server.Handle(r), Now: env.Now()}
	}
	td.driver.now = env.Now
	// A loopback issuer nobody listens on: the suite's server answers for it.
	host := fmt.Sprintf("http://127.0.0.1:%d", 20000+testSeq.Add(1))
	d := &conformanceDriver{testDriver: td, env: env, host: host}
	// The driver warns on the console: catch what it says there.
	console := jsGlobal.Get("console")
	orig := console.Get("warn")
	catch := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if m := arg0(args); m.Type() == js.TypeString {
			d.mu.Lock()
			d.warned = append(d.warned, strings.TrimPrefix(m.String(), "dualauth: "))
			d.mu.Unlock()
		}
		return nil
	})
	console.Set("warn", catch)
	t.Cleanup(func() { console.Set("warn", orig); catch.Release() })
	serveFetch(t, env.Server)
	return d
}

// serveFetch answers the page's fetch() with the suite's server while the
// test runs: the API calls of dualauth.fetch (the driver's own requests
// go to driver.fetch).
func serveFetch(t *testing.T, srv *conformance.Server) {
	orig := jsGlobal.Get("fetch")
	f := js.FuncOf(func(_ js.Value, args []js.Value) any {
		req := jsGlobal.Get("Request").New(args[0], optionalArg(args, 1))
		r := core.Request{Method: req.Get("method").String(), URL: req.Get("url").String(), Header: map[string]string{}}
		for _, h := range []string{"Authorization", "DPoP"} {
			if v := req.Get("headers").Call("get", h); v.Type() == js.TypeString {
				r.Header[h] = v.String()
			}
		}
		resp := srv.Handle(r)
		body := jsGlobal.Get("Uint8Array").New(len(resp.Body))
		js.CopyBytesToJS(body, resp.Body)
		headers := map[string]any{}
		for h, v := range map[string]string{"content-type": resp.ContentType, "www-authenticate": resp.WWWAuthenticate, "dpop-nonce": resp.DPoPNonce} {
			if v != "" {
				headers[h] = v
			}
		}
		answer := jsGlobal.Get("Response").New(body, map[string]any{"status": resp.Status, "headers": headers})
		return jsGlobal.Get("Promise").Call("resolve", answer)
	})
	jsGlobal.Set("fetch", f)
	t.Cleanup(func() { jsGlobal.Set("fetch", orig); f.Release() })
}

func optionalArg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

func (d *conformanceDriver) Warnings() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.warned
	d.warned = nil
	return w
}

func (d *conformanceDriver) Host() string { return d.host }

func (d *conformanceDriver) target(clientID string) targetOptions {
	return targetOptions{host: d.host, clientID: clientID}
}

// Login calls login() as a page does; the "user" signs in at the suite's
// server and the redirect comes back to handleRedirect.
func (d *conformanceDriver) Login(clientID, dpop string) error {
	return d.LoginWith(conformance.LoginCall{Host: d.host, ClientID: clientID, DPoP: dpop})
}

// LoginResource is Login asking for resource (--resource; the browser's
// resource option).
func (d *conformanceDriver) LoginResource(clientID, resource string) error {
	return d.LoginWith(conformance.LoginCall{Host: d.host, ClientID: clientID, Resource: resource})
}

// LoginWith is Login at c.Host; with RedirectTaken, login() is called on
// another page of the origin, whose URL is the redirect URI.
func (d *conformanceDriver) LoginWith(c conformance.LoginCall) error {
	mode, err := core.ParseDPoPMode(c.DPoP)
	if err != nil {
		return err
	}
	page := pageURL()
	if c.RedirectTaken {
		page += "-another-page"
	}
	before := d.lastNavigation()
	t := targetOptions{host: c.Host, clientID: c.ClientID, resource: c.Resource}
	if _, err := d.driver.login(loginOptions{targetOptions: t, redirectURI: page, returnTo: page, dpop: mode}); err != nil {
		return err
	}
	authURL := d.lastNavigation()
	if authURL == before {
		return errors.New("login did not navigate to the authorization server")
	}
	back, err := d.env.Server.Authorize(authURL)
	if err != nil {
		return err
	}
	_, err = d.handleRedirect(back)
	return err
}

func (d *conformanceDriver) Token(clientID string, force bool) (conformance.Token, error) {
	return d.tokenOf(tokenOptions{targetOptions: d.target(clientID), force: force})
}

// TokenResource is token({ host: resource, clientId }).
func (d *conformanceDriver) TokenResource(clientID, resource string) (conformance.Token, error) {
	return d.tokenOf(tokenOptions{targetOptions: targetOptions{host: resource, clientID: clientID}})
}

func (d *conformanceDriver) tokenOf(o tokenOptions) (conformance.Token, error) {
	v, err := d.token(o)
	if err != nil {
		return conformance.Token{}, err
	}
	m := v.(map[string]any)
	return conformance.Token{AccessToken: m["access_token"].(string), TokenType: m["token_type"].(string)}, nil
}

func (d *conformanceDriver) Logout(clientID string) (bool, error) {
	v, err := d.logout(d.target(clientID))
	if err != nil {
		return false, err
	}
	return v.(map[string]any)["removed"].(bool), nil
}

// Entries reads every entry of the token store (claims of callbacks being
// finished are not entries).
func (d *conformanceDriver) Entries() (map[string]core.Entry, error) {
	res, err := d.tokens.tx("readonly", func(st js.Value) []js.Value {
		return []js.Value{st.Call("getAllKeys"), st.Call("getAll")}
	})
	if err != nil {
		return nil, err
	}
	keys, values := res[0], res[1]
	out := map[string]core.Entry{}
	for i := range keys.Length() {
		k := keys.Index(i).String()
		if strings.HasPrefix(k, claimPrefix) {
			continue
		}
		var e core.Entry
		if err := json.Unmarshal([]byte(values.Index(i).String()), &e); err != nil {
			return nil, fmt.Errorf("the stored entry %s is not JSON", k)
		}
		out[k] = e
	}
	return out, nil
}

// Put saves e as the driver's Save effect does: into IndexedDB, with the
// token-free summary mirrored to localStorage.
func (d *conformanceDriver) Put(key string, e core.Entry) error {
	if err := d.tokens.save(key, e); err != nil {
		return err
	}
	si := summarize(key, e)
	d.mirror(key, &si)
	return nil
}

func (d *conformanceDriver) Keys() (int, error) {
	res, err := d.tokens.txOn(keyStore, "readonly", func(st js.Value) []js.Value {
		return []js.Value{st.Call("count")}
	})
	if err != nil {
		return 0, err
	}
	return res[0].Int(), nil
}

// Fetch calls dualauth.fetch(url) as a page does, with { host } when the
// login is named.
func (d *conformanceDriver) Fetch(url, host string) (int, error) {
	v, err := d.apiFetch(fetchOptions{targetOptions: targetOptions{host: host}, input: js.ValueOf(url), init: js.Undefined()})
	if err != nil {
		return 0, err
	}
	return v.(js.Value).Get("status").Int(), nil
}

// PutUnreadable stores a value under key in IndexedDB that is no entry.
func (d *conformanceDriver) PutUnreadable(key string) error {
	return d.tokens.putRaw(key, `{"access_token":"at-0","refresh_token":`)
}
