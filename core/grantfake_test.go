package core

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// fakeGrants is the fake server's side of the grants without a person:
// registered clients (each for one authentication method, as real servers
// register them), the subject tokens it trusts, and the assertions seen.
type fakeGrants struct {
	clients  map[string]fakeClient
	subjects map[string]bool // subject tokens the server accepts
	jtis     map[string]bool // assertion IDs seen: replay is invalid_client
	claims   []AssertionClaims
}

type fakeClient struct{ method, secret, key string }

func isGrant(gt string) bool { return gt == ClientCredentialsGrantType || gt == TokenExchangeGrantType }

// fakeSignature stands in for a real signature: the driver's key and the
// input, hashed. The real signatures are checked against a real server.
func fakeSignature(key string, input []byte) []byte {
	sum := sha256.Sum256(append([]byte(key+"|"), input...))
	return sum[:]
}

func (s *fakeServer) register(id string, c fakeClient) {
	if s.grants.clients == nil {
		s.grants.clients = map[string]fakeClient{}
	}
	s.grants.clients[id] = c
}

// authenticate finds the client of a token request by the method it is
// registered for; any other method is invalid_client (RFC 6749 §5.2).
func (s *fakeServer) authenticate(r Request) (string, bool) {
	f := r.Form
	if h, ok := r.Header["Authorization"]; ok {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h, "Basic "))
		if err != nil {
			return "", false
		}
		idq, secq, _ := strings.Cut(string(raw), ":")
		id, _ := url.QueryUnescape(idq)
		sec, _ := url.QueryUnescape(secq)
		c, ok := s.grants.clients[id]
		return id, ok && c.method == AuthSecretBasic && c.secret == sec && f.Get("client_secret") == ""
	}
	id := f.Get("client_id")
	if a := f.Get("client_assertion"); a != "" {
		return s.checkAssertion(a, f.Get("client_assertion_type"))
	}
	c, ok := s.grants.clients[id]
	if !ok {
		return id, false
	}
	switch c.method {
	case AuthSecretPost:
		return id, f.Get("client_secret") == c.secret
	case AuthNone:
		return id, f.Get("client_secret") == ""
	}
	return id, false
}

func (s *fakeServer) checkAssertion(a, typ string) (string, bool) {
	parts := strings.Split(a, ".")
	if len(parts) != 3 || typ != ClientAssertionType {
		return "", false
	}
	var c AssertionClaims
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(body, &c) != nil {
		return "", false
	}
	cl, ok := s.grants.clients[c.Subject]
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if !ok || cl.method != AuthPrivateKeyJWT || string(sig) != string(fakeSignature(cl.key, []byte(parts[0]+"."+parts[1]))) {
		return c.Subject, false
	}
	if s.grants.jtis == nil {
		s.grants.jtis = map[string]bool{}
	}
	if c.Issuer != c.Subject || c.Audience != s.meta["token_endpoint"] || s.grants.jtis[c.JWTID] || c.Expiry-c.IssuedAt > 300 {
		return c.Subject, false
	}
	s.grants.jtis[c.JWTID] = true
	s.grants.claims = append(s.grants.claims, c)
	return c.Subject, true
}

func (s *fakeServer) grantToken(r Request) Response {
	if _, ok := s.authenticate(r); !ok {
		return jsonResponse(401, map[string]string{"error": "invalid_client", "error_description": "client authentication failed"})
	}
	if r.Form.Get("grant_type") == TokenExchangeGrantType {
		if !s.grants.subjects[r.Form.Get("subject_token")] || r.Form.Get("subject_token_type") != JWTTokenType {
			return jsonResponse(400, map[string]string{"error": "invalid_grant", "error_description": "subject token rejected"})
		}
	}
	s.n++
	body := map[string]any{"access_token": fmt.Sprintf("access-%d", s.n), "token_type": "Bearer", "expires_in": s.tokenTTL}
	if sc := r.Form.Get("scope"); sc != "" {
		body["scope"] = sc
	}
	return jsonResponse(200, body)
}

// grantRequests counts the token requests of the grants without a person.
func grantRequests(s *fakeServer) int {
	n := 0
	for _, r := range s.requests {
		if isGrant(r.Form.Get("grant_type")) {
			n++
		}
	}
	return n
}
