package core

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

func registrationWorld(t *testing.T) (*world, *web, *Resolution) {
	t.Helper()
	srv := newFakeServer("https://idp.example.com")
	srv.openID = true
	srv.meta["registration_endpoint"] = "https://idp.example.com/reg"
	w, n := newWebWorld(t, srv)
	r, err := w.resolve(Target{Host: "https://idp.example.com"})
	is.New(t).NoErr(err)
	return w, n, r
}

// Two logins, one registration; the second checks the client still exists
// (RFC 7592) with the registration token, which is kept like a refresh token.
func TestTranscript_RegisterOnceAndReuse(t *testing.T) {
	is := is.New(t)
	w, n, r := registrationWorld(t)
	tg := Target{Host: "https://idp.example.com"}
	d := w.loginResolved(tg, r, "")
	is.NoErr(d.Err)
	is.Equal(d.Entry.ClientID, "dyn-1")
	is.True(strings.HasPrefix(d.Entry.Resolution.ClientIDFrom, "registered at https://idp.example.com/reg"))
	reg, ok := w.cache[RegistrationKey("https://idp.example.com")]
	is.True(ok)
	is.Equal(reg.RefreshToken, "regtok-dyn-1") // protected like a refresh token (S32)
	is.Equal(reg.Registration.RedirectURIs, []string{"http://127.0.0.1:4321/callback"})

	d = w.loginResolved(tg, r, "")
	is.NoErr(d.Err)
	is.Equal(d.Entry.ClientID, "dyn-1")
	is.Equal(n.registered, 1)
	is.Equal(n.regTokenSeen, []string{"Bearer regtok-dyn-1"})
	checkTranscript(t, "register", w.transcript())
}

// "just now" is what the login that registered says, never what is
// saved: the login keeps when the client was registered, and a later
// login that reuses it says that date. The user hears of the client
// before the browser opens.
func TestTranscript_RegisteredJustNowOnlyInTheLoginThatRegistered(t *testing.T) {
	is := is.New(t)
	w, _, r := registrationWorld(t)
	tg := Target{Host: "https://idp.example.com"}
	d := w.loginResolved(tg, r, "")
	is.NoErr(d.Err)
	is.Equal(d.Entry.Resolution.ClientIDFrom, "registered at https://idp.example.com/reg on 2026-11-28T12:00:00Z")
	w.now = t0.Add(48 * time.Hour)
	d = w.loginResolved(tg, r, "")
	is.NoErr(d.Err)
	is.Equal(d.Entry.Resolution.ClientIDFrom, "registered at https://idp.example.com/reg on 2026-11-28T12:00:00Z")
	is.Equal(w.clients, []string{
		"dyn-1, registered at https://idp.example.com/reg just now",
		"dyn-1, registered at https://idp.example.com/reg on 2026-11-28T12:00:00Z",
	})
	chosen, authorized := slices.Index(w.log, "ClientChosen dyn-1"), slices.IndexFunc(w.log, func(l string) bool { return strings.HasPrefix(l, "Authorize") })
	is.True(chosen >= 0 && chosen < authorized)
}

// A client dualauth registered is reused with exactly its redirect URI,
// port included: a listener on another free port moves there (Listen).
func TestTranscript_RegisteredClientKeepsItsRedirectURI(t *testing.T) {
	is := is.New(t)
	w, n, r := registrationWorld(t)
	tg := Target{Host: "https://idp.example.com"}
	login := func(redirect string, movable bool) Done {
		return w.login(LoginConfig{Target: tg, Scopes: r.Scopes, RedirectURI: redirect, Resolution: r, MovableRedirect: movable})
	}
	is.NoErr(login("http://127.0.0.1:4321/callback", true).Err)
	w.log = nil
	var listened []string
	w.onListen = func(uri string) error { listened = append(listened, uri); return nil }
	d := login("http://127.0.0.1:5555/callback", true)
	is.NoErr(d.Err)
	is.Equal(d.Entry.ClientID, "dyn-1")
	is.Equal(n.registered, 1)
	is.Equal(listened, []string{"http://127.0.0.1:4321/callback"})
	is.Equal(w.pending.RedirectURI, "http://127.0.0.1:4321/callback")
	au, _ := url.Parse(w.authURL)
	is.Equal(au.Query().Get("redirect_uri"), "http://127.0.0.1:4321/callback")
	checkTranscript(t, "register-exact-redirect", w.transcript())

	t.Run("PortTakenRegistersANewClientAndSaysWhy", func(t *testing.T) {
		is := is.New(t)
		w.warnings = nil
		w.onListen = func(string) error { return errors.New("port 4321 on 127.0.0.1 is already in use") }
		d := login("http://127.0.0.1:5555/callback", true)
		is.NoErr(d.Err)
		is.Equal(d.Entry.ClientID, "dyn-2")
		is.Equal(n.registered, 2)
		is.Equal(w.pending.RedirectURI, "http://127.0.0.1:5555/callback")
		is.Equal(w.cache[RegistrationKey("https://idp.example.com")].Registration.RedirectURIs, []string{"http://127.0.0.1:5555/callback"})
		is.Equal(len(w.warnings), 1)
		is.True(strings.Contains(w.warnings[0], "cannot receive the login at http://127.0.0.1:4321/callback"))
		is.True(strings.Contains(w.warnings[0], "already in use"))
		is.True(strings.Contains(w.warnings[0], "registering a new client"))
	})
	t.Run("AFixedRedirectURIRegistersANewClient", func(t *testing.T) {
		// A page's own URL (browser) or a --port the user set: no Listen,
		// and never another port's client.
		is := is.New(t)
		w.warnings = nil
		w.onListen = func(string) error { t.Fatal("Listen with a fixed redirect URI"); return nil }
		d := login("http://127.0.0.1:8080/", false)
		is.NoErr(d.Err)
		is.Equal(d.Entry.ClientID, "dyn-3")
		is.Equal(w.pending.RedirectURI, "http://127.0.0.1:8080/")
		is.Equal(len(w.warnings), 1)
		is.True(strings.Contains(w.warnings[0], "allows redirect URI http://127.0.0.1:5555/callback only"))
		d = login("http://127.0.0.1:8080/", false)
		is.NoErr(d.Err)
		is.Equal(d.Entry.ClientID, "dyn-3") // the same page reuses it
	})
}

// S32: a public client, exactly the redirect URI and grants used.
func TestRegistrationRequest_AsksForAPublicClientOnly(t *testing.T) {
	is := is.New(t)
	rq := RegistrationRequest("https://idp.example.com/reg", "http://127.0.0.1:5/callback", AppNative)
	is.Equal(rq.Method, "POST")
	is.Equal(rq.Header["Content-Type"], "application/json")
	var body map[string]any
	is.NoErr(json.Unmarshal(rq.JSON, &body))
	is.Equal(body["token_endpoint_auth_method"], "none")
	is.Equal(body["redirect_uris"], []any{"http://127.0.0.1:5/callback"})
	is.Equal(body["grant_types"], []any{"authorization_code", "refresh_token"})
	is.Equal(body["application_type"], "native")
	_, asked := body["client_secret"]
	is.True(!asked)
}

func TestTranscript_ServerForgotTheClientRegistersAgainOnceAndSaysSo(t *testing.T) {
	is := is.New(t)
	w, n, r := registrationWorld(t)
	tg := Target{Host: "https://idp.example.com"}
	is.NoErr(w.loginResolved(tg, r, "").Err)
	delete(n.clients, "dyn-1") // the server forgets it
	w.log = nil
	d := w.loginResolved(tg, r, "")
	is.NoErr(d.Err)
	is.Equal(d.Entry.ClientID, "dyn-2")
	is.Equal(n.registered, 2)
	is.Equal(len(w.warnings), 1)
	is.True(strings.Contains(w.warnings[0], "no longer knows client dyn-1"))
	is.Equal(w.cache[RegistrationKey("https://idp.example.com")].ClientID, "dyn-2")
	checkTranscript(t, "register-again", w.transcript())
}

// The token endpoint refusing a registered client ends that login (no
// second trip through the browser) with one line that says the same
// command registers a new client; the next login does, and says why.
func TestTranscript_TokenEndpointRefusingTheClientMakesTheNextLoginRegisterAgain(t *testing.T) {
	is := is.New(t)
	w, n, r := registrationWorld(t)
	tg := Target{Host: "https://idp.example.com"}
	inner := w.onFetch
	refuse := true
	w.onFetch = func(rq Request) (Response, error) {
		if refuse && rq.URL == "https://idp.example.com/v1/token" {
			return jsonResponse(401, map[string]string{"error": "invalid_client"}), nil
		}
		return inner(rq)
	}
	d := w.loginResolved(tg, r, "")
	is.True(errors.Is(d.Err, ErrClientForgotten))
	is.True(strings.Contains(d.Err.Error(), "(dyn-1)"))
	is.True(strings.Contains(d.Err.Error(), "run the same login command again: it registers a new client"))
	is.True(!strings.Contains(d.Err.Error(), "\n"))
	reg := w.cache[RegistrationKey("https://idp.example.com")]
	is.True(reg.Registration.Refused)
	is.Equal(reg.RefreshToken, "") // the registration token goes with it
	is.Equal(len(w.warnings), 0)

	refuse = false
	d = w.loginResolved(tg, r, "")
	is.NoErr(d.Err)
	is.Equal(d.Entry.ClientID, "dyn-2")
	is.Equal(n.registered, 2)
	is.Equal(len(n.regTokenSeen), 0) // a refused client is not checked, it is replaced
	is.Equal(len(w.warnings), 1)
	is.True(strings.Contains(w.warnings[0], "refused client dyn-1"))
	is.True(strings.Contains(w.warnings[0], "registering a new one"))
	is.Equal(d.Entry.Resolution.ClientIDFrom, "registered at https://idp.example.com/reg on 2026-11-28T12:00:00Z")
	is.Equal(w.clients[len(w.clients)-1], "dyn-2, registered at https://idp.example.com/reg just now")
	reg = w.cache[RegistrationKey("https://idp.example.com")]
	is.Equal(reg.ClientID, "dyn-2")
	is.True(!reg.Registration.Refused)
	checkTranscript(t, "register-refused", w.transcript())
}

// Bad input: one line, nothing saved.
func TestRegister_BadAnswersSaveNothing(t *testing.T) {
	cases := map[string]struct {
		resp Response
		want string
	}{
		"no-client-id":                      {jsonResponse(201, map[string]any{"client_name": "x"}), "without a client_id"},
		"confidential":                      {jsonResponse(201, map[string]any{"client_id": "c", "client_secret": "s3cret", "token_endpoint_auth_method": "client_secret_basic"}), "confidential client"},
		"refused":                           {jsonResponse(400, map[string]any{"error": "invalid_redirect_uri", "error_description": "no"}), "refused: invalid_redirect_uri: no"},
		"html":                              {Response{Status: 500, ContentType: "text/html", Body: []byte("<h1>oops</h1>")}, "HTTP 500 (13 bytes of text/html)"},
		"ten-megabytes":                     {Response{Status: 201, Body: make([]byte, 10<<20)}, "client registration answered: the response is too large (over 1 MiB)"},
		"registration-token-outside-vschar": {jsonResponse(201, map[string]any{"client_id": "c", "registration_access_token": "s3cret\r\nX-Injected: 1", "registration_client_uri": "https://idp.example.com/register/c"}), "outside %x20-7E"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			w, n, r := registrationWorld(t)
			n.regResponse = func(int) Response { return c.resp }
			d := w.loginResolved(Target{Host: "https://idp.example.com"}, r, "")
			is.True(d.Err != nil)
			is.True(strings.Contains(d.Err.Error(), c.want))
			is.True(!strings.Contains(d.Err.Error(), "\n"))
			is.True(!strings.Contains(d.Err.Error(), "s3cret"))
			is.Equal(len(w.cache), 0)
			is.Equal(errors.Is(d.Err, ErrTooLarge), name == "ten-megabytes") // response_too_large in the browser
		})
	}
}

func TestRegister_NoRegistrationEndpointAsksForClientID(t *testing.T) {
	is := is.New(t)
	srv := newFakeServer("https://idp.example.com")
	srv.openID = true
	w, _ := newWebWorld(t, srv)
	r, err := w.resolve(Target{Host: "https://idp.example.com"})
	is.NoErr(err)
	d := w.loginResolved(Target{Host: "https://idp.example.com"}, r, "")
	is.True(errors.Is(d.Err, ErrNoClient))
	is.True(strings.Contains(d.Err.Error(), "pass --client-id"))
}

// A registration is bound to its issuer: another issuer's never serves.
func TestRegister_ARegistrationIsBoundToItsIssuer(t *testing.T) {
	is := is.New(t)
	w, n, r := registrationWorld(t)
	other := Entry{Host: "https://evil.example.com", ClientID: "evil", Metadata: Metadata{Issuer: "https://evil.example.com"},
		Registration: &Registration{Endpoint: "https://evil.example.com/reg", RedirectURIs: []string{"http://127.0.0.1:4321/callback"}}}
	w.cache[RegistrationKey("https://idp.example.com")] = other // planted under this issuer's key
	d := w.loginResolved(Target{Host: "https://idp.example.com"}, r, "")
	is.NoErr(d.Err)
	is.Equal(d.Entry.ClientID, "dyn-1")
	is.Equal(n.registered, 1)
}

// TestRegister_TheRegistrationTokenGoesOnlyToTheRegistrationEndpointsOrigin
// (issue 19, should-fix): a registration_client_uri on another origin is
// not kept, and one kept before is not read: the registration access
// token is sent to no other server.
func TestRegister_TheRegistrationTokenGoesOnlyToTheRegistrationEndpointsOrigin(t *testing.T) {
	for _, tc := range []struct {
		name    string
		planted bool // the URI is in a record kept before the rule
	}{{"AnsweredByTheServer", false}, {"KeptBefore", true}} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			w, n, r := registrationWorld(t)
			n.regResponse = func(int) Response {
				return jsonResponse(201, map[string]any{"client_id": "dyn-1", "registration_access_token": "regtok-dyn-1",
					"registration_client_uri": "https://collector.example/reg/dyn-1", "token_endpoint_auth_method": "none"})
			}
			var sent []string
			inner := w.onFetch
			w.onFetch = func(rq Request) (Response, error) {
				if strings.Contains(rq.Header["Authorization"], "regtok") {
					sent = append(sent, rq.URL)
				}
				return inner(rq)
			}
			tg := Target{Host: "https://idp.example.com"}
			is.NoErr(w.loginResolved(tg, r, "").Err)
			key := RegistrationKey("https://idp.example.com")
			is.Equal(w.cache[key].Registration.ClientURI, "") // not kept
			is.Equal(w.cache[key].RefreshToken, "regtok-dyn-1")
			if tc.planted {
				rec := w.cache[key]
				reg := *rec.Registration
				reg.ClientURI = "https://collector.example/reg/dyn-1"
				rec.Registration = &reg
				w.cache[key] = rec
			}
			d := w.loginResolved(tg, r, "")
			is.NoErr(d.Err)
			is.Equal(d.Entry.ClientID, "dyn-1") // reused, unchecked
			is.Equal(len(sent), 0)
		})
	}
	t.Run("OnTheEndpointsOriginItIsRead", func(t *testing.T) {
		is := is.New(t)
		w, n, r := registrationWorld(t)
		tg := Target{Host: "https://idp.example.com"}
		is.NoErr(w.loginResolved(tg, r, "").Err)
		is.NoErr(w.loginResolved(tg, r, "").Err)
		is.Equal(n.regTokenSeen, []string{"Bearer regtok-dyn-1"})
	})
}

// A login whose client dualauth registered, and that must be made again,
// is told to log in without --client-id: a named client would get a
// random port, which a server that compares redirect URIs exactly refuses.
func TestRefresh_LoginAgainWithARegisteredClientNamesNoClientID(t *testing.T) {
	is := is.New(t)
	w, _, r := registrationWorld(t)
	tg := Target{Host: "https://idp.example.com"}
	d := w.loginResolved(tg, r, "")
	is.NoErr(d.Err)
	e := w.cache[d.Entry.Key()]
	e.RefreshToken, e.Expiry = "", t0.Add(-time.Hour)
	w.cache[d.Entry.Key()] = e
	td := w.token(RefreshConfig{Target: tg, Client: Client{ID: "dyn-1"}})
	is.True(errors.Is(td.Err, ErrNotLoggedIn))
	is.True(strings.Contains(td.Err.Error(), "run `auth login https://idp.example.com`"))
	is.True(!strings.Contains(td.Err.Error(), "--client-id"))
}
