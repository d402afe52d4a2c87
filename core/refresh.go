package core

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// RefreshConfig says whose token to hand out.
type RefreshConfig struct {
	Target Target
	Client Client
	// Skew is how early a token counts as expired; 0 means [DefaultSkew].
	Skew time.Duration
	// Force refreshes even a valid token (unless another process refreshed
	// it while this one waited for the lock).
	Force bool
	// ForceSharesNew makes Force hand out a token obtained in the last
	// [JustObtained] (at most a tenth of its lifetime) instead of
	// refreshing again: a freshly minted token is what a forced refresh
	// would give. The Databricks SDKs pass --force-refresh on every token
	// they ask for, twice as each process starts, so that parallel
	// processes share one refresh as they would without Force.
	ForceSharesNew bool
	// MinTTL asks for a token that stays valid at least this long: one with
	// less left is refreshed (jobs that must not fail at the token's last
	// minute). Unlike Skew it is not capped by the token's lifetime: a
	// server whose tokens live shorter gets its freshest token handed out.
	MinTTL time.Duration
	// BearerOnly is set when the token goes to a tool that can send it only
	// as a bearer token (kubectl, git, environment variables): a login whose
	// tokens are bound to a DPoP key fails with a [*DPoPBoundError] at the
	// first load — before any lock, keyring or request — since such a token
	// would be refused by every resource that checks the binding.
	BearerOnly bool
	// Refused is the access token a resource refused (git's erase of a
	// credential): while the stored token is still that one it is
	// refreshed, under the lock, as with Force; once another process has
	// replaced it, the new token is handed out without a second refresh.
	// So callers that report the same refused token together refresh once.
	Refused string
}

// JustObtained is how recent a token counts as just refreshed for
// [RefreshConfig.ForceSharesNew].
const JustObtained = time.Minute

type refreshPhase int

const (
	refreshIdle refreshPhase = iota
	refreshLoading
	refreshLocking
	refreshReloading
	refreshReserving
	refreshGranting
	refreshFetching
	refreshSaving
	refreshDone
)

// Refresh is the token machine: the seed's second diagram, double-checked.
// Start → Load → valid: Done (no lock, no network). Otherwise Lock → Load
// again (another process may have refreshed meanwhile) → Fetch refresh →
// Save → Unlock, Done. N concurrent callers on an expired token cause
// exactly one refresh (S20).
type Refresh struct {
	cfg   RefreshConfig
	phase refreshPhase
	now   time.Time
	key   string
	seen  string // access token seen before the lock
	entry Entry
	req   Request // the refresh request, to scrub its secrets from errors
	err   error   // the result to report once the save is done
	rand  io.Reader
	grant grantRun // a login without a person: the grant repeated
	dp    dpopSend // the refresh request, with a proof for a DPoP login
	// registered: the login's client is one dualauth registered, which a
	// login command should not name (see notLoggedIn).
	registered bool
}

// NewRefresh returns a token machine that begins with [Start].
func NewRefresh(cfg RefreshConfig) *Refresh {
	if cfg.Skew == 0 {
		cfg.Skew = DefaultSkew
	}
	return &Refresh{cfg: cfg}
}

func (r *Refresh) notLoggedIn(cause error) error {
	id := r.cfg.Client.ID
	if r.registered {
		// Not --client-id: a named client keeps a random port, and the
		// client dualauth registered wants its own redirect URI; the
		// login without one reuses it so.
		id = ""
	}
	return &LoginRequiredError{Host: r.cfg.Target.Host, ClientID: id, Cause: cause}
}

func (r *Refresh) fail(err error) []Effect {
	r.phase = refreshDone
	return []Effect{Done{Err: err}}
}

func (r *Refresh) finish(e *Entry, err error) []Effect {
	r.phase = refreshDone
	if err != nil {
		return []Effect{Unlock{r.key}, Done{Err: err}}
	}
	if r.cfg.BearerOnly && e.BoundToKey() { // the server bound the refreshed token
		return []Effect{Unlock{r.key}, Done{Err: &DPoPBoundError{Host: r.cfg.Target.Host, JKT: e.DPoP.JKT}}}
	}
	return []Effect{Unlock{r.key}, Done{Token: e.Token(), Entry: e}}
}

// fresh reports whether e can be handed out without a refresh.
func (r *Refresh) fresh(e *Entry) bool {
	if !e.Valid(r.now, r.cfg.Skew) {
		return false
	}
	return r.cfg.MinTTL <= 0 || e.Expiry.IsZero() || !r.now.Add(r.cfg.MinTTL).After(e.Expiry)
}

// force reports whether e must be refreshed even while valid: Force, or
// e's access token is the one refused.
func (r *Refresh) force(e *Entry) bool {
	return r.cfg.Force || r.refused(e)
}

// refused reports whether e's access token is the one a resource refused.
func (r *Refresh) refused(e *Entry) bool {
	return r.cfg.Refused != "" && subtle.ConstantTimeCompare([]byte(e.AccessToken), []byte(r.cfg.Refused)) == 1
}

// justObtained reports whether Force may hand out e as it is: it was
// obtained so recently that a refresh would give nothing fresher (see
// ForceSharesNew). It never applies to the refused token: however new,
// the resource said no to it, so handing it back would only be refused again.
func (r *Refresh) justObtained(e *Entry) bool {
	if !r.cfg.ForceSharesNew || r.refused(e) || e.ObtainedAt.IsZero() || e.Expiry.IsZero() {
		return false
	}
	age := r.now.Sub(e.ObtainedAt)
	return age >= 0 && age < min(JustObtained, e.Expiry.Sub(e.ObtainedAt)/10)
}

// Step advances the token machine by one event.
func (r *Refresh) Step(ev Event) []Effect {
	switch ev := ev.(type) {
	case Start:
		if r.phase == refreshIdle {
			r.now, r.rand = ev.Now, ev.Rand
			r.phase = refreshLoading
			return []Effect{Load{Keys: IssuerKeys(r.cfg.Target, r.cfg.Client.ID)}}
		}
	case Loaded:
		switch r.phase {
		case refreshLoading:
			return r.loaded(ev)
		case refreshReloading:
			return r.reloaded(ev)
		}
	case Locked:
		if r.phase == refreshLocking {
			if ev.Err != nil {
				return r.fail(fmt.Errorf("waiting for the token cache lock: %w", ev.Err))
			}
			if !ev.Now.IsZero() {
				r.now = ev.Now
			}
			r.phase = refreshReloading
			return []Effect{Load{Keys: []string{r.key}}}
		}
	case Fetched:
		if r.phase == refreshFetching {
			return r.fetched(ev)
		}
		if r.phase == refreshGranting {
			return r.granted(ev)
		}
	case SubjectTokenRead, Signed:
		if r.phase == refreshGranting {
			return r.granted(ev)
		}
		if _, ok := ev.(Signed); ok && r.phase == refreshFetching {
			return r.fetched(ev)
		}
	case Aborted:
		if r.phase > refreshLocking && r.phase < refreshDone {
			return r.finish(nil, ev.Err)
		}
		return r.fail(ev.Err)
	case Saved:
		if r.phase == refreshReserving {
			if ev.Err != nil {
				// The refresh token is still unspent: keep it for a later
				// call rather than trade it for one that cannot be kept (S38).
				return r.finish(nil, fmt.Errorf("the token cache cannot take a refreshed token, so the refresh token was not used: %w", ev.Err))
			}
			r.phase = refreshFetching
			next, err := r.dp.send(r.req, r.now)
			if err != nil {
				return r.finish(nil, fmt.Errorf("refreshing the token for %s: %w", r.cfg.Target.Host, err))
			}
			return []Effect{next}
		}
		if r.phase == refreshSaving {
			if ev.Err != nil {
				return r.finish(nil, fmt.Errorf("saving the refreshed token: %w", ev.Err))
			}
			e := r.entry
			return r.finish(&e, r.err)
		}
	}
	return r.fail(fmt.Errorf("token: unexpected %T in phase %d", ev, r.phase))
}

func (r *Refresh) loaded(ev Loaded) []Effect {
	if ev.Err != nil {
		return r.fail(fmt.Errorf("reading the token cache: %w", ev.Err))
	}
	if ev.Entry == nil {
		return r.fail(r.notLoggedIn(nil))
	}
	if r.cfg.BearerOnly && ev.Entry.BoundToKey() {
		return r.fail(&DPoPBoundError{Host: r.cfg.Target.Host, JKT: ev.Entry.DPoP.JKT})
	}
	if (!r.force(ev.Entry) || r.justObtained(ev.Entry)) && r.fresh(ev.Entry) {
		r.phase = refreshDone
		return []Effect{Done{Token: ev.Entry.Token(), Entry: ev.Entry}}
	}
	r.key = ev.Key
	r.seen = ev.Entry.AccessToken
	r.phase = refreshLocking
	return []Effect{Lock{Key: r.key}}
}

func (r *Refresh) reloaded(ev Loaded) []Effect {
	if ev.Err != nil {
		return r.finish(nil, fmt.Errorf("reading the token cache: %w", ev.Err))
	}
	e := ev.Entry
	if e == nil {
		return r.finish(nil, r.notLoggedIn(nil)) // logged out meanwhile
	}
	r.registered = e.registeredClient()
	refreshedMeanwhile := e.AccessToken != r.seen
	if (refreshedMeanwhile || !r.force(e) || r.justObtained(e)) && r.fresh(e) {
		return r.finish(e, nil)
	}
	if e.Metadata.TokenEndpoint == "" {
		return r.finish(nil, r.notLoggedIn(errors.New("the cache entry has no token endpoint")))
	}
	r.dp = dpopSend{key: e.DPoP.clone(), rand: r.rand}
	if e.Grant != nil {
		return r.regrant(e)
	}
	if e.RefreshToken == "" {
		return r.finish(nil, r.notLoggedIn(errors.New("the token expired and there is no refresh token")))
	}
	r.entry = *e
	r.entry.DPoP = r.dp.key // refreshes are proved with the login's key: public clients' refresh tokens are bound too
	r.phase = refreshReserving
	r.req = r.cfg.Client.RefreshRequest(e.Metadata.TokenEndpoint, e.RefreshToken)
	if e.Resource != "" {
		r.req.Form.Set("resource", e.Resource) // RFC 8707 §2.2, as at login
	}
	return []Effect{Reserve{Key: r.key}}
}

func (r *Refresh) fetched(in Event) []Effect {
	f, next, err := r.dp.step(in)
	if err != nil {
		// The proof could not be signed: the refresh token is unspent.
		return r.finish(nil, fmt.Errorf("refreshing the token for %s: %w", r.cfg.Target.Host, err))
	}
	if next != nil {
		return []Effect{next}
	}
	ev := *f
	var t *TokenResponse
	err = ev.Err
	if err == nil {
		t, err = r.dp.parse(ev)
		err = r.req.scrub(err)
	} else if errors.Is(err, ErrTooLarge) { // its own stable code (response_too_large in the browser)
		err = fmt.Errorf("no usable answer from %s: %w", r.entry.Metadata.TokenEndpoint, ErrTooLarge)
	} else {
		err = fmt.Errorf("no usable answer from %s: %v", r.entry.Metadata.TokenEndpoint, err)
	}
	if errors.Is(err, ErrInvalidGrant) {
		// The refresh token is dead (revoked, expired or reused): drop it
		// so nobody sends it again, and tell the user to log in (S22).
		r.entry.RefreshToken = ""
		r.err = r.notLoggedIn(err)
		r.phase = refreshSaving
		return []Effect{Save{Key: r.key, Entry: r.entry}}
	}
	if ce := (*TokenCharsetError)(nil); errors.As(err, &ce) {
		// An answer refused for a token outside VSCHAR: nothing of it is
		// kept, its rotated refresh token included, but the server has
		// already spent the old one. Drop that too, as for invalid_grant,
		// so the next call asks for a login instead of replaying a spent
		// token (which a server with reuse detection answers by revoking
		// the login) (H8).
		r.entry.RefreshToken = ""
		r.err = r.notLoggedIn(err)
		r.phase = refreshSaving
		return []Effect{Save{Key: r.key, Entry: r.entry}}
	}
	if err != nil && t != nil && t.RefreshToken != "" {
		// An unusable answer that still rotated the refresh token: the old
		// one is spent, so the new one is the login now. Keep it, then
		// report the error (S38).
		r.entry.RefreshToken = t.RefreshToken
		r.err = fmt.Errorf("refreshing the token for %s: %w (the new refresh token was kept)", r.cfg.Target.Host, err)
		r.phase = refreshSaving
		return []Effect{Save{Key: r.key, Entry: r.entry}}
	}
	if err != nil {
		old := r.entry
		if !old.Expiry.IsZero() && ev.Now.Before(old.Expiry) {
			// Refreshing early failed, but the current token still works.
			return append([]Effect{Warn{Message: fmt.Sprintf("could not refresh the token (%v); using the current one, valid until %s", err, old.Expiry.Format(time.RFC3339))}},
				r.finish(&old, nil)...)
		}
		if ev.Err != nil {
			// Nothing came back (connection refused, a timeout): the
			// refresh token was kept, and nothing says it was spent.
			return r.finish(nil, fmt.Errorf("refreshing the token for %s: %w; the login is kept: run the command again once the server answers", r.cfg.Target.Host, err))
		}
		return r.finish(nil, fmt.Errorf("refreshing the token for %s: %w", r.cfg.Target.Host, err))
	}
	e := &r.entry
	e.AccessToken, e.TokenType, e.Expiry, e.ObtainedAt = t.AccessToken, t.TokenType, t.Expiry, ev.Now
	if t.RefreshToken != "" {
		e.RefreshToken = t.RefreshToken // rotated (RFC 9700 §4.14.2); else keep the old one (S21)
	}
	var effs []Effect
	if t.IDToken != "" {
		// Checked as at login (iss and aud; no nonce in a refresh): one
		// naming another issuer or client is not kept as this login's
		// identity. The tokens are kept: they come from the token
		// endpoint the login was bound to, and the refresh token is spent.
		if err := checkIDToken(t.IDToken, "", e.Metadata.Issuer, e.ClientID); err != nil {
			effs = append(effs, Warn{Message: fmt.Sprintf("the refreshed token for %s came with an ID token that does not fit the login (%v); the previous one is kept", r.cfg.Target.Host, err)})
		} else {
			e.IDToken = t.IDToken
		}
	}
	r.phase = refreshSaving
	return append(effs, Save{Key: r.key, Entry: r.entry})
}

// regrant repeats the grant of a login without a person, under the lock
// like a refresh. No Reserve comes first, deliberately: nothing is spent —
// the client secret, key and subject token stay usable — so a token that
// cannot be saved only means the next call makes the grant again.
func (r *Refresh) regrant(e *Entry) []Effect {
	r.entry = *e
	r.entry.DPoP = r.dp.key
	client := Client{ID: e.ClientID, Secret: r.cfg.Client.Secret}
	if client.Secret == "" {
		client.Secret = e.ClientSecret
	}
	r.grant = grantRun{g: *e.Grant, client: client, tokenURL: e.Metadata.TokenEndpoint, now: r.now, rand: r.rand, dp: r.dp, resource: e.Resource}
	first, err := r.grant.begin()
	if errors.Is(err, ErrNoClientSecret) {
		err = &LoginRequiredError{Host: r.cfg.Target.Host, ClientID: e.ClientID, WithoutPerson: true,
			Cause: fmt.Errorf("the client secret of this login is missing: %w", err)}
	}
	if err != nil {
		return r.finish(nil, err)
	}
	r.phase = refreshGranting
	return []Effect{first}
}

func (r *Refresh) granted(ev Event) []Effect {
	t, next, err := r.grant.next(ev)
	if next != nil {
		return []Effect{next}
	}
	now := r.now
	if f, ok := ev.(Fetched); ok && !f.Now.IsZero() {
		now = f.Now
	}
	if err != nil {
		old := r.entry
		if !old.Expiry.IsZero() && now.Before(old.Expiry) {
			// Only MinTTL or --force-refresh asked for a new token, and the
			// current one still works.
			return append([]Effect{Warn{Message: fmt.Sprintf("could not get a new token (%v); using the current one, valid until %s", err, old.Expiry.Format(time.RFC3339))}},
				r.finish(&old, nil)...)
		}
		return r.finish(nil, fmt.Errorf("getting a token for %s: %w", r.cfg.Target.Host, err))
	}
	e := &r.entry
	e.AccessToken, e.TokenType, e.Expiry, e.ObtainedAt = t.AccessToken, t.TokenType, t.Expiry, now
	g := r.grant.g // remembers a switch to client_secret_post
	e.Grant = &g
	if t.Scope != "" {
		e.Scopes = strings.Fields(t.Scope)
	}
	r.phase = refreshSaving
	return []Effect{Save{Key: r.key, Entry: r.entry}}
}
