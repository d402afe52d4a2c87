package core

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Request is an HTTP request as data. Drivers send it with net/http or the
// browser's fetch; Body is form-encoded when Form is set, else JSON (a
// client registration) when JSON is set.
type Request struct {
	Method string
	URL    string
	Header map[string]string
	Form   url.Values
	JSON   []byte
	// secrets are values sent outside the form (a Basic header's secret)
	// that [Request.scrub] removes from server messages too.
	secrets []string
}

// Body returns the encoded request body ("" for none).
func (r Request) Body() string {
	if r.Form == nil {
		return string(r.JSON)
	}
	return r.Form.Encode()
}

// MaxResponseBytes caps what a driver reads of any response: metadata and
// tokens are a few kB, and a hostile server must not fill the memory.
const MaxResponseBytes = 1 << 20

// ErrTooLarge is the [Fetched] error of a response over [MaxResponseBytes].
var ErrTooLarge = errors.New("the response is too large (over 1 MiB)")

// Response is what came back for a [Request]. WWWAuthenticate is the
// WWW-Authenticate header of a 401 (RFC 9728 §5.1 names the resource
// metadata there); drivers copy it from every response.
type Response struct {
	Status          int
	ContentType     string
	WWWAuthenticate string
	// DPoPNonce is the DPoP-Nonce header (RFC 9449 §8, §9).
	DPoPNonce string
	// Location is the Location header of a redirect ([FetchResource]).
	Location string
	Body     []byte
}

// tooLong: a body over the cap, from a driver that did not refuse it.
func tooLong(r Response) bool { return len(r.Body) > MaxResponseBytes }

// Client identifies the OAuth client. A public client (the default for CLIs
// and browsers, RFC 8252 §8.4) has no Secret; its client_id goes in the form
// body, which also keeps browsers free of a CORS preflight.
type Client struct {
	ID     string
	Secret string
}

func getRequest(u string) Request {
	return Request{Method: "GET", URL: u, Header: map[string]string{"Accept": "application/json"}}
}

func (c Client) formRequest(endpoint string, form url.Values) Request {
	form.Set("client_id", c.ID)
	if c.Secret != "" {
		form.Set("client_secret", c.Secret)
	}
	return Request{
		Method: "POST",
		URL:    endpoint,
		Header: map[string]string{
			"Content-Type": "application/x-www-form-urlencoded",
			"Accept":       "application/json",
		},
		Form: form,
	}
}

// CodeRequest builds the authorization_code token request (RFC 6749 §4.1.3,
// RFC 7636 §4.5): the code, the verifier and the exact redirect URI of the
// authorize request (S4).
func (c Client) CodeRequest(tokenURL, code, verifier, redirectURI string) Request {
	return c.formRequest(tokenURL, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"code_verifier": {verifier},
		"redirect_uri":  {redirectURI},
	})
}

// RefreshRequest builds the refresh_token request (RFC 6749 §6).
func (c Client) RefreshRequest(tokenURL, refreshToken string) Request {
	return c.formRequest(tokenURL, url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
	})
}

// RevokeRequest builds a token revocation request (RFC 7009 §2.1).
func (c Client) RevokeRequest(revocationURL, token, hint string) Request {
	return c.formRequest(revocationURL, url.Values{
		"token":           {token},
		"token_type_hint": {hint},
	})
}

// Client authentication methods at the token endpoint (RFC 8414
// token_endpoint_auth_methods_supported, RFC 7591 §2).
const (
	AuthNone          = "none"                // public client: client_id in the form
	AuthSecretBasic   = "client_secret_basic" // RFC 6749 §2.3.1, HTTP Basic
	AuthSecretPost    = "client_secret_post"  // RFC 6749 §2.3.1, secret in the form
	AuthPrivateKeyJWT = "private_key_jwt"     // RFC 7523 §2.2, a signed assertion
)

// Grant types and token types of the grants without a person.
const (
	ClientCredentialsGrantType = "client_credentials"                              // RFC 6749 §4.4
	TokenExchangeGrantType     = "urn:ietf:params:oauth:grant-type:token-exchange" // RFC 8693 §2.1
	JWTTokenType               = "urn:ietf:params:oauth:token-type:jwt"            // RFC 8693 §3
	AccessTokenType            = "urn:ietf:params:oauth:token-type:access_token"   // RFC 8693 §3
	ClientAssertionType        = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// ClientAuth is how a confidential client proves itself in one request:
// Method with the Secret, or with a signed Assertion (private_key_jwt).
type ClientAuth struct {
	Method    string
	Secret    string
	Assertion string
}

// grantRequest builds a token request authenticated by a: HTTP Basic with
// the form-urlencoded ID and secret (RFC 6749 §2.3.1), the secret or the
// assertion in the form, or only client_id for a public client.
func (c Client) grantRequest(endpoint string, form url.Values, a ClientAuth) Request {
	r := Client{ID: c.ID}.formRequest(endpoint, form)
	switch a.Method {
	case AuthSecretBasic:
		form.Del("client_id")
		cred := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ID) + ":" + url.QueryEscape(a.Secret)))
		r.Header["Authorization"] = "Basic " + cred
		r.secrets = []string{cred, a.Secret} // the encoded pair is the secret too
	case AuthSecretPost:
		form.Set("client_secret", a.Secret)
	case AuthPrivateKeyJWT:
		form.Set("client_assertion_type", ClientAssertionType)
		form.Set("client_assertion", a.Assertion)
	}
	return r
}

// ClientCredentialsRequest builds the client_credentials token request
// (RFC 6749 §4.4.2).
func (c Client) ClientCredentialsRequest(tokenURL string, scopes []string, a ClientAuth) Request {
	form := url.Values{"grant_type": {ClientCredentialsGrantType}}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	return c.grantRequest(tokenURL, form, a)
}

// TokenExchangeRequest builds the token exchange request of RFC 8693 §2.1:
// the subject token (a CI job's or workload's own token) for an access
// token of this server.
func (c Client) TokenExchangeRequest(tokenURL, subjectToken, subjectTokenType string, scopes []string, a ClientAuth) Request {
	form := url.Values{
		"grant_type":         {TokenExchangeGrantType},
		"subject_token":      {subjectToken},
		"subject_token_type": {subjectTokenType},
	}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	return c.grantRequest(tokenURL, form, a)
}

// secretParams are the form fields whose values must never reach a message.
var secretParams = []string{"code", "code_verifier", "refresh_token", "client_secret", "token", "device_code", "client_assertion", "subject_token"}

// scrub removes this request's secrets from an error the server described:
// a careless server may echo them in error_description (S25).
func (r Request) scrub(err error) error {
	oe, ok := err.(*OAuthError)
	if !ok {
		return err
	}
	out := *oe
	vals := r.secrets
	for _, k := range secretParams {
		vals = append(vals, r.Form.Get(k))
	}
	for _, v := range vals {
		if v != "" {
			out.Description = strings.ReplaceAll(out.Description, v, "[redacted]")
			out.URI = strings.ReplaceAll(out.URI, v, "[redacted]")
		}
	}
	return &out
}

// TokenResponse is a successful token endpoint response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken  string
	TokenType    string
	RefreshToken string
	IDToken      string
	Scope        string
	// Expiry is zero when the server gave no expires_in.
	Expiry time.Time
}

type wireToken struct {
	AccessToken  string          `json:"access_token"`
	TokenType    string          `json:"token_type"`
	RefreshToken string          `json:"refresh_token"`
	IDToken      string          `json:"id_token"`
	Scope        string          `json:"scope"`
	ExpiresIn    json.RawMessage `json:"expires_in"`
}

// ParseTokenResponse reads a token endpoint response received at now. A
// §5.2 error body becomes an [*OAuthError]; anything else that is not a
// token gives an error that describes the response without quoting it, so
// no secret can leak into logs (S25).
//
// A 200 answer that is unusable (no access_token, a bad expires_in, a
// token_type other than Bearer) still returns the parsed response beside
// the error: a refresh token in it may be the only live one left, since the
// server has already spent the old one (S38). An answer with a token
// outside VSCHAR is the exception: nothing of it is kept
// ([TokenCharsetError]).
func ParseTokenResponse(r Response, now time.Time) (*TokenResponse, error) {
	return parseTokenResponse(r, now, false)
}

// parseTokenResponse is [ParseTokenResponse] for a request that carried a
// DPoP proof when proved: only then is a DPoP token usable (RFC 9449 §5).
func parseTokenResponse(r Response, now time.Time, proved bool) (*TokenResponse, error) {
	isJSON := looksJSON(r)
	if r.Status != 200 {
		if isJSON {
			if oe := parseOAuthError(r.Body); oe != nil {
				return nil, oe
			}
		}
		return nil, fmt.Errorf("token endpoint answered HTTP %d%s", r.Status, describeBody(r, isJSON))
	}
	var w wireToken
	if err := json.Unmarshal(r.Body, &w); err != nil {
		// Field by field, so a good refresh_token survives a bad neighbour
		// (say "expires_in": {}).
		var loose map[string]json.RawMessage
		if json.Unmarshal(r.Body, &loose) == nil {
			var at, rt, id string
			json.Unmarshal(loose["access_token"], &at)
			json.Unmarshal(loose["id_token"], &id)
			if json.Unmarshal(loose["refresh_token"], &rt) == nil && rt != "" {
				if err := checkTokenChars(at, rt, id); err != nil {
					return nil, err
				}
				return &TokenResponse{RefreshToken: rt}, fmt.Errorf("token endpoint answered HTTP 200 with a malformed token response")
			}
		}
		return nil, fmt.Errorf("token endpoint answered HTTP 200 with a body that is not a JSON token response%s", describeBody(r, isJSON))
	}
	t := &TokenResponse{
		AccessToken:  w.AccessToken,
		TokenType:    w.TokenType,
		RefreshToken: w.RefreshToken,
		IDToken:      w.IDToken,
		Scope:        w.Scope,
	}
	if err := checkTokenChars(t.AccessToken, t.RefreshToken, t.IDToken); err != nil {
		return nil, err
	}
	if w.AccessToken == "" {
		if oe := parseOAuthError(r.Body); oe != nil {
			return nil, oe // some servers send errors with 200
		}
		return partial(t, fmt.Errorf("token endpoint response has no access_token"))
	}
	switch {
	case t.TokenType == "":
		t.TokenType = "Bearer" // required by §5.1, yet some servers omit it
	case strings.EqualFold(t.TokenType, "bearer"):
		t.TokenType = "Bearer" // case-insensitive (RFC 6749 §5.1); one spelling in the cache
	case proved && strings.EqualFold(t.TokenType, DPoPTokenType):
		t.TokenType = DPoPTokenType
	default:
		return partial(t, &TokenTypeError{Type: t.TokenType})
	}
	secs, err := parseExpiresIn(w.ExpiresIn)
	if err != nil {
		return partial(t, err)
	}
	switch {
	case secs > 0:
		t.Expiry = now.Add(time.Duration(secs) * time.Second)
	case secs == 0 && len(w.ExpiresIn) > 0 && string(w.ExpiresIn) != "null":
		t.Expiry = now // "expires_in": 0 is a token already expired, not one that never expires
	}
	return t, nil
}

// TokenCharsetError is a token endpoint answer with a token (Field:
// access_token, refresh_token or id_token) outside RFC 6749's VSCHAR
// (%x20-7E, Appendix A). Such a token would carry escape sequences to a
// terminal (`auth token -o text`) or CR LF into an HTTP header (`curl -H
// "Authorization: Bearer $(auth token …)"`), so nothing of the answer is
// kept. The token itself is never in the message.
type TokenCharsetError struct{ Field string }

func (e *TokenCharsetError) Error() string {
	return fmt.Sprintf("the %s in the token endpoint's answer has characters outside %%x20-7E (control characters or non-ASCII); dualauth neither stores nor prints such a token: ask the server's operator to issue plain ASCII tokens", e.Field)
}

// checkTokenChars refuses an answer with a token outside VSCHAR. Nothing
// of such an answer is kept, its refresh token included (unlike the other
// unusable answers of [ParseTokenResponse]): the server sends tokens no
// tool can safely carry, so its next one is no better.
func checkTokenChars(access, refresh, id string) error {
	for _, f := range [...]struct{ name, value string }{{"access_token", access}, {"refresh_token", refresh}, {"id_token", id}} {
		if !vschar(f.value) {
			return &TokenCharsetError{Field: f.name}
		}
	}
	return nil
}

// vschar reports whether s is made of VSCHAR (%x20-7E) only.
func vschar(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// partial keeps only what may be saved from an unusable answer: its
// refresh token.
func partial(t *TokenResponse, err error) (*TokenResponse, error) {
	if t.RefreshToken == "" {
		return nil, err
	}
	return &TokenResponse{RefreshToken: t.RefreshToken}, err
}

// TokenTypeError is a token of a type this client cannot use: it sends
// access tokens as Bearer (RFC 6750), and as DPoP (RFC 9449) only when it
// asked with a proof, so anything else would be handed out and then fail
// at every API.
type TokenTypeError struct{ Type string }

func (e *TokenTypeError) Error() string {
	return fmt.Sprintf("token endpoint issued a token of type %q; dualauth can only use Bearer tokens (and DPoP tokens for a login that sends DPoP proofs)", e.Type)
}

// parseExpiresIn accepts a JSON number or a numeric string (seen from older
// servers); absent or null means unknown.
const maxLifetimeSeconds = 10 * 365 * 24 * 3600

func parseExpiresIn(raw json.RawMessage) (int64, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, nil
	}
	if unq, err := strconv.Unquote(s); err == nil {
		s = unq
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) {
		return 0, fmt.Errorf("token endpoint response has an invalid expires_in")
	}
	// A lifetime past ten years is as good as "long": clamping keeps the
	// arithmetic away from time.Duration's ±292-year overflow.
	return int64(min(f, maxLifetimeSeconds)), nil
}

func looksJSON(r Response) bool {
	// The media type without parameters, case-insensitive (RFC 9110 8.3.1);
	// package mime would cost the browser build 50 kB for this.
	mt, _, _ := strings.Cut(r.ContentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		return true
	}
	b := bytes.TrimSpace(r.Body)
	return len(b) > 0 && b[0] == '{'
}

func describeBody(r Response, isJSON bool) string {
	switch {
	case len(r.Body) == 0:
		return " with an empty body"
	case isJSON:
		return fmt.Sprintf(" (%d bytes of JSON without an OAuth error code)", len(r.Body))
	case r.ContentType != "":
		return fmt.Sprintf(" (%d bytes of %s)", len(r.Body), r.ContentType)
	}
	return fmt.Sprintf(" (%d bytes)", len(r.Body))
}

// OAuth2 converts the response into a [Token] (an *oauth2.Token outside
// the browser).
func (t *TokenResponse) OAuth2() *Token {
	return &Token{AccessToken: t.AccessToken, TokenType: t.TokenType, RefreshToken: t.RefreshToken, Expiry: t.Expiry}
}
