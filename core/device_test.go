package core

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// deviceServer scripts the token endpoint's answers to device polls.
type deviceServer struct {
	*fakeServer
	polls   []string // "pending", "slow_down", "denied", "expired", "ok", "500"
	authRes func() Response
	form    []url.Values
	idIss   string // when set, "ok" carries an ID token from this issuer
}

func newDeviceServer(polls ...string) *deviceServer {
	s := &deviceServer{fakeServer: newFakeServer(dbxIssuer), polls: polls}
	s.meta["device_authorization_endpoint"] = s.issuer + "/v1/device"
	return s
}

func (s *deviceServer) perform(w *world) func(Request) (Response, error) {
	return func(r Request) (Response, error) {
		s.form = append(s.form, r.Form)
		switch {
		case r.URL == s.issuer+"/v1/device":
			if s.authRes != nil {
				return s.authRes(), nil
			}
			return jsonResponse(200, map[string]any{
				"device_code": "DEVICE-secret", "user_code": "WDJB-MJHT",
				"verification_uri": s.issuer + "/device", "verification_uri_complete": s.issuer + "/device?user_code=WDJB-MJHT",
				"expires_in": 600,
			}), nil
		case r.Form.Get("grant_type") == DeviceGrantType:
			next := s.polls[0]
			s.polls = s.polls[1:]
			switch next {
			case "ok":
				resp := s.issue("", r.Form.Get("client_id"))
				if s.idIss != "" {
					var body map[string]any
					_ = json.Unmarshal(resp.Body, &body)
					body["id_token"] = fakeJWT(map[string]any{"iss": s.idIss, "aud": r.Form.Get("client_id"), "sub": "u1"})
					resp = jsonResponse(200, body)
				}
				return resp, nil
			case "500":
				return Response{Status: 500}, nil
			case "net":
				return Response{}, errors.New("connection reset")
			}
			code := map[string]string{"pending": "authorization_pending", "denied": "access_denied", "expired": "expired_token", "slow_down": "slow_down"}[next]
			return jsonResponse(400, map[string]string{"error": code}), nil
		}
		return s.serve(r), nil
	}
}

// runDevice drives a device login with a fake clock that Wait advances.
func runDevice(t *testing.T, s *deviceServer, cfg DeviceConfig) (*world, Done, []time.Duration, []ShowCode) {
	w := newWorld(t, s.fakeServer)
	w.onFetch = s.perform(w)
	var waits []time.Duration
	var shown []ShowCode
	d := Drive(NewDevice(cfg), Start{Now: w.now}, func(e Effect) Event {
		switch e := e.(type) {
		case Wait:
			waits = append(waits, e.For)
			w.now = w.now.Add(e.For)
			return Waited{Now: w.now}
		case ShowCode:
			shown = append(shown, e)
			return nil
		}
		return w.perform(e)
	})
	return w, d, waits, shown
}

func dbxDevice() DeviceConfig {
	return DeviceConfig{Target: Target{Host: dbxHost}, Client: Client{ID: "databricks-cli"}, Scopes: []string{"all-apis", "offline_access"}}
}

func TestDevice_PendingThenApprovedSavesALoginTokenCanUse(t *testing.T) {
	is := is.New(t)
	s := newDeviceServer("pending", "pending", "pending", "ok")
	w, d, waits, shown := runDevice(t, s, dbxDevice())
	is.NoErr(d.Err)
	is.Equal(waits, []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second}) // default interval
	is.Equal(len(shown), 1)
	is.Equal(shown[0].UserCode, "WDJB-MJHT")
	is.Equal(shown[0].VerificationURIComplete, dbxIssuer+"/device?user_code=WDJB-MJHT")
	is.Equal(shown[0].ExpiresAt, t0.Add(10*time.Minute))
	// The device authorization request: client_id and scope only (public client).
	is.Equal(s.form[1], url.Values{"client_id": {"databricks-cli"}, "scope": {"all-apis offline_access"}})
	is.Equal(s.form[2].Get("device_code"), "DEVICE-secret")
	// The token machine finds the login and refreshes it like any other.
	w.now = w.now.Add(2 * time.Hour)
	is.NoErr(w.token(dbxToken()).Err)
	is.Equal(refreshRequests(w.srv), 1)
}

func TestDevice_SlowDownAddsFiveSecondsForGood(t *testing.T) {
	is := is.New(t)
	s := newDeviceServer("pending", "slow_down", "pending", "slow_down", "ok")
	s.authRes = func() Response {
		return jsonResponse(200, map[string]any{"device_code": "d", "user_code": "u", "verification_uri": s.issuer + "/d", "expires_in": "900", "interval": 2})
	}
	_, d, waits, _ := runDevice(t, s, dbxDevice())
	is.NoErr(d.Err)
	is.Equal(waits, []time.Duration{2 * time.Second, 2 * time.Second, 7 * time.Second, 7 * time.Second, 12 * time.Second})
}

func TestDevice_Endings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		polls   []string
		wantErr error
		wantMsg string
	}{
		{name: "Denied", polls: []string{"pending", "denied"}, wantMsg: "denied"},
		{name: "ExpiredToken", polls: []string{"expired"}, wantErr: ErrDeviceCodeExpired},
		{name: "ServerError", polls: []string{"500"}, wantMsg: "HTTP 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			w, d, _, _ := runDevice(t, newDeviceServer(tc.polls...), dbxDevice())
			is.True(d.Err != nil)
			if tc.wantErr != nil {
				is.True(errors.Is(d.Err, tc.wantErr))
			}
			is.True(strings.Contains(d.Err.Error(), tc.wantMsg))
			is.True(!strings.Contains(d.Err.Error(), "DEVICE-secret")) // S25
			is.Equal(len(w.cache), 0)
		})
	}
}

func TestDevice_CodeExpiresWhilePending(t *testing.T) {
	is := is.New(t)
	polls := make([]string, 200)
	for i := range polls {
		polls[i] = "pending"
	}
	_, d, waits, _ := runDevice(t, newDeviceServer(polls...), dbxDevice())
	is.True(errors.Is(d.Err, ErrDeviceCodeExpired))
	is.Equal(len(waits), 120) // 600 s of 5 s waits, then stop: no poll after expiry
}

func TestDevice_NetworkErrorBacksOff(t *testing.T) {
	is := is.New(t)
	w, d, waits, _ := runDevice(t, newDeviceServer("net", "net", "ok"), dbxDevice())
	is.NoErr(d.Err)
	is.Equal(waits, []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second})
	is.Equal(len(w.warnings), 2)
}

func TestDevice_Errors(t *testing.T) {
	t.Run("NoDeviceEndpoint", func(t *testing.T) {
		is := is.New(t)
		s := newDeviceServer()
		delete(s.meta, "device_authorization_endpoint")
		_, d, _, _ := runDevice(t, s, dbxDevice())
		is.True(errors.Is(d.Err, ErrNoDeviceFlow))
	})
	for name, res := range map[string]Response{
		"AuthorizationRejected": jsonResponse(400, map[string]string{"error": "invalid_client"}),
		"MissingUserCode":       jsonResponse(200, map[string]any{"device_code": "d", "verification_uri": "https://i/d", "expires_in": 60}),
		"HTTPVerificationURI":   jsonResponse(200, map[string]any{"device_code": "d", "user_code": "u", "verification_uri": "http://evil.example.com/d", "expires_in": 60}),
		"NoExpiry":              jsonResponse(200, map[string]any{"device_code": "d", "user_code": "u", "verification_uri": "https://i/d"}),
		"NotJSON":               {Status: 200, ContentType: "text/html", Body: []byte("<html>")},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			s := newDeviceServer()
			s.authRes = func() Response { return res }
			_, d, waits, _ := runDevice(t, s, dbxDevice())
			is.True(d.Err != nil)
			is.Equal(len(waits), 0)
		})
	}
	t.Run("HugeIntervalCapped", func(t *testing.T) {
		is := is.New(t)
		_, _, interval, err := ParseDeviceResponse(jsonResponse(200, map[string]any{"device_code": "d", "user_code": "u", "verification_uri": "https://i/d", "expires_in": 60, "interval": 9999999999}), t0)
		is.NoErr(err)
		is.Equal(interval, MaxDeviceInterval)
	})
	t.Run("RefusedRequestIsTyped", func(t *testing.T) {
		is := is.New(t)
		s := newDeviceServer()
		s.authRes = func() Response { return jsonResponse(400, map[string]string{"error": "unauthorized_client"}) }
		_, d, _, _ := runDevice(t, s, dbxDevice())
		is.True(errors.Is(d.Err, ErrDeviceRequestRefused))
		is.True(errors.Is(d.Err, &OAuthError{Code: "unauthorized_client"}))
	})
	t.Run("VerificationURLAlias", func(t *testing.T) {
		is := is.New(t)
		show, _, _, err := ParseDeviceResponse(jsonResponse(200, map[string]any{"device_code": "d", "user_code": "u", "verification_url": "https://i/d", "expires_in": 60}), t0)
		is.NoErr(err)
		is.Equal(show.VerificationURI, "https://i/d")
	})
	t.Run("NoClientID", func(t *testing.T) {
		is := is.New(t)
		cfg := dbxDevice()
		cfg.Client.ID = ""
		_, d, _, _ := runDevice(t, newDeviceServer(), cfg)
		is.True(d.Err != nil)
	})
	t.Run("KnownMetadataAndAbort", func(t *testing.T) {
		is := is.New(t)
		cfg := dbxDevice()
		cfg.Metadata = &Metadata{Issuer: dbxIssuer, TokenEndpoint: dbxIssuer + "/v1/token", DeviceAuthorizationEndpoint: dbxIssuer + "/v1/device"}
		m := NewDevice(cfg)
		effs := m.Step(Start{Now: t0})
		is.Equal(effs[0].(Fetch).Request.URL, dbxIssuer+"/v1/device")
		effs = m.Step(Aborted{Err: errors.New("timed out")})
		is.Equal(effs[0].(Done).Err.Error(), "timed out")
	})
}

func TestParsePastedRedirect(t *testing.T) {
	const redirect = "http://127.0.0.1:8020/callback"
	for _, tc := range []struct {
		name, pasted, wantMsg string
	}{
		{name: "Exact", pasted: redirect + "?code=c&state=s"},
		{name: "Whitespace", pasted: "  " + redirect + "?code=c&state=s\n"},
		{name: "ErrorCallback", pasted: redirect + "?error=access_denied&state=s"},
		{name: "WrongPort", pasted: "http://127.0.0.1:8021/callback?code=c&state=s", wantMsg: "not to the redirect URI"},
		{name: "WrongHost", pasted: "http://localhost:8020/callback?code=c&state=s", wantMsg: "not to the redirect URI"},
		{name: "WrongPath", pasted: "http://127.0.0.1:8020/other?code=c&state=s", wantMsg: "not to the redirect URI"},
		{name: "WrongScheme", pasted: "https://127.0.0.1:8020/callback?code=c&state=s", wantMsg: "not to the redirect URI"},
		{name: "NoCode", pasted: redirect + "?state=s", wantMsg: "no code or error"},
		{name: "Garbage", pasted: "hello there", wantMsg: "not a URL"},
		{name: "Empty", pasted: " ", wantMsg: "nothing pasted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			q, err := ParsePastedRedirect(tc.pasted, redirect)
			if tc.wantMsg == "" {
				is.NoErr(err)
				is.Equal(q.Get("state"), "s")
				return
			}
			is.True(err != nil)
			is.True(strings.Contains(err.Error(), tc.wantMsg))
		})
	}
}

// A pasted redirect goes through the same checks as a listener callback:
// a wrong state is rejected and the login keeps waiting.
func TestPaste_WrongStateRejectedLikeACallback(t *testing.T) {
	is := is.New(t)
	srv := newFakeServer(dbxIssuer)
	w := newWorld(t, srv)
	l := NewLogin(dbxLogin())
	a := untilAuthorize(t, w, l, &counter{})
	q, err := ParsePastedRedirect("http://localhost:8020/?code=x&state=forged", "http://localhost:8020")
	is.NoErr(err)
	_, rejected := l.Step(Callback{Query: q, Now: w.now})[0].(Reject)
	is.True(rejected)
	good := srv.authorize(a.URL)
	q, err = ParsePastedRedirect("http://localhost:8020?"+good.Encode(), "http://localhost:8020")
	is.NoErr(err)
	is.NoErr(finish(w, l, q).Err)
}
