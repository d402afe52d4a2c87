package deviceop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// Authorize plays the user's browser in an authorization-code login: it
// follows authorizeURL through the provider's pages (dev login form, any
// credentials; consent) and returns the URL the provider finally sends the
// browser to — the client's redirect URI with code and state, or with an
// error — without fetching it.
func (s *Server) Authorize(ctx context.Context, authorizeURL string) (*url.URL, error) {
	iss, err := url.Parse(s.Issuer)
	if err != nil {
		return nil, err
	}
	var final *url.URL
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if r.URL.Host != iss.Host {
			final = r.URL
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return errors.New("deviceop: too many redirects")
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authorizeURL, nil)
	if err != nil {
		return nil, err
	}
	for range 12 {
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if final != nil {
			return final, nil
		}
		page := string(b)
		title := ""
		if m := titleRE.FindStringSubmatch(page); m != nil {
			title = strings.TrimSpace(m[1])
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("deviceop: %s %s answered HTTP %d (%s)", req.Method, req.URL.Path, resp.StatusCode, title)
		}
		f := formRE.FindStringSubmatch(page)
		if f == nil {
			return nil, fmt.Errorf("deviceop: page %q at %s has no form", title, req.URL.Path)
		}
		action, err := req.URL.Parse(attrs(f[1])["action"])
		if err != nil {
			return nil, err
		}
		form := url.Values{}
		for _, in := range inputRE.FindAllStringSubmatch(f[2], -1) {
			if a := attrs(in[1]); a["name"] != "" {
				form.Set(a["name"], a["value"])
			}
		}
		if _, ok := form["login"]; ok {
			form.Set("login", "url-user")
			form.Set("password", "any")
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return nil, errors.New("deviceop: too many pages")
}
