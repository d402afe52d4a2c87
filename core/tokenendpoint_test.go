package core

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// A 200 answer that cannot be used still yields its refresh token: the
// server has spent the old one (S38).
func TestParseTokenResponse_UnusableAnswerKeepsItsRefreshToken(t *testing.T) {
	for name, body := range map[string]string{
		"NoAccessToken":    `{"refresh_token":"r2","token_type":"Bearer"}`,
		"BadExpiresIn":     `{"access_token":"a","refresh_token":"r2","expires_in":"soon"}`,
		"MalformedField":   `{"access_token":"a","refresh_token":"r2","expires_in":{}}`,
		"UnknownTokenType": `{"access_token":"a","refresh_token":"r2","token_type":"N_A"}`,
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			tr, err := ParseTokenResponse(Response{Status: 200, ContentType: "application/json", Body: []byte(body)}, t0)
			is.True(err != nil)
			is.True(!strings.Contains(err.Error(), "r2"))
			is.Equal(tr, &TokenResponse{RefreshToken: "r2"}) // nothing else of an unusable answer
		})
	}
}

func TestParseTokenResponse(t *testing.T) {
	js := func(status int, body string) Response {
		return Response{Status: status, ContentType: "application/json; charset=utf-8", Body: []byte(body)}
	}
	for _, tc := range []struct {
		name    string
		resp    Response
		want    *TokenResponse
		wantErr string
		oauth   string
	}{
		{name: "NumberExpiresIn", resp: js(200, `{"access_token":"a","token_type":"Bearer","expires_in":3600,"refresh_token":"r","scope":"x y","id_token":"i"}`),
			want: &TokenResponse{AccessToken: "a", TokenType: "Bearer", RefreshToken: "r", Scope: "x y", IDToken: "i", Expiry: t0.Add(time.Hour)}},
		{name: "StringExpiresIn", resp: js(200, `{"access_token":"a","token_type":"bearer","expires_in":"60"}`),
			want: &TokenResponse{AccessToken: "a", TokenType: "Bearer", Expiry: t0.Add(time.Minute)}},
		{name: "ZeroExpiresInIsAlreadyExpired", resp: js(200, `{"access_token":"a","expires_in":0}`), want: &TokenResponse{AccessToken: "a", TokenType: "Bearer", Expiry: t0}},
		{name: "TokenTypeOtherThanBearerRefused", resp: js(200, `{"access_token":"a","token_type":"mac"}`), wantErr: `type "mac"; dualauth can only use Bearer`},
		{name: "DPoPTokenTypeRefused", resp: js(200, `{"access_token":"a","token_type":"DPoP"}`), wantErr: `type "DPoP"`},
		{name: "NoExpiryNoType", resp: js(200, `{"access_token":"a","expires_in":null}`), want: &TokenResponse{AccessToken: "a", TokenType: "Bearer"}},
		{name: "JSONWithoutContentType", resp: Response{Status: 200, Body: []byte(` {"access_token":"a"}`)}, want: &TokenResponse{AccessToken: "a", TokenType: "Bearer"}},
		{name: "HugeExpiresInClamped", resp: js(200, `{"access_token":"a","expires_in":9999999999}`), want: &TokenResponse{AccessToken: "a", TokenType: "Bearer", Expiry: t0.Add(maxLifetimeSeconds * time.Second)}},
		{name: "BadExpiresIn", resp: js(200, `{"access_token":"a","expires_in":"soon"}`), wantErr: "invalid expires_in"},
		{name: "NegativeExpiresIn", resp: js(200, `{"access_token":"a","expires_in":-5}`), wantErr: "invalid expires_in"},
		{name: "OAuthError", resp: js(400, `{"error":"invalid_grant","error_description":"token reused","error_uri":"https://e/x"}`), oauth: "invalid_grant"},
		{name: "OAuthErrorWith200", resp: js(200, `{"error":"slow_down"}`), oauth: "slow_down"},
		{name: "NoAccessToken", resp: js(200, `{"token_type":"Bearer"}`), wantErr: "no access_token"},
		{name: "HTML502", resp: Response{Status: 502, ContentType: "text/html", Body: []byte("<html>bad gateway</html>")}, wantErr: "HTTP 502 (24 bytes of text/html)"},
		{name: "Empty500", resp: Response{Status: 500}, wantErr: "HTTP 500 with an empty body"},
		{name: "JSONWithoutCode", resp: js(401, `{"message":"nope"}`), wantErr: "without an OAuth error code"},
		{name: "GarbageWith200", resp: Response{Status: 200, ContentType: "text/plain", Body: []byte("access_token=a")}, wantErr: "not a JSON token response"},
		{name: "JSONTypeAnyCaseWithParams", resp: Response{Status: 400, ContentType: "Application/Problem+JSON ; charset=UTF-8", Body: []byte(`[1]`)}, wantErr: "HTTP 400 (3 bytes of JSON without an OAuth error code)"},
		{name: "NotJSONTypeNorBody", resp: Response{Status: 400, ContentType: "text/json-ish", Body: []byte(`[1]`)}, wantErr: "HTTP 400 (3 bytes of text/json-ish)"},
		{name: "UnknownBodyNoType", resp: Response{Status: 418, Body: []byte("teapot")}, wantErr: "HTTP 418 (6 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			got, err := ParseTokenResponse(tc.resp, t0)
			switch {
			case tc.oauth != "":
				var oe *OAuthError
				is.True(errors.As(err, &oe))
				is.Equal(oe.Code, tc.oauth)
			case tc.wantErr != "":
				is.True(err != nil)
				is.True(strings.Contains(err.Error(), tc.wantErr)) // error names the problem
			default:
				is.NoErr(err)
				is.Equal(got, tc.want)
			}
		})
	}
}

func TestOAuthError_Message(t *testing.T) {
	is := is.New(t)
	is.Equal((&OAuthError{Code: "access_denied"}).Error(), "access_denied")
	is.Equal((&OAuthError{Code: "access_denied", Description: "user said no"}).Error(), "access_denied: user said no")
	is.True(errors.Is(&OAuthError{Code: "invalid_grant", Description: "x"}, ErrInvalidGrant))
	is.True(!errors.Is(&OAuthError{Code: "invalid_client"}, ErrInvalidGrant))
	is.True(!errors.Is(&OAuthError{Code: "invalid_grant"}, errors.New("invalid_grant")))
}

// A server's error and error_description reach every message through
// Sanitize (S37): no control character, ESC or bidi override survives.
func TestOAuthError_MessageIsSanitised(t *testing.T) {
	is := is.New(t)
	e := &OAuthError{Code: "access_denied\x1b[2J", Description: "line\nforged\x07 \u202eevil\x1b]8;;http://x\x1b\\"}
	msg := e.Error()
	for _, c := range []string{"\x1b", "\n", "\x07", "\u202e", "\x9b"} {
		is.True(!strings.Contains(msg, c))
	}
	is.Equal(msg, `access_denied\x1b[2J: line\nforged\a \u202eevil\x1b]8;;http://x\x1b\`)
}

func TestClient_Requests(t *testing.T) {
	is := is.New(t)
	pub := Client{ID: "cli"}
	r := pub.RefreshRequest("https://i/token", "rt")
	is.Equal(r.Method, "POST")
	is.Equal(r.Header["Content-Type"], "application/x-www-form-urlencoded")
	is.Equal(r.Form, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt"}, "client_id": {"cli"}})
	is.Equal(r.Body(), "client_id=cli&grant_type=refresh_token&refresh_token=rt")
	is.Equal(Request{}.Body(), "")

	conf := Client{ID: "svc", Secret: "s3"}
	r = conf.RevokeRequest("https://i/revoke", "t", "refresh_token")
	is.Equal(r.Form.Get("client_secret"), "s3")
	is.Equal(r.Form.Get("token_type_hint"), "refresh_token")
}

func TestCacheFile_RoundTripAndErrors(t *testing.T) {
	is := is.New(t)
	c, err := DecodeCacheFile(nil)
	is.NoErr(err)
	is.Equal(len(c.Tokens), 0)
	e := Entry{Host: dbxHost, ClientID: "databricks-cli", AccessToken: "a", RefreshToken: "r", Expiry: t0, ObtainedAt: t0, Metadata: Metadata{Issuer: dbxIssuer, TokenEndpoint: dbxIssuer + "/t"}}
	c.Tokens[e.Key()] = e
	back, err := DecodeCacheFile(c.Encode())
	is.NoErr(err)
	is.Equal(back.Tokens[e.Key()], e)

	// The Databricks CLI's own format (version 1, oauth2.Token fields) reads.
	dbx, err := DecodeCacheFile([]byte(`{"version":1,"tokens":{"k":{"access_token":"a","token_type":"Bearer","refresh_token":"r","expiry":"2026-11-28T12:00:00Z"}}}`))
	is.NoErr(err)
	is.Equal(dbx.Tokens["k"].RefreshToken, "r")

	_, err = DecodeCacheFile([]byte(`{"version":2,"tokens":{}}`))
	is.True(strings.Contains(err.Error(), "version 2"))
	_, err = DecodeCacheFile([]byte(`{"version":1,"tokens":{"k":{"access_token":`))
	is.True(strings.Contains(err.Error(), "not valid JSON"))
	c, err = DecodeCacheFile([]byte(`{"version":1}`))
	is.NoErr(err)
	is.True(c.Tokens != nil)
}

func TestDecodeJWT(t *testing.T) {
	is := is.New(t)
	c, err := DecodeJWT(fakeJWT(map[string]any{"iss": "i", "aud": []string{"a", "b"}, "email": "u@x", "exp": 5}))
	is.NoErr(err)
	is.Equal([]string(c.Audience), []string{"a", "b"})
	is.Equal(c.Email, "u@x")
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a.bm90anNvbg.c"} {
		_, err := DecodeJWT(bad)
		is.True(err != nil) // malformed JWT rejected
	}
}

// TestParseTokenResponse_TokensOutsideVSCHARAreRefusedAndNothingKept
// (issue 19, item 2): an access, refresh or ID token with a byte outside
// %x20-7E is refused, as a bad token_type is, but unlike other unusable
// answers not even the refresh token is kept; the message names the field,
// never the token.
func TestParseTokenResponse_TokensOutsideVSCHARAreRefusedAndNothingKept(t *testing.T) {
	const evil = "AT\x1b]52;c;aGk=\x07\x1b]0;PWNED\x07\x1b[2J\r\nX-Injected: 1"
	for _, tc := range []struct {
		name, field string
		answer      map[string]any
	}{
		{"EscapesInTheAccessToken", "access_token", map[string]any{"access_token": evil, "refresh_token": "r2", "token_type": "Bearer", "expires_in": 60}},
		{"CRLFInTheRefreshToken", "refresh_token", map[string]any{"access_token": "a", "refresh_token": "r2\r\nX-Injected: 1", "token_type": "Bearer"}},
		{"BELInTheIDToken", "id_token", map[string]any{"access_token": "a", "refresh_token": "r2", "id_token": "h.p.s\x07"}},
		{"DELInTheAccessToken", "access_token", map[string]any{"access_token": "a\x7f", "refresh_token": "r2"}},
		{"NonASCIIInTheAccessToken", "access_token", map[string]any{"access_token": "é", "refresh_token": "r2"}},
		{"C1CSIInTheAccessToken", "access_token", map[string]any{"access_token": "a\u009b2J", "refresh_token": "r2"}},
		{"TabInTheRefreshToken", "refresh_token", map[string]any{"access_token": "a", "refresh_token": "r\t2"}},
		{"EscapeInTheAccessTokenOfAMalformedAnswer", "access_token", map[string]any{"access_token": evil, "refresh_token": "r2", "expires_in": map[string]any{}}},
		{"EscapeInTheRefreshTokenOfAMalformedAnswer", "refresh_token", map[string]any{"refresh_token": "r2\x1b[2J", "expires_in": map[string]any{}}},
		{"EscapeInTheRefreshTokenWithoutAccessToken", "refresh_token", map[string]any{"refresh_token": "r2\x1b[2J"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			tr, err := ParseTokenResponse(jsonResponse(200, tc.answer), t0)
			var ce *TokenCharsetError
			is.True(errors.As(err, &ce))
			is.Equal(ce.Field, tc.field)
			is.Equal(tr, nil) // not even the refresh token is kept
			is.True(!strings.ContainsAny(err.Error(), "\x1b\x07\r\n\x7f"))
			is.True(!strings.Contains(err.Error(), "r2") && !strings.Contains(err.Error(), "PWNED"))
		})
	}
	t.Run("SpaceAndTildeAreVSCHAR", func(t *testing.T) {
		is := is.New(t)
		tr, err := ParseTokenResponse(jsonResponse(200, map[string]any{"access_token": "a b~", "refresh_token": " r~", "id_token": "~"}), t0)
		is.NoErr(err)
		is.Equal(tr.AccessToken, "a b~")
	})
}

// TestRefresh_ATokenOutsideVSCHARIsNotSaved (issue 19, item 2; H8): a
// refresh answered with such a token fails, and neither its access token
// nor its rotated refresh token reaches the cache. The old refresh token,
// which the server has already spent, is dropped as well: the error asks
// for a login, and the next call does not replay the spent token.
func TestRefresh_ATokenOutsideVSCHARIsNotSaved(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	is.NoErr(w.login(dbxLogin()).Err)
	key := Key(dbxIssuer, "databricks-cli")
	before := w.cache[key]
	w.now = w.now.Add(2 * time.Hour)
	calls := 0
	w.onFetch = func(r Request) (Response, error) {
		calls++
		return jsonResponse(200, map[string]any{"access_token": "AT\x1b]0;PWNED\x07", "refresh_token": "rotated", "token_type": "Bearer", "expires_in": 3600}), nil
	}
	d := w.token(dbxToken())
	var ce *TokenCharsetError
	is.True(errors.As(d.Err, &ce))
	is.True(errors.Is(d.Err, ErrNotLoggedIn)) // log in again…
	is.True(strings.Contains(d.Err.Error(), "run `auth login "+dbxHost+"`"))
	after := w.cache[key]
	is.Equal(after.AccessToken, before.AccessToken)
	is.Equal(after.RefreshToken, "") // …the spent refresh token dropped, the rotated one not kept
	is.True(!strings.Contains(d.Err.Error(), "PWNED"))
	is.Equal(calls, 1)

	d = w.token(dbxToken())
	is.True(errors.Is(d.Err, ErrNotLoggedIn))
	is.Equal(calls, 1) // the spent token is not sent again
}
