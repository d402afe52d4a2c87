package native

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/dualauth/dualauth/core"
)

// Defaults for Databricks hosts, as the Databricks CLI registers them
// (decided in core: see [core.Resolution]).
const (
	DatabricksClientID    = core.DatabricksClientID
	DatabricksRedirectURI = core.DatabricksRedirectURI
)

// DefaultScopes returns the scopes a login asks for when none are given
// (see [core.DefaultScopes]).
func DefaultScopes(t core.Target) []string { return core.DefaultScopes(t) }

// ParseScopes splits a space- or comma-separated scope list.
func ParseScopes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
}

// Options common to every flow.
type Options struct {
	Target   core.Target
	ClientID string
	// Store is the token cache; nil opens the file cache in
	// DefaultCacheDir with refresh tokens stored as DUALAUTH_STORAGE says
	// (see [KeyringStore]).
	Store       Store
	HTTPOptions HTTPOptions
	LockTimeout time.Duration
	// Warn receives non-fatal messages; nil writes them to stderr.
	Warn func(string)
	// ClientChosen is told, before the browser opens, which client
	// dualauth registered for a login (see [Driver.ClientChosen]).
	ClientChosen func(id, from string)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Getenv reads subject token sources (env:VAR, github-actions); nil
	// means os.Getenv.
	Getenv func(string) string
	// ClientSecret is the secret of a client that logs in without a
	// person. [GrantLogin] logs in with it; [Token] uses it, when set,
	// instead of the stored one (a secret kept in a Databricks CLI config
	// file is given again at each call, never stored).
	ClientSecret string
	// DPoP is the DPoP mode of a login: auto ("" too), always or never
	// (see core.DPoPAuto).
	DPoP string
	// Resource is an RFC 8707 resource given with a login, for an API
	// that publishes no protected-resource metadata: [Resolve] asks for
	// it in place of any it finds (see core.ResolveConfig.Resource).
	Resource string
}

func (o *Options) store() (Store, error) {
	if o.Store != nil {
		return o.Store, nil
	}
	dir, err := DefaultCacheDir()
	if err != nil {
		return nil, err
	}
	ks, err := NewKeyringStore(&FileCache{Dir: dir, Warn: o.Warn}, os.Getenv("DUALAUTH_STORAGE"))
	if err != nil {
		return nil, fmt.Errorf("DUALAUTH_STORAGE: %w", err)
	}
	o.Store = ks
	return o.Store, nil
}

func (o *Options) driver(s Store) *Driver {
	return &Driver{Store: s, HTTPOptions: o.HTTPOptions, LockTimeout: o.LockTimeout, Warn: o.Warn, ClientChosen: o.ClientChosen, Now: o.Now, Getenv: o.Getenv}
}

// LoginForURL is the host of the stored login whose RFC 8707 resource
// contains rawURL (see [core.LoginForURL]), "" when there is none or the
// store cannot list its logins.
func LoginForURL(s Store, rawURL string) string {
	entries, err := storedEntries(s)
	if err != nil {
		return ""
	}
	return core.LoginForURL(core.ResourceLogins(entries), rawURL)
}

// storedEntries is every entry of a store that can list them (the file
// cache, the keyring's), nil for one that cannot.
func storedEntries(s Store) ([]core.Entry, error) {
	lister, ok := s.(interface {
		Entries() (map[string]core.Entry, error)
	})
	if !ok {
		return nil, nil
	}
	entries, err := lister.Entries()
	if err != nil {
		return nil, err
	}
	return slices.Collect(maps.Values(entries)), nil
}

// ErrAmbiguousClient: the host has logins of several clients and none was
// named — a usage problem, which the CLI reports with exit code 2.
var ErrAmbiguousClient = core.ErrAmbiguousClient

// ResolveClientID picks the client of a login as [core.PickClient] does,
// over the logins in the cache.
func ResolveClientID(s Store, t core.Target, given string) (string, error) {
	if id, _ := core.PickClient(t, given, nil); id != "" {
		return id, nil // named, or decided by the host: no need to read the cache
	}
	entries, err := storedEntries(s)
	if err != nil {
		return "", err
	}
	id, err := core.PickClient(t, given, core.SummarizeLogins(entries))
	if err != nil {
		return "", fmt.Errorf("%w: pass --client-id", err)
	}
	return id, nil
}

// LoginOptions configure [Login].
type LoginOptions struct {
	Options
	// Scopes; nil means core.LoginScopes: the resolution's, else DefaultScopes.
	Scopes     []string
	Prompt     string
	AuthParams url.Values
	Listener   ListenerConfig
	Opener     Opener
	// Timeout bounds the whole login, waiting for the user included; 0
	// means 5 minutes.
	Timeout time.Duration
	// OnAuthorize is called once the browser is being sent to url; failed
	// receives an error if opening it fails (the login keeps waiting).
	OnAuthorize func(url string, failed <-chan error)
	// Callbacks, when set, are merged with the listener's (for example a
	// redirect URL pasted into the terminal).
	Callbacks <-chan *Incoming
	// Resolution, from [Resolve], skips discovery and is saved with the
	// login. With it, an empty ClientID means: use the client registered
	// at the issuer, or register one (RFC 7591).
	Resolution *core.Resolution
}

// DefaultLoginTimeout is how long a login waits for the user.
const DefaultLoginTimeout = 5 * time.Minute

// beginLogin is what every login flow does first: open the store, check
// the client, check that the cache can take the login and settle where the
// refresh token will go (before the user is sent anywhere), and bound the
// whole login by timeout (0: the default).
func (o *Options) beginLogin(ctx context.Context, timeout time.Duration, registers bool) (Store, context.Context, context.CancelFunc, error) {
	s, err := o.store()
	if err != nil {
		return nil, nil, nil, err
	}
	if o.ClientID == "" && !registers {
		return nil, nil, nil, errors.New("no client ID")
	}
	if c, ok := s.(interface{ CheckWritable() error }); ok {
		// A login the cache cannot take is lost after the user signed in:
		// find out before they are sent anywhere.
		if err := c.CheckWritable(); err != nil {
			return nil, nil, nil, fmt.Errorf("cannot log in: %w", err)
		}
	}
	if err := settleStorage(s); err != nil {
		return nil, nil, nil, err
	}
	if timeout <= 0 {
		timeout = DefaultLoginTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%w: no login completed within %s", ErrTimeout, timeout))
	return s, ctx, cancel, nil
}

// Login runs the authorization-code + PKCE login: listener, discovery,
// browser, callback, code exchange, save under the lock.
func Login(ctx context.Context, o LoginOptions) (*core.Entry, error) {
	s, ctx, cancel, err := o.beginLogin(ctx, o.Timeout, o.Resolution != nil)
	if err != nil {
		return nil, err
	}
	defer cancel()

	l, err := Listen(o.Listener)
	if err != nil {
		return nil, err
	}
	defer func() { l.Close() }()
	// The listener's callbacks reach the driver through calls, so that a
	// move to a registered client's redirect URI (core.Listen) swaps the
	// listener under it.
	calls := make(chan *Incoming)
	go relay(ctx, l, calls)

	scopes := core.LoginScopes(o.Scopes, o.Resolution, o.Target)
	d := o.driver(s)
	d.Callbacks = merge(ctx, calls, o.Callbacks)
	d.Listen = func(uri string) error {
		moved, err := Listen(ListenerConfig{RedirectURI: uri})
		if err != nil {
			return err
		}
		l.Close()
		l = moved
		go relay(ctx, l, calls)
		return nil
	}
	d.Authorize = func(u string) {
		failed := o.Opener.Open(u)
		if o.OnAuthorize != nil {
			o.OnAuthorize(u, failed)
		}
	}
	done := d.Run(ctx, core.NewLogin(core.LoginConfig{
		Target:      o.Target,
		Client:      core.Client{ID: o.ClientID},
		Scopes:      scopes,
		RedirectURI: l.RedirectURI(),
		Prompt:      o.Prompt,
		AuthParams:  o.AuthParams,
		PendingTTL:  o.Timeout, // the user has all of --timeout to sign in
		Resolution:  o.Resolution,
		DPoP:        o.DPoP,
		// A listener on a free port can move to the port a registered
		// client was registered with; one the user placed cannot.
		MovableRedirect: o.Listener.RedirectURI == "" && o.Listener.Port == 0,
	}))
	if done.Err != nil {
		return nil, done.Err
	}
	return done.Entry, nil
}

// relay hands the callbacks of l to out until l is closed.
func relay(ctx context.Context, l *Listener, out chan<- *Incoming) {
	for {
		select {
		case in := <-l.Callbacks():
			select {
			case out <- in:
			case <-ctx.Done():
				in.Reply(closedPage)
				return
			}
		case <-l.done:
			return
		case <-ctx.Done():
			return
		}
	}
}

func merge(ctx context.Context, a, b <-chan *Incoming) <-chan *Incoming {
	if b == nil {
		return a
	}
	out := make(chan *Incoming)
	for _, c := range []<-chan *Incoming{a, b} {
		go func() {
			for {
				select {
				case in, ok := <-c:
					if !ok {
						return
					}
					select {
					case out <- in:
					case <-ctx.Done():
						in.Reply(closedPage)
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return out
}

// Resolve finds out what o.Target is and how to log in there (see
// [core.Resolve]): a Databricks host by its name or its own documents, a
// protected resource, an issuer; with o.Resource, for that resource. It
// needs the network, never the cache. The login is then kept under
// [core.Resolution.LoginTarget].
func Resolve(ctx context.Context, o Options) (*core.Resolution, error) {
	m := core.NewResolve(core.ResolveConfig{Target: o.Target, Resource: o.Resource})
	done := o.driver(nil).Run(ctx, m)
	if done.Err != nil {
		return nil, done.Err
	}
	return m.Result(), nil
}

// storeAndClient opens the store and finds the login's client (see
// [ResolveClientID]).
func (o *Options) storeAndClient() (Store, string, error) {
	s, err := o.store()
	if err != nil {
		return nil, "", err
	}
	id, err := ResolveClientID(s, o.Target, o.ClientID)
	return s, id, err
}

// TokenOptions configure [Token].
type TokenOptions struct {
	Options
	// Force refreshes even a valid token.
	Force bool
	// ForceSharesNew: Force hands out a token obtained just now (see
	// core.RefreshConfig.ForceSharesNew).
	ForceSharesNew bool
	// Skew is how early a token counts as expired; 0 means
	// core.DefaultSkew.
	Skew time.Duration
	// MinTTL refreshes a token with less than this left (see
	// core.RefreshConfig.MinTTL); 0 means Skew alone decides.
	MinTTL time.Duration
	// BearerOnly refuses a DPoP-bound login with a *core.DPoPBoundError
	// before any lock, keyring or request (see core.RefreshConfig.BearerOnly).
	BearerOnly bool
	// Refused is an access token a resource refused: still the stored
	// one, it is refreshed; already replaced, the new one is handed out
	// (see core.RefreshConfig.Refused).
	Refused string
}

// Token returns a valid access token for the login: from the cache when
// it is valid (no lock, no network), else refreshed under the lock.
func Token(ctx context.Context, o TokenOptions) (*core.Entry, error) {
	s, id, err := o.storeAndClient()
	if err != nil {
		return nil, err
	}
	done := o.driver(s).Run(ctx, core.NewRefresh(core.RefreshConfig{
		Target:         o.Target,
		Client:         core.Client{ID: id, Secret: o.ClientSecret},
		Skew:           o.Skew,
		Force:          o.Force,
		ForceSharesNew: o.ForceSharesNew,
		MinTTL:         o.MinTTL,
		BearerOnly:     o.BearerOnly,
		Refused:        o.Refused,
	}))
	if done.Err != nil {
		return nil, done.Err
	}
	return done.Entry, nil
}

// Logout removes the login from the cache and revokes its refresh token
// when the server has a revocation endpoint; a failed revocation is a
// warning. With no login stored it returns nil and no error: the user is
// logged out already (see [core.Logout]).
func Logout(ctx context.Context, o Options) (*core.Entry, error) {
	s, id, err := o.storeAndClient()
	if err != nil {
		return nil, err
	}
	done := o.driver(s).Run(ctx, core.NewLogout(o.Target, core.Client{ID: id}))
	if done.Err != nil {
		return nil, done.Err
	}
	return done.Entry, nil
}
