// Package core is dualauth's pure OAuth 2.0 engine: the authorization-code +
// PKCE login, the token refresh and the logout, as deterministic machines.
//
// In the diagram of DESIGN.md it is the box in the middle. Drivers (package
// native for the `auth` command, package wasm for browsers) feed it events
// and perform the effects it returns; the core itself does no I/O, reads no
// clock and draws no randomness: time and entropy arrive in events.
//
//	l := core.NewLogin(core.LoginConfig{Target: core.Target{Host: host}, ...})
//	done := core.Drive(l, core.Start{Now: time.Now(), Rand: rand.Reader}, perform)
//
// A login, as the transcript tests record it (testdata/login.txt):
//
//	Fetch GET https://adb-123.4.azuredatabricks.net/oidc/.well-known/oauth-authorization-server
//	  → HTTP 200
//	SavePending issuer=https://adb-123.4.azuredatabricks.net/oidc redirect=http://localhost:8020
//	Authorize adb-123.4.azuredatabricks.net/oidc/v1/authorize
//	Callback code,state
//	Fetch POST https://adb-123.4.azuredatabricks.net/oidc/v1/token [client_id code code_verifier grant_type redirect_uri]
//	  → HTTP 200
//	Lock "https://adb-123.4.azuredatabricks.net/oidc databricks-cli"
//	Save "https://adb-123.4.azuredatabricks.net/oidc databricks-cli" access=access-2 refresh=refresh-2
//	Unlock "https://adb-123.4.azuredatabricks.net/oidc databricks-cli"
//	Done token=access-2 expiry=2026-11-28T13:00:00Z
//
// The token machine ([Refresh]) loads the entry and, when it is still valid,
// is done without lock or network; otherwise it locks, loads again (another
// process may have refreshed), refreshes with the endpoints stored in the
// entry, saves and unlocks. The token endpoint exchange is data too
// ([Request], [Response], [ParseTokenResponse]), so both targets speak the
// protocol through this package. The effect ordering contract is on [Effect].
package core
