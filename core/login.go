package core

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
)

// PendingTTL is how long a started login waits for its callback before the
// pending record is void (S27).
const PendingTTL = 10 * time.Minute

// LoginConfig says what to log in to and how.
type LoginConfig struct {
	Target Target
	Client Client
	Scopes []string
	// RedirectURI is where the server sends the browser back: the native
	// loopback listener or the page that loads the wasm.
	RedirectURI string
	// ReturnTo is kept with the pending login for a browser to go back to.
	ReturnTo string
	// Prompt is sent as prompt=. Empty means automatic: "consent" when
	// offline_access and openid are asked of an OpenID provider (OpenID
	// Connect Core §11), nothing otherwise. PromptNone sends no prompt.
	Prompt string
	// AuthParams are extra authorize parameters (they cannot override the
	// protocol's own: state, PKCE, redirect_uri…).
	AuthParams url.Values
	// Metadata, when known, skips discovery.
	Metadata *Metadata
	// Resolution, when known (see [Resolve]), gives the metadata and the
	// resource, and is saved with the login. With no Client.ID, a client
	// is registered at the issuer (RFC 7591) or the one registered before
	// is reused.
	Resolution *Resolution
	// AppType is the application_type a registration asks for: [AppNative]
	// (the default) or [AppWeb].
	AppType string
	// PendingTTL is how long the login waits for its callback; 0 means
	// [PendingTTL]. A CLI passes its --timeout, so that a slow sign-in
	// within it is not refused.
	PendingTTL time.Duration
	// DPoP is the DPoP mode ([DPoPAuto] when empty, [DPoPAlways],
	// [DPoPNever]).
	DPoP string
	// MovableRedirect says the driver chose RedirectURI itself (a
	// loopback listener on a free port) and can receive the callback at
	// another loopback redirect URI instead ([Listen]): a client dualauth
	// registered is then reused with exactly the redirect URI it was
	// registered with. Without it (a page's own URL, a redirect URI or
	// port the user set) such a client is reused only when its redirect
	// URI is RedirectURI; otherwise a new one is registered.
	MovableRedirect bool
}

// PromptNone in [LoginConfig.Prompt] sends no prompt parameter at all.
const PromptNone = "-"

// Pending is a started login, kept until its callback: serialisable so that
// a browser can resume it after the redirect (DESIGN.md). It holds the
// verifier, so drivers keep it only in the login's own storage.
type Pending struct {
	State       string    `json:"state"`
	Verifier    string    `json:"verifier"`
	Nonce       string    `json:"nonce,omitempty"`
	RedirectURI string    `json:"redirect_uri"`
	ReturnTo    string    `json:"return_to,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	Target      Target    `json:"target"`
	ClientID    string    `json:"client_id"`
	Scopes      []string  `json:"scopes"`
	// Metadata.Issuer is the issuer the callback must come from (S8).
	Metadata Metadata `json:"metadata"`
	// TTL is how long it waits for its callback; 0 means [PendingTTL].
	TTL time.Duration `json:"ttl,omitempty"`
	// Resolution is what target resolution found, the RFC 8707 resource
	// among it; nil for a login that did not resolve.
	Resolution *Resolution `json:"resolution,omitempty"`
	// Registered says the client is one dualauth registered.
	Registered bool `json:"registered,omitempty"`
	// DPoP is the login's DPoP mode; ClientDPoP says the client was
	// registered for DPoP-bound tokens.
	DPoP       string `json:"dpop,omitempty"`
	ClientDPoP bool   `json:"client_dpop,omitempty"`
	// Key is the login's DPoP key, made before the user is sent to sign
	// in, so that the authorization request binds the code to it
	// (dpop_jkt, RFC 9449 §10) and the exchange proves with it. The public
	// part and the key's name only: the private key stays in the driver's
	// store.
	Key *DPoPKey `json:"dpop_key,omitempty"`
}

func (p *Pending) resource() string {
	if p.Resolution == nil {
		return ""
	}
	return p.Resolution.Resource
}

// Expired reports whether the pending login is older than its TTL.
func (p *Pending) Expired(now time.Time) bool {
	ttl := p.TTL
	if ttl <= 0 {
		ttl = PendingTTL
	}
	return now.Sub(p.CreatedAt) > ttl
}

type loginPhase int

const (
	loginIdle loginPhase = iota
	loginDiscovering
	loginFindingClient // clientReg: the client registered before, or a new one
	loginForgetting    // clientReg: mark the registration the server refused
	loginSavingPending
	loginWaiting
	loginEarlyKeying // CreateKey before the authorization request (dpop_jkt)
	loginExchanging
	loginSaving // keep: lock, read the entry replaced, save, unlock
	loginDone
)

// Login is the authorization-code + PKCE machine: the seed's first diagram.
// Start → Fetch metadata (each candidate until one answers) → SavePending →
// Authorize → Callback (wrong state: Reject, keep waiting) → Fetch token →
// Lock → Load the entry it replaces → Save → DropKey of a DPoP key no
// longer used → Unlock, Done. A failed login drops the DPoP key it made.
type Login struct {
	cfg     LoginConfig
	phase   loginPhase
	disc    discovery
	pending Pending
	req     Request // the token request, to scrub its secrets from errors
	entry   Entry
	cr      clientReg // the client of a login without a client ID
	dp      dpopSend  // the token request, with a proof when the login uses DPoP
	kp      keep      // the save of the new entry
	rand    io.Reader
	now     time.Time
	nonce   string // for a login that asks openid once its metadata is known
}

// NewLogin returns a login that begins with [Start].
func NewLogin(cfg LoginConfig) *Login { return &Login{cfg: cfg} }

// ResumeLogin continues a login whose [Pending] was stored before a page
// unload: it waits for the [Callback]. It has had no [Start], so rand is
// the entropy of what is left (a DPoP proof's jti).
func ResumeLogin(p Pending, client Client, rand io.Reader) *Login {
	return &Login{
		cfg:     LoginConfig{Target: p.Target, Client: client, Scopes: p.Scopes, RedirectURI: p.RedirectURI, ReturnTo: p.ReturnTo},
		phase:   loginWaiting,
		pending: p,
		rand:    rand,
	}
}

// Pending returns the pending login once it exists.
func (l *Login) Pending() Pending { return l.pending }

// Step advances the login by one event.
func (l *Login) Step(ev Event) []Effect {
	if l.phase == loginFindingClient || l.phase == loginForgetting {
		return l.clientStep(ev)
	}
	if l.phase == loginSaving {
		effs, done := l.kp.stepLogin(ev, l.pending.Key)
		if done {
			l.phase = loginDone
		}
		return effs
	}
	switch ev := ev.(type) {
	case Start:
		if l.phase == loginIdle {
			return l.start(ev)
		}
	case Fetched:
		switch l.phase {
		case loginDiscovering:
			return l.discovered(ev)
		case loginExchanging:
			return l.exchanged(ev)
		}
	case Signed:
		if l.phase == loginExchanging {
			return l.exchanged(ev)
		}
	case KeyCreated:
		if l.phase == loginEarlyKeying {
			k, err := newDPoPKey(ev, l.pending.DPoP == DPoPAlways)
			if err != nil {
				return l.fail(err)
			}
			l.pending.Key = k
			l.phase = loginSavingPending
			return []Effect{SavePending{Pending: l.pending}}
		}
	case Saved:
		switch l.phase {
		case loginSavingPending:
			if ev.Err != nil {
				return l.fail(fmt.Errorf("saving the pending login: %w", ev.Err))
			}
			l.phase = loginWaiting
			return []Effect{Authorize{URL: l.authorizeURL()}}
		}
	case Callback:
		return l.callback(ev)
	case Aborted:
		return l.fail(ev.Err)
	}
	return l.fail(fmt.Errorf("login: unexpected %T in phase %d", ev, l.phase))
}

// fail ends the login with err, dropping the DPoP key it made (unless the
// driver keeps the pending login that names it: [ErrPendingKept]).
func (l *Login) fail(err error) []Effect {
	l.phase = loginDone
	return append(dropOwnKey(l.pending.Key, err), Done{Err: err})
}

func (l *Login) start(ev Start) []Effect {
	var raw [96]byte
	l.rand = ev.Rand
	if ev.Rand == nil {
		return l.fail(fmt.Errorf("login: no entropy source"))
	}
	if _, err := io.ReadFull(ev.Rand, raw[:]); err != nil {
		return l.fail(fmt.Errorf("login: reading entropy: %w", err))
	}
	enc := base64.RawURLEncoding.EncodeToString
	l.pending = Pending{
		State:       enc(raw[0:32]),  // 256 bits (S5)
		Verifier:    enc(raw[32:64]), // 32 bytes → 43 chars (S1)
		RedirectURI: l.cfg.RedirectURI,
		ReturnTo:    l.cfg.ReturnTo,
		CreatedAt:   ev.Now,
		TTL:         l.cfg.PendingTTL,
		Target:      l.cfg.Target,
		ClientID:    l.cfg.Client.ID,
		Scopes:      l.cfg.Scopes,
		Resolution:  l.cfg.Resolution,
		DPoP:        l.cfg.DPoP,
	}
	if l.pending.DPoP == "" {
		l.pending.DPoP = DPoPAuto
	}
	l.nonce = enc(raw[64:96])
	if slices.Contains(l.cfg.Scopes, "openid") {
		l.pending.Nonce = l.nonce // S7
	}
	if l.cfg.Client.ID == "" && l.cfg.Resolution == nil {
		return l.fail(fmt.Errorf("login: %w", ErrNoClient))
	}
	if l.cfg.RedirectURI == "" {
		return l.fail(fmt.Errorf("login: no redirect URI"))
	}
	m, req, err := l.disc.start(l.cfg.Metadata, l.cfg.Resolution, l.cfg.Target)
	switch {
	case err != nil:
		return l.fail(err)
	case m != nil:
		return l.useMetadata(*m)
	}
	l.phase = loginDiscovering
	return []Effect{Fetch{Request: *req}}
}

func (l *Login) discovered(ev Fetched) []Effect {
	m, next, err := l.disc.step(ev)
	switch {
	case err != nil:
		return l.fail(err)
	case m != nil:
		return l.useMetadata(*m)
	}
	return []Effect{Fetch{Request: *next}}
}

func (l *Login) useMetadata(m Metadata) []Effect {
	if err := m.CheckBrowserLogin(); err != nil {
		return l.fail(err) // before the user is sent anywhere
	}
	if m.needsIDToken(m.AuthorizationResponseIssSupported) {
		// Tokens from a token endpoint off the issuer's origin: only an ID
		// token naming the issuer shows they are its own, so ask for one
		// (H7).
		l.pending.Scopes = withOpenID(l.pending.Scopes)
		if l.pending.Nonce == "" {
			l.pending.Nonce = l.nonce
		}
	}
	if res := l.cfg.Resolution; res != nil && res.Kind == KindResource && !slices.Contains(m.CodeChallengeMethodsSupported, "S256") {
		// The MCP authorization spec: a client MUST refuse to go on when
		// the metadata does not list S256, which shows PKCE is supported.
		return l.fail(fmt.Errorf("%w: the authorization server %s of %s does not list S256 in code_challenge_methods_supported; a protected resource's login needs PKCE S256, so dualauth does not log in there",
			ErrDiscovery, m.Issuer, res.Resource))
	}
	var effs []Effect
	if id := l.cfg.Client.ID; strings.HasPrefix(id, "https://") && !m.ClientIDMetadataDocumentSupported {
		effs = append(effs, Warn{Message: fmt.Sprintf("client ID %s is a URL, but %s does not say it reads client ID metadata documents (client_id_metadata_document_supported); it may not know this client", Sanitize(id), m.Issuer)})
	}
	return append(effs, l.withMetadata(m)...)
}

func (l *Login) withMetadata(m Metadata) []Effect {
	l.pending.Metadata = m
	if _, err := useDPoP(l.pending.DPoP, m, nil, false); err != nil {
		return l.fail(err) // before the user signs in for nothing
	}
	if l.pending.ClientID == "" {
		l.cr = clientReg{meta: m, redirect: l.pending.RedirectURI, movable: l.cfg.MovableRedirect, appType: l.appType(), dpop: l.pending.DPoP == DPoPAlways}
		effs, err := l.cr.begin()
		if err != nil {
			return l.fail(err)
		}
		l.phase = loginFindingClient
		return effs
	}
	return l.savePending()
}

// savePending keeps the pending login before the user is sent to sign in;
// a login that will use DPoP makes its key first, for dpop_jkt.
func (l *Login) savePending() []Effect {
	dpop, err := useDPoP(l.pending.DPoP, l.pending.Metadata, l.pending.Resolution, l.pending.ClientDPoP)
	if err != nil {
		return l.fail(err)
	}
	if dpop && l.pending.Key == nil {
		l.phase = loginEarlyKeying
		return []Effect{CreateKey{Alg: AlgES256, For: l.pendingKey()}}
	}
	l.phase = loginSavingPending
	return []Effect{SavePending{Pending: l.pending}}
}

// authorizeURL builds the authorization request (RFC 6749 §4.1.1 with RFC
// 7636 §4.3): S256 always, whatever the metadata says (S2, S3). It is what
// oauth2.Config.AuthCodeURL builds, written out so that the core does not
// import golang.org/x/oauth2 in browser builds (see token_js.go).
func (l *Login) authorizeURL() string {
	p := l.pending
	v := url.Values{"response_type": {"code"}, "client_id": {p.ClientID}}
	if p.RedirectURI != "" {
		v.Set("redirect_uri", p.RedirectURI)
	}
	if len(p.Scopes) > 0 {
		v.Set("scope", strings.Join(p.Scopes, " "))
	}
	v.Set("state", p.State)
	if r := p.resource(); r != "" {
		v.Set("resource", r) // RFC 8707 §2.1
	}
	if p.Key != nil {
		v.Set("dpop_jkt", p.Key.JKT) // the code is bound to the login's key (RFC 9449 §10)
	}
	reserved := []string{"state", "code_challenge", "code_challenge_method", "redirect_uri", "client_id", "response_type", "scope", "nonce", "resource", "dpop_jkt"}
	for k, vs := range l.cfg.AuthParams {
		if !slices.Contains(reserved, k) && len(vs) > 0 {
			v.Set(k, vs[0])
		}
	}
	if p.Nonce != "" {
		v.Set("nonce", p.Nonce)
	}
	if prompt := l.prompt(); prompt != "" {
		v.Set("prompt", prompt)
	}
	v.Set("code_challenge_method", "S256")
	v.Set("code_challenge", S256Challenge(p.Verifier))
	sep := "?"
	if strings.Contains(p.Metadata.AuthorizationEndpoint, "?") {
		sep = "&"
	}
	return p.Metadata.AuthorizationEndpoint + sep + v.Encode()
}

// S256Challenge is the PKCE code challenge of a verifier (RFC 7636 §4.2):
// BASE64URL(SHA256(ASCII(verifier))) without padding, as
// oauth2.S256ChallengeFromVerifier computes it.
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (l *Login) prompt() string {
	switch l.cfg.Prompt {
	case PromptNone:
		return ""
	case "":
		if l.pending.Metadata.OpenID && slices.Contains(l.pending.Scopes, "openid") && slices.Contains(l.pending.Scopes, "offline_access") {
			return "consent"
		}
		return ""
	}
	return l.cfg.Prompt
}

// callback validates the authorization response (RFC 6749 §4.1.2, RFC 9207).
func (l *Login) callback(ev Callback) []Effect {
	if l.phase != loginWaiting {
		return []Effect{Reject{Err: ErrNoPendingLogin}}
	}
	q := ev.Query
	// Constant time, and no early exit on a missing state (S6).
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(l.pending.State)) != 1 || l.pending.State == "" {
		return []Effect{Reject{Err: ErrStateMismatch}}
	}
	l.phase = loginExchanging // the state is spent: single use (S5, S29)
	if l.pending.Expired(ev.Now) {
		return l.fail(ErrPendingExpired)
	}
	m := l.pending.Metadata
	if iss, ok := q["iss"]; ok {
		if len(iss) != 1 || iss[0] != m.Issuer {
			return l.fail(fmt.Errorf("%w: the callback names issuer %q, the login went to %q", ErrIssuerMismatch, q.Get("iss"), m.Issuer))
		}
	} else if m.AuthorizationResponseIssSupported {
		return l.fail(ErrMissingIssuer)
	}
	if code := q.Get("error"); code != "" {
		return l.fail(&OAuthError{Code: code, Description: q.Get("error_description"), URI: q.Get("error_uri")})
	}
	code := q.Get("code")
	if code == "" {
		return l.fail(fmt.Errorf("the callback has neither a code nor an error"))
	}
	l.req = Client{ID: l.pending.ClientID, Secret: l.cfg.Client.Secret}.CodeRequest(m.TokenEndpoint, code, l.pending.Verifier, l.pending.RedirectURI)
	if r := l.pending.resource(); r != "" {
		l.req.Form.Set("resource", r) // RFC 8707 §2.2
	}
	dpop, err := useDPoP(l.pending.DPoP, m, l.pending.Resolution, l.pending.ClientDPoP)
	if err != nil {
		return l.fail(err)
	}
	l.dp.rand = l.rand
	l.now = ev.Now
	if dpop {
		// The key was made before the authorization request, which bound
		// the code to it (savePending decides alike from the same fields).
		if l.pending.Key == nil {
			return l.fail(errors.New("the pending login has no DPoP key: log in again"))
		}
		l.dp.key = l.pending.Key
	}
	return l.exchange(ev.Now)
}

// pendingKey is the cache key the login will save under, for naming its
// DPoP key.
func (l *Login) pendingKey() string {
	e := Entry{Host: l.pending.Target.Host, AccountID: l.pending.Target.AccountID, ClientID: l.pending.ClientID, Metadata: l.pending.Metadata}
	e.resolvedBy(l.pending.Resolution)
	return e.Key()
}

// exchange sends the code request, with a proof when the login has a key.
func (l *Login) exchange(now time.Time) []Effect {
	l.phase = loginExchanging
	e, err := l.dp.send(l.req, now)
	if err != nil {
		return l.fail(fmt.Errorf("exchanging the authorization code: %w", err))
	}
	return []Effect{e}
}

func (l *Login) exchanged(e Event) []Effect {
	f, next, err := l.dp.step(e)
	if err != nil {
		return l.fail(fmt.Errorf("exchanging the authorization code: %w", err))
	}
	if next != nil {
		return []Effect{next}
	}
	ev := *f
	if errors.Is(ev.Err, ErrTooLarge) { // its own stable code (response_too_large in the browser)
		return l.fail(fmt.Errorf("token request to %s: %w", l.pending.Metadata.TokenEndpoint, ErrTooLarge))
	}
	if ev.Err != nil {
		return l.fail(fmt.Errorf("token request to %s failed: %v", l.pending.Metadata.TokenEndpoint, ev.Err))
	}
	t, err := l.dp.parse(ev)
	if err != nil {
		err = l.req.scrub(err)
		if l.pending.Registered && errors.Is(err, &OAuthError{Code: "invalid_client"}) {
			// Not a second browser round trip now: the next login
			// registers again (S32).
			l.cr = clientReg{meta: l.pending.Metadata, redirect: l.pending.RedirectURI}
			l.phase = loginForgetting
			return l.cr.refuse(l.pending.ClientID, err)
		}
		return l.fail(fmt.Errorf("exchanging the authorization code: %w", err))
	}
	p := l.pending
	m := p.Metadata
	if err := m.checkBound(t, m.needsIDToken(m.AuthorizationResponseIssSupported), p.Nonce, p.ClientID); err != nil {
		return l.fail(err) // before anything is saved (H7)
	}
	l.entry = newEntry(p.Target, p.ClientID, p.Scopes, t, ev.Now, p.Metadata)
	l.entry.resolvedBy(p.Resolution)
	l.entry.DPoP = l.dp.key
	l.phase = loginSaving
	return l.kp.begin(l.entry.Key(), l.entry, false)
}

// clientStep runs the client's sub-machine: on to the authorization once
// the client is known; the end of the login after a forget.
func (l *Login) clientStep(ev Event) []Effect {
	effs, next := l.cr.run(ev)
	switch next {
	case regOver:
		l.phase = loginDone
		return beforeDone(effs, dropKey(l.pending.Key))
	case regWaiting:
		return effs
	}
	l.useClient(l.cr.id, l.cr.from)
	l.pending.ClientDPoP = l.cr.dpopBound
	l.pending.RedirectURI = l.cr.redirect // the registered one, when the listener moved there
	return append(effs, l.savePending()...)
}

func (l *Login) appType() string {
	if l.cfg.AppType != "" {
		return l.cfg.AppType
	}
	return AppNative
}

func (l *Login) useClient(id, from string) {
	l.pending.ClientID, l.pending.Registered = id, true
	l.pending.Resolution = withClient(l.pending.Resolution, id, from)
}

// withClient is a copy of res that names the client dualauth registered
// for it.
func withClient(res *Resolution, id, from string) *Resolution {
	r := Resolution{}
	if res != nil {
		r = *res
	}
	r.ClientID, r.ClientIDFrom, r.ClientRegistered = id, from, true
	return &r
}
