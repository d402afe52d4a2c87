package deviceop

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

func post(t *testing.T, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// The test server itself: a device login approved through its pages yields
// tokens, a denied one access_denied; it reports requests without values.
func TestServer_ApproveGivesTokensAndDenyGivesAccessDenied(t *testing.T) {
	is := is.New(t)
	s, err := Start(Options{Interval: time.Second})
	is.NoErr(err)
	defer s.Close()
	ctx := context.Background()

	for _, deny := range []bool{false, true} {
		st, dev := post(t, s.Issuer+"/device/auth", url.Values{"client_id": {s.ClientID}, "scope": {"openid offline_access"}})
		is.Equal(st, 200)
		is.Equal(dev["interval"], 1.0) // --interval is added
		complete, _ := dev["verification_uri_complete"].(string)
		is.True(strings.HasPrefix(complete, s.Issuer+"/device?user_code="))

		tokenForm := url.Values{"client_id": {s.ClientID}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {dev["device_code"].(string)}}
		st, tok := post(t, s.Issuer+"/token", tokenForm)
		is.Equal(st, 400)
		is.Equal(tok["error"], "authorization_pending")

		if deny {
			is.NoErr(s.Deny(ctx, complete))
			_, tok = post(t, s.Issuer+"/token", tokenForm)
			is.Equal(tok["error"], "access_denied")
			continue
		}
		is.NoErr(s.Approve(ctx, complete))
		st, tok = post(t, s.Issuer+"/token", tokenForm)
		is.Equal(st, 200)
		is.True(tok["access_token"] != "")
		is.True(tok["refresh_token"] != nil)
	}
	reqs := s.Requests()
	is.True(len(reqs) >= 6)
	for _, r := range reqs {
		for _, p := range r.Params {
			is.True(!strings.Contains(p, "=")) // names only
		}
	}
}
