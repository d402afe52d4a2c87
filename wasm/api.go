//go:build js && wasm

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall/js"

	"github.com/dualauth/dualauth/core"
)

// callbackParams are the authorization response parameters (RFC 6749
// §4.1.2, RFC 9207, OpenID session management) that must not stay in the
// address bar, the history or a Referer.
var callbackParams = []string{"code", "state", "error", "error_description", "error_uri", "iss", "session_state"}

// api builds the object that web/dualauth.js wraps. Every method but
// onChange and onConsole returns a Promise.
func (d *driver) api() js.Value {
	o := jsGlobal.Get("Object").New()
	o.Set("login", asyncFunc(parseLoginOptions, d.login))
	o.Set("handleRedirect", asyncFunc(parseHref, d.handleRedirect))
	o.Set("token", asyncFunc(parseTokenOptions, d.token))
	o.Set("logout", asyncFunc(parseTargetOptions, d.logout))
	o.Set("session", asyncFunc(parseTargetOptions, d.session))
	o.Set("fetch", asyncFunc(parseFetchArgs, d.apiFetch))
	o.Set("onChange", subscribe(d.changes))
	o.Set("onConsole", subscribe(d.lines))
	return o
}

// subscribe is a method that adds its callback argument to l and returns
// a function that removes it.
func subscribe(l *listeners) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) any {
		cb := arg0(args)
		if cb.Type() != js.TypeFunction || l == nil {
			return js.Undefined() // dualauth.js checks and throws; never panic in a callback
		}
		remove := l.add(cb)
		var off js.Func
		off = js.FuncOf(func(js.Value, []js.Value) any {
			remove()
			off.Release()
			return nil
		})
		return off
	})
}

// option reads a string option; missing, null and undefined are "".
func option(o js.Value, name string) (string, error) {
	if o.Type() != js.TypeObject {
		return "", nil
	}
	v := o.Get(name)
	switch v.Type() {
	case js.TypeUndefined, js.TypeNull:
		return "", nil
	case js.TypeString:
		return v.String(), nil
	}
	return "", fmt.Errorf("%w: %s must be a string", errBadArgument, name)
}

type targetOptions struct {
	host      string
	clientID  string // "" : the login resolves one (Databricks, registration) or finds it stored
	accountID string // a Databricks account: its account-level OIDC issuer
	// resource is an RFC 8707 resource indicator asked of the issuer at
	// host, for an API that publishes no metadata of its own. A login is
	// kept per resource: token({ host: resource }) finds it.
	resource string
}

func parseTargetOptions(args []js.Value) (targetOptions, error) {
	t, err := parseTargetFields(args)
	if err == nil && t.host == "" {
		return t, fmt.Errorf("%w: host is required", errBadArgument)
	}
	return t, err
}

// parseTargetFields reads the target options, none of them required.
func parseTargetFields(args []js.Value) (targetOptions, error) {
	o := arg0(args)
	var t targetOptions
	var err error
	if t.host, err = option(o, "host"); err != nil {
		return t, err
	}
	if t.clientID, err = option(o, "clientId"); err != nil {
		return t, err
	}
	if t.accountID, err = option(o, "accountId"); err != nil {
		return t, err
	}
	if t.resource, err = option(o, "resource"); err != nil {
		return t, err
	}
	return t, nil
}

// resolve is the target and client of a stored login: with a resource, the
// login of that resource; without a client ID, the only client logged in
// to the target in this origin.
func (t targetOptions) resolve(d *driver) (core.Target, core.Client, error) {
	raw := t.host
	if t.resource != "" {
		raw = t.resource
	}
	host, err := normalizeHost(raw)
	if err != nil {
		return core.Target{}, core.Client{}, err
	}
	tg := core.Target{Host: host, AccountID: t.accountID}
	id := t.clientID
	if id == "" {
		if id, err = d.storedClient(tg); err != nil {
			return core.Target{}, core.Client{}, err
		}
	}
	return tg, core.Client{ID: id}, nil
}

// withoutPerson are login options of grants without a person, which the
// browser API refuses by name rather than ignore.
var withoutPerson = []string{"clientSecret", "clientKey", "subjectToken", "grant", "clientAuth"}

type loginOptions struct {
	targetOptions
	scopes      []string // none: core.LoginScopes of the target
	redirectURI string
	returnTo    string
	prompt      string
	dpop        string // auto, always or never
}

func parseLoginOptions(args []js.Value) (loginOptions, error) {
	t, err := parseTargetOptions(args)
	l := loginOptions{targetOptions: t}
	if err != nil {
		return l, err
	}
	o := arg0(args)
	for _, k := range withoutPerson {
		if v := o.Get(k); v.Type() != js.TypeUndefined && v.Type() != js.TypeNull {
			return l, fmt.Errorf("%w: %s: logins without a person (client secret, private key, token exchange) are not offered in the browser — a page cannot keep a secret or a key; use the auth CLI in CI and services", errBadArgument, k)
		}
	}
	switch s := o.Get("scopes"); s.Type() {
	case js.TypeUndefined, js.TypeNull:
		// none: login asks for the host's default scopes
	case js.TypeString:
		l.scopes = strings.Fields(s.String())
	case js.TypeObject:
		if !jsGlobal.Get("Array").Call("isArray", s).Bool() {
			return l, fmt.Errorf("%w: scopes must be a string or an array of strings", errBadArgument)
		}
		for i := range s.Length() {
			if s.Index(i).Type() != js.TypeString {
				return l, fmt.Errorf("%w: scopes must be a string or an array of strings", errBadArgument)
			}
			l.scopes = append(l.scopes, strings.Fields(s.Index(i).String())...)
		}
	default:
		return l, fmt.Errorf("%w: scopes must be a string or an array of strings", errBadArgument)
	}
	loc := jsGlobal.Get("location")
	if l.redirectURI, err = option(o, "redirectUri"); err != nil {
		return l, err
	}
	if l.redirectURI == "" {
		l.redirectURI = loc.Get("origin").String() + loc.Get("pathname").String()
	}
	if l.returnTo, err = option(o, "returnTo"); err != nil {
		return l, err
	}
	if l.returnTo == "" {
		l.returnTo = loc.Get("href").String()
	}
	if l.returnTo, err = sameOrigin(l.returnTo, loc.Get("href").String()); err != nil {
		return l, err
	}
	if l.prompt, err = option(o, "prompt"); err != nil {
		return l, err
	}
	if l.dpop, err = option(o, "dpop"); err != nil {
		return l, err
	}
	if l.dpop, err = core.ParseDPoPMode(l.dpop); err != nil {
		return l, fmt.Errorf("%w: %v", errBadArgument, err)
	}
	return l, nil
}

// sameOrigin resolves ref against page and insists that it stays on the
// page's origin: returnTo must never become an open redirect.
func sameOrigin(ref, page string) (string, error) {
	base, err := url.Parse(page)
	if err != nil {
		return "", fmt.Errorf("%w: the page URL is not a URL", errBadArgument)
	}
	u, err := base.Parse(ref)
	if err != nil || u.Scheme != base.Scheme || u.Host != base.Host {
		return "", fmt.Errorf("%w: returnTo must be a URL of this origin", errBadArgument)
	}
	return u.String(), nil
}

func (d *driver) login(o loginOptions) (any, error) {
	host, err := normalizeHost(o.host)
	if err != nil {
		return nil, err
	}
	target := core.Target{Host: host, AccountID: o.accountID}
	// What the host is, in the core (Databricks by its host metadata, a
	// protected resource by RFC 9728, an issuer): the client, scopes and
	// resource that follow.
	res, err := d.resolveTarget(target, o.resource)
	if err != nil {
		return nil, err
	}
	target = res.LoginTarget(target) // per resource, like one found by RFC 9728
	client := core.Client{ID: o.clientID}
	if client.ID == "" {
		client.ID = res.ClientID // Databricks: databricks-cli; else registered by the core
	}
	// Per target: all-apis offline_access for Databricks, the resource's
	// scopes (none when it names none), or openid offline_access — the
	// core's rule, the CLI's too.
	scopes := core.LoginScopes(o.scopes, res, target)
	now := d.clock()
	for _, k := range d.local.dropStalePending(now) { // S27
		d.dropKey(k) // an abandoned DPoP login's key
	}
	d.tokens.dropStaleClaims(now) // best effort: storage trouble shows where it matters
	m := core.NewLogin(core.LoginConfig{
		Target:      target,
		Client:      client,
		Scopes:      scopes,
		RedirectURI: o.redirectURI,
		ReturnTo:    o.returnTo,
		Prompt:      o.prompt,
		Resolution:  res,
		AppType:     core.AppWeb,
		DPoP:        o.dpop,
	})
	done := d.run(m, core.Start{Now: now, Rand: webCrypto{}})
	var to *redirectTo
	if errors.As(done.Err, &to) {
		if d.worker {
			return map[string]any{"redirect": to.url}, nil // dualauth.js takes the page there
		}
		d.navigate(to.url)
		return js.Undefined(), nil
	}
	if done.Err != nil {
		return nil, done.Err
	}
	return nil, fmt.Errorf("login ended without redirecting")
}

func parseHref(args []js.Value) (string, error) {
	if h := arg0(args); h.Type() == js.TypeString {
		return h.String(), nil
	}
	return jsGlobal.Get("location").Get("href").String(), nil
}

// isCallback reports whether a page URL carries an authorization response.
func isCallback(q url.Values) bool {
	return q.Has("code") || q.Has("state") || q.Has("error")
}

// scrubbed returns href without the authorization response parameters,
// keeping the rest of the query and the fragment; ok is false when there
// was nothing to remove.
func scrubbed(href string) (out string, ok bool) {
	u, err := url.Parse(href)
	if err != nil {
		return href, false
	}
	q := u.Query()
	for _, p := range callbackParams {
		if q.Has(p) {
			q.Del(p)
			ok = true
		}
	}
	if !ok {
		return href, false
	}
	u.RawQuery = q.Encode()
	return u.String(), true
}

// scrubAddressBar removes code and state from the address bar and the
// current history entry (S28), so neither a reload, a bookmark, the back
// button nor a Referer can replay or leak them.
func scrubAddressBar() {
	loc := jsGlobal.Get("location").Get("href").String()
	if clean, ok := scrubbed(loc); ok {
		jsGlobal.Get("history").Call("replaceState", jsGlobal.Get("history").Get("state"), "", clean)
	}
}

func (d *driver) handleRedirect(href string) (any, error) {
	u, err := url.Parse(href)
	if err != nil || !isCallback(u.Query()) {
		return map[string]any{"status": "none", "returnTo": js.Null()}, nil
	}
	if !d.worker { // a worker has no address bar: dualauth.js scrubbed the page's (S28)
		scrubAddressBar() // before anything else can fail or wait (S28)
	}
	q := u.Query()
	state := q.Get("state")
	if state == "" {
		return nil, core.ErrStateMismatch
	}
	// Single use (S29): the entry is gone before the exchange starts, so a
	// replayed callback URL finds nothing. The core then compares the
	// state in constant time.
	p, ok := d.local.takePending(state)
	if !ok {
		return nil, core.ErrStateMismatch
	}
	// Another tab may have read the same pending login before it was
	// removed: only the first claim goes on to the exchange.
	if first, err := d.tokens.claim(pendingKey(state), d.clock()); err != nil {
		return nil, err
	} else if !first {
		return nil, core.ErrStateMismatch
	}
	m := core.ResumeLogin(*p, core.Client{ID: p.ClientID}, webCrypto{})
	done := d.run(m, core.Callback{Query: q, Now: d.clock()}) // a failure drops the login's DPoP key (core.DropKey)
	if done.Err != nil {
		return nil, done.Err
	}
	if d.worker {
		// The page that called goes back (dualauth.js): the same way.
		here, _ := scrubbed(href)
		target, samePage := returnPlan(p.ReturnTo, here)
		return map[string]any{"status": "signed-in", "returnTo": target, "samePage": samePage}, nil
	}
	returnTo := d.returnTo(p.ReturnTo)
	return map[string]any{"status": "signed-in", "returnTo": returnTo}, nil
}

// returnTo brings the page back to where the login started: on the same
// page by rewriting the address bar (no reload), elsewhere on the origin by
// navigating. Anything else is ignored.
func (d *driver) returnTo(saved string) string {
	target, samePage := returnPlan(saved, jsGlobal.Get("location").Get("href").String())
	if samePage {
		jsGlobal.Get("history").Call("replaceState", jsGlobal.Get("history").Get("state"), "", target)
	} else {
		d.navigate(target)
	}
	return target
}

// returnPlan is where a page at here goes back to after a login that
// started at saved: saved when it is on this origin (else here), and
// whether that is this page (only the address bar changes).
func returnPlan(saved, here string) (target string, samePage bool) {
	if saved == "" {
		return here, true
	}
	target, err := sameOrigin(saved, here)
	if err != nil {
		return here, true
	}
	tu, _ := url.Parse(target)
	hu, _ := url.Parse(here)
	return target, tu.Path == hu.Path
}

type tokenOptions struct {
	targetOptions
	force bool
}

func parseTokenOptions(args []js.Value) (tokenOptions, error) {
	t, err := parseTargetOptions(args)
	o := tokenOptions{targetOptions: t}
	if err == nil {
		o.force = arg0(args).Get("forceRefresh").Truthy()
	}
	return o, err
}

func (d *driver) token(o tokenOptions) (any, error) {
	target, client, err := o.resolve(d)
	if err != nil {
		return nil, err
	}
	m := core.NewRefresh(core.RefreshConfig{Target: target, Client: client, Force: o.force})
	done := d.run(m, core.Start{Now: d.clock(), Rand: webCrypto{}}) // a DPoP refresh draws its proof's jti
	if done.Err != nil {
		return nil, done.Err
	}
	t := done.Token
	return map[string]any{"access_token": t.AccessToken, "token_type": t.TokenType, "expiry": jsTime(t.Expiry)}, nil
}

// logout resolves to { removed }: false when no login was stored, which
// is not an error (core.Logout): the page is logged out, as asked.
func (d *driver) logout(o targetOptions) (any, error) {
	target, client, err := o.resolve(d)
	if errors.Is(err, core.ErrNotLoggedIn) {
		return map[string]any{"removed": false}, nil
	}
	if err != nil {
		return nil, err
	}
	// A stored login that cannot be read goes too (the core deletes the
	// entry): with it its DPoP key, and a login to the same target still
	// waiting for its callback, which would otherwise bring it back.
	var keys []string
	damaged := false
	if l := d.tokens.load(core.IssuerKeys(target, client.ID)); errors.Is(l.Err, core.ErrUnreadableEntry) {
		damaged = true
		keys = d.tokens.keyNames(l.Key)
	}
	done := d.run(core.NewLogout(target, client), core.Start{Now: d.clock()})
	if done.Err != nil {
		return nil, done.Err
	}
	if damaged {
		// The damaged value's text may name any key, another live login's
		// among them: only those no login uses go.
		keys = append(keys, d.local.dropPendingOf(target, client.ID)...)
		d.dropKeysNotInUse(keys, "the damaged login's DPoP keys")
	}
	return map[string]any{"removed": done.Entry != nil}, nil
}

// session describes the stored login without its tokens: what a page
// shows as "signed in as". The ID token's claims are decoded, not verified:
// the token came straight from the token endpoint.
func (d *driver) session(o targetOptions) (any, error) {
	target, client, err := o.resolve(d)
	if errors.Is(err, core.ErrNotLoggedIn) {
		return map[string]any{"signedIn": false}, nil
	}
	if err != nil {
		return nil, err
	}
	l := d.tokens.load(core.IssuerKeys(target, client.ID))
	if l.Err != nil {
		return nil, l.Err
	}
	if l.Entry == nil {
		return map[string]any{"signedIn": false}, nil
	}
	e := l.Entry
	si := summarize(l.Key, *e)
	out := si.js(l.Key)
	out.Set("refreshable", e.RefreshToken != "")
	out.Set("claims", js.Null())
	if e.IDToken != "" {
		if c, err := core.DecodeJWT(e.IDToken); err == nil {
			var claims any
			if json.Unmarshal(c.Raw, &claims) == nil {
				// Server text, shown as "signed in as": through the
				// same sanitiser as every message (S37).
				b, _ := json.Marshal(sanitizeClaims(claims))
				out.Set("claims", jsGlobal.Get("JSON").Call("parse", string(b)))
			}
		}
	}
	return out, nil
}

// sanitizeClaims passes every string of decoded JSON (names and values)
// through core.Sanitize: control characters, ESC and bidi overrides come
// out escaped, printable text as it was.
func sanitizeClaims(v any) any {
	switch v := v.(type) {
	case string:
		return core.Sanitize(v)
	case []any:
		for i := range v {
			v[i] = sanitizeClaims(v[i])
		}
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[core.Sanitize(k)] = sanitizeClaims(x)
		}
		return out
	}
	return v
}
