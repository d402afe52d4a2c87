package core

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DPoP (RFC 9449) binds a login's tokens to a key pair the client keeps:
// every token request, and every request to a resource, carries a proof
// signed with the private key, so a copied token is worthless without it.
// The core builds the proofs and keeps the nonces; the driver creates the
// key ([CreateKey]) and signs ([Sign]) and never hands the private key out.

// The DPoP modes of a login (`--dpop`, a profile's `dpop`, the browser
// API's `dpop` option).
const (
	// DPoPAuto uses DPoP when the authorization server supports ES256
	// proofs and either the resource requires bound tokens (RFC 9728
	// dpop_bound_access_tokens_required) or the client was registered for
	// them.
	DPoPAuto = "auto"
	// DPoPAlways sends proofs, and refuses a token that is not bound.
	DPoPAlways = "always"
	// DPoPNever sends no proof: bearer tokens, as before DPoP.
	DPoPNever = "never"
)

// ParseDPoPMode reads a DPoP mode; "" is auto.
func ParseDPoPMode(s string) (string, error) {
	switch m := strings.ToLower(strings.TrimSpace(s)); m {
	case "":
		return DPoPAuto, nil
	case DPoPAuto, DPoPAlways, DPoPNever:
		return m, nil
	}
	return "", fmt.Errorf("dpop must be auto, always or never, not %q", s)
}

// DPoPTokenType is the token_type of a bound token (RFC 9449 §5), and the
// scheme of its Authorization header (§7.1).
const DPoPTokenType = "DPoP"

// JWK is a P-256 public key as a JSON Web Key (RFC 7518 §6.2.1): what a
// proof's header carries. It holds nothing secret.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// check accepts an EC P-256 public key whose coordinates are 32 bytes each.
func (k JWK) check() error {
	if k.Kty != "EC" || k.Crv != "P-256" {
		return fmt.Errorf("the DPoP key is %s %s, not EC P-256", k.Kty, k.Crv)
	}
	for _, c := range []string{k.X, k.Y} {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(b) != 32 {
			return errors.New("the DPoP key's public coordinates are not 32 bytes of base64url")
		}
	}
	return nil
}

// Thumbprint is the key's JWK SHA-256 thumbprint (RFC 7638): the
// required members in lexicographic order, no whitespace. Servers bind
// tokens to it (cnf.jkt, RFC 9449 §6).
func (k JWK) Thumbprint() string {
	canon := `{"crv":"` + k.Crv + `","kty":"` + k.Kty + `","x":"` + k.X + `","y":"` + k.Y + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// DPoPKey is the key a login's tokens are bound to, as the cache entry
// records it: the driver's name for the private key (which stays in the
// driver's key store), the public key, its thumbprint, and the latest
// nonce each server gave.
type DPoPKey struct {
	// Key names the private key for [Sign] (natively "dpop:ID", in the
	// browser an IndexedDB record).
	Key string `json:"key"`
	JWK JWK    `json:"jwk"`
	// JKT is the RFC 7638 thumbprint of JWK.
	JKT string `json:"jkt"`
	// Required: the login asked for DPoP (--dpop always), so a token that
	// comes back unbound is refused.
	Required bool `json:"required,omitempty"`
	// Nonces is the latest DPoP-Nonce per server (scheme://host).
	Nonces map[string]string `json:"nonces,omitempty"`
}

// clone copies k, so that a machine's nonce updates reach only the entry
// it saves.
func (k *DPoPKey) clone() *DPoPKey {
	if k == nil {
		return nil
	}
	c := *k
	if k.Nonces != nil {
		c.Nonces = make(map[string]string, len(k.Nonces))
		for o, n := range k.Nonces {
			c.Nonces[o] = n
		}
	}
	return &c
}

// maxNonce caps a server's nonce: it is echoed in every proof.
const maxNonce = 1024

// Nonce is the latest nonce of the server at target ("" for none).
func (k *DPoPKey) Nonce(target string) string {
	if k == nil {
		return ""
	}
	return k.Nonces[origin(target)]
}

// Remember keeps nonce as the latest of the server at target.
func (k *DPoPKey) Remember(target, nonce string) {
	if k == nil || nonce == "" || len(nonce) > maxNonce || !printableASCII(nonce) {
		return
	}
	if k.Nonces == nil {
		k.Nonces = map[string]string{}
	}
	k.Nonces[origin(target)] = nonce
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func origin(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return target
	}
	return strings.ToLower(u.Scheme) + "://" + canonicalHost(u)
}

// canonicalHost is u's host as a server sees it in the Host header, and
// as [NormalizeHost] writes it: lower case, without a default port, and
// without the ":" of an empty one.
func canonicalHost(u *url.URL) string {
	h := strings.ToLower(strings.TrimSuffix(u.Host, ":"))
	scheme := strings.ToLower(u.Scheme)
	if p := u.Port(); (scheme == "https" && p == "443") || (scheme == "http" && p == "80") {
		h = strings.TrimSuffix(h, ":"+p)
	}
	return h
}

// CreateKey asks the driver for a new ES256 (P-256) key pair and to answer
// with [KeyCreated]. The driver keeps the private key in its own store (a
// keyring or a 0600 file natively, a non-extractable WebCrypto key in the
// browser) and names it for later [Sign] effects; only the public key
// comes back. For is the cache key of the login the key is for.
type CreateKey struct {
	Alg string
	For string
}

// KeyCreated answers [CreateKey].
type KeyCreated struct {
	Key string
	JWK JWK
	Err error
}

func (CreateKey) effect() {}
func (KeyCreated) event() {}

// newDPoPKey checks the driver's answer and makes the entry's record of it.
func newDPoPKey(ev KeyCreated, required bool) (*DPoPKey, error) {
	if ev.Err != nil {
		return nil, fmt.Errorf("creating the DPoP key: %w", ev.Err)
	}
	if ev.Key == "" {
		return nil, errors.New("creating the DPoP key: the driver named no key")
	}
	if err := ev.JWK.check(); err != nil {
		return nil, fmt.Errorf("creating the DPoP key: %w", err)
	}
	return &DPoPKey{Key: ev.Key, JWK: ev.JWK, JKT: ev.JWK.Thumbprint(), Required: required}, nil
}

// ProofType is the typ of a DPoP proof's header (RFC 9449 §4.2).
const ProofType = "dpop+jwt"

// ProofClaims are the claims of a DPoP proof (RFC 9449 §4.2).
type ProofClaims struct {
	JWTID    string `json:"jti"`
	Method   string `json:"htm"`
	URI      string `json:"htu"`
	IssuedAt int64  `json:"iat"`
	// ATH is the access token's hash, on requests to a resource.
	ATH   string `json:"ath,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

// HTU is a request URL as a proof names it (RFC 9449 §4.2): without query
// and fragment, the scheme and host in lower case and without a default
// port, so that it compares equal to what the server sees.
func HTU(target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("a DPoP proof needs an http(s) URL, not %q", target)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = canonicalHost(u)
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment, u.User = "", false, "", "", nil
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String(), nil
}

// ATH is the access token hash of a proof (RFC 9449 §4.2): base64url of
// its SHA-256.
func ATH(accessToken string) string { return S256Challenge(accessToken) } // the same hash

// ProofInput builds what [Sign] signs for one request: the header (typ
// dpop+jwt, ES256, the public key) and fresh claims — a jti of 16 bytes
// from rand, iat now, the exact method and URL, ath when an access token
// goes with the request, and the nonce when there is one (S35).
func ProofInput(k *DPoPKey, method, target, accessToken, nonce string, now time.Time, rand io.Reader) ([]byte, error) {
	if k == nil {
		return nil, errors.New("no DPoP key")
	}
	if rand == nil {
		return nil, errors.New("DPoP proof: no entropy for its jti")
	}
	htu, err := HTU(target)
	if err != nil {
		return nil, err
	}
	jti, err := randomString(rand, 16)
	if err != nil {
		return nil, fmt.Errorf("DPoP proof: %w", err)
	}
	// The method exactly as sent: methods are case-sensitive (RFC 9110
	// §9.1), and fetch and net/http send "patch" as "patch".
	c := ProofClaims{JWTID: jti, Method: method, URI: htu, IssuedAt: now.Unix(), Nonce: nonce}
	if accessToken != "" {
		c.ATH = ATH(accessToken)
	}
	return SigningInput(AlgES256, ProofType, map[string]any{"jwk": k.JWK}, c)
}

// ResourceProof is the [Sign] effect for a proof of one request to a
// resource with e's access token: `auth proof`, `auth api` and the
// browser's fetch perform it and join input and signature with
// [CompactJWS]. The nonce is the one given, else the latest the resource
// sent. It fails for a login that is not bound to a key.
func ResourceProof(e *Entry, method, target, nonce string, now time.Time, rand io.Reader) (Sign, error) {
	if e == nil || e.DPoP == nil {
		return Sign{}, errors.New("this login does not use DPoP: it has no key to prove with")
	}
	if !onLoginsOrigin(target, e) { // the proof names the token (ath); both go there only
		return Sign{}, &wrongOrigin{url: target, host: e.Host}
	}
	if nonce == "" {
		nonce = e.DPoP.Nonce(target)
	}
	in, err := ProofInput(e.DPoP, method, target, e.AccessToken, nonce, now, rand)
	if err != nil {
		return Sign{}, err
	}
	return Sign{Key: e.DPoP.Key, Alg: AlgES256, Input: in}, nil
}

// Authorization is the Authorization header value for t: "DPoP TOKEN" for
// a bound token (RFC 9449 §7.1), "Bearer TOKEN" otherwise.
func Authorization(t *Token) string {
	if strings.EqualFold(t.TokenType, DPoPTokenType) {
		return DPoPTokenType + " " + t.AccessToken
	}
	return "Bearer " + t.AccessToken
}

// ResourceNonce reads a resource's answer: a 401 whose WWW-Authenticate
// says use_dpop_nonce, with a DPoP-Nonce header (RFC 9449 §9), asks for
// the request again with that nonce. It returns the nonce, or "".
func ResourceNonce(status int, wwwAuthenticate, dpopNonce string) string {
	if status != 401 || dpopNonce == "" || len(dpopNonce) > maxNonce || !printableASCII(dpopNonce) {
		return ""
	}
	if !strings.Contains(strings.ToLower(wwwAuthenticate), "use_dpop_nonce") {
		return ""
	}
	return dpopNonce
}

// useDPoP decides whether a login binds its tokens (see the modes).
// registered says the client was registered for bound tokens.
func useDPoP(mode string, m Metadata, res *Resolution, registered bool) (bool, error) {
	es256 := slices.Contains(m.DPoPSigningAlgValuesSupported, AlgES256)
	switch mode {
	case DPoPNever:
		return false, nil
	case DPoPAlways:
		if len(m.DPoPSigningAlgValuesSupported) == 0 {
			// Refused before the user is sent to sign in: the tokens
			// would come back unbound, or not at all (RFC 9449 §5.1).
			return false, fmt.Errorf("%w: %s publishes no dpop_signing_alg_values_supported, so tokens cannot be bound to a key; log in with DPoP mode auto or never (--dpop auto, or dpop: 'auto' in the browser)", ErrDPoPUnsupported, Sanitize(m.Issuer))
		}
		if !es256 {
			return false, fmt.Errorf("%s takes DPoP proofs signed with %s only; dualauth signs them with ES256: use --dpop auto or never",
				m.Issuer, Sanitize(strings.Join(m.DPoPSigningAlgValuesSupported, ", ")))
		}
		return true, nil
	}
	return es256 && (registered || res != nil && res.DPoPRequired), nil
}

// errNonceRetry: the server asked for a nonce and the request must be
// built again (a client assertion cannot be sent twice).
var errNonceRetry = errors.New("dpop: the request must be sent again with the server's nonce")

// dpopSend sends one token request, with a DPoP proof when the login has
// a key: Sign → Fetch, and exactly once more with the server's nonce when
// it answers use_dpop_nonce (RFC 9449 §8). It remembers every nonce the
// server sends in the key, which the entry saves.
type dpopSend struct {
	key  *DPoPKey
	rand io.Reader
	// rebuild: on a nonce retry, hand back errNonceRetry so that the
	// caller builds the request anew, rather than resend it.
	rebuild bool
	req     Request
	input   []byte
	now     time.Time
	retried bool
	proved  bool // the last request carried a proof
}

// send sends req at now: a Sign for its proof, or the Fetch itself when
// the login does not use DPoP.
func (s *dpopSend) send(req Request, now time.Time) (Effect, error) {
	s.req, s.now = req, now
	if s.key == nil {
		s.proved = false
		return Fetch{Request: req}, nil
	}
	in, err := ProofInput(s.key, req.Method, req.URL, "", s.key.Nonce(req.URL), now, s.rand)
	if err != nil {
		return nil, err
	}
	s.input = in
	return Sign{Key: s.key.Key, Alg: AlgES256, Input: in}, nil
}

// reset starts a new request: its nonce retry is still to come.
func (s *dpopSend) reset() { s.retried = false }

// step consumes the answer to the last effect of [dpopSend.send]: the
// Fetched that answers the request, or the next effect.
func (s *dpopSend) step(ev Event) (*Fetched, Effect, error) {
	switch ev := ev.(type) {
	case Signed:
		if ev.Err != nil {
			return nil, nil, fmt.Errorf("signing the DPoP proof: %w", ev.Err)
		}
		req := s.req
		req.Header = make(map[string]string, len(s.req.Header)+1)
		for k, v := range s.req.Header {
			req.Header[k] = v
		}
		req.Header["DPoP"] = CompactJWS(s.input, ev.Signature)
		s.proved = true
		return nil, Fetch{Request: req}, nil
	case Fetched:
		if ev.Err != nil || s.key == nil {
			return &ev, nil, nil
		}
		s.key.Remember(s.req.URL, ev.Response.DPoPNonce)
		if !s.retried && ev.Response.DPoPNonce != "" && tokenErrorCode(ev.Response) == "use_dpop_nonce" {
			s.retried = true
			if s.rebuild {
				return nil, nil, errNonceRetry
			}
			now := s.now
			if !ev.Now.IsZero() {
				now = ev.Now
			}
			e, err := s.send(s.req, now)
			return nil, e, err
		}
		return &ev, nil, nil
	}
	return nil, nil, fmt.Errorf("dpop: unexpected %T", ev)
}

// parse reads the token response: a DPoP token only when a proof was
// sent, and a bound one when the login requires it.
func (s *dpopSend) parse(f Fetched) (*TokenResponse, error) {
	t, err := parseTokenResponse(f.Response, f.Now, s.proved)
	if err == nil && s.key != nil && s.key.Required && t.TokenType != DPoPTokenType {
		return partial(t, fmt.Errorf("the server issued a %s token for a DPoP proof; this login requires bound tokens (--dpop always), and the server may not support DPoP: log in with --dpop auto (bound tokens where the server offers them) or --dpop never", t.TokenType))
	}
	return t, err
}

// tokenErrorCode is the OAuth error code of a token endpoint's 400/401.
func tokenErrorCode(r Response) string {
	if r.Status != 400 && r.Status != 401 {
		return ""
	}
	var oe struct {
		Code string `json:"error"`
	}
	if json.Unmarshal(r.Body, &oe) != nil {
		return ""
	}
	return oe.Code
}
