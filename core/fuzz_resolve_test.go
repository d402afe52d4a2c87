package core

import (
	"strings"
	"testing"
)

func FuzzParseHostMetadata(f *testing.F) {
	f.Add(`{"oidc_endpoint":"https://h.example.com/oidc","host_type":"workspace"}`, "")
	f.Add(`{"oidc_endpoint":"https://h.example.com/oidc/accounts/{account_id}","account_id":"a","host_type":"UNIFIED_HOST"}`, "b/../c")
	f.Add(`{"oidc_endpoint":"http://evil.example.com/oidc"}`, "")
	f.Fuzz(func(t *testing.T, body, account string) {
		h, err := ParseHostMetadata([]byte(body))
		if err != nil {
			return
		}
		_ = h.Kind().Describe()
		iss, err := h.Issuer(account)
		if err != nil {
			return
		}
		if strings.Contains(iss, accountPlaceholder) && !strings.Contains(account+h.AccountID, accountPlaceholder) {
			t.Fatalf("placeholder left in %q", iss)
		}
		if CheckURL(iss) != nil && !strings.Contains(account+h.AccountID, "/") {
			// the account ID is path-escaped: it cannot change scheme or host
			t.Fatalf("issuer %q is not https", iss)
		}
	})
}

func FuzzParseResourceMetadata(f *testing.F) {
	f.Add(`{"resource":"https://api.example.com/v1","authorization_servers":["https://as.example.com"]}`)
	f.Add(`{"resource":"https://API.example.com:443/v1/","authorization_servers":["http://as.example.com"]}`)
	f.Add(`{"resource":"https://api.example.com/v2","authorization_servers":[]}`)
	f.Fuzz(func(t *testing.T, body string) {
		m, err := ParseResourceMetadata([]byte(body), "https://api.example.com/v1")
		if err != nil {
			return
		}
		if got, _ := NormalizeHost(m.Resource); got != "https://api.example.com/v1" {
			t.Fatalf("accepted resource %q", m.Resource)
		}
		for _, as := range m.AuthorizationServers {
			if _, err := NormalizeHost(as); CheckURL(as) != nil || err != nil {
				t.Fatalf("accepted authorization server %q", as)
			}
		}
	})
}

func FuzzParseChallenge(f *testing.F) {
	f.Add(`Bearer realm="x", resource_metadata="https://a/m", scope="a b"`)
	f.Add(`Basic YWxh==, Bearer resource_metadata="x\"y"`)
	f.Add(`DPoP algs="ES256", Bearer error=invalid_token`)
	f.Fuzz(func(t *testing.T, h string) {
		rm, _ := ParseChallenge(h) // never panics, never loops
		if rm != "" && !strings.Contains(h, "resource_metadata") && !strings.Contains(strings.ToLower(h), "resource_metadata") {
			t.Fatalf("resource_metadata %q from nowhere", rm)
		}
	})
}

func FuzzParseRegistration(f *testing.F) {
	f.Add(201, `{"client_id":"c","registration_access_token":"t","registration_client_uri":"https://a/reg/c"}`)
	f.Add(201, `{"client_id":"c","token_endpoint_auth_method":"client_secret_basic","client_secret":"s"}`)
	f.Add(400, `{"error":"invalid_redirect_uri"}`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		c, err := ParseRegistration(Response{Status: status, ContentType: "application/json", Body: []byte(body)})
		if err != nil {
			return
		}
		if c.ClientID == "" || (c.TokenEndpointAuthMethod != "" && c.TokenEndpointAuthMethod != "none") {
			t.Fatalf("accepted %+v", c)
		}
		if c.RegistrationClientURI != "" && CheckURL(c.RegistrationClientURI) != nil {
			t.Fatalf("kept an insecure client URI %q", c.RegistrationClientURI)
		}
	})
}
