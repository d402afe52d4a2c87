package main

import (
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/mcpserver"
	"github.com/matryer/is"
)

// initialize is the MCP handshake's first request (JSON-RPC over
// Streamable HTTP).
const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"dualauth-test","version":"1"}}}`

const mcpAccept = "Accept: application/json, text/event-stream"

// The MCP TypeScript SDK's example server with OAuth, run for real: login
// by the MCP server's URL alone (RFC 9728 → RFC 8414 → RFC 7591 → PKCE with
// the RFC 8707 resource, which --oauth-strict checks); auth api with the
// resource URL and with HOST + path answers initialize; logout and a
// second login reuse the registered client on exactly its redirect URI
// (the demo compares redirect URIs exactly, port included); the example
// issues no refresh token, so a forced refresh says to log in again.
func TestCLI_MCPServerLoginByURLThenAPIThenLogoutAndLoginAgain(t *testing.T) {
	is := is.New(t)
	srv, err := mcpserver.Start()
	is.NoErr(err)
	defer srv.Close()
	e := newEnv(t)
	body := filepath.Join(e.home, "init.json")
	is.NoErr(os.WriteFile(body, []byte(initialize), 0o600))

	r := e.auth(nil, "login", srv.URL)
	is.Equal(r.code, 0) // first login
	client, opening := strings.Index(r.stderr, "Client: "), strings.Index(r.stderr, "Opening a browser")
	is.True(client >= 0 && client < opening) // the client is named before the browser opens
	is.True(strings.Contains(r.stderr, "registered at "+srv.Issuer+"register just now"))
	login, reg := e.mcpEntries(srv)
	is.Equal(login.Resource, srv.URL)
	is.Equal(len(reg.Registration.RedirectURIs), 1)

	for name, args := range map[string][]string{
		"ResourceURL":  {"api", srv.URL, "-X", "POST", "-d", "@" + body, "-H", mcpAccept},
		"HostAndPath":  {"api", srv.URL, "/mcp", "-X", "POST", "-d", "@" + body, "-H", mcpAccept},
		"URLBelowIt":   {"api", srv.URL + "/", "-X", "POST", "-d", "@" + body, "-H", mcpAccept},
		"TokenOfAPath": {"token", srv.URL + "/tools"},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			r := e.auth(nil, args...)
			is.Equal(r.code, 0)
			if args[0] == "api" {
				is.True(strings.Contains(r.stdout, `"serverInfo"`)) // initialize answered
				is.True(strings.Contains(r.stdout, `"protocolVersion"`))
			} else {
				is.True(strings.Contains(r.stdout, login.AccessToken))
			}
		})
	}

	r = e.auth(nil, "logout", srv.URL)
	is.Equal(r.code, 0)
	r = e.auth(nil, "login", srv.URL)
	is.Equal(r.code, 0) // the second login: Unregistered redirect_uri before
	is.True(strings.Contains(r.stderr, "Client: "+login.ClientID+", registered at "+srv.Issuer+"register on "))
	is.True(!strings.Contains(r.stderr, "just now"))
	again, reg2 := e.mcpEntries(srv)
	is.Equal(again.ClientID, login.ClientID) // no second registration
	is.Equal(reg2.Registration.RedirectURIs, reg.Registration.RedirectURIs)
	is.True(again.AccessToken != login.AccessToken)
	r = e.auth(nil, "describe", srv.URL)
	is.True(strings.Contains(r.stdout, "registered at "+srv.Issuer+"register on "+reg.Registration.RegisteredAt.UTC().Format("2006-01-02T15:04:05Z")))

	t.Run("PortTakenRegistersANewClientAndSaysWhy", func(t *testing.T) {
		is := is.New(t)
		u, err := url.Parse(reg.Registration.RedirectURIs[0])
		is.NoErr(err)
		ln, err := net.Listen("tcp", u.Host)
		is.NoErr(err)
		defer ln.Close()
		is.Equal(e.auth(nil, "logout", srv.URL).code, 0) // one login in the cache
		r := e.auth(nil, "login", srv.URL)
		is.Equal(r.code, 0)
		is.True(strings.Contains(r.stderr, "cannot receive the login at "+reg.Registration.RedirectURIs[0]))
		is.True(strings.Contains(r.stderr, "registering a new client"))
		is.True(strings.Contains(r.stderr, "registered at "+srv.Issuer+"register just now"))
		now, reg3 := e.mcpEntries(srv)
		is.True(now.ClientID != login.ClientID)
		is.True(reg3.Registration.RedirectURIs[0] != reg.Registration.RedirectURIs[0])
	})

	t.Run("NoRefreshTokenMeansLogInAgain", func(t *testing.T) {
		// The example's exchangeRefreshToken throws "Not implemented for
		// example demo" and its token response has no refresh_token.
		is := is.New(t)
		r := e.auth(nil, "token", srv.URL, "--force-refresh")
		is.Equal(r.code, 1)
		is.True(strings.Contains(r.stderr, "no refresh token"))
		is.True(strings.Contains(r.stderr, "run `auth login "+srv.URL))
	})
}

// mcpEntries are the login to srv and the client registered for it, whose
// tokens no output may show.
func (e *env) mcpEntries(srv *mcpserver.Server) (login, reg core.Entry) {
	e.t.Helper()
	for k, en := range e.file().Tokens {
		switch {
		case en.Registration != nil:
			reg = en
		case k == core.Key(srv.URL, en.ClientID):
			login = en
		}
	}
	if login.AccessToken == "" || reg.Registration == nil {
		e.t.Fatal("no login or registration in the cache")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range []string{login.AccessToken, login.RefreshToken, reg.RefreshToken} {
		if s != "" && !slices.Contains(e.secrets, s) {
			e.secrets = append(e.secrets, s)
		}
	}
	return login, reg
}

// The example's 401 names the resource metadata; the login read it.
func TestCLI_MCPServerDescribeShowsTheResourceAndTheRegisteredClient(t *testing.T) {
	is := is.New(t)
	srv, err := mcpserver.Start()
	is.NoErr(err)
	defer srv.Close()
	e := newEnv(t)
	is.Equal(e.auth(nil, "login", srv.URL).code, 0)
	r := e.auth(nil, "describe", srv.URL, "-o", "json")
	is.Equal(r.code, 0)
	var d map[string]any
	is.NoErr(json.Unmarshal([]byte(r.stdout), &d))
	is.True(strings.Contains(r.stdout, srv.URL))
	is.True(strings.Contains(r.stdout, "registered at "+srv.Issuer+"register on "))
}

// --subject-token at an authorization server whose grant_types_supported
// lacks token exchange (the example's lists authorization_code and
// refresh_token) is refused before any token request, naming the grant,
// rather than relaying the server's own error.
func TestCLI_SubjectTokenRefusedUpFrontWhereTokenExchangeIsNotOffered(t *testing.T) {
	is := is.New(t)
	srv, err := mcpserver.Start()
	is.NoErr(err)
	defer srv.Close()
	e := newEnv(t)
	e.secrets = append(e.secrets, "ci-subject-token-123")
	r := e.auth([]string{"CI_TOKEN=ci-subject-token-123"}, "login", srv.Issuer, "--client-id", "svc", "--subject-token", "env:CI_TOKEN")
	is.Equal(r.code, 1)
	lines := errorLines(r.stderr)
	is.Equal(len(lines), 1)
	is.True(strings.Contains(lines[0], "does not offer token exchange"))
	is.True(strings.Contains(lines[0], "grant_types_supported lacks "+core.TokenExchangeGrantType))
	_, err = os.Stat(filepath.Join(e.cache, "token-cache.json"))
	is.True(os.IsNotExist(err)) // nothing saved
}
