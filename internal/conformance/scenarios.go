package conformance

import (
	"fmt"
	"time"
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
				Err: "error",
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
		Steps: []Step{
			{Name: "invalid_grant", Op: OpToken, ClientID: PresetClient, Advance: expired, Change: (*Server).RevokeAll, Want: Want{
				Err:      "login_required",
				Requests: []string{"token refresh_token"},
				Logins:   []Stored{{ClientID: PresetClient, AccessToken: "at-1"}},
			}},
			{Name: "no second request", Op: OpToken, ClientID: PresetClient, Want: Want{
				Err:    "login_required",
				Logins: []Stored{{ClientID: PresetClient, AccessToken: "at-1"}},
			}},
		},
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

// KnownDifferences are the steps where a target does not do what the
// table says yet. Each is run and printed; remove a row once it passes.
var KnownDifferences = []Difference{}
