package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/matryer/is"
)

// The scopes of a login without a person are decided as such from the
// start ($DUALAUTH_CLIENT_SECRET included: not openid offline_access, which
// mean nothing without a user), and a Databricks host known by its host
// metadata, not its name, gets all-apis like a known name.
func TestGrant_DefaultScopesFollowWhatTheHostIs(t *testing.T) {
	for _, tc := range []struct {
		name       string
		databricks bool
		want       string
	}{
		{"generic issuer", false, ""},
		{"Databricks host by its metadata", true, "all-apis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			var mu sync.Mutex
			var forms []url.Values
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				iss := srv.URL
				if tc.databricks {
					iss += "/oidc"
				}
				switch r.URL.Path {
				case "/.well-known/databricks-config":
					if !tc.databricks {
						http.NotFound(w, r)
						return
					}
					json.NewEncoder(w).Encode(map[string]string{"oidc_endpoint": iss, "host_type": "WORKSPACE_HOST"})
				case "/.well-known/openid-configuration", "/oidc/.well-known/oauth-authorization-server":
					if tc.databricks != (r.URL.Path != "/.well-known/openid-configuration") {
						http.NotFound(w, r)
						return
					}
					json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "token_endpoint": iss + "/token"})
				case "/token", "/oidc/token":
					r.ParseForm()
					mu.Lock()
					forms = append(forms, r.PostForm)
					mu.Unlock()
					w.Write([]byte(`{"access_token":"at","token_type":"Bearer","expires_in":3600}`))
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			dir := t.TempDir()
			env := map[string]string{"DUALAUTH_CACHE_DIR": dir, "DUALAUTH_CONFIG_FILE": dir + "/config.ini", "DUALAUTH_STORAGE": "file", "DUALAUTH_CLIENT_SECRET": "s3cret"}
			var out, errb bytes.Buffer
			code := newApp(&out, &errb, func(k string) string { return env[k] }).run([]string{"login", srv.URL, "--client-id", "sp"})
			is.Equal(code, 0)
			mu.Lock()
			defer mu.Unlock()
			is.Equal(len(forms), 1)
			is.Equal(forms[0].Get("grant_type"), "client_credentials")
			is.Equal(forms[0].Get("scope"), tc.want)
		})
	}
}
