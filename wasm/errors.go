//go:build js && wasm

package main

import (
	"errors"
	"fmt"

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

// normalizeHost is core.NormalizeHost for a host the page passed: what it
// refuses is a bad argument (invalid_argument; insecure_url for an http URL
// of a host that is not loopback).
func normalizeHost(raw string) (string, error) {
	h, err := core.NormalizeHost(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errBadArgument, err)
	}
	return h, nil
}

// errorCode is the stable `code` of the Error a JS API promise rejects with:
// the OAuth error code when the server sent one (core.OAuthError.SafeCode:
// server_error for a code outside RFC 6749's error charset), else one of
// ours.
func errorCode(err error) string {
	var oe *core.OAuthError
	var tc *core.TokenCharsetError
	switch {
	case errors.As(err, &tc):
		return "token_charset" // before not_logged_in: logging in again gets the same tokens
	case errors.Is(err, core.ErrMixUp):
		return "mix_up"
	case errors.Is(err, core.ErrUnreadableEntry):
		return "stored_login_unreadable" // logout() removes it
	case errors.Is(err, core.ErrClientForgotten):
		return "client_forgotten" // before OAuthError (invalid_client): login() again registers anew
	case errors.Is(err, core.ErrNotLoggedIn):
		return "not_logged_in" // before OAuthError: an invalid_grant refresh means "log in again"
	case errors.As(err, &oe):
		return oe.SafeCode()
	case errors.Is(err, core.ErrResourceMismatch):
		return "resource_mismatch"
	case errors.Is(err, core.ErrTooLarge):
		return "response_too_large"
	case errors.Is(err, core.ErrNoClient):
		return "no_client"
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
	case errors.Is(err, errBadArgument), errors.Is(err, core.ErrInvalidResource), errors.Is(err, core.ErrLoopbackScheme):
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
