package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/matryer/is"
)

// apiServer is a resource server on the provider's own host (the host of
// the login, where auth api may send its token), installed in front of the
// provider: /api/* checks the bearer token with the provider's userinfo
// endpoint and answers; /userinfo and the rest stay the provider's.
type apiServer struct {
	mu     sync.Mutex
	tokens []string // the bearer tokens of /api/* requests, in order
}

func (e *env) startAPI() *apiServer {
	s := &apiServer{}
	issuer := e.srv.Issuer
	e.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			return false
		}
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		s.tokens = append(s.tokens, token)
		s.mu.Unlock()
		if r.URL.Path == "/api/always-401" || !acceptedByProvider(issuer, token) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
			return true
		}
		switch r.URL.Path {
		case "/api/echo":
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]string{
				"method": r.Method, "query": r.URL.RawQuery, "body": string(body),
				"content_type": r.Header.Get("Content-Type"), "x_test": r.Header.Get("X-Test"),
			})
		case "/api/hostile":
			// An OSC 8 hyperlink hiding its target, a screen clear, a bidi override.
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "{\"name\":\"\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07\x1b[2J\u202e\"}")
		case "/api/fail":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTeapot)
			fmt.Fprint(w, "{\"error\":\"no \x1b[31mcoffee\x1b[0m\"}")
		case "/api/admin":
			// Step-up (RFC 6750 §3.1): the token is good, its scopes are not.
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="openid profile", error_description="needs the profile"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"error":"insufficient_scope"}`)
		case "/api/bytes":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write([]byte("raw\x00\x1b[0m\xff\n"))
		case "/api/here":
			http.Redirect(w, r, "/api/echo?redirected=1", http.StatusFound)
		default:
			if away, ok := strings.CutPrefix(r.URL.Path, "/api/away/"); ok {
				http.Redirect(w, r, "http://"+away+"/stolen", http.StatusFound)
				return true
			}
			http.NotFound(w, r)
		}
		return true
	})
	return s
}

func (s *apiServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokens...)
}

// otherHost is a server on another origin that records whether anything
// reached it, and with which Authorization.
func otherHost(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

func echoed(t *testing.T, stdout string) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("not the echo JSON: %v: %q", err, stdout)
	}
	return m
}

func TestAPI_GetAndPostWithABodyAndHeaders(t *testing.T) {
	e := newEnv(t)
	en := e.login()
	api := e.startAPI()
	file := filepath.Join(e.home, "body.json")
	if err := os.WriteFile(file, []byte(`{"from":"file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        map[string]string
	}{
		{"GET a path", "", []string{"/api/echo?a=1"}, map[string]string{"method": "GET", "query": "a=1"}},
		{"GET a URL on the host", "", []string{e.srv.Issuer + "/api/echo"}, map[string]string{"method": "GET"}},
		{"path without a slash", "", []string{"api/echo"}, map[string]string{"method": "GET"}},
		{"POST -d", "", []string{"/api/echo", "-d", `{"a":1}`}, map[string]string{"method": "POST", "body": `{"a":1}`, "content_type": "application/json"}},
		{"-d @FILE", "", []string{"/api/echo", "-d", "@" + file}, map[string]string{"method": "POST", "body": `{"from":"file"}`}},
		{"-d @- and -X PUT", "from stdin", []string{"-X", "put", "/api/echo", "-d", "@-", "-H", "Content-Type: text/plain", "-H", "X-Test: yes"},
			map[string]string{"method": "PUT", "body": "from stdin", "content_type": "text/plain", "x_test": "yes"}},
		{"redirect on the host is followed", "", []string{"/api/here"}, map[string]string{"method": "GET", "query": "redirected=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			before := len(api.seen())
			r := e.authIn(tc.stdin, nil, append([]string{"api", e.srv.Issuer}, tc.args...)...)
			is.Equal(r.code, 0)
			is.Equal(r.stderr, "")
			got := echoed(t, r.stdout)
			for k, v := range tc.want {
				is.Equal(got[k], v) // echoed field
			}
			for _, tok := range api.seen()[before:] {
				is.Equal(tok, en.AccessToken)
			}
			checkNoRefreshToken(t, en, r)
		})
	}
	is := is.New(t)
	is.Equal(e.srv.Requests("refresh_token"), 0)
}

// TestAPI_PipedBodyIsByteForByte: what goes into a pipe or a file is the
// body as sent, controls and all (only a terminal gets it sanitised).
func TestAPI_PipedBodyIsByteForByte(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	e.login()
	e.startAPI()
	r := e.auth(nil, "api", e.srv.Issuer, "/api/bytes")
	is.Equal(r.code, 0)
	is.Equal(r.stdout, "raw\x00\x1b[0m\xff\n")
}

// TestAPI_NonSuccessExitsOneWithTheStatusAndTheSanitisedBodyOnStderr.
func TestAPI_NonSuccessExitsOneWithTheStatusAndTheSanitisedBodyOnStderr(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	e.login()
	e.startAPI()
	r := e.auth(nil, "api", e.srv.Issuer, "/api/fail")
	is.Equal(r.code, 1)
	is.Equal(r.stdout, "")
	is.True(strings.HasPrefix(r.stderr, "auth: GET "+e.srv.Issuer+"/api/fail: 418 I'm a teapot\n"))
	is.True(strings.Contains(r.stderr, `no \x1b[31mcoffee\x1b[0m`)) // the server's ESC, shown by the sanitiser as text
	is.True(!strings.Contains(r.stderr, "\x1b"))

	r = e.auth(nil, "api", e.srv.Issuer, "/api/none")
	is.Equal(r.code, 1)
	is.True(strings.HasPrefix(r.stderr, "auth: GET "+e.srv.Issuer+"/api/none: 404 Not Found\n"))
}

// TestAPI_A401RefreshesOnceAndRetriesOnce: the server refuses the cached
// token (revoked at the provider, valid by its expiry); auth refreshes
// once and the retry with the new token succeeds.
func TestAPI_A401RefreshesOnceAndRetriesOnce(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	first := e.login()
	api := e.startAPI()
	e.revoke(first.AccessToken)
	r := e.auth(nil, "api", e.srv.Issuer, "/api/echo", "-d", "again")
	is.Equal(r.code, 0)
	is.Equal(echoed(t, r.stdout)["body"], "again") // the body was sent again
	is.Equal(e.srv.Requests("refresh_token"), 1)
	now := e.entry()
	is.Equal(api.seen(), []string{first.AccessToken, now.AccessToken})
	checkNoRefreshToken(t, now, r)

	// A server that keeps refusing: one refresh, one retry, then the error.
	r = e.auth(nil, "api", e.srv.Issuer, "/api/always-401")
	is.Equal(r.code, 1)
	is.Equal(e.srv.Requests("refresh_token"), 2)
	is.Equal(len(api.seen()), 4)
	is.True(strings.Contains(r.stderr, "401 Unauthorized"))
}

// TestAPI_NeverSendsTheTokenToAnotherHost: URLs on another origin are
// refused before any request, and a redirect to one is not followed.
func TestAPI_NeverSendsTheTokenToAnotherHost(t *testing.T) {
	e := newEnv(t)
	e.login()
	e.startAPI()
	other, got := otherHost(t)
	port := e.srv.Issuer[strings.LastIndex(e.srv.Issuer, ":")+1:]
	for _, tc := range []struct {
		name, target, want string
	}{
		{"another port", other.URL + "/x", "is not on " + e.srv.Issuer},
		{"another name, same port", "http://localhost:" + port + "/api/echo", "is not on " + e.srv.Issuer},
		{"https on the same port", "https://127.0.0.1:" + port + "/api/echo", "is not on " + e.srv.Issuer},
		{"a network-path reference", "//" + other.Listener.Addr().String() + "/x", "is not a path on"},
		{"http off loopback", "http://example.com/x", "https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			r := e.auth(nil, "api", e.srv.Issuer, tc.target)
			is.Equal(r.code, 2)
			is.Equal(r.stdout, "")
			lines := errorLines(r.stderr)
			is.Equal(len(lines), 1)
			is.True(strings.Contains(lines[0], tc.want))
		})
	}
	t.Run("redirect to another host", func(t *testing.T) {
		is := is.New(t)
		r := e.auth(nil, "api", e.srv.Issuer, "/api/away/"+other.Listener.Addr().String())
		is.Equal(r.code, 1)
		is.True(strings.Contains(r.stderr, "302 Found to "+other.URL+"/stolen (not followed"))
	})
	is := is.New(t)
	is.Equal(got(), []string(nil)) // nothing ever reached the other host
}

func TestAPI_UsageErrors(t *testing.T) {
	e := newEnv(t)
	e.login()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"api", e.srv.Issuer, "/x", "-H", "Authorization: Basic eA=="}, "auth api sets it"},
		{[]string{"api", e.srv.Issuer, "/x", "-H", "no colon"}, "want 'Name: value'"},
		{[]string{"api", e.srv.Issuer, "/x", "-X", "GE T"}, "not an HTTP method"},
		{[]string{"api", e.srv.Issuer, "/x", "-d", "@/nonexistent/file"}, "-d @/nonexistent/file"},
		{[]string{"api"}, "[HOST|PROFILE] and a PATH or URL"},
		{[]string{"api", e.srv.Issuer, "/x", "/y"}, "[HOST|PROFILE] and a PATH or URL"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			is := is.New(t)
			r := e.auth(nil, tc.args...)
			is.Equal(r.code, 2)
			is.Equal(r.stdout, "")
			is.True(strings.Contains(r.stderr, tc.want))
		})
	}
}

// TestAPI_OnATerminalJSONIsIndentedAndControlsAreEscaped runs auth api
// under a pseudo-terminal (util-linux `script`).
func TestAPI_OnATerminalJSONIsIndentedAndControlsAreEscaped(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Fatal("`script` (util-linux/bsdutils) is needed for the terminal test")
	}
	is := is.New(t)
	e := newEnv(t)
	e.login()
	e.startAPI()
	for _, tc := range []struct{ path, want string }{
		{"/api/echo?x=1", "{\r\n  \"body\": \"\",\r\n"},
		{"/api/hostile", `\x1b]8;;https://evil.example/\aclick\x1b]8;;\a\x1b[2J\u202e`},
	} {
		cmd := exec.Command(scriptBin, "-qec", fmt.Sprintf("%q api %s %s", authBin, e.srv.Issuer, tc.path), "/dev/null")
		cmd.Env = e.environ()
		out, err := cmd.CombinedOutput()
		is.NoErr(err)
		s := string(out)
		e.record(result{stderr: s})
		is.True(strings.Contains(s, tc.want)) // indented, or escaped
		is.True(!strings.Contains(s, "\x1b")) // no raw escape on the terminal
	}
}

// TestAPI_AURLAloneNamesTheHostWhenNothingElseDoes, and a host named
// otherwise still decides where the token may go.
func TestAPI_AURLAloneNamesTheHostWhenNothingElseDoes(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	en := e.login()
	api := e.startAPI()
	r := e.auth(nil, "api", e.srv.Issuer+"/api/echo")
	is.Equal(r.code, 0)
	is.Equal(echoed(t, r.stdout)["method"], "GET")
	is.Equal(api.seen(), []string{en.AccessToken})

	other, got := otherHost(t)
	r = e.auth([]string{"DUALAUTH_HOST=" + e.srv.Issuer}, "api", other.URL+"/x")
	is.Equal(r.code, 2)
	is.True(strings.Contains(r.stderr, "is not on "+e.srv.Issuer))
	is.Equal(got(), []string(nil))
}

// A PATH whose query holds a URL is still a path on the login's host.
func TestAPI_APathWithAURLInItsQueryIsAPath(t *testing.T) {
	is := is.New(t)
	u, err := apiURL("https://api.example.com", "/search?next=https://api.example.com/p2")
	is.NoErr(err)
	is.Equal(u.String(), "https://api.example.com/search?next=https://api.example.com/p2")
	_, err = apiURL("https://api.example.com", "https://evil.example/x?a=1")
	is.True(err != nil)
}
