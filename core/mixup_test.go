package core

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// Real shapes of metadata, and the mix-up one of issue 19: a hostile
// server A names an honest server's authorization endpoint and keeps its
// own token endpoint.
const (
	googleIssuer  = "https://accounts.google.com"
	cognitoIssuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab12Cd34"
	hostileIssuer = "https://a.example"
	honestOrigin  = "https://i.example"
)

func TestCheckSignInOrigin_AllowsRealShapesAndRefusesAMixUp(t *testing.T) {
	for _, tc := range []struct {
		name              string
		issuer, authz, te string
		iss               bool
		ok                bool
	}{
		{"AllOnTheIssuersOrigin", dbxIssuer, dbxIssuer + "/v1/authorize", dbxIssuer + "/v1/token", false, true},
		{"GoogleAuthorizationOnTheIssuerTokenElsewhere", googleIssuer, "https://accounts.google.com/o/oauth2/v2/auth", "https://oauth2.googleapis.com/token", false, true},
		{"CognitoAuthorizationAndTokenOnACustomDomainIssuerElsewhere", cognitoIssuer, "https://auth.example.com/oauth2/authorize", "https://auth.example.com/oauth2/token", false, true},
		{"DefaultPortIsTheSameOrigin", hostileIssuer, "https://A.example:443/authorize", hostileIssuer + "/token", false, true},
		{"AnotherServersAuthorizationEndpointRefused", hostileIssuer, honestOrigin + "/authorize", hostileIssuer + "/token", false, false},
		{"AnotherPortRefused", hostileIssuer, "https://a.example:8443/authorize", hostileIssuer + "/token", false, false},
		{"AnotherSchemeRefused", "https://127.0.0.1:9000", "http://127.0.0.1:9000/authorize", "https://127.0.0.1:9000/token", false, false},
		{"ASubdomainIsAnotherOrigin", hostileIssuer, "https://login.a.example/authorize", hostileIssuer + "/token", false, false},
		{"AnotherServerAllowedWhenIssIsPromised", hostileIssuer, honestOrigin + "/authorize", hostileIssuer + "/token", true, true},
		// The device pages of Entra ID and Google: another origin of the
		// issuer's own operator, trusted for that issuer only.
		{"EntraDevicePage", "https://login.microsoftonline.com/tid/v2.0", "https://microsoft.com/devicelogin", "https://login.microsoftonline.com/tid/oauth2/v2.0/token", false, true},
		{"EntraUSGovernmentDevicePage", "https://login.microsoftonline.us/tid/v2.0", "https://microsoft.com/deviceloginus", "https://login.microsoftonline.us/tid/oauth2/v2.0/token", false, true},
		{"EntraUSGovernmentIsNotGivenTheCommercialLoginOrigin", "https://login.microsoftonline.us/tid/v2.0", "https://login.microsoft.com/device", "https://login.microsoftonline.us/tid/oauth2/v2.0/token", false, false},
		{"GoogleDevicePage", googleIssuer, "https://www.google.com/device", "https://oauth2.googleapis.com/token", false, true},
		{"EntrasDevicePageNamedByAnotherIssuerRefused", hostileIssuer, "https://microsoft.com/devicelogin", hostileIssuer + "/token", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			m := Metadata{Issuer: tc.issuer, AuthorizationEndpoint: tc.authz, TokenEndpoint: tc.te, AuthorizationResponseIssSupported: tc.iss}
			err := m.CheckSignInOrigin(tc.authz, tc.iss)
			is.Equal(err == nil, tc.ok)
			is.Equal(m.CheckBrowserLogin() == nil, tc.ok) // the browser login's check is this rule
			if !tc.ok {
				is.True(errors.Is(err, ErrMixUp))
				is.True(strings.Contains(err.Error(), Origin(tc.authz)))           // where it would have sent the user
				is.True(strings.Contains(err.Error(), "log in to its own issuer")) // and what to do
			}
		})
	}
}

// mixUpServer is the hostile server A of issue 19: its metadata names the
// honest server's authorization endpoint and keeps its own token endpoint.
func mixUpServer(promiseIss bool) *fakeServer {
	s := newFakeServer(hostileIssuer)
	s.openID = true
	s.meta["authorization_endpoint"] = honestOrigin + "/authorize"
	if promiseIss {
		s.meta["authorization_response_iss_parameter_supported"] = true
	}
	return s
}

func mixUpLogin(host string) LoginConfig {
	return LoginConfig{Target: Target{Host: host}, Client: Client{ID: "cli"}, Scopes: []string{"openid"}, RedirectURI: "http://127.0.0.1:5/callback"}
}

// TestLogin_MixUpIsRefusedBeforeTheUserIsSentAnywhere: with no iss
// promised, the login ends after discovery, before SavePending and
// Authorize; nothing reaches any token endpoint.
func TestLogin_MixUpIsRefusedBeforeTheUserIsSentAnywhere(t *testing.T) {
	is := is.New(t)
	srv := mixUpServer(false)
	w := newWorld(t, srv)
	d := w.login(mixUpLogin(hostileIssuer))
	is.True(errors.Is(d.Err, ErrMixUp))
	is.True(w.pending == nil)      // nothing saved…
	is.Equal(w.authURL, "")        // …and no browser sent to the honest server
	is.Equal(len(srv.requests), 1) // discovery only
}

// TestLogin_MixUpWithIssPromisedNeedsTheIssuersIss: a server that
// promises iss may sign in elsewhere, and the honest server's answer is
// then refused (no iss, or its own) before its code goes to A's token
// endpoint.
func TestLogin_MixUpWithIssPromisedNeedsTheIssuersIss(t *testing.T) {
	for _, tc := range []struct {
		name string
		iss  string
		want error
	}{
		{"NoIss", "", ErrMissingIssuer},
		{"TheHonestServersIss", honestOrigin, ErrIssuerMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			srv := mixUpServer(true)
			w := newWorld(t, srv)
			l := NewLogin(mixUpLogin(hostileIssuer))
			a := untilAuthorize(t, w, l, &counter{})
			is.True(strings.HasPrefix(a.URL, honestOrigin+"/authorize?"))
			q := srv.authorize(a.URL)
			if tc.iss != "" {
				q.Set("iss", tc.iss)
			}
			d := finish(w, l, q)
			is.True(errors.Is(d.Err, tc.want))
			is.Equal(tokenRequests(srv), 0) // the code never reaches A
		})
	}
}

// tokensAtHServer is the hostile server A of the review of issue 19 and of
// the security review's H7 bypass: its metadata names the honest server
// H's token endpoint, and a sign-in page on signIn — H's origin (both of
// H's endpoints: the page passes the rule by being on the token endpoint's
// origin), or A's own (a page that would just redirect to H's). Either
// way H's token endpoint answers with H's tokens; idIss is the iss of H's
// ID tokens ("-": none).
func tokensAtHServer(signIn, idIss string) *fakeServer {
	s := newFakeServer(hostileIssuer)
	s.openID = true
	s.meta["authorization_endpoint"] = signIn + "/authorize"
	s.meta["token_endpoint"] = honestOrigin + "/token"
	s.idIss = idIss
	return s
}

// TestLogin_AnotherServersTokenEndpointStoresNothing: H's tokens are never
// stored under A, wherever the user signs in — without an ID token, or
// with H's, the login ends before anything is saved (H7). openid is asked
// even when the caller asked none, so that a real server of this shape
// (Cognito) can bind its login.
func TestLogin_AnotherServersTokenEndpointStoresNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		signIn string
		idIss  string
		scopes []string
		want   error
	}{
		{"NoIDToken", honestOrigin, "-", []string{"openid"}, ErrNotBound},
		{"TheHonestServersIDToken", honestOrigin, honestOrigin, []string{"openid"}, ErrIssuerMismatch},
		{"TheHonestServersIDTokenNoOpenIDAsked", honestOrigin, honestOrigin, []string{"api"}, ErrIssuerMismatch},
		{"SignInOnAsOwnOriginNoIDToken", hostileIssuer, "-", []string{"api"}, ErrNotBound},
		{"SignInOnAsOwnOriginTheHonestServersIDToken", hostileIssuer, honestOrigin, []string{"api"}, ErrIssuerMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			srv := tokensAtHServer(tc.signIn, tc.idIss)
			w := newWorld(t, srv)
			cfg := mixUpLogin(hostileIssuer)
			cfg.Scopes = tc.scopes
			d := w.login(cfg)
			is.True(errors.Is(d.Err, ErrMixUp))
			is.True(errors.Is(d.Err, tc.want))
			is.True(strings.HasPrefix(w.authURL, tc.signIn+"/authorize?")) // signed in where the metadata said…
			is.Equal(tokenRequests(srv), 1)                                // …H answered…
			is.Equal(len(w.cache), 0)                                      // …and nothing is stored under A
			is.True(!strings.Contains(d.Err.Error(), "access-"))
			q := authQuery(t, Authorize{URL: w.authURL})
			is.True(slices.Contains(strings.Fields(q.Get("scope")), "openid"))
			is.True(q.Get("nonce") != "")
		})
	}
}

// TestLogin_CognitoShapeAsksOpenIDAndIsBoundByItsIDToken: Cognito's shape
// (sign-in and token endpoint on one custom domain, issuer elsewhere) asks
// for openid even when the caller did not, and logs in with the ID token
// naming its issuer.
func TestLogin_CognitoShapeAsksOpenIDAndIsBoundByItsIDToken(t *testing.T) {
	is := is.New(t)
	cognito := newFakeServer(cognitoIssuer)
	cognito.openID = true
	cognito.meta["authorization_endpoint"] = "https://auth.example.com/oauth2/authorize"
	cognito.meta["token_endpoint"] = "https://auth.example.com/oauth2/token"
	w := newWorld(t, cognito)
	cfg := mixUpLogin(cognitoIssuer)
	cfg.Scopes = []string{"api"}
	d := w.login(cfg)
	is.NoErr(d.Err)
	is.Equal(authQuery(t, Authorize{URL: w.authURL}).Get("scope"), "openid api")
	is.Equal(d.Entry.Scopes, []string{"openid", "api"})
	is.Equal(len(w.cache), 1)
}

// TestTranscript_MixUpRefusedAndRealShapesLogIn: the hostile shape ends at
// discovery; Google's and Cognito's shapes log in as before (Cognito's
// bound by its ID token); a server naming both of another's endpoints
// gets that server's tokens, which are not saved under it.
func TestTranscript_MixUpRefusedAndRealShapesLogIn(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, mixUpServer(false))
	is.True(errors.Is(w.login(mixUpLogin(hostileIssuer)).Err, ErrMixUp))

	google := newFakeServer(googleIssuer)
	google.openID = true
	google.meta["authorization_endpoint"] = googleIssuer + "/o/oauth2/v2/auth"
	google.meta["token_endpoint"] = "https://oauth2.googleapis.com/token"
	w.srv = google
	is.NoErr(w.login(mixUpLogin(googleIssuer)).Err)

	cognito := newFakeServer(cognitoIssuer)
	cognito.openID = true
	cognito.meta["authorization_endpoint"] = "https://auth.example.com/oauth2/authorize"
	cognito.meta["token_endpoint"] = "https://auth.example.com/oauth2/token"
	w.srv = cognito
	is.NoErr(w.login(mixUpLogin(cognitoIssuer)).Err)

	w.srv = tokensAtHServer(honestOrigin, honestOrigin)
	is.True(errors.Is(w.login(mixUpLogin(hostileIssuer)).Err, ErrMixUp))
	checkTranscript(t, "login-mixup", w.transcript())
}

// TestDevice_VerificationURIOnAnotherOriginIsRefused: the device flow's
// page follows the same rule, and before any code is shown or polled;
// promising iss changes nothing, as no authorization response carries it.
func TestDevice_VerificationURIOnAnotherOriginIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name             string
		uri, complete    string
		promiseIss, fail bool
	}{
		{"OnTheIssuersOrigin", dbxHost + "/device", dbxHost + "/device?user_code=u", false, false},
		{"OnAnotherOrigin", honestOrigin + "/device", "", false, true},
		{"CompleteURIOnAnotherOrigin", dbxHost + "/device", honestOrigin + "/device?user_code=u", false, true},
		{"OnAnotherOriginWithIssPromised", honestOrigin + "/device", "", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			s := newDeviceServer("ok")
			if tc.promiseIss {
				s.meta["authorization_response_iss_parameter_supported"] = true
			}
			s.authRes = func() Response {
				return jsonResponse(200, map[string]any{"device_code": "d", "user_code": "u", "verification_uri": tc.uri, "verification_uri_complete": tc.complete, "expires_in": 60})
			}
			w, d, waits, shown := runDevice(t, s, dbxDevice())
			if !tc.fail {
				is.NoErr(d.Err)
				is.Equal(len(shown), 1)
				return
			}
			is.True(errors.Is(d.Err, ErrMixUp))
			is.Equal(len(shown), 0) // no code shown…
			is.Equal(len(waits), 0) // …and no poll
			is.Equal(len(w.cache), 0)
		})
	}
}

// TestDevice_CognitoShapeWorks: a verification URI on the token
// endpoint's origin, the issuer elsewhere: openid is asked, and the ID
// token naming the issuer binds the login to it (H7).
func TestDevice_CognitoShapeWorks(t *testing.T) {
	is := is.New(t)
	s := newDeviceServer("ok")
	s.meta["token_endpoint"] = "https://auth.example.com/oauth2/token"
	s.idIss = dbxIssuer
	s.authRes = func() Response {
		return jsonResponse(200, map[string]any{"device_code": "d", "user_code": "u", "verification_uri": "https://auth.example.com/device", "expires_in": 60})
	}
	w, d, _, shown := runDevice(t, s, dbxDevice())
	is.NoErr(d.Err)
	is.Equal(shown[0].VerificationURI, "https://auth.example.com/device")
	is.True(d.Token.Expiry.After(t0.Add(time.Minute)))
	is.Equal(s.form[len(s.form)-2].Get("scope"), "openid all-apis offline_access") // the device request
	is.Equal(len(w.cache), 1)
}

// TestDevice_MixUpWithAnotherServersEndpointsStoresNothing: A's metadata
// names H's token endpoint, and a verification page on H's origin or on
// A's own (one that would just redirect to H's); H's token endpoint
// answers with H's tokens. Without an ID token, or with H's, nothing is
// stored under A (H7), and openid was asked with the device request. An
// ID token of another issuer is refused even where no binding is needed
// (A's own token endpoint).
func TestDevice_MixUpWithAnotherServersEndpointsStoresNothing(t *testing.T) {
	for _, tc := range []struct {
		name        string
		page, token string // origins
		idIss       string
		want        error
	}{
		{"NoIDToken", honestOrigin, honestOrigin, "", ErrNotBound},
		{"TheHonestServersIDToken", honestOrigin, honestOrigin, honestOrigin, ErrIssuerMismatch},
		{"PageOnAsOwnOriginNoIDToken", dbxHost, honestOrigin, "", ErrNotBound},
		{"PageOnAsOwnOriginTheHonestServersIDToken", dbxHost, honestOrigin, honestOrigin, ErrIssuerMismatch},
		{"AllOnAsOriginAnotherIssuersIDToken", dbxHost, dbxHost, honestOrigin, ErrIssuerMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			s := newDeviceServer("ok")
			if tc.token != dbxHost {
				s.meta["token_endpoint"] = tc.token + "/token"
			}
			s.idIss = tc.idIss
			s.authRes = func() Response {
				return jsonResponse(200, map[string]any{"device_code": "d", "user_code": "u", "verification_uri": tc.page + "/device", "expires_in": 60})
			}
			w, d, _, shown := runDevice(t, s, dbxDevice())
			is.Equal(len(shown), 1) // the page passes the sign-in rule…
			is.True(errors.Is(d.Err, tc.want))
			is.True(errors.Is(d.Err, ErrMixUp))
			is.Equal(len(w.cache), 0) // …but H's tokens are not stored under A
			is.True(!strings.Contains(d.Err.Error(), "access-"))
			scope := strings.Fields(s.form[len(s.form)-2].Get("scope")) // the device request
			is.Equal(slices.Contains(scope, "openid"), tc.token != dbxHost)
		})
	}
}

// TestNeedsIDToken_DecidedByWhoseTokenEndpointIssuesTheTokens: the binding
// follows the token endpoint, not the sign-in page (H7): off the issuer's
// origin it is needed unless iss is promised or the origin is the issuer's
// operator's own (Google's token endpoint); the real shapes keep working.
func TestNeedsIDToken_DecidedByWhoseTokenEndpointIssuesTheTokens(t *testing.T) {
	for _, tc := range []struct {
		name       string
		issuer, te string
		iss, want  bool
	}{
		{"Databricks", dbxIssuer, dbxIssuer + "/v1/token", false, false},
		{"Google", googleIssuer, "https://oauth2.googleapis.com/token", false, false},
		{"Entra", "https://login.microsoftonline.com/tid/v2.0", "https://login.microsoftonline.com/tid/oauth2/v2.0/token", false, false},
		{"Cognito", cognitoIssuer, "https://auth.example.com/oauth2/token", false, true},
		{"AnotherServersTokenEndpoint", hostileIssuer, honestOrigin + "/token", false, true},
		{"AnotherServersTokenEndpointIssPromised", hostileIssuer, honestOrigin + "/token", true, false},
		{"GooglesTokenEndpointNamedByAnotherIssuer", hostileIssuer, "https://oauth2.googleapis.com/token", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			m := Metadata{Issuer: tc.issuer, AuthorizationEndpoint: tc.issuer + "/authorize", TokenEndpoint: tc.te}
			is.Equal(m.needsIDToken(tc.iss), tc.want)
		})
	}
}

// TestLogin_AnIDTokenOfAnotherIssuerIsAMixUpUnasked: an ID token the token
// endpoint returns is checked even when no openid was asked and no binding
// is needed; one naming another issuer is a mix-up, nothing saved.
func TestLogin_AnIDTokenOfAnotherIssuerIsAMixUpUnasked(t *testing.T) {
	is := is.New(t)
	srv := newFakeServer(hostileIssuer)
	srv.openID = true
	w := newWorld(t, srv)
	cfg := mixUpLogin(hostileIssuer)
	cfg.Scopes = []string{"api"}
	l := NewLogin(cfg)
	a := untilAuthorize(t, w, l, &counter{})
	is.Equal(authQuery(t, a).Get("nonce"), "") // none sent
	w.onFetch = func(r Request) (Response, error) {
		return jsonResponse(200, map[string]any{"access_token": "a", "token_type": "Bearer", "id_token": fakeJWT(map[string]any{"iss": honestOrigin, "aud": "cli"})}), nil
	}
	d := finish(w, l, srv.authorize(a.URL))
	is.True(errors.Is(d.Err, ErrMixUp))
	is.True(errors.Is(d.Err, ErrIssuerMismatch))
	is.Equal(len(w.cache), 0)
}

// TestDevice_GoogleShapeAsksNoOpenID: Google's token endpoint
// (oauth2.googleapis.com) is its issuer's operator's own, so a device
// login there needs no ID token and asks for no openid.
func TestDevice_GoogleShapeAsksNoOpenID(t *testing.T) {
	is := is.New(t)
	s := newDeviceServer("ok")
	s.issuer = googleIssuer
	s.openID = true
	s.meta["issuer"] = googleIssuer
	s.meta["device_authorization_endpoint"] = googleIssuer + "/v1/device"
	s.meta["token_endpoint"] = "https://oauth2.googleapis.com/token"
	s.authRes = func() Response {
		return jsonResponse(200, map[string]any{"device_code": "d", "user_code": "u", "verification_uri": "https://www.google.com/device", "expires_in": 60})
	}
	cfg := dbxDevice()
	cfg.Target = Target{Host: googleIssuer}
	w, d, _, shown := runDevice(t, s, cfg)
	is.NoErr(d.Err)
	is.Equal(len(shown), 1)
	is.True(!slices.Contains(strings.Fields(s.form[len(s.form)-2].Get("scope")), "openid"))
	is.Equal(len(w.cache), 1)
}

// TestRefresh_AnIDTokenOfAnotherIssuerIsNotKept: a refresh's ID token is
// checked as at login (iss and aud): one naming another issuer is not kept
// as the login's identity (a warning says so); the refreshed tokens are,
// as the refresh token is spent. One that fits replaces the old.
func TestRefresh_AnIDTokenOfAnotherIssuerIsNotKept(t *testing.T) {
	for _, tc := range []struct {
		name, iss string
		kept      bool
	}{
		{"AnotherIssuer", honestOrigin, false},
		{"TheIssuer", dbxIssuer, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			w := loggedIn(t, 3600)
			key := Key(dbxIssuer, "databricks-cli")
			before := w.cache[key]
			w.now = w.now.Add(2 * time.Hour)
			id := fakeJWT(map[string]any{"iss": tc.iss, "aud": "databricks-cli", "sub": "u2"})
			w.onFetch = func(r Request) (Response, error) {
				return jsonResponse(200, map[string]any{"access_token": "at-new", "refresh_token": "rt-new", "token_type": "Bearer", "expires_in": 3600, "id_token": id}), nil
			}
			d := w.token(dbxToken())
			is.NoErr(d.Err)
			after := w.cache[key]
			is.Equal(after.AccessToken, "at-new")
			is.Equal(after.RefreshToken, "rt-new")
			if tc.kept {
				is.Equal(after.IDToken, id)
				is.Equal(len(w.warnings), 0)
				return
			}
			is.Equal(after.IDToken, before.IDToken)
			is.Equal(len(w.warnings), 1)
			is.True(strings.Contains(w.warnings[0], honestOrigin))
		})
	}
}
