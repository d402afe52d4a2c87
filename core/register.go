package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ClientName is the client_name dualauth registers under.
const ClientName = "dualauth"

// Registration is a client that dualauth registered at an issuer (RFC
// 7591), kept per issuer and reused by every login there.
type Registration struct {
	// Endpoint is the registration_endpoint it was registered at.
	Endpoint string `json:"endpoint"`
	// ClientURI is the registration_client_uri (RFC 7592 §2), when the
	// server gave one: reading it tells whether the client still exists.
	ClientURI       string    `json:"client_uri,omitempty"`
	RedirectURIs    []string  `json:"redirect_uris"`
	ApplicationType string    `json:"application_type"`
	RegisteredAt    time.Time `json:"registered_at"`
	// DPoPBound: registered with dpop_bound_access_tokens (RFC 9449 §5.2).
	DPoPBound bool `json:"dpop_bound_access_tokens,omitempty"`
	// GrantTypes are the grants registered; empty on the records of
	// browser logins made before it was kept (authorization_code and
	// refresh_token).
	GrantTypes []string `json:"grant_types,omitempty"`
	// Refused: the token endpoint refused this client (invalid_client);
	// the next login registers a new one and says why.
	Refused bool `json:"refused,omitempty"`
}

// Device reports whether the registration is the device grant's.
func (r *Registration) Device() bool { return slices.Contains(r.GrantTypes, DeviceGrantType) }

// RegistrationKey is the cache key of the client registered at issuer for
// browser logins: a key no login has, so the token machine never loads it.
func RegistrationKey(issuer string) string {
	return "registration " + strings.TrimSuffix(issuer, "/")
}

// DeviceRegistrationKey is the cache key of the client registered at
// issuer for the device grant (RFC 8628).
//
// The two flows keep a registration each rather than share one registered
// with every grant: a browser client needs a redirect URI and
// authorization_code, a device client has neither (RFC 7591 §2 lets
// grants without a redirect register none), so each asks for exactly what
// it uses (S32); a server that lets clients register the one grant but
// not the other (say, no device_code for registered clients) still gives
// the flow it allows; and a registration never has to be updated (RFC
// 7592 PUT) when the user changes flows. The cost: a user who logs in to
// one issuer with both flows has two registered clients there.
func DeviceRegistrationKey(issuer string) string {
	return "registration device " + strings.TrimSuffix(issuer, "/")
}

// ErrNoClient: no client ID was given or saved, and the server offers no
// dynamic registration.
var ErrNoClient = errors.New("no client ID")

// The application types of RFC 7591 §2 (from OpenID Connect Dynamic Client
// Registration): a CLI on a loopback redirect is "native", a page "web".
const (
	AppNative = "native"
	AppWeb    = "web"
)

// RegistrationRequest builds the registration of a public client (RFC 7591
// §3.1, S32): no secret asked for (token_endpoint_auth_method none), exactly
// the redirect URI and grants that a browser login uses.
func RegistrationRequest(endpoint, redirectURI, appType string) Request {
	return registrationRequest(endpoint, redirectURI, appType, false)
}

// registrationRequest is [RegistrationRequest], asking for DPoP-bound
// tokens (RFC 9449 §5.2) when dpop is set. Without a redirect URI it
// registers a client of the device grant: no redirect URI and no response
// type (it never goes through the authorization endpoint).
func registrationRequest(endpoint, redirectURI, appType string, dpop bool) Request {
	reg := map[string]any{
		"client_name":                ClientName,
		"application_type":           appType,
		"token_endpoint_auth_method": "none",
		"grant_types":                registeredGrants(redirectURI),
		"response_types":             []string{},
	}
	if redirectURI != "" {
		reg["redirect_uris"] = []string{redirectURI}
		reg["response_types"] = []string{"code"}
	}
	if dpop {
		reg["dpop_bound_access_tokens"] = true
	}
	body, _ := json.Marshal(reg) // plain data: cannot fail
	return Request{
		Method: "POST",
		URL:    endpoint,
		Header: map[string]string{"Content-Type": "application/json", "Accept": "application/json"},
		JSON:   body,
	}
}

// RegisteredClient is a client information response (RFC 7591 §3.2.1).
type RegisteredClient struct {
	ClientID                string `json:"client_id"`
	RegistrationAccessToken string `json:"registration_access_token"`
	RegistrationClientURI   string `json:"registration_client_uri"`
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method"`
}

// ParseRegistration reads the answer to [RegistrationRequest]. A client
// without client_id, or one the server made confidential, is refused: dualauth
// keeps no client secrets. So is one whose registration_access_token is
// outside VSCHAR, as a token endpoint's tokens are ([TokenCharsetError]).
func ParseRegistration(r Response) (*RegisteredClient, error) {
	if tooLong(r) {
		return nil, fmt.Errorf("client registration answered: %w", ErrTooLarge)
	}
	if r.Status != 200 && r.Status != 201 {
		if looksJSON(r) {
			if oe := parseOAuthError(r.Body); oe != nil {
				return nil, fmt.Errorf("client registration refused: %w", oe)
			}
		}
		return nil, fmt.Errorf("client registration answered HTTP %d%s", r.Status, describeBody(r, looksJSON(r)))
	}
	var c RegisteredClient
	if err := json.Unmarshal(r.Body, &c); err != nil {
		return nil, fmt.Errorf("client registration answered HTTP %d with a body that is not a JSON client%s", r.Status, describeBody(r, false))
	}
	if c.ClientID == "" {
		return nil, errors.New("client registration answered without a client_id")
	}
	if !vschar(c.RegistrationAccessToken) {
		// It is stored as a token and sent in an Authorization header
		// (RFC 7592): the same rule as the token endpoint's tokens.
		return nil, errors.New("the registration_access_token in the client registration answer has characters outside %x20-7E (control characters or non-ASCII); dualauth neither stores nor sends such a token")
	}
	if c.TokenEndpointAuthMethod != "" && c.TokenEndpointAuthMethod != "none" {
		return nil, fmt.Errorf("the server registered a confidential client (token_endpoint_auth_method %s); dualauth registers public clients only: pass --client-id", Sanitize(c.TokenEndpointAuthMethod))
	}
	if c.RegistrationClientURI != "" && CheckURL(c.RegistrationClientURI) != nil {
		c.RegistrationClientURI = "" // never send the registration token over http
	}
	return &c, nil
}

// registeredGrants are the grant types registered for a browser login
// (with its redirect URI) or, without one, for the device grant.
func registeredGrants(redirectURI string) []string {
	if redirectURI == "" {
		return []string{DeviceGrantType, "refresh_token"}
	}
	return []string{"authorization_code", "refresh_token"}
}

// readRegistrationRequest asks whether a registered client still exists
// (RFC 7592 §2.1).
func readRegistrationRequest(clientURI, token string) Request {
	return Request{Method: "GET", URL: clientURI, Header: map[string]string{"Accept": "application/json", "Authorization": "Bearer " + token}}
}
