package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// Metadata is the part of authorization server metadata (RFC 8414 §2,
// OpenID Connect Discovery §3) that dualauth uses. It is stored with each
// cache entry, so a refresh needs no discovery round trip.
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint,omitempty"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint,omitempty"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint,omitempty"`
	RegistrationEndpoint              string   `json:"registration_endpoint,omitempty"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported,omitempty"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	AuthorizationResponseIssSupported bool     `json:"authorization_response_iss_parameter_supported,omitempty"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	// DPoPSigningAlgValuesSupported says the server takes DPoP proofs
	// (RFC 9449 §5.1) signed with these algorithms.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
	// GrantTypesSupported are the grants the server names (RFC 8414 §2);
	// a grant it leaves out is refused before any token request.
	GrantTypesSupported []string `json:"grant_types_supported,omitempty"`
	// ClientIDMetadataDocumentSupported: the server takes an https URL as
	// a client ID and fetches the client's metadata document from it
	// (OAuth Client ID Metadata Documents), no registration needed.
	ClientIDMetadataDocumentSupported bool `json:"client_id_metadata_document_supported,omitempty"`
	// OpenID is true when the server is an OpenID provider: the metadata
	// came from an OpenID Connect discovery document, or says so itself
	// wherever it was read (see declaresOpenID). It decides the
	// prompt=consent rule.
	OpenID bool `json:"openid,omitempty"`
}

var errMetadataNotJSON = errors.New("metadata is not valid JSON")

// Candidate is one metadata URL to try and the issuer it must declare.
type Candidate struct {
	URL    string
	Issuer string
	OpenID bool
}

// Target is what a user names to log in to: a host (or issuer URL) and,
// for Databricks account consoles, an account ID.
type Target struct {
	Host      string
	AccountID string
}

// NormalizeHost turns user input ("example.com", "https://Example.com/") into
// a canonical URL: scheme https unless given, lowercase host, no trailing
// slash, no query or fragment. http is accepted for loopback hosts only (S19).
// A loopback host needs its scheme ([ErrLoopbackScheme]): a server on this
// machine speaks http as often as https, and the scheme is part of the
// login's name in the cache, so it is not guessed.
func NormalizeHost(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", fmt.Errorf("empty host")
	}
	if !strings.Contains(s, "://") {
		if u, err := url.Parse("https://" + s); err == nil && IsLoopback(u.Hostname()) {
			return "", fmt.Errorf("%w: write http://%s for a server without TLS (or https://%s)", ErrLoopbackScheme, s, s)
		}
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("invalid host %q: want a host name or an https URL", raw)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("invalid host %q: a host URL has no query, fragment or user info", raw)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	// The default port, or an empty one, names the same issuer as no port
	// (RFC 3986 §6.2.3).
	u.Host = canonicalHost(u)
	if err := checkSecure(u); err != nil {
		return "", fmt.Errorf("host %q: %w", raw, err)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// IsLoopback reports whether host (a URL's Hostname) is a loopback name or
// address: localhost, 127.0.0.0/8 or ::1.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.IsLoopback()
}

func checkSecure(u *url.URL) error {
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && IsLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%w: %s://%s", ErrInsecureURL, u.Scheme, u.Host)
}

// CheckURL verifies that raw is an absolute https URL, or http on loopback.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err == nil && u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https" {
		// javascript:, data:, file: … never name a server (S19).
		return fmt.Errorf("%w: not %s", ErrInsecureURL, Sanitize(u.Scheme+":"))
	}
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("invalid URL %q", raw)
	}
	return checkSecure(u)
}

// databricksSuffixes are the fast path of [Resolve]: a host whose name ends
// in one of them is a Databricks host without asking it. Any other name is
// asked (its host metadata, its /oidc document).
var databricksSuffixes = []string{".databricks.com", ".azuredatabricks.net", ".databricks.azure.cn", ".databricks.azure.us", ".databricks.us"}

// IsDatabricksHost reports whether a normalized host is a Databricks
// workspace or account console by its domain.
func IsDatabricksHost(host string) bool {
	u, err := url.Parse(host)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return slices.ContainsFunc(databricksSuffixes, func(s string) bool { return strings.HasSuffix(h, s) })
}

// DefaultScopes are the scopes a login asks for when none are given:
// "all-apis offline_access" on Databricks hosts (what the Databricks CLI
// asks for), "openid offline_access" elsewhere — who signed in, and a
// refresh token.
func DefaultScopes(t Target) []string {
	if t.AccountID != "" || IsDatabricksHost(t.Host) {
		return []string{"all-apis", "offline_access"}
	}
	return []string{"openid", "offline_access"}
}

// LoginScopes are the scopes a login of t asks for — one rule for every
// driver: the ones given; else what the resolution of the target says it
// wants (Databricks' all-apis offline_access, a protected resource's, an
// issuer's openid offline_access); else, with no resolution,
// [DefaultScopes]. A protected resource whose challenge and metadata name
// no scope (and whose server offers neither openid nor offline_access)
// gets none: the authorization request then has no scope parameter, as
// the MCP authorization spec's scope selection says, rather than scopes
// the resource never asked for.
func LoginScopes(given []string, res *Resolution, t Target) []string {
	switch {
	case len(given) > 0:
		return given
	case res != nil && (len(res.Scopes) > 0 || res.Kind == KindResource):
		return res.Scopes
	}
	return DefaultScopes(t)
}

// Candidates lists the metadata URLs for a target, most likely first (S17):
//   - Databricks account: HOST/oidc/accounts/ID/.well-known/oauth-authorization-server
//   - Databricks workspace: HOST/oidc/.well-known/oauth-authorization-server
//   - OpenID Connect: ISSUER/.well-known/openid-configuration
//   - RFC 8414 §3.1: the well-known segment goes between host and path.
//
// Databricks hosts are tried Databricks-first; any other host tries the
// standard documents first, so a generic provider costs one round trip.
// host must be normalized.
func Candidates(t Target) []Candidate {
	u, err := url.Parse(t.Host)
	if err != nil {
		return nil
	}
	origin := u.Scheme + "://" + u.Host
	const asWK = "/.well-known/oauth-authorization-server"
	var dbx []Candidate
	if t.AccountID != "" {
		iss := t.Host + "/oidc/accounts/" + url.PathEscape(t.AccountID)
		dbx = append(dbx, Candidate{URL: iss + asWK, Issuer: iss})
	}
	dbx = append(dbx, Candidate{URL: t.Host + "/oidc" + asWK, Issuer: t.Host + "/oidc"})
	std := []Candidate{
		{URL: t.Host + "/.well-known/openid-configuration", Issuer: t.Host, OpenID: true},
		{URL: origin + asWK + u.Path, Issuer: t.Host},
	}
	if t.AccountID != "" || IsDatabricksHost(t.Host) {
		return append(dbx, std...)
	}
	return append(std, dbx...)
}

// IssuerKeys lists the issuers a target may have been logged in under, in
// [Candidates] order, without duplicates: the offline way from a host to its
// cache entry.
func IssuerKeys(t Target, clientID string) []string {
	var keys []string
	for _, c := range Candidates(t) {
		k := Key(c.Issuer, clientID)
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// ParseMetadata reads a metadata document fetched from c and checks it: the
// issuer must be the one c expects (S18; a lone trailing slash is tolerated,
// as several providers publish one), and every endpoint must be https or
// loopback (S19). It needs a token endpoint only: a server for grants
// without a person (client credentials, token exchange) may have no
// authorization endpoint, so what a browser login needs besides is checked
// when a browser login uses the metadata ([Metadata.CheckBrowserLogin]).
func ParseMetadata(c Candidate, body []byte) (*Metadata, error) {
	var m Metadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%w at %s", errMetadataNotJSON, c.URL)
	}
	if strings.TrimSuffix(m.Issuer, "/") != strings.TrimSuffix(c.Issuer, "/") {
		return nil, fmt.Errorf("%w: metadata at %s declares issuer %q, want %q", ErrIssuerMismatch, c.URL, m.Issuer, c.Issuer)
	}
	if m.TokenEndpoint == "" {
		return nil, fmt.Errorf("metadata at %s lacks token_endpoint", c.URL)
	}
	for _, e := range []string{m.Issuer, m.AuthorizationEndpoint, m.TokenEndpoint, m.RevocationEndpoint, m.DeviceAuthorizationEndpoint, m.UserinfoEndpoint, m.RegistrationEndpoint} {
		if e == "" {
			continue
		}
		if err := CheckURL(e); err != nil {
			return nil, fmt.Errorf("metadata at %s: %w", c.URL, err)
		}
	}
	m.OpenID = c.OpenID || declaresOpenID(m, body)
	return &m, nil
}

// declaresOpenID reports whether a metadata document shows an OpenID
// provider whatever its address: one that offers the openid scope, or
// signs ID tokens (id_token_signing_alg_values_supported, which OpenID
// Connect Discovery requires and RFC 8414 does not define). Providers
// publish the same document at the RFC 8414 address too, the one the MCP
// order asks first for a resource's server: read from there, an OpenID
// provider is still one, and the prompt=consent rule of OpenID Connect
// Core §11 still holds (without it the provider ignores offline_access
// and may answer at once from its session, with no page at all).
func declaresOpenID(m Metadata, body []byte) bool {
	if slices.Contains(m.ScopesSupported, "openid") {
		return true
	}
	var oidc struct {
		IDTokenAlgs []string `json:"id_token_signing_alg_values_supported"`
	}
	return json.Unmarshal(body, &oidc) == nil && len(oidc.IDTokenAlgs) > 0
}

// CheckSignInOrigin is the mix-up rule (RFC 9700 §4.4) for the page where
// the user signs in: the authorization endpoint of a browser login, the
// verification URI of a device login. That page must be on the issuer's
// origin or on the token endpoint's. Otherwise the metadata of a server the
// user named (and may not trust) sends the user to sign in at another
// server, whose code (or approval) then goes to this one's token endpoint:
// a hostile server redeems it at the honest one. Real servers pass: Google
// signs in on its issuer's origin and has its token endpoint elsewhere;
// Cognito signs in on the custom domain of its token endpoint, its issuer
// being elsewhere.
//
// issChecked is true for a browser login whose metadata promises iss in
// the authorization response (RFC 9207): the callback is then refused
// unless it names this issuer, which catches a mix-up where it happens, so
// the page may be on any origin. A device login passes false: no
// authorization response comes back to carry iss, so the metadata's
// promise protects nothing there. Both targets run this check through the
// login and device machines, before the user is sent anywhere.
func (m *Metadata) CheckSignInOrigin(signIn string, issChecked bool) error {
	if issChecked || SameOrigin(signIn, m.Issuer) || SameOrigin(signIn, m.TokenEndpoint) {
		return nil
	}
	if sameOperator(origin(m.Issuer), origin(signIn)) {
		return nil
	}
	return fmt.Errorf("%w: refusing to log in to %s: its metadata sends you to sign in at %s, on neither the issuer's origin nor its token endpoint's (%s), so what you approve there would go to another server; to sign in at %s, log in to its own issuer",
		ErrMixUp, m.Issuer, Origin(signIn), Origin(m.TokenEndpoint), Origin(signIn))
}

// needsIDToken reports whether a login must also show, by an ID token
// whose iss is this issuer, that the tokens it gets are the issuer's own.
// That is decided by whose token endpoint issues them, not by where the
// user signs in: it is so when the token endpoint is off the issuer's
// origin (and not an origin of the issuer's own operator, such as
// Google's https://oauth2.googleapis.com). A hostile server A whose
// metadata names an honest server H's token endpoint — with a sign-in page
// on H's origin, or on A's own that just redirects to H (a device
// verification_uri the same) — gets the user to approve at H, H's token
// endpoint answers with H's tokens, and without this they would be stored
// under A, for `auth token A` to hand to A (H7). An iss in the
// authorization response that must name this issuer (issChecked, RFC 9207)
// binds a browser login as well: H's callback names H. Without it, only an
// ID token does (so the login asks for openid, and a success without one
// saves nothing: [ErrNotBound]). This stops an attacker who controls only
// metadata; a server that proxies H's token endpoint itself, and could
// mint its own ID token, is out of reach of any client rule.
func (m *Metadata) needsIDToken(issChecked bool) bool {
	return !issChecked && !SameOrigin(m.TokenEndpoint, m.Issuer) && !sameOperator(origin(m.Issuer), origin(m.TokenEndpoint))
}

// notBound is the error of a login that [Metadata.needsIDToken] and whose
// token endpoint answered without an ID token.
func (m *Metadata) notBound() error {
	return fmt.Errorf("%w: %w: refusing to save the login to %s: the tokens came from %s, off the issuer's origin, without an ID token from %s to show they are its own (they may be another server's); log in to that server's own issuer, or ask the operator of %s to send iss in the authorization response (RFC 9207)",
		ErrMixUp, ErrNotBound, m.Issuer, Origin(m.TokenEndpoint), m.Issuer, m.Issuer)
}

// bindingFailed is the error of a login whose ID token names another
// issuer (or does not fit it): the tokens may be another server's, a
// mix-up, whether or not the login [Metadata.needsIDToken].
func bindingFailed(err error) error {
	if errors.Is(err, ErrIssuerMismatch) {
		return fmt.Errorf("%w: %w (nothing saved: the tokens are another server's)", ErrMixUp, err)
	}
	return err
}

// checkBound is the binding check of a login's token response, before
// anything is saved (H7), one rule for the browser and device logins:
// without an ID token where one is needed (needID, see
// [Metadata.needsIDToken]), [Metadata.notBound]; any ID token, asked for
// or not, must name this issuer and the client — one naming another issuer
// is a mix-up whatever the shape — and carry nonce when one was sent (S7).
func (m *Metadata) checkBound(t *TokenResponse, needID bool, nonce, clientID string) error {
	if needID && t.IDToken == "" {
		return m.notBound()
	}
	if t.IDToken != "" {
		if err := checkIDToken(t.IDToken, nonce, m.Issuer, clientID); err != nil {
			return bindingFailed(err)
		}
	}
	return nil
}

// withOpenID is scopes with openid added when missing, for a login that
// [Metadata.needsIDToken].
func withOpenID(scopes []string) []string {
	if slices.Contains(scopes, "openid") {
		return scopes
	}
	return append([]string{"openid"}, scopes...)
}

// sameOperator reports whether signIn (an origin) is another https origin
// where the issuer's (an origin) own operator has users sign in, or (for
// [Metadata.needsIDToken]) issues its tokens: the device pages of
// Microsoft Entra ID (https://microsoft.com/devicelogin;
// https://microsoft.com/deviceloginus for the US Government cloud's
// login.microsoftonline.us, as MSAL's device code tests expect) and Google
// (https://www.google.com/device), and Google's token endpoint
// (https://oauth2.googleapis.com/token, as golang.org/x/oauth2/google
// has it). A pair is safe to trust because the
// issuer itself is authenticated: discovery refuses metadata whose issuer
// is not the one asked for, over TLS, so a hostile server cannot claim
// login.microsoftonline.com as its issuer to borrow the pair. Of Entra's
// national clouds only US Government is listed (its device page is
// confirmed): China's (login.chinacloudapi.cn) is not, so a device login
// there is refused until its page is known. A switch, not a map: no
// package init work on `auth token`'s path.
func sameOperator(issuer, signIn string) bool {
	switch issuer {
	case "https://login.microsoftonline.com":
		return signIn == "https://microsoft.com" || signIn == "https://www.microsoft.com" || signIn == "https://login.microsoft.com"
	case "https://login.microsoftonline.us":
		return signIn == "https://microsoft.com"
	case "https://accounts.google.com":
		// oauth2.googleapis.com: Google's token endpoint.
		return signIn == "https://www.google.com" || signIn == "https://google.com" || signIn == "https://oauth2.googleapis.com"
	}
	return false
}

// Origin is the origin of a URL (RFC 6454): scheme and host, lower case,
// without a default port; what a user is told a page is on.
func Origin(raw string) string { return origin(raw) }

// CheckBrowserLogin reports whether a browser login (authorization code +
// PKCE) can be made at this server: it needs an authorization endpoint on
// an origin that passes the mix-up rule ([Metadata.CheckSignInOrigin]),
// and PKCE S256 must not be ruled out (S2, S3).
func (m *Metadata) CheckBrowserLogin() error {
	if m.AuthorizationEndpoint == "" {
		return fmt.Errorf("the authorization server %s has no authorization_endpoint, so it offers no browser login (a client of its own logs in with --client-secret-stdin, --client-key or --subject-token)", m.Issuer)
	}
	if len(m.CodeChallengeMethodsSupported) > 0 && !slices.Contains(m.CodeChallengeMethodsSupported, "S256") {
		return fmt.Errorf("the authorization server at %s does not support PKCE S256 (only %s); dualauth never downgrades to plain",
			m.Issuer, strings.Join(m.CodeChallengeMethodsSupported, ", "))
	}
	return m.CheckSignInOrigin(m.AuthorizationEndpoint, m.AuthorizationResponseIssSupported)
}
