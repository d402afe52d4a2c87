package core

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// Seeds live in testdata/fuzz/<Name>/; `make fuzz` explores further.

func FuzzCallbackQuery(f *testing.F) {
	f.Add("code=abc&state=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")
	f.Add("error=access_denied&error_description=%3Cimg+src%3Dx%3E&state=x")
	f.Add("state=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8&iss=https%3A%2F%2Fevil")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		w := newWorld(t, newFakeServer(dbxIssuer))
		l := NewLogin(dbxLogin())
		untilAuthorize(t, w, l, &counter{})
		effs := l.Step(Callback{Query: q, Now: w.now})
		if len(effs) != 1 {
			t.Fatalf("want one effect, got %d", len(effs))
		}
		stateOK := q.Get("state") == l.Pending().State
		switch e := effs[0].(type) {
		case Reject:
			if stateOK {
				t.Fatal("rejected the right state")
			}
		case Fetch:
			if !stateOK || q.Get("code") == "" || q.Get("error") != "" {
				t.Fatal("token request without a valid callback")
			}
		case Done:
			if !stateOK || e.Err == nil {
				t.Fatal("ended without a valid state, or without an error")
			}
		default:
			t.Fatalf("unexpected %T", e)
		}
	})
}

func FuzzParseMetadata(f *testing.F) {
	f.Add(`{"issuer":"https://i.example.com","authorization_endpoint":"https://i.example.com/a","token_endpoint":"https://i.example.com/t"}`)
	f.Add(`{"issuer":"https://i.example.com/","authorization_endpoint":"http://127.0.0.1/a","token_endpoint":"https://i.example.com/t","code_challenge_methods_supported":["S256","plain"]}`)
	f.Add(`{"issuer":1}`)
	c := Candidate{URL: "https://i.example.com/.well-known/openid-configuration", Issuer: "https://i.example.com", OpenID: true}
	f.Fuzz(func(t *testing.T, body string) {
		m, err := ParseMetadata(c, []byte(body))
		if err != nil {
			return
		}
		if strings.TrimSuffix(m.Issuer, "/") != c.Issuer {
			t.Fatalf("accepted issuer %q", m.Issuer)
		}
		if CheckURL(m.TokenEndpoint) != nil {
			t.Fatalf("accepted token endpoint %q", m.TokenEndpoint)
		}
		// No authorization endpoint is fine (grants without a person);
		// one that is there must be safe, and a browser login needs it.
		if m.AuthorizationEndpoint != "" && CheckURL(m.AuthorizationEndpoint) != nil {
			t.Fatalf("accepted authorization endpoint %q", m.AuthorizationEndpoint)
		}
		if m.AuthorizationEndpoint == "" && m.CheckBrowserLogin() == nil {
			t.Fatal("a browser login without an authorization endpoint")
		}
	})
}

func FuzzParseTokenResponse(f *testing.F) {
	f.Add(200, "application/json", `{"access_token":"a","token_type":"Bearer","expires_in":3600}`)
	f.Add(200, "application/json", `{"access_token":"a","expires_in":"3600"}`)
	f.Add(400, "application/json", `{"error":"invalid_grant"}`)
	f.Add(502, "text/html", `<html>`)
	f.Add(200, "application/json", `{"access_token":"AT\u001b]52;c;x\u0007\r\nX-Injected: 1","token_type":"Bearer","refresh_token":"r"}`)
	f.Add(200, "application/json", `{"access_token":"a","refresh_token":"r\u007f","expires_in":{}}`)
	f.Fuzz(func(t *testing.T, status int, ct, body string) {
		tok, err := ParseTokenResponse(Response{Status: status, ContentType: ct, Body: []byte(body)}, t0)
		if err == nil && (tok.AccessToken == "" || tok.TokenType == "" || status != 200 || tok.Expiry.Before(t0) && !tok.Expiry.IsZero()) {
			t.Fatalf("accepted a bad token response: %+v", tok)
		}
		// Whatever comes back, with or without an error, is VSCHAR
		// (%x20-7E) only: no token outside it is kept (issue 19).
		if tok != nil && (!vschar(tok.AccessToken) || !vschar(tok.RefreshToken) || !vschar(tok.IDToken)) {
			t.Fatalf("kept a token outside VSCHAR: %q", tok)
		}
		if err != nil && len(body) > 8 && strings.Contains(err.Error(), body) {
			t.Fatal("error echoes the body")
		}
	})
}

func FuzzDecodeCacheFile(f *testing.F) {
	f.Add(`{"version":1,"tokens":{"k":{"access_token":"a","expiry":"2026-11-28T12:00:00Z"}}}`)
	f.Add(`{"version":2}`)
	f.Add(``)
	var e Entry
	fill(reflect.ValueOf(&e).Elem(), "entry")
	f.Add(string((&CacheFile{Version: CacheVersion, Tokens: map[string]Entry{"k": e}}).Encode()))
	f.Fuzz(func(t *testing.T, raw string) {
		sameAsEncodingJSON(t, []byte(raw)) // the reader has no reflection; json.Unmarshal is the reference
		c, err := DecodeCacheFile([]byte(raw))
		if err != nil {
			return
		}
		if c.Version != CacheVersion || c.Tokens == nil {
			t.Fatalf("bad cache accepted: %+v", c)
		}
		back, err := DecodeCacheFile(c.Encode())
		if err != nil {
			t.Fatalf("re-encoded cache does not decode: %v", err)
		}
		a, _ := json.Marshal(c)
		b, _ := json.Marshal(back)
		if string(a) != string(b) {
			t.Fatal("cache does not round-trip")
		}
	})
}
