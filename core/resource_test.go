package core

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

const resURL = "https://adb-123.4.azuredatabricks.net/v1"

// fakeAPI is a protected resource as a pure function: it takes the fake
// server's access tokens unless revoked, checks DPoP proofs as a strict
// resource server does (signature, htm, htu, ath, jti, its nonce), and
// serves routes of its own before any check (redirects).
type fakeAPI struct {
	nonce   string // the nonce it asks for; "" asks for none
	rotate  bool   // a new nonce for every request: none is ever accepted
	nonceN  int
	revoked map[string]bool
	jtis    map[string]bool
	proofs  []ProofClaims
	seen    []string // "METHOD URL Authorization [body]" of every request
	routes  map[string]func(Request) Response
	err     error // a network failure for every request
}

func newFakeAPI(w *world) *fakeAPI {
	a := &fakeAPI{revoked: map[string]bool{}, jtis: map[string]bool{}, routes: map[string]func(Request) Response{}}
	w.resource = a.serve
	return a
}

func (a *fakeAPI) serve(r Request, body bool) Response {
	line := r.Method + " " + r.URL + " " + r.Header["Authorization"]
	if body {
		line += " +body"
	}
	a.seen = append(a.seen, line)
	u, _ := url.Parse(r.URL)
	if h := a.routes[u.Path]; h != nil {
		return h(r)
	}
	if a.rotate {
		a.nonceN++
		a.nonce = fmt.Sprintf("api-%d", a.nonceN)
	}
	refuse := func(code string) Response {
		return Response{Status: 401, WWWAuthenticate: `DPoP error="` + code + `"`, DPoPNonce: a.nonce}
	}
	scheme, tok, _ := strings.Cut(r.Header["Authorization"], " ")
	if a.revoked[tok] || !strings.HasPrefix(tok, "access-") {
		return refuse("invalid_token")
	}
	switch {
	case scheme == "DPoP":
		c, ok := a.checkProof(r, tok)
		if !ok {
			return refuse("invalid_dpop_proof")
		}
		if a.nonce != "" && c.Nonce != a.nonce {
			return refuse("use_dpop_nonce")
		}
	case scheme != "Bearer" || r.Header["DPoP"] != "":
		return refuse("invalid_request")
	}
	return Response{Status: 200, ContentType: "application/json", DPoPNonce: a.nonce}
}

func (a *fakeAPI) checkProof(r Request, token string) (ProofClaims, bool) {
	var c ProofClaims
	parts := strings.Split(r.Header["DPoP"], ".")
	if len(parts) != 3 {
		return c, false
	}
	var h struct {
		Typ, Alg string
		JWK      JWK
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(hb, &h) != nil || json.Unmarshal(cb, &c) != nil {
		return c, false
	}
	a.proofs = append(a.proofs, c) // every proof, so that tests see what a refused one said
	xb, _ := base64.RawURLEncoding.DecodeString(h.JWK.X)
	name := string(bytes.TrimRight(xb, "\x00"))
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	htu, _, _ := strings.Cut(r.URL, "?")
	if h.Typ != ProofType || h.Alg != AlgES256 || h.JWK != fakeJWK(name) ||
		!bytes.Equal(sig, fakeSignature(name, []byte(parts[0]+"."+parts[1]))) ||
		c.Method != r.Method || c.URI != htu || c.ATH != ATH(token) || c.JWTID == "" || a.jtis[c.JWTID] {
		return c, false
	}
	a.jtis[c.JWTID] = true
	return c, true
}

func (a *fakeAPI) redirect(path string, status int, to string) {
	a.routes[path] = func(Request) Response { return Response{Status: status, Location: to} }
}

// fetchResource performs FetchResource against the world's resource.
func (w *world) fetchResource(e FetchResource) Event {
	flags := ""
	if h := e.Request.Header["Authorization"]; h != "" {
		scheme, _, _ := strings.Cut(h, " ")
		flags += " +" + scheme
	}
	if e.Request.Header["DPoP"] != "" {
		flags += " +proof"
	}
	if e.Body {
		flags += " +body"
	}
	w.logf("FetchResource %s %s%s", e.Request.Method, e.Request.URL, flags)
	if w.resource == nil {
		w.t.Fatalf("no resource for %s", e.Request.URL)
	}
	resp := w.resource(e.Request, e.Body)
	line := fmt.Sprintf("  → HTTP %d", resp.Status)
	if resp.Location != "" {
		line += " Location: " + resp.Location
	}
	if resp.WWWAuthenticate != "" {
		line += " WWW-Authenticate: " + resp.WWWAuthenticate
	}
	w.logf("%s", line)
	return Fetched{Response: resp, Now: w.now}
}

func (w *world) call(cfg ResourceCallConfig) Done {
	w.logf("# call %s %s", cfg.Method, cfg.URL)
	d := Drive(NewResourceCall(cfg), Start{Now: w.now, Rand: &w.rnd}, w.perform)
	switch {
	case d.Err != nil:
		w.logf("Done error: %v", d.Err)
	case d.Response != nil:
		w.logf("Done HTTP %d token=%s", d.Response.Status, d.Token.AccessToken)
	default:
		w.logf("Done without a response")
	}
	is.New(w.t).True(!w.locked) // every call ends unlocked
	return d
}

func apiCall(method, path string) ResourceCallConfig {
	return ResourceCallConfig{Token: dbxToken(), Method: method, URL: resURL + path}
}

// dpopAPIWorld: a DPoP login (the token endpoint asks for its nonce) and
// a resource that asks for its own.
func dpopAPIWorld(t *testing.T) (*world, *fakeAPI, *dpopServer) {
	t.Helper()
	w := newWorld(t, newFakeServer(dbxIssuer))
	ds := newDPoPServer(w)
	if d := w.login(dpopLogin(DPoPAlways)); d.Err != nil {
		t.Fatal(d.Err)
	}
	a := newFakeAPI(w)
	a.nonce = "api-1"
	w.log = nil
	return w, a, ds
}

func bearerAPIWorld(t *testing.T) (*world, *fakeAPI) {
	t.Helper()
	w := newWorld(t, newFakeServer(dbxIssuer))
	if d := w.login(dbxLogin()); d.Err != nil {
		t.Fatal(d.Err)
	}
	w.log = nil
	return w, newFakeAPI(w)
}

func refreshes(s *fakeServer) int {
	n := 0
	for _, r := range s.requests {
		if r.Form.Get("grant_type") == "refresh_token" {
			n++
		}
	}
	return n
}

// A resource call of a DPoP login, step by step: the resource asks for
// its nonce and the one retry carries it; a nonce kept from that call
// goes in the next call's first proof; a refused token is refreshed under
// the lock (forced) and the request sent once more; a redirect is proved
// for its own method and URL.
func TestTranscript_ResourceCall(t *testing.T) {
	is := is.New(t)
	w, a, _ := dpopAPIWorld(t)

	d := w.call(apiCall("GET", "/items?page=1"))
	is.NoErr(d.Err)
	is.Equal(d.Response.Status, 200)
	is.Equal(len(a.proofs), 2)
	// The token endpoint's nonce, on the same origin (a Databricks host
	// serves both): the resource asks for its own, once.
	is.Equal(a.proofs[0].Nonce, "n-0")
	is.Equal(a.proofs[1].Nonce, "api-1")
	is.Equal(a.proofs[1].URI, resURL+"/items")
	is.Equal(a.proofs[1].ATH, ATH("access-2"))
	is.Equal(d.Entry.DPoP.Nonce(resURL), "api-1")              // returned for the driver to keep
	is.Equal(w.cache[d.Entry.Key()].DPoP.Nonce(resURL), "n-0") // the call saves nothing: the cache still has the token endpoint's

	cfg := apiCall("PUT", "/items/1")
	cfg.Nonces = d.Entry.DPoP.Nonces
	d = w.call(cfg)
	is.NoErr(d.Err)
	is.Equal(d.Response.Status, 200)
	is.Equal(len(a.seen), 3) // no retry: the kept nonce went first

	a.revoked["access-2"] = true
	cfg.Method = "GET"
	d = w.call(cfg)
	is.NoErr(d.Err)
	is.Equal(d.Response.Status, 200)
	is.Equal(d.Token.AccessToken, "access-3")
	is.Equal(d.Token.TokenType, "DPoP")
	is.Equal(a.proofs[len(a.proofs)-1].ATH, ATH("access-3"))

	a.redirect("/v1/old", 307, "/v1/new?x=1")
	cfg = apiCall("POST", "/old")
	cfg.Nonces = d.Entry.DPoP.Nonces
	d = w.call(cfg)
	is.NoErr(d.Err)
	is.Equal(d.Response.Status, 200)
	last := a.proofs[len(a.proofs)-1]
	is.Equal(last.URI, resURL+"/new")
	is.Equal(last.Method, "POST")
	checkTranscript(t, "resource_call", w.transcript())
}

// A resource that asks for a new nonce every time, and refuses every
// token: one nonce retry, one refresh, one retry after it — then its
// answer, not a loop.
func TestResourceCall_OneNonceRetryAndOneRefreshNeverALoop(t *testing.T) {
	is := is.New(t)
	w, a, _ := dpopAPIWorld(t)
	a.rotate = true
	d := w.call(apiCall("GET", "/items"))
	is.NoErr(d.Err)
	is.Equal(d.Response.Status, 401)
	is.Equal(len(a.seen), 3) // the request, the nonce retry, the retry after the refresh
	is.Equal(refreshes(w.srv), 1)
	is.True(strings.Contains(a.seen[2], "DPoP access-3"))
}

// A bearer login: no proofs; a refused token is refreshed once and the
// request, its body included, sent once more with the new token.
func TestResourceCall_BearerA401RefreshesOnceAndRetriesOnce(t *testing.T) {
	is := is.New(t)
	w, a := bearerAPIWorld(t)
	a.revoked["access-2"] = true
	d := w.call(apiCall("POST", "/items"))
	is.NoErr(d.Err)
	is.Equal(d.Response.Status, 200)
	is.Equal(a.seen, []string{
		"POST " + resURL + "/items Bearer access-2 +body",
		"POST " + resURL + "/items Bearer access-3 +body",
	})
	is.Equal(refreshes(w.srv), 1)
	is.True(!strings.Contains(w.transcript(), "Sign"))

	a.revoked["access-3"] = true
	a.revoked["access-4"] = true
	d = w.call(apiCall("GET", "/items"))
	is.NoErr(d.Err)
	is.Equal(d.Response.Status, 401) // the resource's answer, after one retry
	is.Equal(len(a.seen), 4)
	is.Equal(refreshes(w.srv), 2)
}

// A 401 on a token another process replaced meanwhile (its own 401, say):
// the call retries with the new token and refreshes nothing itself, as
// callers refused the same token together make one refresh.
func TestResourceCall_A401OnATokenAlreadyReplacedRetriesWithTheNewOne(t *testing.T) {
	is := is.New(t)
	w, a := bearerAPIWorld(t)
	a.revoked["access-2"] = true
	serve := w.resource
	w.resource = func(r Request, body bool) Response {
		resp := serve(r, body)
		if resp.Status == 401 {
			// Meanwhile, another process refreshed the login.
			for k, e := range w.cache {
				e.AccessToken = "access-9"
				w.cache[k] = e
			}
		}
		return resp
	}
	d := w.call(apiCall("GET", "/items"))
	is.NoErr(d.Err)
	is.Equal(d.Response.Status, 200)
	is.Equal(a.seen, []string{
		"GET " + resURL + "/items Bearer access-2 +body",
		"GET " + resURL + "/items Bearer access-9 +body",
	})
	is.Equal(refreshes(w.srv), 0) // the other process's refresh is used
}

// The refresh after a 401 fails: the call says so, and still hands the
// resource's answer to the driver.
func TestResourceCall_AFailedRefreshAfterA401SaysSo(t *testing.T) {
	is := is.New(t)
	w, a := bearerAPIWorld(t)
	a.revoked["access-2"] = true
	clear(w.srv.refresh) // the refresh token is dead too
	d := w.call(apiCall("GET", "/items?secret=1"))
	is.True(d.Err != nil)
	is.True(strings.Contains(d.Err.Error(), "GET "+resURL+"/items?secret=1: 401 Unauthorized, and refreshing the token failed"))
	is.Equal(d.Response.Status, 401)
	is.Equal(len(a.seen), 1)
}

// A forced refresh that hands back the same token (the server keeps
// tokens alive) is not retried with it.
func TestResourceCall_NoRetryWithTheSameToken(t *testing.T) {
	is := is.New(t)
	w, a := bearerAPIWorld(t)
	a.revoked["access-2"] = true
	w.onFetch = func(r Request) (Response, error) {
		return jsonResponse(200, map[string]any{"access_token": "access-2", "token_type": "Bearer", "expires_in": 3600}), nil
	}
	d := w.call(apiCall("GET", "/items"))
	is.True(d.Err != nil)
	is.True(strings.Contains(d.Err.Error(), "401 Unauthorized, and the server gave no new token to retry with"))
	is.Equal(len(a.seen), 1)
}

// Each redirect hop is a new request with a proof of its own method and
// URL; the method and body change as HTTP clients change them.
func TestResourceCall_ARedirectIsProvedForItsOwnMethodAndURL(t *testing.T) {
	for _, tc := range []struct {
		status             int
		method, wantMethod string
		wantBody           bool
	}{
		{307, "POST", "POST", true},
		{308, "PUT", "PUT", true},
		{303, "POST", "GET", false},
		{302, "GET", "GET", false},
		{301, "DELETE", "GET", false},
		{303, "HEAD", "HEAD", false},
	} {
		t.Run(fmt.Sprintf("%d %s", tc.status, tc.method), func(t *testing.T) {
			is := is.New(t)
			w, a, _ := dpopAPIWorld(t)
			a.nonce = ""
			a.redirect("/v1/old", tc.status, resURL+"/new?q=1#frag")
			d := w.call(apiCall(tc.method, "/old"))
			is.NoErr(d.Err)
			is.Equal(d.Response.Status, 200)
			is.Equal(len(a.seen), 2)
			want := tc.wantMethod + " " + resURL + "/new?q=1 DPoP access-2"
			if tc.wantBody {
				want += " +body"
			}
			is.Equal(a.seen[1], want)
			is.Equal(len(a.proofs), 1) // the redirect's target took the proof: it was for it
			is.Equal(a.proofs[0].URI, resURL+"/new")
			is.Equal(a.proofs[0].Method, tc.wantMethod)
		})
	}
}

// Redirects to another origin are handed to the driver unfollowed, and
// redirects on the origin end after MaxResourceRedirects.
func TestResourceCall_RedirectsStayOnTheOriginAndAreBounded(t *testing.T) {
	for _, to := range []string{
		"https://evil.example/v1/x",
		"http://adb-123.4.azuredatabricks.net/v1/x",
		"https://adb-123.4.azuredatabricks.net:8443/v1/x",
		"//evil.example/x",
		"https://user:pw@adb-123.4.azuredatabricks.net/v1/x",
	} {
		t.Run(to, func(t *testing.T) {
			is := is.New(t)
			w, a := bearerAPIWorld(t)
			a.redirect("/v1/old", 302, to)
			d := w.call(apiCall("GET", "/old"))
			is.NoErr(d.Err)
			is.Equal(d.Response.Status, 302)
			is.Equal(d.Response.Location, to)
			is.Equal(len(a.seen), 1)
		})
	}
	t.Run("a loop", func(t *testing.T) {
		is := is.New(t)
		w, a := bearerAPIWorld(t)
		a.redirect("/v1/loop", 302, "/v1/loop")
		d := w.call(apiCall("GET", "/loop"))
		is.NoErr(d.Err)
		is.Equal(d.Response.Status, 302)
		is.Equal(len(a.seen), 1+MaxResourceRedirects)
	})
	t.Run("the default port is the same origin", func(t *testing.T) {
		is := is.New(t)
		w, a := bearerAPIWorld(t)
		a.redirect("/v1/old", 302, "https://ADB-123.4.azuredatabricks.net:443/v1/new")
		d := w.call(apiCall("GET", "/old"))
		is.NoErr(d.Err)
		is.Equal(d.Response.Status, 200)
		is.Equal(len(a.seen), 2)
	})
}

// Nothing is sent without a login, a signature, or a usable request; a
// network failure ends the call with no response.
func TestResourceCall_FailuresSendNothingMore(t *testing.T) {
	t.Run("not logged in", func(t *testing.T) {
		is := is.New(t)
		w := newWorld(t, newFakeServer(dbxIssuer))
		a := newFakeAPI(w)
		d := w.call(apiCall("GET", "/items"))
		var lr *LoginRequiredError
		is.True(errors.As(d.Err, &lr))
		is.Equal(d.Response, nil)
		is.Equal(len(a.seen), 0)
	})
	t.Run("signing fails", func(t *testing.T) {
		is := is.New(t)
		w, a, _ := dpopAPIWorld(t)
		w.onSign = func(Sign) Signed { return Signed{Err: errors.New("key gone")} }
		d := w.call(apiCall("GET", "/items"))
		is.True(d.Err != nil)
		is.True(strings.Contains(d.Err.Error(), "signing the DPoP proof: key gone"))
		is.Equal(len(a.seen), 0)
	})
	t.Run("network", func(t *testing.T) {
		is := is.New(t)
		w, _ := bearerAPIWorld(t)
		w.resource = nil
		w.resource = func(Request, bool) Response { return Response{} }
		m := NewResourceCall(apiCall("GET", "/items"))
		effects := m.Step(Start{Now: w.now, Rand: &w.rnd})
		var ev Event
		for _, e := range effects {
			ev = w.perform(e)
		}
		effects = m.Step(ev)
		_, isFetch := effects[0].(FetchResource)
		is.True(isFetch)
		effects = m.Step(Fetched{Err: errors.New("connection refused"), Now: w.now})
		d := effects[len(effects)-1].(Done)
		is.Equal(d.Err.Error(), "connection refused")
		is.Equal(d.Response, nil)
	})
	for _, tc := range []struct{ method, url string }{
		{"GET", "ftp://adb-123.4.azuredatabricks.net/x"},
		{"GET", "/relative"},
		{"GE T", resURL},
	} {
		t.Run("refuses "+tc.method+" "+tc.url, func(t *testing.T) {
			is := is.New(t)
			w, a := bearerAPIWorld(t)
			d := w.call(ResourceCallConfig{Token: dbxToken(), Method: tc.method, URL: tc.url})
			is.True(d.Err != nil)
			is.Equal(len(a.seen), 0)
			is.True(!strings.Contains(w.transcript(), "Load"))
		})
	}
}

// An abort while the token machine holds the lock releases it.
func TestResourceCall_AbortUnderTheLockUnlocks(t *testing.T) {
	is := is.New(t)
	w, _ := bearerAPIWorld(t)
	w.now = w.now.Add(2 * time.Hour) // expired: the token machine locks
	m := NewResourceCall(apiCall("GET", "/items"))
	effects := m.Step(Start{Now: w.now, Rand: &w.rnd})
	is.Equal(len(effects), 1)
	effects = m.Step(w.perform(effects[0])) // Loaded → Lock
	_, isLock := effects[0].(Lock)
	is.True(isLock)
	effects = m.Step(w.perform(effects[0])) // Locked → Load again
	_, isLoad := effects[0].(Load)
	is.True(isLoad)
	effects = m.Step(Aborted{Err: errors.New("interrupted")})
	_, isUnlock := effects[0].(Unlock)
	is.True(isUnlock)
	is.Equal(effects[len(effects)-1].(Done).Err.Error(), "interrupted")
}

func TestSameOrigin(t *testing.T) {
	is := is.New(t)
	is.True(SameOrigin("https://a.example/x", "HTTPS://A.example:443/y?z"))
	is.True(SameOrigin("http://127.0.0.1:80/", "http://127.0.0.1/"))
	is.True(!SameOrigin("https://a.example/", "http://a.example/"))
	is.True(!SameOrigin("https://a.example/", "https://a.example:444/"))
	is.True(!SameOrigin("https://a.example/", "https://b.example/"))
	is.True(!SameOrigin("https://a.example/", "/relative"))
}

// The token goes to the login's origin (its host, or its resource) only: a
// URL elsewhere — a page-relative path resolved against the page, a link
// another API returned — is refused before anything is sent.
func TestResourceCall_ATokenGoesToTheLoginsOriginOnly(t *testing.T) {
	for _, u := range []string{"https://evil.example/steal", "https://api.example.com/v1/x", "http://adb-123.4.azuredatabricks.net/v1/x", "https://adb-123.4.azuredatabricks.net:8443/v1/x"} {
		t.Run(u, func(t *testing.T) {
			is := is.New(t)
			w, a := bearerAPIWorld(t)
			cfg := apiCall("GET", "/x")
			cfg.URL = u
			d := w.call(cfg)
			is.True(d.Err != nil)
			is.True(strings.Contains(d.Err.Error(), "is not on https://adb-123.4.azuredatabricks.net, the origin of this login"))
			is.True(errors.Is(d.Err, ErrWrongOrigin)) // a stable code in the browser: wrong_origin
			is.Equal(len(a.seen), 0)
		})
	}
}

// S35: a method is proved exactly as it is sent ("patch" stays "patch":
// fetch and net/http send it so), and a strict resource takes the proof.
func TestResourceCall_TheProofNamesTheMethodAsSent(t *testing.T) {
	is := is.New(t)
	w, a, _ := dpopAPIWorld(t)
	a.nonce = ""
	d := w.call(apiCall("patch", "/items"))
	is.NoErr(d.Err)
	is.Equal(d.Response.Status, 200)
	is.Equal(a.proofs[len(a.proofs)-1].Method, "patch")
}

func TestHTU_DropsAnEmptyPort(t *testing.T) {
	is := is.New(t)
	h, err := HTU("https://api.example.com:/v1/x")
	is.NoErr(err)
	is.Equal(h, "https://api.example.com/v1/x")
	is.Equal(origin("https://api.example.com:/v1"), origin("https://API.example.com:443/v1"))
}

// KeepNonces (`auth api`, a new process per call): a nonce the resource
// gave is saved with the login under its lock, and the next call's first
// proof carries it — no use_dpop_nonce round trip. A nonce the entry
// already has is not saved again, and a resource on the token endpoint's
// origin keeps nothing: that server's own nonce lives there.
func TestResourceCall_KeepNoncesSavesTheResourcesNonceForTheNextCall(t *testing.T) {
	is := is.New(t)
	w, a, _ := dpopAPIWorld(t)
	// The login's token endpoint on another origin than the resource (an
	// issuer elsewhere, as for a protected resource of RFC 9728).
	key := Key(dbxIssuer, "databricks-cli")
	e := w.cache[key]
	e.Metadata.TokenEndpoint = "https://idp.example/token"
	w.cache[key] = e
	cfg := apiCall("GET", "/items")
	cfg.KeepNonces = true

	d := w.call(cfg)
	is.NoErr(d.Err)
	is.Equal(d.Response.Status, 200)
	is.Equal(len(a.seen), 2) // the request, and its one nonce retry
	is.Equal(d.Entry.Key(), key)
	is.Equal(w.cache[key].DPoP.Nonce(resURL), "api-1")
	is.Equal(w.cache[key].RefreshToken, e.RefreshToken) // the entry read under the lock, its nonce added
	tr := w.transcript()
	is.True(strings.Contains(tr, "Lock \""+key+"\"\nLoad"))
	is.True(strings.Contains(tr, "Unlock \""+key+"\"\nDone HTTP 200"))

	w.log = nil
	d = w.call(cfg)
	is.NoErr(d.Err)
	is.Equal(len(a.seen), 3)                           // the saved nonce went first
	is.True(!strings.Contains(w.transcript(), "Lock")) // nothing new to save

	// Logged in again meanwhile, with another key: that entry is left alone.
	a.nonce = "api-2"
	other := w.cache[key]
	other.DPoP = &DPoPKey{Key: "dpop:other"}
	c := NewResourceCall(cfg)
	c.entry, c.nonces, c.last = d.Entry, map[string]string{origin(resURL): "api-2"}, &Response{Status: 200}
	is.Equal(c.finish(nil), []Effect{Lock{Key: key}})
	is.Equal(c.Step(Locked{Now: w.now}), []Effect{Load{Keys: []string{key}}})
	effs := c.Step(Loaded{Key: key, Entry: &other})
	is.Equal(len(effs), 2) // Unlock, Done: no Save
	is.Equal(effs[0], Unlock{Key: key})
	_, done := effs[1].(Done)
	is.True(done)
}

func TestResourceCall_KeepNoncesKeepsNothingOfTheTokenEndpointsOrigin(t *testing.T) {
	is := is.New(t)
	w, a, _ := dpopAPIWorld(t) // the resource on the Databricks host, as its token endpoint
	cfg := apiCall("GET", "/items")
	cfg.KeepNonces = true
	d := w.call(cfg)
	is.NoErr(d.Err)
	is.Equal(len(a.seen), 2)
	is.Equal(d.Entry.DPoP.Nonce(resURL), "api-1")              // for this process
	is.Equal(w.cache[d.Entry.Key()].DPoP.Nonce(resURL), "n-0") // the token endpoint's stays saved
	is.True(!strings.Contains(w.transcript(), "Lock"))
}

// A lock that cannot be had, an abort under it, a save that fails: the
// call's answer stands, and the lock is let go.
func TestResourceCall_KeepNoncesFailuresLeaveTheAnswer(t *testing.T) {
	is := is.New(t)
	e := &Entry{Host: "https://h.example", ClientID: "c", AccessToken: "at", TokenType: DPoPTokenType,
		Metadata: Metadata{Issuer: "https://idp.example", TokenEndpoint: "https://idp.example/token"},
		DPoP:     &DPoPKey{Key: "dpop:1"}}
	start := func() *ResourceCall {
		c := NewResourceCall(ResourceCallConfig{URL: "https://h.example/x", KeepNonces: true})
		c.entry, c.nonces, c.last = e, map[string]string{"https://h.example": "n"}, &Response{Status: 204}
		is.Equal(c.finish(nil), []Effect{Lock{Key: e.Key()}})
		return c
	}
	answer := func(effs []Effect) Done {
		d, ok := effs[len(effs)-1].(Done)
		is.True(ok)
		is.NoErr(d.Err)
		is.Equal(d.Response.Status, 204)
		return d
	}

	c := start()
	effs := c.Step(Locked{Err: errors.New("lock timeout")})
	is.Equal(len(effs), 1) // no Unlock: never locked
	answer(effs)

	c = start()
	c.Step(Locked{})
	effs = c.Step(Aborted{Err: errors.New("interrupted")})
	is.Equal(effs[0], Unlock{Key: e.Key()})
	answer(effs)

	c = start()
	c.Step(Locked{})
	effs = c.Step(Loaded{Key: e.Key(), Entry: e})
	s, ok := effs[0].(Save)
	is.True(ok)
	is.Equal(s.Entry.DPoP.Nonce("https://h.example/y"), "n")
	is.Equal(e.DPoP.Nonces, map[string]string(nil)) // the loaded entry is not changed in place
	effs = c.Step(Saved{Err: errors.New("disk full")})
	is.Equal(effs[0], Unlock{Key: e.Key()})
	answer(effs)
}

func TestHTTPToken(t *testing.T) {
	is := is.New(t)
	for _, ok := range []string{"GET", "patch", "X-Request-Id", "M-SEARCH", "!#$%&'*+.^_`|~"} {
		is.True(HTTPToken(ok))
	}
	for _, bad := range []string{"", "GET ", "a:b", "a/b", "é", "a\x7f", "(x)", "a\tb"} {
		is.True(!HTTPToken(bad))
	}
}
