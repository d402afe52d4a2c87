package core

import (
	"testing"

	"github.com/matryer/is"
)

// A URL inside a resource login's resource finds that login: a path
// prefix at a "/", on the same origin, the longest first.
func TestLoginForURL_PathPrefixLongestWins(t *testing.T) {
	logins := map[string]string{}
	for _, r := range []string{"http://localhost:3000/mcp", "http://localhost:3000/mcp/admin", "https://api.example.com", "https://api.example.com/v2/"} {
		logins[r] = r // a login by its resource URL
	}
	cases := []struct{ url, want string }{
		{"http://localhost:3000/mcp", "http://localhost:3000/mcp"},
		{"http://localhost:3000/mcp/", "http://localhost:3000/mcp"},
		{"http://localhost:3000/mcp/tools?x=1", "http://localhost:3000/mcp"},
		{"http://localhost:3000/mcp/admin/users", "http://localhost:3000/mcp/admin"},
		{"http://LOCALHOST:3000/mcp/admin", "http://localhost:3000/mcp/admin"},
		{"http://localhost:3000/mcpx", ""}, // not at a "/"
		{"http://localhost:3000/", ""},     // above the resource
		{"http://localhost:3001/mcp", ""},  // another port
		{"https://localhost:3000/mcp", ""}, // another scheme
		{"https://api.example.com:443/v2/x", "https://api.example.com/v2/"},
		{"https://api.example.com/v1/x", "https://api.example.com"},
		{"https://api.example.com/v1/y", "https://api.example.com"},
		{"https://user@api.example.com/v1/x", ""},                                     // user info: not a request URL
		{"http://localhost:3000/mcp/../admin", ""},                                    // dot segments leave the resource
		{"http://localhost:3000/mcp/%2e%2e/admin", ""},                                // also encoded
		{"http://localhost:3000/mcp/./tools", "http://localhost:3000/mcp"},            // and stay inside it
		{"http://localhost:3000/mcp/admin/../tools", "http://localhost:3000/mcp"},     // the longest is decided after resolving
		{"http://localhost:3000/x/../mcp/admin/u", "http://localhost:3000/mcp/admin"}, // back inside
		{"https://api.example.com:/v2/x", "https://api.example.com/v2/"},              // an empty port is the default one
		{"not a url", ""},
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			is.New(t).Equal(LoginForURL(logins, c.url), c.want)
		})
	}
	// The answer is the login's host, which may differ from its resource.
	is.New(t).Equal(LoginForURL(map[string]string{"http://localhost:3000/mcp": "http://localhost:3000"}, "http://localhost:3000/mcp/x"), "http://localhost:3000")
}

// The map LoginForURL reads, from stored entries: resource logins only,
// registered clients left out (both targets build it so).
func TestResourceLogins_MapsEachResourceLoginsResourceToItsHost(t *testing.T) {
	is := is.New(t)
	got := ResourceLogins([]Entry{
		{Host: "https://api.example.com/mcp", Resource: "https://api.example.com/mcp", ClientID: "c"},
		{Host: "https://issuer.example.com", ClientID: "c"}, // no resource
		{Host: "https://issuer.example.com", Resource: "https://api.example.com/reg", ClientID: "r", Registration: &Registration{}},
	})
	is.Equal(got, map[string]string{"https://api.example.com/mcp": "https://api.example.com/mcp"})
	is.Equal(LoginForURL(got, "https://api.example.com/mcp/tools"), "https://api.example.com/mcp")
}
