//go:build js && wasm

package main

import (
	"errors"

	"github.com/dualauth/dualauth/core"
)

var (
	// errBadArgument: the page called the API with missing or malformed
	// options.
	errBadArgument = errors.New("invalid argument")
	// errLockTimeout: another tab held the token lock too long.
	errLockTimeout = errors.New("timed out waiting for another tab to finish with the token")
	// errStorage: IndexedDB or localStorage refused.
	errStorage = errors.New("browser storage is unavailable")
	// errNetwork: fetch() produced no response (offline, CORS, refused).
	errNetwork = errors.New("network request failed")
	// errRedirect: the token endpoint answered with a redirect, which the
	// driver never follows (see browserFetch).
	errRedirect = errors.New("unexpected redirect")
)

// errorCode is the stable `code` of the Error a JS API promise rejects with:
// the OAuth error code when the server sent one, else one of ours.
func errorCode(err error) string {
	var oe *core.OAuthError
	switch {
	case errors.Is(err, core.ErrUnreadableEntry):
		return "stored_login_unreadable" // logout() removes it
	case errors.Is(err, core.ErrNotLoggedIn):
		return "not_logged_in" // before OAuthError: an invalid_grant refresh means "log in again"
	case errors.As(err, &oe):
		return oe.Code
	case errors.Is(err, core.ErrStateMismatch), errors.Is(err, core.ErrNoPendingLogin):
		return "state_mismatch"
	case errors.Is(err, core.ErrPendingExpired):
		return "login_expired"
	case errors.Is(err, core.ErrIssuerMismatch):
		return "issuer_mismatch"
	case errors.Is(err, core.ErrMissingIssuer):
		return "missing_issuer"
	case errors.Is(err, core.ErrNonceMismatch):
		return "nonce_mismatch"
	case errors.Is(err, core.ErrInsecureURL):
		return "insecure_url"
	case errors.Is(err, core.ErrDPoPUnsupported):
		return "dpop_unsupported"
	case errors.Is(err, core.ErrWrongOrigin):
		return "wrong_origin"
	case errors.Is(err, core.ErrDiscovery):
		return "discovery_failed"
	case errors.Is(err, errBadArgument), errors.Is(err, core.ErrInvalidResource):
		return "invalid_argument"
	case errors.Is(err, errLockTimeout):
		return "lock_timeout"
	case errors.Is(err, errStorage):
		return "storage_unavailable"
	case errors.Is(err, errNetwork):
		return "network_error"
	case errors.Is(err, errRedirect):
		return "unexpected_redirect"
	}
	return "internal_error"
}
