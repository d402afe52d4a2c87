package core

import (
	"maps"
	"net/url"
	"slices"
	"strings"
)

// LoginForURL picks the login a URL belongs to. logins maps the RFC 8707
// resource of each stored login (Entry.Resource) to its host (Entry.Host,
// what `auth token HOST` names it by); the login chosen is the one whose
// resource contains the URL — same scheme, host and port, and the
// resource's path equal to the URL's or a prefix of it that ends at a
// "/" — the longest when several do. It returns that login's host, ""
// when none contains the URL. A token chosen this way still goes only to
// the login's origin: the URL is inside the resource, so on its origin.
func LoginForURL(logins map[string]string, rawURL string) string {
	u, ok := comparable(rawURL)
	if !ok {
		return ""
	}
	best, bestLen := "", -1
	for _, r := range slices.Sorted(maps.Keys(logins)) {
		ru, ok := comparable(r)
		if !ok || ru.origin != u.origin {
			continue
		}
		p := strings.TrimSuffix(ru.path, "/")
		if u.path != p && !strings.HasPrefix(u.path, p+"/") && p != "" {
			continue
		}
		if len(p) > bestLen {
			best, bestLen = logins[r], len(p)
		}
	}
	return best
}

type urlParts struct{ origin, path string }

// comparable splits a URL into its origin (lower-case scheme and host, no
// default port) and its path, as NormalizeHost writes them.
func comparable(raw string) (urlParts, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return urlParts{}, false
	}
	host := strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
		host = strings.TrimSuffix(host, ":"+p)
	}
	return urlParts{origin: strings.ToLower(u.Scheme) + "://" + host, path: u.EscapedPath()}, true
}
