package conformance

import (
	"fmt"
	"time"

	"github.com/dualauth/dualauth/core"
)

// expired is a clock step past the lifetime of every token the server
// issues (an hour).
const expired = 2 * time.Hour

// A login by a browser: discovery, the authorization request, one code
// exchange.
var loginRequests = []string{"discover", "authorize", "token authorization_code"}

// issued is the login of client as the server's nth tokens (at-n, rt-n)
// left it.
func issued(client string, n int) Stored {
	return Stored{ClientID: client, AccessToken: fmt.Sprintf("at-%d", n), RefreshToken: fmt.Sprintf("rt-%d", n)}
}

// loginAgain are the steps of a refresh of the preset client's login, its
// answer made by change, that leaves the login without its refresh token:
// the user is told to log in again (with errText in the message), and the
// next call sends nothing.
func loginAgain(name string, change func(*Server), errText string) []Step {
	dropped := []Stored{{ClientID: PresetClient, AccessToken: "at-1"}}
	return []Step{
		{Name: name, Op: OpToken, ClientID: PresetClient, Advance: expired, Change: change, Want: Want{
			Err:      "login_required",
			ErrText:  errText,
			Requests: []string{"token refresh_token"},
			Logins:   dropped,
		}},
		{Name: "no second request", Op: OpToken, ClientID: PresetClient, Want: Want{Err: "login_required", Logins: dropped}},
	}
}

// otherServersTokens are the steps of a login whose token endpoint is
// another server's (a mix-up, H7): its ID token names that server, or
// there is none; either way the login stores nothing.
func otherServersTokens() []Step {
	return []Step{
		{Name: "its ID token names the other server", Op: OpLogin, ClientID: PresetClient, Want: Want{Err: "mix_up", Requests: loginRequests}},
		{Name: "no ID token", Op: OpLogin, ClientID: PresetClient, Change: SendIDTokens(IDTokensNone), Want: Want{Err: "mix_up", Requests: loginRequests}},
	}
}

// resourceLogin is the preset client's login to the resource at path as
// the server's nth tokens left it.
func resourceLogin(path string, n int) Stored {
	s := issued(PresetClient, n)
	s.Resource = path
	return s
}

// hostileText is what a hostile server writes in an error_description: a
// screen clear, a window title and a right-to-left override that makes
// the rest read backwards.
const hostileText = "sign in again\x1b[2J\x1b]0;PWNED\a at \u202egnp.exe"

// bound is s bound to a DPoP key.
func bound(s Stored) Stored {
	s.TokenType, s.DPoP = "DPoP", true
	return s
}

// dpopLogin is the first step of a DPoP scenario: a login with a key.
var dpopLogin = Step{Name: "login", Op: OpLogin, ClientID: PresetClient, DPoP: "always", Want: Want{
	Requests: loginRequests,
	Logins:   []Stored{bound(issued(PresetClient, 1))},
	Keys:     1,
}}

// firstRegisteredLogin is a first login where the server registers
// clients: it registers one.
var firstRegisteredLogin = Step{Name: "first login registers", Op: OpLogin, Want: Want{
	Requests:   []string{"discover", "register", "authorize", "token authorization_code"},
	Logins:     []Stored{issued("reg-1", 1)},
	Registered: []string{"reg-1"},
}}

// Scenarios is the table every target runs. Add a scenario as a row; a
// step's Want lists everything that must hold after it.
var Scenarios = []Scenario{
	{
		Name: "a login by browser code and PKCE stores the tokens",
		Steps: []Step{
			{Op: OpLogin, ClientID: PresetClient, Want: Want{
				Requests: loginRequests,
				Logins:   []Stored{issued(PresetClient, 1)},
			}},
		},
	},
	{
		Name:   "a valid stored token is handed out without a request",
		Before: []string{PresetClient},
		Steps: []Step{
			{Name: "by client", Op: OpToken, ClientID: PresetClient, Want: Want{
				Token:  "at-1",
				Logins: []Stored{issued(PresetClient, 1)},
			}},
			{Name: "the only client of the host", Op: OpToken, Want: Want{
				Token:  "at-1",
				Logins: []Stored{issued(PresetClient, 1)},
			}},
		},
	},
	{
		Name: "without a login a token call says log in",
		Steps: []Step{
			{Name: "by client", Op: OpToken, ClientID: PresetClient, Want: Want{Err: "login_required"}},
			{Name: "by host", Op: OpToken, Want: Want{Err: "login_required"}},
		},
	},
	{
		Name:   "several clients logged in and none named: a token call does not guess",
		Before: []string{PresetClient, "other"},
		Steps: []Step{
			{Op: OpToken, Want: Want{
				Err: "ambiguous_client",
				Logins: []Stored{
					issued(PresetClient, 1),
					issued("other", 2),
				},
			}},
		},
	},
	{
		Name:   "an expired token is refreshed and the rotated refresh token kept",
		Before: []string{PresetClient},
		Steps: []Step{
			{Name: "first refresh", Op: OpToken, ClientID: PresetClient, Advance: expired, Want: Want{
				Token:    "at-2",
				Requests: []string{"token refresh_token"},
				Logins:   []Stored{issued(PresetClient, 2)},
			}},
			{Name: "second refresh uses the new refresh token", Op: OpToken, ClientID: PresetClient, Advance: expired, Want: Want{
				Token:    "at-3",
				Requests: []string{"token refresh_token"},
				Logins:   []Stored{issued(PresetClient, 3)},
			}},
			{Name: "forced refresh of a valid token", Op: OpToken, ClientID: PresetClient, Force: true, Want: Want{
				Token:    "at-4",
				Requests: []string{"token refresh_token"},
				Logins:   []Stored{issued(PresetClient, 4)},
			}},
		},
	},
	{
		Name:   "a refresh that returns no refresh token keeps the old one",
		Server: ServerConfig{KeepRefreshToken: true},
		Before: []string{PresetClient},
		Steps: []Step{
			{Op: OpToken, ClientID: PresetClient, Advance: expired, Want: Want{
				Token:    "at-2",
				Requests: []string{"token refresh_token"},
				Logins:   []Stored{{ClientID: PresetClient, AccessToken: "at-2", RefreshToken: "rt-1"}},
			}},
			{Op: OpToken, ClientID: PresetClient, Advance: expired, Want: Want{
				Token:    "at-3",
				Requests: []string{"token refresh_token"},
				Logins:   []Stored{{ClientID: PresetClient, AccessToken: "at-3", RefreshToken: "rt-1"}},
			}},
		},
	},
	{
		Name:   "a refused refresh token is cleared and the user told to log in again",
		Before: []string{PresetClient},
		Steps:  loginAgain("invalid_grant", (*Server).RevokeAll, ""),
	},
	{
		Name:   "concurrent token calls on an expired token make one refresh",
		Before: []string{PresetClient},
		Steps: []Step{
			{Op: OpToken, ClientID: PresetClient, Callers: 5, Advance: expired,
				Change: func(s *Server) { s.Delay = 30 * time.Millisecond },
				Want: Want{
					Token:    "at-2",
					Requests: []string{"token refresh_token"},
					Logins:   []Stored{issued(PresetClient, 2)},
				}},
		},
	},
	// Issue 21, part C: the decisions issues 19, 22 and 23 put in core.
	{
		Name:   "metadata sending the user to sign in on another origin is refused before the browser opens (mix-up)",
		Server: ServerConfig{SignInElsewhere: true},
		Steps: []Step{
			{Op: OpLogin, ClientID: PresetClient, Want: Want{Err: "mix_up", Requests: []string{"discover"}}},
		},
	},
	{
		Name:   "sign-in on another origin is allowed when the server promises iss, which the callback must then carry",
		Server: ServerConfig{SignInElsewhere: true, IssParameter: true},
		Steps: []Step{
			{Name: "with iss", Op: OpLogin, ClientID: PresetClient, Want: Want{
				Requests: loginRequests,
				Logins:   []Stored{issued(PresetClient, 1)},
			}},
			{Name: "a callback without iss", Op: OpLogin, ClientID: PresetClient, Change: SendIss(IssNone), Want: Want{
				Err:      "missing_iss",
				Requests: []string{"discover", "authorize"},
				Logins:   []Stored{issued(PresetClient, 1)},
			}},
			{Name: "a callback naming another issuer", Op: OpLogin, ClientID: PresetClient, Change: SendIss("http://127.0.0.1:9"), Want: Want{
				Err:      "issuer_mismatch",
				Requests: []string{"discover", "authorize"},
				Logins:   []Stored{issued(PresetClient, 1)},
			}},
		},
	},
	{
		Name:   "Google's shape logs in: sign-in on the issuer's origin, the token endpoint elsewhere",
		Server: ServerConfig{TokenElsewhere: true},
		Steps: []Step{
			// The token endpoint here is on an origin core does not know
			// as the issuer's operator's own (Google's is): openid is
			// asked, and the ID token naming the issuer binds the login
			// to it (H7).
			{Op: OpLogin, ClientID: PresetClient, Want: Want{
				Requests: loginRequests,
				Logins:   []Stored{issued(PresetClient, 1)},
			}},
			{Name: "refresh at the token endpoint", Op: OpToken, ClientID: PresetClient, Advance: expired, Want: Want{
				Token:    "at-2",
				Requests: []string{"token refresh_token"},
				Logins:   []Stored{issued(PresetClient, 2)},
			}},
		},
	},
	{
		Name:   "Cognito's shape logs in: sign-in and token endpoint on one origin, the issuer elsewhere",
		Server: ServerConfig{SignInElsewhere: true, TokenElsewhere: true},
		Steps: []Step{
			// openid is asked (whatever the target's default scopes), and
			// the ID token naming the issuer binds the login to it.
			{Op: OpLogin, ClientID: PresetClient, Want: Want{
				Requests: loginRequests,
				Logins:   []Stored{issued(PresetClient, 1)},
			}},
		},
	},
	{
		Name:   "metadata naming both endpoints of another server gets that server's tokens, which are not stored (mix-up)",
		Server: ServerConfig{SignInElsewhere: true, TokenElsewhere: true, IDTokens: IDTokensOther},
		Steps:  otherServersTokens(),
	},
	{
		Name:   "sign-in on the issuer's own origin with another server's token endpoint gets that server's tokens, which are not stored (mix-up)",
		Server: ServerConfig{TokenElsewhere: true, IDTokens: IDTokensOther},
		// The sign-in page passes (the issuer's origin: a hostile server's
		// page that just redirects to the other server's); whose token
		// endpoint issues the tokens decides (H7).
		Steps: otherServersTokens(),
	},
	{
		Name: "a login answered with control characters in a token stores nothing",
		Steps: []Step{
			{Name: "access token", Op: OpLogin, ClientID: PresetClient, Change: SendBadToken("access_token"), Want: Want{
				Err: "token_charset", Requests: loginRequests,
			}},
			{Name: "refresh token", Op: OpLogin, ClientID: PresetClient, Change: SendBadToken("refresh_token"), Want: Want{
				Err: "token_charset", Requests: loginRequests,
			}},
			{Name: "ID token", Op: OpLogin, ClientID: PresetClient, Change: SendBadToken("id_token"), Want: Want{
				Err: "token_charset", Requests: loginRequests,
			}},
		},
	},
	{
		// Nor the old refresh token, which the server has already spent:
		// the user is told to log in again, and the spent token is not
		// sent again (H8).
		Name:   "a refresh answered with control characters in a token keeps nothing of the answer",
		Before: []string{PresetClient},
		Steps:  loginAgain("access token", SendBadToken("access_token"), "outside %x20-7E"),
	},
	{
		Name:   "a refresh answered with control characters in its refresh token keeps neither refresh token",
		Before: []string{PresetClient},
		Steps:  loginAgain("refresh token", SendBadToken("refresh_token"), "outside %x20-7E"),
	},
	{
		Name: "a server's error_description reaches the outcome sanitised",
		Steps: []Step{
			{Op: OpLogin, ClientID: PresetClient, Change: RefuseCodesSaying(hostileText), Want: Want{
				Err:      "invalid_grant",
				ErrText:  core.Sanitize(hostileText),
				Requests: loginRequests,
			}},
		},
	},
	{
		Name: "DPoP always against a server without DPoP is refused before the redirect, leaving no key",
		Steps: []Step{
			{Op: OpLogin, ClientID: PresetClient, DPoP: "always", Want: Want{Err: "dpop_unsupported", Requests: []string{"discover"}}},
		},
	},
	{
		// The browser keeps each login apart, and only logout() removes
		// one that cannot be read (a token call answers unreadable_entry):
		// checked in full there. Natively there is no unreadable login to
		// remove: every login is in one cache file, moved aside with a
		// warning by whatever reads it first (S24), so after any command
		// the host is logged out; the logout step cannot fail there and is
		// listed as such by every native run.
		Name:       "logout removes a stored login that cannot be read",
		Unreadable: []string{PresetClient},
		Steps: []Step{
			{Op: OpLogout, ClientID: PresetClient, Want: Want{WarnedOf: []string{"cannot be read"}, LooseOn: "native",
				LooseWhy: "no per-login unreadability natively: the one cache file is moved aside by any read, so this logout's outcome cannot tell anything; only the browser checks it"}},
			{Name: "then not logged in", Op: OpToken, ClientID: PresetClient, Want: Want{Err: "login_required"}},
		},
	},
	{
		Name:   "a registered client is reused with exactly its redirect URI, else a new one is registered",
		Server: ServerConfig{Registration: true},
		Steps: []Step{
			firstRegisteredLogin,
			{Name: "reused with its redirect URI", Op: OpLogin, Want: Want{
				Requests:   loginRequests,
				Logins:     []Stored{issued("reg-1", 2)},
				Registered: []string{"reg-1"},
			}},
			{Name: "its redirect URI taken", Op: OpLogin, RedirectTaken: true, Want: Want{
				Requests: []string{"discover", "register", "authorize", "token authorization_code"},
				WarnedOf: []string{"registering a new"},
				Logins: []Stored{
					issued("reg-1", 2),
					issued("reg-2", 3),
				},
				Registered: []string{"reg-2"},
			}},
		},
	},
	{
		Name:   "the registration access token goes only to the registration endpoint's origin",
		Server: ServerConfig{Registration: true, ClientURI: OnOther},
		Steps: []Step{
			firstRegisteredLogin,
			{Name: "the client is reused unread", Op: OpLogin, Want: Want{
				Requests:   loginRequests,
				Logins:     []Stored{issued("reg-1", 2)},
				Registered: []string{"reg-1"},
			}},
		},
	},
	{
		Name:   "a registered client is read at its registration_client_uri on the endpoint's origin before reuse",
		Server: ServerConfig{Registration: true, ClientURI: OnEndpoint},
		Steps: []Step{
			firstRegisteredLogin,
			{Name: "read, then reused", Op: OpLogin, Want: Want{
				Requests:   []string{"discover", "read client", "authorize", "token authorization_code"},
				Logins:     []Stored{issued("reg-1", 2)},
				Registered: []string{"reg-1"},
			}},
		},
	},
	{
		Name: "a URL inside a resource login's resource finds that login, the longest resource first",
		Server: ServerConfig{Resources: []Resource{
			{Path: "/mcp", Scopes: []string{"mcp:read"}},
			{Path: "/mcp/admin", Scopes: []string{"mcp:admin"}},
		}},
		Steps: []Step{
			{Name: "login to /mcp", Op: OpLogin, ClientID: PresetClient, Path: "/mcp", Want: Want{
				Requests: resourceLoginRequests("/mcp"),
				Scope:    "mcp:read",
				Logins:   []Stored{resourceLogin("/mcp", 1)},
			}},
			{Name: "login to /mcp/admin", Op: OpLogin, ClientID: PresetClient, Path: "/mcp/admin", Want: Want{
				Requests: resourceLoginRequests("/mcp/admin"),
				Scope:    "mcp:admin",
				Logins:   []Stored{resourceLogin("/mcp", 1), resourceLogin("/mcp/admin", 2)},
			}},
			{Name: "a URL in /mcp", Op: OpFetch, Path: "/mcp/tools/list", Want: Want{
				Status:   200,
				Requests: []string{"call /mcp/tools/list with at-1"},
				Logins:   []Stored{resourceLogin("/mcp", 1), resourceLogin("/mcp/admin", 2)},
			}},
			{Name: "a URL in /mcp/admin", Op: OpFetch, Path: "/mcp/admin/users", Want: Want{
				Status:   200,
				Requests: []string{"call /mcp/admin/users with at-2"},
				Logins:   []Stored{resourceLogin("/mcp", 1), resourceLogin("/mcp/admin", 2)},
			}},
			{Name: "the login's token to another origin", Op: OpFetch, Path: "/mcp/tools/list", Login: "/mcp", Elsewhere: true, Want: Want{
				Err:    "wrong_origin",
				Logins: []Stored{resourceLogin("/mcp", 1), resourceLogin("/mcp/admin", 2)},
			}},
		},
	},
	{
		// core.RefreshConfig.Refused, reached through core.ResourceCall:
		// `auth api` and dualauth.fetch.
		Name:   "a call whose token the resource refuses refreshes once and is sent again",
		Server: ServerConfig{Resources: []Resource{{Path: "/mcp", Scopes: []string{"mcp:read"}}}},
		Steps: []Step{
			{Name: "login to /mcp", Op: OpLogin, ClientID: PresetClient, Path: "/mcp", Want: Want{
				Requests: resourceLoginRequests("/mcp"),
				Scope:    "mcp:read",
				Logins:   []Stored{resourceLogin("/mcp", 1)},
			}},
			{Name: "the valid token refused", Op: OpFetch, Path: "/mcp/tools/list", Change: (*Server).RevokeAccessTokens, Want: Want{
				Status:   200,
				Requests: []string{"call /mcp/tools/list with at-1", "token refresh_token for /mcp", "call /mcp/tools/list with at-2"},
				Logins:   []Stored{resourceLogin("/mcp", 2)},
			}},
			{Name: "the new token refused too: no second refresh", Op: OpFetch, Path: "/mcp/tools/list", Change: (*Server).RefuseAccessTokens, Want: Want{
				Status:   401,
				Requests: []string{"call /mcp/tools/list with at-2", "token refresh_token for /mcp", "call /mcp/tools/list with at-3"},
				Logins:   []Stored{resourceLogin("/mcp", 3)},
			}},
		},
	},
	{
		// core.ResourceCallConfig.KeepNonces: the resource's nonce is kept
		// with the login (its token endpoint is on the other origin: a
		// nonce of the token endpoint's origin is that server's to keep).
		Name: "a resource's DPoP nonce is sent again at once and kept for the next call",
		Server: ServerConfig{DPoP: true, TokenElsewhere: true, Resources: []Resource{
			{Path: "/api", Scopes: []string{"api:read"}, DPoPNonce: "rn-1"},
		}},
		Steps: []Step{
			{Name: "DPoP login to /api", Op: OpLogin, ClientID: PresetClient, Path: "/api", DPoP: "always", Want: Want{
				Requests: []string{"discover", "authorize for /api", "token authorization_code for /api on the other origin"},
				Scope:    "openid api:read",
				Logins:   []Stored{bound(resourceLogin("/api", 1))},
				Keys:     1,
			}},
			{Name: "the nonce asked for: one retry with it", Op: OpFetch, Path: "/api/items", Want: Want{
				Status:   200,
				Requests: []string{"call /api/items with DPoP at-1", "call /api/items with DPoP at-1 nonce rn-1"},
				Logins:   []Stored{bound(resourceLogin("/api", 1))},
				Keys:     1,
			}},
			{Name: "the next call proves with the kept nonce at once", Op: OpFetch, Path: "/api/items", Want: Want{
				Status:   200,
				Requests: []string{"call /api/items with DPoP at-1 nonce rn-1"},
				Logins:   []Stored{bound(resourceLogin("/api", 1))},
				Keys:     1,
			}},
		},
	},
	{
		// One core rule (core.LoginScopes) decides a login's scopes: the
		// native default "openid offline_access" is not added here.
		Name:   "a resource login whose resource and server name no scope asks for none (MCP scope selection)",
		Server: ServerConfig{Resources: []Resource{{Path: "/plain"}}},
		Steps: []Step{
			{Op: OpLogin, ClientID: PresetClient, Path: "/plain", Want: Want{
				Requests: resourceLoginRequests("/plain"),
				Scope:    NoScope,
				Logins:   []Stored{resourceLogin("/plain", 1)},
			}},
		},
	},
	{
		Name: "a resource login asks for the scope of the resource's 401 first, then its scopes_supported",
		Server: ServerConfig{Resources: []Resource{
			{Path: "/a", Scopes: []string{"a:all"}, Challenged: true, ChallengeScope: "a:read a:write"},
			{Path: "/b", Scopes: []string{"b:all"}, Challenged: true},
		}},
		Steps: []Step{
			{Name: "the 401's scope", Op: OpLogin, ClientID: PresetClient, Path: "/a", Want: Want{
				Requests: resourceLoginRequests("/a"),
				Scope:    "a:read a:write",
				Logins:   []Stored{resourceLogin("/a", 1)},
			}},
			{Name: "scopes_supported", Op: OpLogin, ClientID: PresetClient, Path: "/b", Want: Want{
				Requests: resourceLoginRequests("/b"),
				Scope:    "b:all",
				Logins:   []Stored{resourceLogin("/a", 1), resourceLogin("/b", 2)},
			}},
		},
	},
	{
		Name:   "logout removes the login and revokes its refresh token",
		Before: []string{PresetClient},
		Steps: []Step{
			{Op: OpLogout, ClientID: PresetClient, Want: Want{Requests: []string{"revoke"}}},
			{Name: "then no token", Op: OpToken, ClientID: PresetClient, Want: Want{Err: "login_required"}},
			{Name: "a second logout", Op: OpLogout, ClientID: PresetClient, Want: Want{NothingToRemove: true}},
		},
	},
	{
		Name:   "a DPoP login binds its tokens to a key that logout drops",
		Server: ServerConfig{DPoP: true},
		Steps: []Step{
			dpopLogin,
			{Name: "refresh with a proof", Op: OpToken, ClientID: PresetClient, Advance: expired, Want: Want{
				Token: "at-2", TokenType: "DPoP",
				Requests: []string{"token refresh_token"},
				Logins:   []Stored{bound(issued(PresetClient, 2))},
				Keys:     1,
			}},
			{Name: "logout", Op: OpLogout, ClientID: PresetClient, Want: Want{Requests: []string{"revoke"}}},
		},
	},
	{
		Name:   "a DPoP login that replaces another drops the old key",
		Server: ServerConfig{DPoP: true},
		Steps: []Step{
			dpopLogin,
			{Name: "second login", Op: OpLogin, ClientID: PresetClient, DPoP: "always", Want: Want{
				Requests: loginRequests,
				Logins:   []Stored{bound(issued(PresetClient, 2))},
				Keys:     1,
			}},
			{Name: "bearer login", Op: OpLogin, ClientID: PresetClient, DPoP: "never", Want: Want{
				Requests: loginRequests,
				Logins:   []Stored{issued(PresetClient, 3)},
			}},
		},
	},
	{
		Name:   "a failed DPoP login drops the key it made",
		Server: ServerConfig{DPoP: true},
		Steps: []Step{
			{Op: OpLogin, ClientID: PresetClient, DPoP: "always", Change: (*Server).RefuseCodes, Want: Want{
				Err:      "invalid_grant",
				Requests: loginRequests,
			}},
		},
	},
	{
		Name:   "a DPoP server's nonce is sent again with a new proof",
		Server: ServerConfig{DPoP: true, DPoPNonce: "n-1"},
		Steps: []Step{
			{Name: "login", Op: OpLogin, ClientID: PresetClient, DPoP: "always", Want: Want{
				Requests: []string{"discover", "authorize", "token authorization_code", "token authorization_code"},
				Logins:   []Stored{bound(issued(PresetClient, 1))},
				Keys:     1,
			}},
			{Name: "refresh with the remembered nonce", Op: OpToken, ClientID: PresetClient, Advance: expired, Want: Want{
				Token: "at-2", TokenType: "DPoP",
				Requests: []string{"token refresh_token"},
				Logins:   []Stored{bound(issued(PresetClient, 2))},
				Keys:     1,
			}},
		},
	},
	{
		Name:   "a registered client is reused by the next login",
		Server: ServerConfig{Registration: true},
		Steps: []Step{
			firstRegisteredLogin,
			{Name: "second login does not", Op: OpLogin, Want: Want{
				Requests:   loginRequests,
				Logins:     []Stored{issued("reg-1", 2)},
				Registered: []string{"reg-1"},
			}},
			{Name: "token finds the registered client", Op: OpToken, Want: Want{
				Token:      "at-2",
				Logins:     []Stored{issued("reg-1", 2)},
				Registered: []string{"reg-1"},
			}},
		},
	},
	{
		Name:   "a client the server refuses is registered again",
		Server: ServerConfig{Registration: true},
		Steps: []Step{
			firstRegisteredLogin,
			{Name: "invalid_client forgets the client", Op: OpLogin, Change: (*Server).ForgetClients, Want: Want{
				Err:        "client_forgotten",
				Requests:   loginRequests,
				Logins:     []Stored{issued("reg-1", 1)},
				Registered: []string{"reg-1 refused"},
			}},
			{Name: "the next login registers again", Op: OpLogin, Advance: time.Minute, Want: Want{
				Requests: []string{"discover", "register", "authorize", "token authorization_code"},
				Warnings: []string{"the server refused client reg-1 that dualauth registered at HOST at the last login; registering a new one"},
				Logins: []Stored{
					issued("reg-1", 1),
					issued("reg-2", 2),
				},
				Registered: []string{"reg-2"},
			}},
			{Name: "token picks the newest registered client", Op: OpToken, Want: Want{
				Token: "at-2",
				Logins: []Stored{
					issued("reg-1", 1),
					issued("reg-2", 2),
				},
				Registered: []string{"reg-2"},
			}},
		},
	},
	// Issue #21 part B: a resource given with the login is a core input.
	{
		Name: "a resource given with the login is asked for and the login kept under it",
		Steps: []Step{
			{Name: "login", Op: OpLogin, ClientID: PresetClient, Resource: givenResource, Want: Want{
				Requests: []string{"discover", "authorize for " + givenResource, "token authorization_code for " + givenResource},
				Scope:    "openid offline_access",
				Logins:   []Stored{keptUnderResource(issued(PresetClient, 1))},
			}},
			{Name: "token by the resource", Op: OpToken, ClientID: PresetClient, Resource: givenResource, Want: Want{
				Token:  "at-1",
				Logins: []Stored{keptUnderResource(issued(PresetClient, 1))},
			}},
			{Name: "the refresh asks for the resource too", Op: OpToken, ClientID: PresetClient, Resource: givenResource, Advance: expired, Want: Want{
				Token:    "at-2",
				Requests: []string{"token refresh_token for " + givenResource},
				Logins:   []Stored{keptUnderResource(issued(PresetClient, 2))},
			}},
			{Name: "the issuer's own login is another", Op: OpToken, ClientID: PresetClient, Want: Want{
				Err:    "login_required",
				Logins: []Stored{keptUnderResource(issued(PresetClient, 2))},
			}},
		},
	},
	{
		Name: "a resource that is no https URL is refused before any request",
		Steps: []Step{
			{Op: OpLogin, ClientID: PresetClient, Resource: "ftp://api.example.com", Want: Want{Err: "invalid_resource"}},
		},
	},
	// Issue #21: decisions the drivers took themselves, now the core's.
	{
		Name:             "logins of clients dualauth registered: token and logout by host pick the newest",
		BeforeRegistered: []string{"reg-a", "reg-b"},
		Steps: []Step{
			{Name: "token", Op: OpToken, Want: Want{
				Token:  "at-2",
				Logins: []Stored{issued("reg-a", 1), issued("reg-b", 2)},
			}},
			{Name: "logout", Op: OpLogout, Want: Want{
				Requests: []string{"revoke"},
				Logins:   []Stored{issued("reg-a", 1)},
			}},
			{Name: "token of the one left", Op: OpToken, Want: Want{
				Token:  "at-1",
				Logins: []Stored{issued("reg-a", 1)},
			}},
		},
	},
	{
		Name: "a logout with nothing stored is no error: nothing to remove",
		Steps: []Step{
			{Name: "by client", Op: OpLogout, ClientID: PresetClient, Want: Want{NothingToRemove: true}},
			{Name: "by host", Op: OpLogout, Want: Want{NothingToRemove: true}},
		},
	},
	{
		Name:   "a logout drops the DPoP key of its login only",
		Server: ServerConfig{DPoP: true, Registration: true},
		Steps: []Step{
			dpopLogin,
			{Name: "a registered client's DPoP login", Op: OpLogin, DPoP: "always", Want: Want{
				Requests:   []string{"discover", "register", "authorize", "token authorization_code"},
				Logins:     []Stored{bound(issued(PresetClient, 1)), bound(issued("reg-1", 2))},
				Registered: []string{"reg-1"},
				Keys:       2,
			}},
			{Name: "logout of the first", Op: OpLogout, ClientID: PresetClient, Want: Want{
				Requests:   []string{"revoke"},
				Logins:     []Stored{bound(issued("reg-1", 2))},
				Registered: []string{"reg-1"},
				Keys:       1,
			}},
			{Name: "its refresh still proves with its key", Op: OpToken, ClientID: "reg-1", Advance: expired, Want: Want{
				Token: "at-3", TokenType: "DPoP",
				Requests:   []string{"token refresh_token"},
				Logins:     []Stored{bound(issued("reg-1", 3))},
				Registered: []string{"reg-1"},
				Keys:       1,
			}},
		},
	},
}

// givenResource is an API that publishes no protected-resource metadata:
// a login names it (RFC 8707) and nothing fetches it.
const givenResource = "https://api.example.com/v1"

// keptUnderResource is s kept under givenResource.
func keptUnderResource(s Stored) Stored {
	s.Resource = givenResource
	return s
}

// KnownDifferences are the steps where a target does not do what the
// table says yet. Each is run and printed; remove a row once it passes.
var KnownDifferences = []Difference{}

// resourceLoginRequests is what a login to the resource at path on the
// server asks: the resource goes with the authorization and token requests.
func resourceLoginRequests(path string) []string {
	return []string{"discover", "authorize for " + path, "token authorization_code for " + path}
}
