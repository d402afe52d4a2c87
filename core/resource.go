package core

import (
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
)

// A call to a protected resource with a login's token — `auth api`, the
// browser's dualauth.fetch — is one more machine, so that both drivers
// speak it the same way: the token machine hands out the token, the
// request goes with `Authorization: DPoP|Bearer` and, for a DPoP login, a
// proof of exactly that request (RFC 9449 §7); a 401 that asks for the
// resource's nonce (§9) is answered once with a new proof; another 401
// refreshes the token once (forced) and sends the request once more.
// Same-origin redirects are followed here, each hop with a proof of its
// own method and URL. Nothing repeats: at most one nonce retry, one
// refresh and [MaxResourceRedirects] redirects.

// MaxResourceRedirects bounds the redirects a [ResourceCall] follows.
const MaxResourceRedirects = 10

// ResourceCallConfig says which request to send with whose token.
type ResourceCallConfig struct {
	// Token names the login. Its Force is not used: the first request
	// goes with the token the token machine hands out, and only a refusal
	// (401) forces a refresh.
	Token RefreshConfig
	// Method ("" is GET) and URL (http or https) of the request.
	Method string
	URL    string
	// Nonces are DPoP-Nonce values by origin (scheme://host) that a driver
	// kept from earlier calls ([Done].Entry's DPoP.Nonces).
	Nonces map[string]string
	// KeepNonces saves a nonce the resource gave with the login before
	// [Done] — under the login's lock, into the entry read again there —
	// so that the next call, in this process or another (`auth api`, a new
	// process each time; another tab or a reloaded page), proves with it
	// at once: the entry's nonces go first in every proof. Both drivers
	// set it. A
	// nonce of the token endpoint's origin is not saved: that server keeps
	// its own there, and the two would replace each other on every call.
	KeepNonces bool
	// LoginForm is how the step-up line of a 403 insufficient_scope names
	// the login to make: the CLI's command (the zero value) or the
	// browser API's call.
	LoginForm LoginForm
}

// LoginForm is the wording of a login a message tells the user to make.
type LoginForm int

const (
	// LoginCommand: `auth login HOST --scopes "…"` (the CLI).
	LoginCommand LoginForm = iota
	// LoginCall: `login({ host: "HOST", scopes: "…" })` (the browser API,
	// web/dualauth.d.ts).
	LoginCall
)

// FetchResource asks the driver to send a request to a protected resource
// and answer with [Fetched]. Method, URL and the headers in Request
// (Authorization, and DPoP for a bound token) are the machine's; the
// driver adds the caller's other headers and, when Body is set, the
// caller's body (a redirect may turn the request into a GET without one).
// Unlike [Fetch], the driver keeps the response body: the answer carries
// the status and headers (Location too), and the body of the response
// that [Done] names goes to the caller. A driver whose HTTP client follows
// redirects itself never answers with one. The body of an earlier answer
// is discarded when the next FetchResource comes.
type FetchResource struct {
	Request Request
	Body    bool
}

func (FetchResource) effect() {}

type resourcePhase int

const (
	resourceToken    resourcePhase = iota // the token machine runs
	resourceSigning                       // waiting for the proof's signature
	resourceFetching                      // waiting for the resource
	resourceKeeping                       // saving the resource's nonces (KeepNonces)
	resourceDone
)

// ResourceCall is the machine of one authenticated request to a resource:
// Start → the token machine ([Refresh]) → Sign (DPoP) → FetchResource →
// Done{Response, Entry, Token}. Done.Response is the final answer (its
// body held by the driver), also when Done.Err says that the refresh after
// a 401 failed; Done.Entry is the login's entry with the nonces the
// resource gave, which a driver may keep for later calls.
type ResourceCall struct {
	cfg   ResourceCallConfig
	phase resourcePhase
	inner *Refresh // the token machine, while it runs
	now   time.Time
	rand  io.Reader

	entry  *Entry
	method string
	url    string
	body   bool
	nonces map[string]string // the resource's nonces, by origin

	req          Request // the request being sent
	input        []byte  // its proof's signing input
	last         *Response
	nonceRetried bool
	refreshed    bool
	redirects    int

	// KeepNonces: the nonces being saved under the lock of keepKey, and
	// the Done that follows.
	keep    map[string]string
	keepKey string
	locked  bool
	held    Done
}

// NewResourceCall returns the machine for one request; it begins with
// [Start].
func NewResourceCall(cfg ResourceCallConfig) *ResourceCall {
	m := cfg.Method
	if m == "" {
		m = "GET"
	}
	c := &ResourceCall{cfg: cfg, method: m, url: cfg.URL, body: true, nonces: map[string]string{}}
	for o, n := range cfg.Nonces {
		c.remember(o, n)
	}
	return c
}

// Step advances the call by one event.
func (c *ResourceCall) Step(ev Event) []Effect {
	if c.phase == resourceToken && c.inner != nil {
		switch ev := ev.(type) {
		case Fetched:
			c.seen(ev.Now)
		case Locked:
			c.seen(ev.Now)
		}
		return c.token(c.inner.Step(ev))
	}
	switch ev := ev.(type) {
	case Start:
		if c.phase == resourceToken && c.rand == nil {
			c.now, c.rand = ev.Now, ev.Rand
			if _, err := HTU(c.url); err != nil {
				return c.finish(err)
			}
			if !HTTPToken(c.method) {
				return c.finish(fmt.Errorf("%q is not an HTTP method", c.method))
			}
			return c.refresh(false)
		}
	case Signed:
		if c.phase == resourceSigning {
			if ev.Err != nil {
				return c.finish(fmt.Errorf("signing the DPoP proof: %w", ev.Err))
			}
			c.req.Header["DPoP"] = CompactJWS(c.input, ev.Signature)
			c.phase = resourceFetching
			return []Effect{FetchResource{Request: c.req, Body: c.body}}
		}
	case Fetched:
		if c.phase == resourceFetching {
			return c.answered(ev)
		}
	case Locked:
		if c.phase == resourceKeeping && !c.locked {
			if ev.Err != nil {
				return c.kept() // the nonces are an optimisation: the call's answer stands
			}
			c.locked = true
			return []Effect{Load{Keys: []string{c.keepKey}}}
		}
	case Loaded:
		if c.phase == resourceKeeping && c.locked {
			e := ev.Entry
			if ev.Err != nil || e == nil || e.DPoP == nil || e.DPoP.Key != c.entry.DPoP.Key {
				return c.kept() // logged out, or logged in again with another key
			}
			next := *e
			next.DPoP = e.DPoP.clone()
			for o, n := range c.keep {
				next.DPoP.Remember(o, n)
			}
			return []Effect{Save{Key: c.keepKey, Entry: next}}
		}
	case Saved:
		if c.phase == resourceKeeping && c.locked {
			return c.kept()
		}
	case Aborted:
		if c.phase == resourceKeeping {
			return c.kept()
		}
		return c.finish(ev.Err)
	}
	if c.phase == resourceKeeping {
		return c.kept()
	}
	return c.finish(fmt.Errorf("resource call: unexpected %T", ev))
}

func (c *ResourceCall) seen(t time.Time) {
	if !t.IsZero() {
		c.now = t
	}
}

// refresh runs the token machine; after a 401 (refused) with the token the
// resource refused: still the stored one, it is refreshed under the lock;
// replaced by another process meanwhile, the new one is used without a
// second refresh (RefreshConfig.Refused).
func (c *ResourceCall) refresh(refused bool) []Effect {
	cfg := c.cfg.Token
	cfg.Force = false
	if refused {
		cfg.Refused = c.entry.AccessToken
	}
	c.refreshed = c.refreshed || refused
	c.inner = NewRefresh(cfg)
	c.phase = resourceToken
	return c.token(c.inner.Step(Start{Now: c.now, Rand: c.rand}))
}

// token passes the token machine's effects on, up to its Done: then the
// request goes with the token it handed out.
func (c *ResourceCall) token(effects []Effect) []Effect {
	for i, e := range effects {
		d, ok := e.(Done)
		if !ok {
			continue
		}
		c.inner = nil
		out := append(effects[:i:i], c.tokenDone(d)...)
		return out
	}
	return effects
}

func (c *ResourceCall) tokenDone(d Done) []Effect {
	if d.Err != nil {
		if c.refreshed {
			return c.finish(fmt.Errorf("%s: 401 Unauthorized, and refreshing the token failed: %w", c.what(), d.Err))
		}
		c.last = nil
		return c.finish(d.Err)
	}
	if c.refreshed && c.entry != nil && d.Entry.AccessToken == c.entry.AccessToken {
		return c.finish(fmt.Errorf("%s: 401 Unauthorized, and the server gave no new token to retry with", c.what()))
	}
	e := *d.Entry
	if !onLoginsOrigin(c.url, &e) {
		// The token is for this login's host or resource: a URL elsewhere
		// (a page-relative path in a browser, a link from another API)
		// must not carry it.
		return c.finish(&wrongOrigin{url: c.url, host: e.Host})
	}
	e.DPoP = e.DPoP.clone()
	c.entry = &e
	return c.send()
}

// onLoginsOrigin reports whether target is on the origin of the host the
// login was made for, or of its resource.
func onLoginsOrigin(target string, e *Entry) bool {
	return SameOrigin(target, e.Host) || e.Resource != "" && SameOrigin(target, e.Resource)
}

// send sends the current request with the current token: a Sign for its
// proof first for a DPoP login.
func (c *ResourceCall) send() []Effect {
	c.req = Request{Method: c.method, URL: c.url, Header: map[string]string{"Authorization": Authorization(c.entry.Token())}}
	if !c.entry.BoundToKey() {
		c.phase = resourceFetching
		return []Effect{FetchResource{Request: c.req, Body: c.body}}
	}
	sg, err := ResourceProof(c.entry, c.method, c.url, c.nonces[origin(c.url)], c.now, c.rand)
	if err != nil {
		return c.finish(err)
	}
	c.input = sg.Input
	c.phase = resourceSigning
	return []Effect{sg}
}

// answered reads the resource's answer: a redirect to follow, a nonce to
// prove with, a refusal worth one refresh, or the final response.
func (c *ResourceCall) answered(f Fetched) []Effect {
	c.seen(f.Now)
	if f.Err != nil {
		c.last = nil
		return c.finish(f.Err)
	}
	r := f.Response
	c.last = &r
	c.remember(c.url, r.DPoPNonce)
	if next, ok := c.redirect(r); ok {
		c.redirects++
		c.url = next
		return c.send()
	}
	if r.Status == 403 {
		if need, ok := InsufficientScope(r.WWWAuthenticate); ok {
			// Step-up: one line with the login that would be let in; no
			// browser from here (the call may have no person behind it).
			return append([]Effect{Warn{Message: c.stepUp(need)}}, c.finish(nil)...)
		}
	}
	if r.Status != 401 {
		return c.finish(nil)
	}
	if c.entry.BoundToKey() && !c.nonceRetried && ResourceNonce(r.Status, r.WWWAuthenticate, r.DPoPNonce) != "" {
		// The resource wants its nonce in the proof (RFC 9449 §9): once.
		c.nonceRetried = true
		return c.send()
	}
	if !c.refreshed {
		// The token may have been revoked or expired early: one refresh
		// (unless another process made one meanwhile), one retry, only
		// with a new token.
		return c.refresh(true)
	}
	return c.finish(nil)
}

// stepUp is the line that says which login a 403 insufficient_scope asks
// for: the login's scopes and the ones the resource named, together.
func (c *ResourceCall) stepUp(need []string) string {
	scopes := slices.Clone(c.entry.Scopes)
	for _, s := range need {
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	if len(need) == 0 {
		return fmt.Sprintf("%s: 403 insufficient_scope: the token's scopes (%s) are not enough, and the server did not say which it needs", c.what(), Sanitize(strings.Join(c.entry.Scopes, " ")))
	}
	host, scope := Sanitize(c.entry.Host), Sanitize(strings.Join(scopes, " "))
	if c.cfg.LoginForm == LoginCall {
		return fmt.Sprintf("%s: 403 insufficient_scope: log in again with the scopes it needs: login({ host: %q, scopes: %q })",
			c.what(), host, scope)
	}
	// Every word shell-quoted: the scopes are the server's words.
	cmd := "auth login " + ShellWord(c.entry.Host)
	if id := c.entry.ClientID; id != "" && !IsDatabricksHost(c.entry.Host) && !c.entry.registeredClient() {
		// As [LoginRequiredError] says it: a client the user named is named
		// again (the login does not guess it); the host's default client
		// and one dualauth registered are found by the login itself.
		cmd += " --client-id " + ShellWord(id)
	}
	return fmt.Sprintf("%s: 403 insufficient_scope: log in again with the scopes it needs: %s --scopes %s",
		c.what(), cmd, ShellWord(scope))
}

// redirect is the next URL of a redirect to follow, and sets the method
// and body of the request to it as HTTP clients do (RFC 9110 §15.4): 307
// and 308 keep both; 301, 302 and 303 drop the body and turn anything but
// GET and HEAD into a GET. Only redirects on the request's own origin are
// followed: the token must not reach another host, nor the same host over
// another scheme or port.
func (c *ResourceCall) redirect(r Response) (string, bool) {
	keep := false
	switch r.Status {
	case 301, 302, 303:
	case 307, 308:
		keep = true
	default:
		return "", false
	}
	if r.Location == "" || c.redirects >= MaxResourceRedirects {
		return "", false
	}
	base, err := url.Parse(c.url)
	if err != nil {
		return "", false
	}
	loc, err := base.Parse(r.Location)
	if err != nil || loc.User != nil || !SameOrigin(c.cfg.URL, loc.String()) {
		return "", false
	}
	loc.Fragment, loc.RawFragment = "", ""
	if !keep {
		c.body = false
		if !strings.EqualFold(c.method, "GET") && !strings.EqualFold(c.method, "HEAD") {
			c.method = "GET"
		}
	}
	return loc.String(), true
}

// remember keeps a nonce the resource at target sent.
func (c *ResourceCall) remember(target, nonce string) {
	k := DPoPKey{Nonces: c.nonces}
	k.Remember(target, nonce)
}

func (c *ResourceCall) what() string {
	if u, err := url.Parse(c.url); err == nil {
		return c.method + " " + u.Redacted()
	}
	return c.method
}

// finish ends the call: the last answer, and the entry with the
// resource's nonces.
func (c *ResourceCall) finish(err error) []Effect {
	c.phase = resourceDone
	d := Done{Err: err, Response: c.last}
	if c.entry != nil {
		e := *c.entry
		if e.DPoP != nil && len(c.nonces) > 0 {
			e.DPoP = e.DPoP.clone()
			if e.DPoP.Nonces == nil {
				e.DPoP.Nonces = map[string]string{}
			}
			for o, n := range c.nonces {
				e.DPoP.Nonces[o] = n
			}
		}
		d.Entry, d.Token = &e, e.Token()
	}
	if c.keep = c.toKeep(); len(c.keep) > 0 {
		c.phase, c.keepKey, c.held = resourceKeeping, c.entry.Key(), d
		return []Effect{Lock{Key: c.keepKey}}
	}
	return []Effect{d}
}

// toKeep are the resource's nonces that KeepNonces saves: those the
// login's entry does not have yet, on origins other than its token
// endpoint's.
func (c *ResourceCall) toKeep() map[string]string {
	if !c.cfg.KeepNonces || c.entry == nil || !c.entry.BoundToKey() {
		return nil
	}
	as := origin(c.entry.Metadata.TokenEndpoint)
	keep := map[string]string{}
	for o, n := range c.nonces {
		if o != as && c.entry.DPoP.Nonces[o] != n {
			keep[o] = n
		}
	}
	return keep
}

// kept ends a call after its nonces were saved, or could not be.
func (c *ResourceCall) kept() []Effect {
	var out []Effect
	if c.locked {
		out = append(out, Unlock{Key: c.keepKey})
		c.locked = false
	}
	c.phase = resourceDone
	return append(out, c.held)
}

// SameOrigin reports whether two URLs have the same origin (RFC 6454):
// scheme, host name and port, a default port being equal to none.
func SameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil || ua.Host == "" || ub.Host == "" {
		return false
	}
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if strings.EqualFold(u.Scheme, "http") {
			return "80"
		}
		return "443"
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Hostname(), ub.Hostname()) && port(ua) == port(ub)
}

// HTTPToken reports whether s is an RFC 9110 token, as a method or a
// header name must be.
func HTTPToken(s string) bool {
	t, rest := cutToken(s)
	return t != "" && rest == ""
}
