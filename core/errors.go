package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrNotLoggedIn: no usable login for the host (none cached, or its
	// refresh token is gone or was rejected).
	ErrNotLoggedIn = errors.New("not logged in")
	// ErrStateMismatch: a callback whose state is missing or unknown (S6).
	ErrStateMismatch = errors.New("callback state does not match the pending login")
	// ErrIssuerMismatch: metadata or callback `iss` names another issuer (S9, S18).
	ErrIssuerMismatch = errors.New("issuer mismatch")
	// ErrMissingIssuer: the server promised `iss` in the callback and sent none (S10).
	ErrMissingIssuer = errors.New("callback lacks the iss parameter the server promised")
	// ErrNonceMismatch: the id_token's nonce is not the one sent (S7).
	ErrNonceMismatch = errors.New("id_token nonce does not match the login")
	// ErrInsecureURL: an issuer or endpoint is neither https nor loopback (S19).
	ErrInsecureURL = errors.New("URL must use https (http is allowed for loopback hosts only)")
	// ErrLoopbackScheme: a loopback host given without http:// or https://
	// (see NormalizeHost).
	ErrLoopbackScheme = errors.New("a loopback host needs its scheme")
	// ErrPendingExpired: the pending login is older than [PendingTTL] (S27).
	ErrPendingExpired = errors.New("login attempt expired; start the login again")
	// ErrNoPendingLogin: a callback arrived when no login is waiting (S29).
	ErrNoPendingLogin = errors.New("no login is waiting for this callback")
	// ErrDiscovery: no candidate metadata URL gave usable metadata.
	ErrDiscovery = errors.New("discovery failed")
	// ErrMixUp: the metadata sends the user to sign in on an origin that
	// is neither the issuer's nor its token endpoint's (RFC 9700 §4.4; see
	// [Metadata.CheckSignInOrigin]).
	ErrMixUp = errors.New("possible mix-up attack (RFC 9700 §4.4)")
	// ErrNotBound (always with [ErrMixUp]): a login whose sign-in page and
	// token endpoint are off the issuer's origin got tokens without an ID
	// token naming the issuer, so nothing shows they are the issuer's;
	// nothing is saved.
	ErrNotBound = errors.New("the login is not bound to its issuer")
	// ErrUnreadableEntry: a stored login is there but cannot be read
	// (damaged, or written by something else). A store's Load answers it
	// with the entry's key, so that a logout can still remove it.
	ErrUnreadableEntry = errors.New("the stored login cannot be read")
	// ErrDPoPUnsupported: DPoP mode always, against a server that publishes
	// no DPoP support (dpop_signing_alg_values_supported, RFC 9449 §5.1).
	ErrDPoPUnsupported = errors.New("DPoP mode always, but the server does not support DPoP")
	// ErrWrongOrigin: a request with a login's token (or a proof of it) to
	// a URL that is not on the origin of the login's host or resource.
	ErrWrongOrigin = errors.New("the URL is not on the origin of this login")
)

// wrongOrigin is an [ErrWrongOrigin] that names the URL and the login's host.
type wrongOrigin struct{ url, host string }

func (e *wrongOrigin) Error() string {
	return fmt.Sprintf("%s is not on %s, the origin of this login: its token goes there only", Sanitize(e.url), Sanitize(e.host))
}

func (e *wrongOrigin) Is(target error) bool { return target == ErrWrongOrigin }

// LoginRequiredError says the user must log in (again) to Host. It matches
// [ErrNotLoggedIn] with errors.Is; Cause, when set, is why (for example the
// server's invalid_grant).
type LoginRequiredError struct {
	Host string
	// ClientID is the client the login was looked up for, when known.
	ClientID string
	Cause    error
	// WithoutPerson: the login was a grant without a person, whose login
	// command needs its secret, key or subject token again.
	WithoutPerson bool
	// Login, when set, is the command that logs in again instead of
	// `auth login` with the host and client: by what the user named the
	// login, a profile say ("auth login short", "auth auth login --profile
	// dev").
	Login string
}

func (e *LoginRequiredError) Error() string {
	cmd, hint := "auth login "+ShellWord(e.Host), ""
	switch {
	case e.Login != "":
		cmd = e.Login
	case e.ClientID != "" && (!IsDatabricksHost(e.Host) || e.WithoutPerson):
		// A known client is named; without one, the login finds what the
		// host publishes (Databricks host metadata, registration) and says
		// itself when it needs --client-id.
		cmd += " --client-id " + ShellWord(e.ClientID)
	}
	if e.WithoutPerson {
		cmd += " --client-secret-stdin"
		hint = " (or with --client-key or --subject-token, as before)"
	}
	if e.Cause != nil {
		return fmt.Sprintf("login to %s is no longer valid (%v): run `%s`%s", e.Host, e.Cause, cmd, hint)
	}
	return fmt.Sprintf("not logged in to %s: run `%s`%s", e.Host, cmd, hint)
}

func (e *LoginRequiredError) Unwrap() []error {
	if e.Cause == nil {
		return []error{ErrNotLoggedIn}
	}
	return []error{ErrNotLoggedIn, e.Cause}
}

// DPoPBoundError: a bearer-only use ([RefreshConfig.BearerOnly]) of a
// login whose tokens are bound to a DPoP key (RFC 9449). Such a token is
// worth nothing without a proof from the key, so it is not handed out.
type DPoPBoundError struct {
	Host string
	// JKT is the thumbprint of the key the tokens are bound to.
	JKT string
}

func (e *DPoPBoundError) Error() string {
	return fmt.Sprintf("the tokens of the login to %s are bound to a DPoP key and work only with a proof from it: log in again with --dpop never for bearer tokens, or send requests with `auth api` or `auth proof`", e.Host)
}

// OAuthError is an error response of RFC 6749 §4.1.2.1 (authorization) or
// §5.2 (token endpoint). Its message never carries request secrets.
type OAuthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	URI         string `json:"error_uri,omitempty"`
}

// Error carries the server's code and description through [Sanitize]
// (S37): they are text from the network, shown on a terminal or a page.
func (e *OAuthError) Error() string {
	if e.Description != "" {
		return fmt.Sprintf("%s: %s", Sanitize(e.Code), Sanitize(e.Description))
	}
	return Sanitize(e.Code)
}

// parseOAuthError reads an OAuth error response body (RFC 6749 §5.2, RFC
// 7591 §3.2.2): nil unless it is a JSON object with an error code.
func parseOAuthError(body []byte) *OAuthError {
	var oe OAuthError
	if json.Unmarshal(body, &oe) != nil || oe.Code == "" {
		return nil
	}
	return &oe
}

// Is lets errors.Is(err, &OAuthError{Code: "invalid_grant"}) match by code.
func (e *OAuthError) Is(target error) bool {
	t, ok := target.(*OAuthError)
	return ok && t.Code == e.Code && (t.Description == "" || t.Description == e.Description)
}

// UnsafeErrorCode is what [OAuthError.SafeCode] answers for a server's
// error code outside RFC 6749's error charset: the generic server_error
// (RFC 6749 §4.1.2.1), which a caller already handles.
const UnsafeErrorCode = "server_error"

// SafeCode is the server's error code when it is made of RFC 6749's error
// charset (%x20-21 / %x23-5B / %x5D-7E, §4.1.2.1 and §5.2), else
// [UnsafeErrorCode]: a code a program may show or switch on as it is (a
// page's err.code), with no control, non-ASCII, quote or backslash
// character a server could use to forge text.
func (e *OAuthError) SafeCode() string {
	// VSCHAR, as the tokens are, less quote and backslash.
	if e.Code == "" || !vschar(e.Code) || strings.ContainsAny(e.Code, `"\`) {
		return UnsafeErrorCode
	}
	return e.Code
}

// ErrInvalidGrant matches an OAuthError whose code is invalid_grant.
var ErrInvalidGrant = &OAuthError{Code: "invalid_grant"}
