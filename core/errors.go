package core

import (
	"errors"
	"fmt"
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
)

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
}

func (e *LoginRequiredError) Error() string {
	cmd, hint := "auth login "+e.Host, ""
	// A known client is named; without one, the login finds what the host
	// publishes (Databricks host metadata, registration) and says itself
	// when it needs --client-id.
	if e.ClientID != "" && (!IsDatabricksHost(e.Host) || e.WithoutPerson) {
		cmd += " --client-id " + e.ClientID
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

func (e *OAuthError) Error() string {
	if e.Description != "" {
		return fmt.Sprintf("%s: %s", e.Code, e.Description)
	}
	return e.Code
}

// Is lets errors.Is(err, &OAuthError{Code: "invalid_grant"}) match by code.
func (e *OAuthError) Is(target error) bool {
	t, ok := target.(*OAuthError)
	return ok && t.Code == e.Code && (t.Description == "" || t.Description == e.Description)
}

// ErrInvalidGrant matches an OAuthError whose code is invalid_grant.
var ErrInvalidGrant = &OAuthError{Code: "invalid_grant"}
