package hostile

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// login runs the code flow by hand and returns the token answer.
func login(t *testing.T, s *Server) map[string]any {
	t.Helper()
	is := is.New(t)
	verifier := "a-verifier-of-enough-length-for-the-test-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {"c"}, "redirect_uri": {"http://127.0.0.1:1/cb"}, "state": {"st"}, "response_type": {"code"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(s.Issuer + AuthorizePath + "?" + q.Encode())
	is.NoErr(err)
	resp.Body.Close()
	loc, err := resp.Location()
	is.NoErr(err)
	is.Equal(loc.Query().Get("state"), "st")
	status, answer := post(t, s, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"client_id": {"c"}, "redirect_uri": {"http://127.0.0.1:1/cb"}, "code_verifier": {verifier}})
	is.Equal(status, 200)
	return answer
}

func post(t *testing.T, s *Server, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(s.Issuer+TokenPath, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func refresh(t *testing.T, s *Server, rt string) (int, map[string]any) {
	return post(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"c"}})
}

func start(t *testing.T) *Server {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestServer_RotatesRefreshTokensAndRevokesTheGrantOnReuse(t *testing.T) {
	is := is.New(t)
	s := start(t)
	first := login(t, s)
	rt1 := first["refresh_token"].(string)
	status, second := refresh(t, s, rt1)
	is.Equal(status, 200)
	rt2 := second["refresh_token"].(string)
	is.True(rt2 != rt1)
	status, answer := refresh(t, s, rt1) // reuse of a spent token
	is.Equal(status, 400)
	is.Equal(answer["error"], "invalid_grant")
	status, _ = refresh(t, s, rt2) // …revoked the whole grant
	is.Equal(status, 400)
	is.Equal(s.Requests("refresh_token"), 3)
	is.Equal(s.Requests("authorization_code"), 1)
}

func TestServer_RefusesACodeWithoutTheRightVerifier(t *testing.T) {
	is := is.New(t)
	s := start(t)
	status, _ := post(t, s, url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "client_id": {"c"}})
	is.Equal(status, 400)
}

func TestServer_HoldStallsTheTokenEndpointUntilReleased(t *testing.T) {
	is := is.New(t)
	s := start(t)
	rt := login(t, s)["refresh_token"].(string)
	hold := make(chan struct{})
	s.SetMode(Mode{Hold: hold})
	done := make(chan int)
	go func() {
		status, _ := refresh(t, s, rt)
		done <- status
	}()
	for s.Requests("refresh_token") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("answered while held")
	case <-time.After(100 * time.Millisecond):
	}
	close(hold)
	is.Equal(<-done, 200)
}

func TestServer_EditAndRawChangeTheAnswer(t *testing.T) {
	is := is.New(t)
	s := start(t)
	rt := login(t, s)["refresh_token"].(string)
	s.SetMode(Mode{Edit: func(_ string, a map[string]any) {
		delete(a, "access_token")
		a["error_description"] = "\x1b]8;;http://evil\x07click\x1b]8;;\x07"
	}})
	status, answer := refresh(t, s, rt)
	is.Equal(status, 200)
	_, has := answer["access_token"]
	is.True(!has)
	is.True(strings.Contains(answer["error_description"].(string), "\x1b]8;;"))
	rt2 := answer["refresh_token"].(string) // the grant happened: rt is spent

	s.SetMode(Mode{Raw: func(grant string, _ url.Values) (int, string, string) {
		return 502, "text/html", "<html>bad gateway</html>"
	}})
	status, _ = refresh(t, s, rt2)
	is.Equal(status, 502)
	s.SetMode(Mode{})
	status, _ = refresh(t, s, rt2) // a Raw answer spends nothing
	is.Equal(status, 200)
}

func TestServer_CallbackParamsReachTheRedirect(t *testing.T) {
	is := is.New(t)
	s := start(t)
	s.SetMode(Mode{CallbackParams: url.Values{"error": {"access_denied"}, "error_description": {"\x1b[31mred"}}})
	q := url.Values{"client_id": {"c"}, "redirect_uri": {"http://127.0.0.1:1/cb"}, "state": {"st"},
		"code_challenge": {"x"}, "code_challenge_method": {"S256"}}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(s.Issuer + AuthorizePath + "?" + q.Encode())
	is.NoErr(err)
	resp.Body.Close()
	loc, err := resp.Location()
	is.NoErr(err)
	is.Equal(loc.Query().Get("error"), "access_denied")
	is.Equal(loc.Query().Get("error_description"), "\x1b[31mred")
	is.Equal(loc.Query().Get("code"), "")
}
