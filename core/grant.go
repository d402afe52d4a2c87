package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Grant is how a login without a person gets its tokens: the client
// credentials grant (RFC 6749 §4.4) or a token exchange (RFC 8693) of a
// workload's own token, the client authenticated by a secret, a signed
// assertion (RFC 7523) or only its ID. It is saved in the cache entry, so
// the token machine repeats the grant where a person's login would spend a
// refresh token. It holds no secret: the store keeps the client secret
// ([Entry.ClientSecret]); the private key and the subject token stay with
// the driver, named by Key and SubjectToken.
type Grant struct {
	// Type is [ClientCredentialsGrantType] or [TokenExchangeGrantType].
	Type string `json:"type"`
	// ClientAuth is how the client authenticates ([AuthSecretBasic],
	// [AuthSecretPost], [AuthPrivateKeyJWT], [AuthNone]); "" at login
	// means: choose from the server's metadata. After a login it is the
	// method that worked.
	ClientAuth string `json:"client_auth,omitempty"`
	// AuthForced: the user chose ClientAuth, so an invalid_client is not
	// retried with another method.
	AuthForced bool `json:"client_auth_forced,omitempty"`
	// Key names the private key the driver signs assertions with (natively
	// a file path: the key is referenced, never copied); Alg is the JWS
	// algorithm for it ([AlgES256], [AlgRS256]).
	Key string `json:"key,omitempty"`
	Alg string `json:"alg,omitempty"`
	// SubjectToken is where the driver reads the subject token of a token
	// exchange, afresh at every grant (see [ParseSubjectTokenSource]);
	// SubjectTokenType is its RFC 8693 type, "" meaning [JWTTokenType].
	SubjectToken     string `json:"subject_token_source,omitempty"`
	SubjectTokenType string `json:"subject_token_type,omitempty"`
	// Scopes are asked for at every grant (none: the server's default).
	Scopes []string `json:"scopes,omitempty"`
}

// ErrNoClientSecret: a grant that authenticates with the client secret
// has none (the store lost it, or it was never given).
var ErrNoClientSecret = errors.New("no client secret")

// Describe says in a few words what the grant is, for `auth describe`.
func (g *Grant) Describe() string {
	what := "client credentials"
	if g.Type == TokenExchangeGrantType {
		what = "token exchange of " + g.SubjectToken
	}
	if g.ClientAuth != "" {
		what += " (" + g.ClientAuth + ")"
	}
	return what
}

// ErrClientAuth matches a [Grant.Check] error about the client
// authentication method, which does not fit the client's secret or key.
var ErrClientAuth = errors.New("client authentication does not fit the client")

type clientAuthError string

func (e clientAuthError) Error() string        { return string(e) }
func (e clientAuthError) Is(target error) bool { return target == ErrClientAuth }

// Check says whether the grant can be made by its client, with a client
// secret (hasSecret) or not, before any request: the client credentials
// grant needs a secret or a private key; a token exchange, a subject token
// source (see [ParseSubjectTokenSource]); a forced client_secret_basic or
// client_secret_post, the secret and no key; private_key_jwt, a key. A
// missing secret is [ErrNoClientSecret], which a driver may answer by
// asking for one; every other error is a mistake in what was asked.
func (g *Grant) Check(hasSecret bool) error {
	switch g.Type {
	case ClientCredentialsGrantType:
		if !hasSecret && g.Key == "" {
			return fmt.Errorf("the client credentials grant needs a client secret or a private key: %w", ErrNoClientSecret)
		}
	case TokenExchangeGrantType:
		if g.SubjectToken == "" {
			return errors.New("a token exchange needs the source of the subject token: github-actions[:AUDIENCE], file:PATH or env:VAR")
		}
		if _, err := ParseSubjectTokenSource(g.SubjectToken); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown grant type %q: want %s or %s", g.Type, ClientCredentialsGrantType, TokenExchangeGrantType)
	}
	switch g.ClientAuth {
	case "", AuthNone:
	case AuthSecretBasic, AuthSecretPost:
		if g.Key != "" {
			return clientAuthError(fmt.Sprintf("client authentication %s sends the client secret; a client with a private key signs an assertion instead (private_key_jwt): give the secret or the key, not both", g.ClientAuth))
		}
		if !hasSecret {
			return fmt.Errorf("client authentication %s needs the client secret: %w", g.ClientAuth, ErrNoClientSecret)
		}
	case AuthPrivateKeyJWT:
		if g.Key == "" || g.Alg == "" {
			return clientAuthError("client authentication private_key_jwt needs a private key")
		}
	default:
		return fmt.Errorf("unknown client authentication %q", g.ClientAuth)
	}
	return nil
}

// DefaultGrantScopes are the scopes a login without a person asks for
// when none are given, by the target's name (see [Resolution.GrantScopes]
// for what resolution finds): all-apis on a Databricks host, else none —
// openid and offline_access mean nothing without a user.
func DefaultGrantScopes(t Target) []string {
	if databricksTarget(t, nil) {
		return []string{"all-apis"}
	}
	return nil
}

// databricksTarget reports whether t is a Databricks host: by its name,
// an account ID, or what resolution found.
func databricksTarget(t Target, res *Resolution) bool {
	return t.AccountID != "" || IsDatabricksHost(t.Host) || res != nil && res.Kind.Databricks()
}

// subjectSource is the subject token source a grant reads: a GitHub
// Actions token without an audience, at a Databricks host, is asked for
// the audience Databricks token federation expects, as the Databricks
// SDKs ask for it — the account ID for an account login, else the token
// endpoint the token goes to.
func subjectSource(g Grant, t Target, res *Resolution, m Metadata) string {
	src, err := ParseSubjectTokenSource(g.SubjectToken)
	if g.Type != TokenExchangeGrantType || err != nil || src.Kind != SourceGitHubActions || src.Arg != "" || !databricksTarget(t, res) {
		return g.SubjectToken
	}
	aud := t.AccountID
	if aud == "" && res != nil && res.Kind == KindDatabricksAccount {
		aud = res.AccountID
	}
	if aud == "" {
		aud = m.TokenEndpoint
	}
	return SourceGitHubActions + ":" + aud
}

// chooseAuth picks the client authentication of a login: a key means
// private_key_jwt; a secret means client_secret_basic unless the metadata
// lists only client_secret_post (RFC 8414 §2: basic is the default when the
// list is absent); neither means a public client.
func chooseAuth(g Grant, hasSecret bool, m Metadata) string {
	switch {
	case g.ClientAuth != "":
		return g.ClientAuth
	case g.Key != "":
		return AuthPrivateKeyJWT
	case !hasSecret:
		return AuthNone
	}
	ms := m.TokenEndpointAuthMethodsSupported
	if len(ms) > 0 && !slices.Contains(ms, AuthSecretBasic) && slices.Contains(ms, AuthSecretPost) {
		return AuthSecretPost
	}
	return AuthSecretBasic
}

// ReadSubjectToken asks the driver for the subject token of a token
// exchange from Source (see [ParseSubjectTokenSource]) and to answer with
// [SubjectTokenRead]. It is read afresh at every exchange: CI tokens and
// projected service-account tokens are short-lived and replaced, and
// nothing of them is stored.
type ReadSubjectToken struct{ Source string }

// SubjectTokenRead answers [ReadSubjectToken].
type SubjectTokenRead struct {
	Token string
	Err   error
}

func (ReadSubjectToken) effect() {}
func (SubjectTokenRead) event()  {}

// Subject token sources.
const (
	// SourceGitHubActions is a GitHub Actions job's OIDC token, asked of
	// ACTIONS_ID_TOKEN_REQUEST_URL ("github-actions" or
	// "github-actions:AUDIENCE").
	SourceGitHubActions = "github-actions"
	// SourceFile is a file's content ("file:PATH"), e.g. a Kubernetes
	// projected service-account token.
	SourceFile = "file"
	// SourceEnv is an environment variable's value ("env:VAR").
	SourceEnv = "env"
)

// SubjectTokenSource is a parsed subject token source: Kind is one of
// SourceGitHubActions, SourceFile, SourceEnv; Arg the audience (may be
// empty), path or variable.
type SubjectTokenSource struct{ Kind, Arg string }

// ParseSubjectTokenSource reads "github-actions[:AUDIENCE]", "file:PATH"
// or "env:VAR".
func ParseSubjectTokenSource(s string) (SubjectTokenSource, error) {
	kind, arg, _ := strings.Cut(s, ":")
	switch {
	case kind == SourceGitHubActions:
		return SubjectTokenSource{kind, arg}, nil
	case (kind == SourceFile || kind == SourceEnv) && arg != "":
		return SubjectTokenSource{kind, arg}, nil
	}
	return SubjectTokenSource{}, fmt.Errorf("subject token source %q: want github-actions[:AUDIENCE], file:PATH or env:VAR", s)
}

// GitHubIDTokenRequest builds a GitHub Actions job's request for its OIDC
// token: GET requestURL (ACTIONS_ID_TOKEN_REQUEST_URL) with audience added
// to its query, the bearer token ACTIONS_ID_TOKEN_REQUEST_TOKEN.
func GitHubIDTokenRequest(requestURL, bearer, audience string) (Request, error) {
	u, err := url.Parse(requestURL)
	if err != nil || u.Host == "" {
		return Request{}, errors.New("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL")
	}
	if err := checkSecure(u); err != nil {
		return Request{}, fmt.Errorf("ACTIONS_ID_TOKEN_REQUEST_URL: %w", err)
	}
	if audience != "" {
		q := u.Query()
		q.Set("audience", audience)
		u.RawQuery = q.Encode()
	}
	r := getRequest(u.String())
	r.Header["Authorization"] = "Bearer " + bearer
	r.secrets = []string{bearer}
	return r, nil
}

// ParseGitHubIDToken reads the answer to [GitHubIDTokenRequest]:
// {"value": JWT}.
func ParseGitHubIDToken(r Response) (string, error) {
	if r.Status != 200 {
		return "", fmt.Errorf("the GitHub Actions token endpoint answered HTTP %d%s", r.Status, describeBody(r, looksJSON(r)))
	}
	var w struct {
		Value string `json:"value"`
	}
	if json.Unmarshal(r.Body, &w) != nil || w.Value == "" {
		return "", fmt.Errorf("the GitHub Actions token endpoint's answer has no token%s", describeBody(r, looksJSON(r)))
	}
	return w.Value, nil
}

type grantStep int

const (
	grantReading grantStep = iota + 1
	grantSigning
	grantFetching
)

// grantRun performs one grant for the login and token machines: read the
// subject token, sign the client assertion, send the token request — and
// once, when client_secret_basic was chosen rather than forced and the
// server says invalid_client, the same request with client_secret_post
// (servers register a client for one method only).
type grantRun struct {
	g        Grant
	client   Client
	tokenURL string
	now      time.Time
	rand     io.Reader
	step     grantStep
	subject  string
	input    []byte // the assertion being signed
	retried  bool
	req      Request
	dp       dpopSend // the token request, with a proof for a DPoP login
	resource string   // RFC 8707 resource, "" for none
}

// begin returns the first effect of the grant.
func (r *grantRun) begin() (Effect, error) {
	if err := r.g.Check(r.client.Secret != ""); err != nil {
		return nil, err
	}
	r.dp.rand, r.dp.rebuild = r.rand, r.g.ClientAuth == AuthPrivateKeyJWT // an assertion is single-use: a nonce retry signs a new one
	r.dp.reset()
	if r.g.Type == TokenExchangeGrantType {
		r.step = grantReading
		return ReadSubjectToken{Source: r.g.SubjectToken}, nil
	}
	return r.authenticate()
}

// authenticate signs an assertion when the client uses a key, else sends.
func (r *grantRun) authenticate() (Effect, error) {
	if r.g.ClientAuth != AuthPrivateKeyJWT {
		return r.send("")
	}
	claims, err := NewAssertionClaims(r.client.ID, r.tokenURL, r.now, r.rand)
	if err != nil {
		return nil, err
	}
	r.input, err = SigningInput(r.g.Alg, "JWT", nil, claims)
	if err != nil {
		return nil, err
	}
	r.step = grantSigning
	return Sign{Key: r.g.Key, Alg: r.g.Alg, Input: r.input}, nil
}

func (r *grantRun) send(assertion string) (Effect, error) {
	a := ClientAuth{Method: r.g.ClientAuth, Secret: r.client.Secret, Assertion: assertion}
	if r.g.Type == TokenExchangeGrantType {
		typ := r.g.SubjectTokenType
		if typ == "" {
			typ = JWTTokenType
		}
		r.req = r.client.TokenExchangeRequest(r.tokenURL, r.subject, typ, r.g.Scopes, a)
	} else {
		r.req = r.client.ClientCredentialsRequest(r.tokenURL, r.g.Scopes, a)
	}
	if r.resource != "" {
		r.req.Form.Set("resource", r.resource) // RFC 8707 §2.2
	}
	r.step = grantFetching
	return r.dp.send(r.req, r.now)
}

// next consumes the answer to the last effect: the token when the grant is
// done, else the next effect. Nothing of the subject token, the secret or
// the assertion reaches an error.
func (r *grantRun) next(ev Event) (*TokenResponse, Effect, error) {
	switch ev := ev.(type) {
	case SubjectTokenRead:
		if r.step != grantReading {
			break
		}
		if ev.Err != nil {
			return nil, nil, fmt.Errorf("reading the subject token (%s): %w", r.g.SubjectToken, ev.Err)
		}
		r.subject = strings.TrimSpace(ev.Token)
		if r.subject == "" {
			return nil, nil, fmt.Errorf("reading the subject token (%s): it is empty", r.g.SubjectToken)
		}
		e, err := r.authenticate()
		return nil, e, err
	case Signed:
		if r.step != grantSigning {
			break // a DPoP proof's
		}
		if ev.Err != nil {
			return nil, nil, fmt.Errorf("signing the client assertion with %s: %w", r.g.Key, ev.Err)
		}
		e, err := r.send(CompactJWS(r.input, ev.Signature))
		return nil, e, err
	}
	if r.step == grantFetching {
		f, next, err := r.dp.step(ev)
		if errors.Is(err, errNonceRetry) {
			if fe, ok := ev.(Fetched); ok && !fe.Now.IsZero() {
				r.now = fe.Now
			}
			next, err = r.authenticate()
		}
		if err != nil || next != nil {
			return nil, next, err
		}
		return r.fetched(*f)
	}
	return nil, nil, fmt.Errorf("grant: unexpected %T", ev)
}

func (r *grantRun) fetched(ev Fetched) (*TokenResponse, Effect, error) {
	if ev.Err != nil {
		return nil, nil, fmt.Errorf("cannot reach %s: %v", r.tokenURL, ev.Err)
	}
	t, err := r.dp.parse(ev)
	err = r.req.scrub(err)
	var oe *OAuthError
	switch {
	case err == nil:
		t.RefreshToken = "" // the grant itself is repeated: nothing to rotate or keep
		return t, nil, nil
	case !errors.As(err, &oe):
		return nil, nil, fmt.Errorf("token request to %s: %w", r.tokenURL, err)
	case oe.Code == "invalid_client" && r.g.ClientAuth == AuthSecretBasic && !r.g.AuthForced && !r.retried:
		r.retried = true
		r.g.ClientAuth = AuthSecretPost
		r.dp.reset()
		e, err := r.send("")
		return nil, e, err
	case oe.Code == "invalid_client":
		how := r.g.ClientAuth
		if r.retried {
			how = AuthSecretBasic + ", then " + AuthSecretPost
		}
		return nil, nil, fmt.Errorf("the server refused client %s (%s): %w", r.client.ID, how, err)
	case oe.Code == "invalid_grant" && r.g.Type == TokenExchangeGrantType:
		return nil, nil, fmt.Errorf("the server refused the subject token from %s: %w", r.g.SubjectToken, err)
	}
	return nil, nil, fmt.Errorf("token request to %s: %w", r.tokenURL, err)
}

// GrantConfig says what to log in to without a person.
type GrantConfig struct {
	Target Target
	// Client is the client ID and, for a client secret login, the secret.
	Client Client
	Grant  Grant
	// SecretElsewhere: the client secret lives outside the store (a
	// Databricks CLI config file) and is given again to every token call,
	// so the saved entry holds none.
	SecretElsewhere bool
	// Metadata, when known, skips discovery.
	Metadata *Metadata
	// Resolution, when known (see [Resolve]), gives the metadata, the
	// RFC 8707 resource, sent on every grant, and the scopes asked for
	// when Grant has none ([Resolution.GrantScopes]); it is saved with the
	// login.
	Resolution *Resolution
	// DPoP is the DPoP mode ("" is [DPoPAuto]).
	DPoP string
	// Once: the login is the first token of a saved grant, asked for by a
	// token command rather than by `auth login`. The lock is taken before
	// the grant, and a token another process saved meanwhile (valid for
	// Skew more) is handed out instead of a new grant: N parallel first
	// calls make one grant, as N calls on an expired token do.
	Once bool
	// Skew is how early a token found under the lock counts as expired
	// (Once); 0 means [DefaultSkew].
	Skew time.Duration
}

type grantPhase int

const (
	grantIdle grantPhase = iota
	grantDiscovering
	grantKeying
	grantGranting
	grantSaving // keep: lock, read the entry replaced, save, unlock
	grantDone
	grantOnceLocking // Once: the lock before the grant
	grantOnceLoading // Once: what another process may have saved
)

// GrantLogin is the login of a job, not a person: Start → Fetch metadata →
// (ReadSubjectToken) → (Sign) → Fetch token (invalid_client with
// client_secret_basic: once more with client_secret_post) → Lock → Load
// the entry it replaces → Save → DropKey of a DPoP key no longer used →
// Unlock, Done; a failed login drops the key it made. The entry it saves
// holds the [Grant] (with the client authentication that worked) and the
// client secret, which the store keeps apart; the token machine repeats the
// grant when the token expires. It never sends anyone to a browser, and
// saves nothing when the grant fails.
// With [GrantConfig.Once] the lock comes first: metadata → Lock → Load →
// a valid token saved meanwhile: Unlock, Done; else the grant → Save →
// Unlock, Done.
type GrantLogin struct {
	cfg   GrantConfig
	phase grantPhase
	disc  discovery
	run   grantRun
	meta  Metadata
	rand  io.Reader
	entry Entry
	// locked is the key locked before the grant (Once), "" when not.
	locked string
	kp     keep // the save of the new entry
}

// NewGrantLogin returns a login without a person that begins with [Start].
func NewGrantLogin(cfg GrantConfig) *GrantLogin { return &GrantLogin{cfg: cfg} }

func (l *GrantLogin) fail(err error) []Effect {
	l.phase = grantDone
	effs := dropOwnKey(l.run.dp.key, err)
	if l.locked != "" {
		effs = append(effs, Unlock{l.locked})
	}
	return append(effs, Done{Err: err})
}

// Step advances the login by one event.
func (l *GrantLogin) Step(ev Event) []Effect {
	if l.phase == grantSaving {
		effs, done := l.kp.stepLogin(ev, l.run.dp.key)
		if done {
			l.phase = grantDone
		}
		return effs
	}
	switch ev := ev.(type) {
	case Start:
		if l.phase == grantIdle {
			if l.cfg.Client.ID == "" {
				return l.fail(errors.New("login: no client ID"))
			}
			if err := l.cfg.Grant.Check(l.cfg.Client.Secret != ""); err != nil {
				return l.fail(fmt.Errorf("login: %w", err))
			}
			l.run.now, l.rand = ev.Now, ev.Rand
			m, req, err := l.disc.start(l.cfg.Metadata, l.cfg.Resolution, l.cfg.Target)
			switch {
			case err != nil:
				return l.fail(err)
			case m != nil:
				return l.grant(*m)
			}
			l.phase = grantDiscovering
			return []Effect{Fetch{Request: *req}}
		}
	case Fetched:
		if l.phase == grantDiscovering {
			m, next, err := l.disc.step(ev)
			switch {
			case err != nil:
				return l.fail(err)
			case m != nil:
				l.run.now = ev.Now
				return l.grant(*m)
			}
			return []Effect{Fetch{Request: *next}}
		}
		if l.phase == grantGranting {
			return l.granted(ev)
		}
	case SubjectTokenRead, Signed:
		if l.phase == grantGranting {
			return l.granted(ev)
		}
	case KeyCreated:
		if l.phase == grantKeying {
			k, err := newDPoPKey(ev, l.cfg.DPoP == DPoPAlways)
			if err != nil {
				return l.fail(fmt.Errorf("login: %w", err))
			}
			l.run.dp.key = k
			return l.begin()
		}
	case Locked:
		if l.phase == grantOnceLocking {
			if ev.Err != nil {
				return l.fail(fmt.Errorf("waiting for the token cache lock: %w", ev.Err))
			}
			l.locked = l.cacheKey()
			if !ev.Now.IsZero() {
				l.run.now = ev.Now
			}
			l.phase = grantOnceLoading
			return []Effect{Load{Keys: []string{l.locked}}}
		}
	case Loaded:
		if l.phase == grantOnceLoading {
			return l.onceLoaded(ev)
		}
	case Aborted:
		return l.fail(ev.Err)
	}
	return l.fail(fmt.Errorf("login: unexpected %T in phase %d", ev, l.phase))
}

func (l *GrantLogin) grant(m Metadata) []Effect {
	l.meta = m
	if err := grantOffered(m, l.cfg.Grant.Type); err != nil {
		return l.fail(fmt.Errorf("login: %w", err)) // before any token request
	}
	g := l.cfg.Grant
	g.ClientAuth = chooseAuth(g, l.cfg.Client.Secret != "", m)
	g.SubjectToken = subjectSource(g, l.cfg.Target, l.cfg.Resolution, m)
	if res := l.cfg.Resolution; len(g.Scopes) == 0 && res != nil {
		g.Scopes = res.GrantScopes
	}
	l.run = grantRun{g: g, client: l.cfg.Client, tokenURL: m.TokenEndpoint, now: l.run.now, rand: l.rand}
	if res := l.cfg.Resolution; res != nil {
		l.run.resource = res.Resource
	}
	if l.cfg.Once {
		l.phase = grantOnceLocking
		return []Effect{Lock{Key: l.cacheKey()}}
	}
	return l.keyOrBegin()
}

// grantOffered refuses a grant the server's metadata leaves out of
// grant_types_supported, before a request whose refusal would come back
// worded by the server (a misleading unauthorized_client, say). A server
// that lists no grants is asked anyway.
func grantOffered(m Metadata, grant string) error {
	if grant != TokenExchangeGrantType || len(m.GrantTypesSupported) == 0 || slices.Contains(m.GrantTypesSupported, grant) {
		return nil
	}
	return fmt.Errorf("%w: the authorization server %s does not offer token exchange (grant_types_supported lacks %s), so --subject-token cannot log in there",
		ErrGrantNotOffered, m.Issuer, grant)
}

// ErrGrantNotOffered: the server's metadata does not list the grant.
var ErrGrantNotOffered = errors.New("grant not offered")

// onceLoaded: under the lock, the token another process saved while this
// one waited is handed out; without one, the grant is made.
func (l *GrantLogin) onceLoaded(ev Loaded) []Effect {
	if ev.Err != nil {
		return l.fail(fmt.Errorf("reading the token cache: %w", ev.Err))
	}
	skew := l.cfg.Skew
	if skew == 0 {
		skew = DefaultSkew
	}
	if e := ev.Entry; e != nil && e.Valid(l.run.now, skew) {
		l.phase = grantDone
		return []Effect{Unlock{l.locked}, Done{Token: e.Token(), Entry: e}}
	}
	return l.keyOrBegin()
}

// keyOrBegin creates the DPoP key of a DPoP login, else begins the grant.
func (l *GrantLogin) keyOrBegin() []Effect {
	m := l.meta
	dpop, err := useDPoP(l.cfg.DPoP, m, l.cfg.Resolution, false)
	if err != nil {
		return l.fail(fmt.Errorf("login: %w", err))
	}
	if dpop {
		l.phase = grantKeying
		return []Effect{CreateKey{Alg: AlgES256, For: l.cacheKey()}}
	}
	return l.begin()
}

// cacheKey is the key the login will save under.
func (l *GrantLogin) cacheKey() string {
	e := newEntry(l.cfg.Target, l.cfg.Client.ID, nil, &TokenResponse{}, l.run.now, l.meta)
	e.resolvedBy(l.cfg.Resolution)
	return e.Key()
}

func (l *GrantLogin) begin() []Effect {
	first, err := l.run.begin()
	if err != nil {
		return l.fail(fmt.Errorf("login: %w", err))
	}
	l.phase = grantGranting
	return []Effect{first}
}

func (l *GrantLogin) granted(ev Event) []Effect {
	t, next, err := l.run.next(ev)
	switch {
	case err != nil:
		return l.fail(fmt.Errorf("login to %s: %w", l.cfg.Target.Host, err))
	case next != nil:
		return []Effect{next}
	}
	g := l.run.g // with the client authentication that worked
	l.entry = newEntry(l.cfg.Target, l.cfg.Client.ID, g.Scopes, t, l.fetchedAt(ev), l.meta)
	l.entry.Grant = &g
	l.entry.DPoP = l.run.dp.key
	l.entry.resolvedBy(l.cfg.Resolution)
	if (g.ClientAuth == AuthSecretBasic || g.ClientAuth == AuthSecretPost) && !l.cfg.SecretElsewhere {
		l.entry.ClientSecret = l.cfg.Client.Secret
	}
	l.phase = grantSaving
	if l.locked != "" { // Once: locked since before the grant
		return l.kp.begin(l.locked, l.entry, true)
	}
	return l.kp.begin(l.entry.Key(), l.entry, false)
}

func (l *GrantLogin) fetchedAt(ev Event) time.Time {
	if f, ok := ev.(Fetched); ok && !f.Now.IsZero() {
		return f.Now
	}
	return l.run.now
}
