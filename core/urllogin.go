package core

import (
	"maps"
	"net/url"
	"slices"
	"strings"
)

// ResourceLogins is the map [LoginForURL] reads, from stored entries: the
// resource of each login that has one, to its host. Registered clients
// are no logins.
func ResourceLogins(entries []Entry) map[string]string {
	logins := map[string]string{}
	for _, e := range entries {
		if e.Registration == nil && e.Resource != "" && e.Host != "" {
			logins[e.Resource] = e.Host
		}
	}
	return logins
}

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
// default or empty port, as NormalizeHost writes them) and its path with
// dot segments resolved (RFC 3986 §5.2.4, also when written %2E): the
// path a server serves, so /mcp/../admin is /admin, not inside /mcp.
func comparable(raw string) (urlParts, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return urlParts{}, false
	}
	// Decoded, so %2E%2E is a dot segment too; resolved as a reference
	// resolves (Go's url removes the dot segments there).
	p := (&url.URL{Path: u.Path}).ResolveReference(&url.URL{}).EscapedPath()
	return urlParts{origin: strings.ToLower(u.Scheme) + "://" + canonicalHost(u), path: p}, true
}
