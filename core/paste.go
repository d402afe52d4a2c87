package core

import (
	"fmt"
	"net/url"
	"strings"
)

// ParsePastedRedirect reads the address a user copied from a browser that
// could not reach the loopback redirect URI (paste-the-redirect login). It
// must be that redirect URI — same scheme, host, port and path — with the
// authorization response in its query; the result is checked by the login
// machine exactly like a callback that reached the listener.
func ParsePastedRedirect(pasted, redirectURI string) (url.Values, error) {
	s := strings.TrimSpace(pasted)
	if s == "" {
		return nil, fmt.Errorf("nothing pasted: paste the whole address from the browser's address bar")
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("that is not a URL: paste the whole address from the browser's address bar, starting with %s", redirectURI)
	}
	want, err := url.Parse(redirectURI)
	if err != nil {
		return nil, fmt.Errorf("invalid redirect URI %q", redirectURI)
	}
	if !strings.EqualFold(u.Scheme, want.Scheme) || !strings.EqualFold(u.Host, want.Host) || strings.TrimSuffix(u.Path, "/") != strings.TrimSuffix(want.Path, "/") {
		return nil, fmt.Errorf("the pasted address goes to %s://%s%s, not to the redirect URI %s of this login", u.Scheme, u.Host, u.Path, redirectURI)
	}
	q := u.Query()
	if q.Get("code") == "" && q.Get("error") == "" {
		return nil, fmt.Errorf("the pasted address has no code or error in it: copy it after the sign-in finished")
	}
	return q, nil
}
