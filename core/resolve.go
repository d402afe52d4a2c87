package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Kind is what a login target turned out to be.
type Kind string

// The kinds of target [Resolve] tells apart.
const (
	// KindIssuer: an OpenID Connect or RFC 8414 authorization server.
	KindIssuer Kind = "issuer"
	// KindDatabricksWorkspace, KindDatabricksAccount, KindDatabricksUnified:
	// a Databricks host (host_type of its host metadata, or its name).
	KindDatabricksWorkspace Kind = "databricks-workspace"
	KindDatabricksAccount   Kind = "databricks-account"
	KindDatabricksUnified   Kind = "databricks-unified"
	// KindResource: an API that names its authorization server in RFC 9728
	// protected-resource metadata.
	KindResource Kind = "protected-resource"
)

// Databricks reports whether the kind is a Databricks host.
func (k Kind) Databricks() bool {
	return k == KindDatabricksWorkspace || k == KindDatabricksAccount || k == KindDatabricksUnified
}

// Describe is the kind in words, for a user.
func (k Kind) Describe() string {
	switch k {
	case KindDatabricksWorkspace:
		return "Databricks workspace"
	case KindDatabricksAccount:
		return "Databricks account"
	case KindDatabricksUnified:
		return "Databricks unified host"
	case KindResource:
		return "protected resource"
	}
	return "OAuth issuer"
}

// The defaults of a Databricks login, as the Databricks CLI registers its
// client at every Databricks host.
const (
	DatabricksClientID    = "databricks-cli"
	DatabricksRedirectURI = "http://localhost:8020"
)

// Resolution is what target resolution found out about a URL the user
// gave: what it is, the authorization server to log in at, the resource to
// ask a token for, and the defaults of a login there (client, scopes,
// redirect URI). It is decided in one place ([Resolve]) and saved with the
// login, so that nothing later has to ask again; the *From fields say which
// document (or rule) each answer came from.
type Resolution struct {
	Kind     Kind   `json:"kind"`
	KindFrom string `json:"kind_from"`
	// Issuer is the authorization server; its metadata is Metadata.
	Issuer     string `json:"issuer"`
	IssuerFrom string `json:"issuer_from"`
	// Resource is the RFC 8707 resource indicator sent on the authorize,
	// token and refresh requests ("" for none).
	Resource     string `json:"resource,omitempty"`
	ResourceFrom string `json:"resource_from,omitempty"`
	// DPoPRequired: the resource's metadata requires DPoP-bound tokens.
	DPoPRequired bool `json:"dpop_required,omitempty"`
	// Databricks host metadata, when the host served some.
	AccountID   string `json:"account_id,omitempty"`
	WorkspaceID string `json:"workspace_id,omitempty"`
	Cloud       string `json:"cloud,omitempty"`
	// Defaults of a login when the user names none: ClientID "" means
	// none (register one, or ask for --client-id).
	ClientID     string `json:"client_id,omitempty"`
	ClientIDFrom string `json:"client_id_from,omitempty"`
	// ClientRegistered: the client is one dualauth registered (RFC 7591).
	ClientRegistered bool     `json:"client_registered,omitempty"`
	Scopes           []string `json:"scopes,omitempty"`
	RedirectURI      string   `json:"redirect_uri,omitempty"`
	// GrantScopes are the scopes of a login without a person (a grant)
	// when it names none: none unless the kind of target has its own. The
	// grant saves the scopes it asked for, so this is not stored.
	GrantScopes []string `json:"-"`
	// Metadata is the authorization server's; entries keep their own copy.
	Metadata Metadata `json:"-"`
}

// databricksDefaults fills in what every Databricks host uses.
func (r *Resolution) databricksDefaults() {
	r.ClientID, r.ClientIDFrom = DatabricksClientID, "default for Databricks hosts"
	r.Scopes = []string{"all-apis", "offline_access"}
	r.GrantScopes = []string{"all-apis"} // a grant: no user, no refresh token
	r.RedirectURI = DatabricksRedirectURI
}

// HostMetadata is Databricks host metadata, served at
// HOST/.well-known/databricks-config.
type HostMetadata struct {
	// OIDCEndpoint is the issuer of the host's logins; it may hold the
	// placeholder {account_id}.
	OIDCEndpoint string `json:"oidc_endpoint"`
	AccountID    string `json:"account_id"`
	WorkspaceID  string `json:"workspace_id"`
	Cloud        string `json:"cloud"`
	HostType     string `json:"host_type"`
}

// Kind maps host_type ("workspace", "WORKSPACE_HOST", any case) to a
// [Kind]; without one, an account issuer path means an account host.
func (h *HostMetadata) Kind() Kind {
	t := strings.TrimSuffix(strings.ToLower(h.HostType), "_host")
	switch t {
	case "workspace":
		return KindDatabricksWorkspace
	case "account":
		return KindDatabricksAccount
	case "unified":
		return KindDatabricksUnified
	}
	if strings.Contains(h.OIDCEndpoint, "/oidc/accounts/") {
		return KindDatabricksAccount
	}
	return KindDatabricksWorkspace
}

const accountPlaceholder = "{account_id}"

// Issuer substitutes the account ID into the OIDC endpoint: the one the
// user gave, else the host's own. It fails when the endpoint needs an
// account and neither has one.
func (h *HostMetadata) Issuer(accountID string) (string, error) {
	if !strings.Contains(h.OIDCEndpoint, accountPlaceholder) {
		return strings.TrimRight(h.OIDCEndpoint, "/"), nil
	}
	if accountID == "" {
		accountID = h.AccountID
	}
	if accountID == "" {
		return "", errors.New("its logins are per account: pass --account-id")
	}
	return strings.TrimRight(strings.ReplaceAll(h.OIDCEndpoint, accountPlaceholder, url.PathEscape(accountID)), "/"), nil
}

// ParseHostMetadata reads Databricks host metadata. A document without an
// oidc_endpoint is not host metadata (a catch-all page, another product).
func ParseHostMetadata(body []byte) (*HostMetadata, error) {
	var h HostMetadata
	if err := json.Unmarshal(body, &h); err != nil {
		return nil, errMetadataNotJSON
	}
	if h.OIDCEndpoint == "" {
		return nil, errors.New("no oidc_endpoint")
	}
	probe := strings.ReplaceAll(h.OIDCEndpoint, accountPlaceholder, "x")
	if err := CheckURL(probe); err != nil {
		return nil, fmt.Errorf("oidc_endpoint: %w", err)
	}
	return &h, nil
}

// ResourceMetadata is OAuth 2.0 protected-resource metadata (RFC 9728 §2),
// the part dualauth uses.
type ResourceMetadata struct {
	Resource             string   `json:"resource"`
	AuthorizationServers []string `json:"authorization_servers"`
	ScopesSupported      []string `json:"scopes_supported,omitempty"`
	// DPoPBoundAccessTokensRequired: the resource takes DPoP-bound tokens
	// only (RFC 9728 §2).
	DPoPBoundAccessTokensRequired bool `json:"dpop_bound_access_tokens_required,omitempty"`
}

// ErrResourceMismatch: protected-resource metadata describes another
// resource than the URL it was fetched for (RFC 9728 §3.3, S31).
var ErrResourceMismatch = errors.New("protected-resource metadata names another resource")

// ParseResourceMetadata reads protected-resource metadata fetched for
// resource (a normalized URL) and checks it (S31): its resource must be
// that URL, and it must name at least one authorization server, each https
// (http on loopback only).
func ParseResourceMetadata(body []byte, resource string) (*ResourceMetadata, error) {
	var m ResourceMetadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, errMetadataNotJSON
	}
	got, err := NormalizeHost(m.Resource)
	if m.Resource == "" || err != nil || got != resource {
		return nil, fmt.Errorf("%w: it says %q, the URL is %q", ErrResourceMismatch, m.Resource, resource)
	}
	if len(m.AuthorizationServers) == 0 {
		return nil, errors.New("it names no authorization_servers")
	}
	for _, as := range m.AuthorizationServers {
		if err := CheckURL(as); err != nil {
			return nil, fmt.Errorf("authorization server %q: %w", as, err)
		}
		// An issuer is a host URL: no query, fragment or user info (so
		// the login never asks a "://…" address made of what is left).
		if _, err := NormalizeHost(as); err != nil {
			return nil, fmt.Errorf("authorization server: %w", err)
		}
	}
	return &m, nil
}

// ParseChallenge reads the resource_metadata and scope parameters of a
// WWW-Authenticate header (RFC 9110 §11.6.1, RFC 9728 §5.1, RFC 6750 §3):
// from the Bearer challenge, else from the first challenge that has them.
// What it cannot parse ends the parse; it never guesses.
func ParseChallenge(h string) (resourceMetadata, scope string) {
	all := parseChallenges(h)
	for _, bearerFirst := range []bool{true, false} {
		for _, c := range all {
			if rm, ok := c.params["resource_metadata"]; ok && (!bearerFirst || c.scheme == "bearer") {
				return rm, c.params["scope"]
			}
		}
	}
	return "", ""
}

// InsufficientScope reads a Bearer (or DPoP) challenge with
// error="insufficient_scope" (RFC 6750 §3.1): the scopes it names, and
// whether there is one.
func InsufficientScope(h string) (scopes []string, ok bool) {
	for _, c := range parseChallenges(h) {
		if (c.scheme == "bearer" || c.scheme == "dpop") && c.params["error"] == "insufficient_scope" {
			return strings.Fields(c.params["scope"]), true
		}
	}
	return nil, false
}

type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenges splits a WWW-Authenticate header into its challenges.
func parseChallenges(h string) []challenge {
	var all []challenge
	ws := func(s string) string { return strings.TrimLeft(s, " \t") }
	s := h
	for {
		s = strings.TrimLeft(s, " \t,")
		name, rest := cutToken(s)
		if name == "" {
			break
		}
		if r := ws(rest); len(all) > 0 && strings.HasPrefix(r, "=") {
			// name=value: a parameter of the current challenge.
			val, after, ok := cutValue(ws(r[1:]))
			if !ok || (after != "" && !strings.ContainsAny(after[:1], " \t,")) {
				break
			}
			c := all[len(all)-1]
			if _, seen := c.params[strings.ToLower(name)]; !seen {
				c.params[strings.ToLower(name)] = val
			}
			s = after
			continue
		}
		all = append(all, challenge{scheme: strings.ToLower(name), params: map[string]string{}})
		s = rest
		// A token68 (Basic's credentials form) ends its challenge.
		if t, after := cutToken68(ws(s)); t != "" {
			if a := ws(after); a == "" || a[0] == ',' {
				s = after
			}
		}
	}
	return all
}

// cutToken splits off an RFC 9110 token (1*tchar).
func cutToken(s string) (string, string) {
	i := 0
	for i < len(s) && isTchar(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// cutToken68 splits off an RFC 9110 token68: 1*( ALPHA / DIGIT / "-" / "."
// / "_" / "~" / "+" / "/" ) *"=".
func cutToken68(s string) (string, string) {
	i := 0
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] >= '0' && s[i] <= '9' || strings.IndexByte("-._~+/", s[i]) >= 0) {
		i++
	}
	if i == 0 {
		return "", s
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return s[:i], s[i:]
}

// cutValue reads a token or a quoted-string (with \-escapes).
func cutValue(s string) (val, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		v, r := cutToken(s)
		return v, r, v != ""
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:], true
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false // unterminated
}

// What a probe of [Resolve] asks.
type probeKind int

const (
	probeMetadata     probeKind = iota // authorization server metadata
	probeHostMetadata                  // Databricks host metadata
	probeResource                      // protected-resource metadata
	probeChallenge                     // the resource itself, for a 401 challenge
)

type probe struct {
	kind probeKind
	url  string
	cand Candidate // probeMetadata: the issuer it must declare
	root bool      // probeResource: the root document, tried for a URL with a path
	// what a successful metadata probe means
	as     Kind
	asFrom string
}

// ResolveConfig says what to resolve.
type ResolveConfig struct {
	Target Target
	// Resource, when given, is the RFC 8707 resource a login there asks a
	// token for — an API that publishes no protected-resource metadata —
	// in place of any resolution finds; the login is then kept under it
	// (see [Resolution.LoginTarget]). A resource that is not an http(s)
	// URL is [ErrInvalidResource], before any request.
	Resource string
}

// ErrInvalidResource: the resource given to [ResolveConfig] is not a URL
// a token can be asked for.
var ErrInvalidResource = errors.New("invalid resource")

// LoginTarget is where a login resolved for t is kept: under the resource
// it asks a token for when it names one (so that a token asked for by the
// resource's URL finds it), else t.
func (r *Resolution) LoginTarget(t Target) Target {
	if r.Resource != "" {
		t.Host = r.Resource
	}
	return t
}

// Resolve is the target-resolution machine: from the URL a user gave, it
// finds what the URL is and how to log in there, asking the server's own
// documents in turn and stopping at the first that answers:
//
//   - a name ending in a Databricks domain (or an --account-id on one):
//     Databricks at once, its /oidc metadata the only fetch;
//   - ISSUER/.well-known/openid-configuration: an OpenID provider;
//   - HOST/.well-known/databricks-config: Databricks host metadata
//     (workspace, account or unified host; oidc_endpoint with
//     {account_id} filled in), then that issuer's metadata;
//   - /.well-known/oauth-protected-resource{path} (RFC 9728): a protected
//     resource, then its first authorization server's metadata;
//   - /.well-known/oauth-authorization-server{path} (RFC 8414);
//   - HOST/oidc/.well-known/oauth-authorization-server: a Databricks
//     workspace that serves no host metadata;
//   - the URL itself: a 401 whose WWW-Authenticate names resource_metadata.
//
// Its [Resolve.Result] is a [Resolution]; a login takes it as is.
type Resolve struct {
	cfg    ResolveConfig
	queue  []probe
	tried  []string
	res    Resolution
	done   bool
	scope  string // a 401 challenge's scope
	origin string
	path   string
}

// NewResolve returns a resolution that begins with [Start].
func NewResolve(cfg ResolveConfig) *Resolve { return &Resolve{cfg: cfg} }

// Result is the resolution, once the machine is Done without an error.
func (r *Resolve) Result() *Resolution {
	if !r.done {
		return nil
	}
	res := r.res
	return &res
}

func (r *Resolve) fail(err error) []Effect { return []Effect{Done{Err: err}} }

// Step advances the resolution by one event.
func (r *Resolve) Step(ev Event) []Effect {
	switch ev := ev.(type) {
	case Start:
		return r.start()
	case Fetched:
		if len(r.queue) > 0 && !r.done {
			return r.fetched(ev)
		}
	case Aborted:
		return r.fail(ev.Err)
	}
	return r.fail(fmt.Errorf("resolve: unexpected %T", ev))
}

func (r *Resolve) start() []Effect {
	t := r.cfg.Target
	u, err := url.Parse(t.Host)
	if err != nil || u.Host == "" {
		return r.fail(fmt.Errorf("invalid host %q", t.Host))
	}
	if res := r.cfg.Resource; res != "" {
		n, err := NormalizeHost(res)
		if err != nil {
			return r.fail(fmt.Errorf("%w %q: %v", ErrInvalidResource, res, err))
		}
		r.cfg.Resource = n
	}
	r.origin, r.path = u.Scheme+"://"+u.Host, u.Path
	byName := IsDatabricksHost(t.Host)
	if byName {
		// The fast path: a known name costs no extra round trip.
		kind, from := KindDatabricksWorkspace, "host name "+u.Hostname()
		if t.AccountID != "" {
			kind = KindDatabricksAccount
		}
		for _, c := range Candidates(t) {
			r.queue = append(r.queue, probe{kind: probeMetadata, url: c.URL, cand: c, as: kind, asFrom: from})
		}
		return r.next()
	}
	hostMeta := probe{kind: probeHostMetadata, url: r.origin + "/.well-known/databricks-config"}
	if t.AccountID != "" {
		// --account-id says Databricks: ask the host where its accounts
		// log in, else try the usual account path.
		r.queue = append(r.queue, hostMeta)
		for _, c := range Candidates(t) {
			if strings.HasPrefix(c.Issuer, t.Host+"/oidc") {
				r.queue = append(r.queue, probe{kind: probeMetadata, url: c.URL, cand: c, as: databricksKindOf(c.Issuer), asFrom: "its /oidc metadata"})
			}
		}
		return r.next()
	}
	std := Candidates(t) // OIDC, RFC 8414, then the Databricks /oidc paths
	r.queue = []probe{
		{kind: probeMetadata, url: std[0].URL, cand: std[0], as: KindIssuer, asFrom: "OpenID configuration"},
		hostMeta,
		{kind: probeResource, url: r.origin + "/.well-known/oauth-protected-resource" + r.path},
	}
	if strings.Trim(r.path, "/") != "" {
		// RFC 9728 §3.1, then the root, as the MCP authorization spec
		// tries them.
		r.queue = append(r.queue, probe{kind: probeResource, url: r.origin + "/.well-known/oauth-protected-resource", root: true})
	}
	r.queue = append(r.queue, []probe{
		{kind: probeMetadata, url: std[1].URL, cand: std[1], as: KindIssuer, asFrom: "RFC 8414 metadata"},
	}...)
	for _, c := range std[2:] {
		r.queue = append(r.queue, probe{kind: probeMetadata, url: c.URL, cand: c, as: databricksKindOf(c.Issuer), asFrom: "its /oidc metadata"})
	}
	r.queue = append(r.queue, probe{kind: probeChallenge, url: t.Host})
	return r.next()
}

func databricksKindOf(issuer string) Kind {
	if strings.Contains(issuer, "/oidc/accounts/") {
		return KindDatabricksAccount
	}
	return KindDatabricksWorkspace
}

// next asks the head of the queue, or ends with every document tried.
func (r *Resolve) next() []Effect {
	if len(r.queue) == 0 {
		return r.fail(fmt.Errorf("%w: found no way to log in to %s; tried %s. If it is an OAuth server that publishes no metadata, or one that needs a client of its own, pass --client-id with the issuer's URL",
			ErrDiscovery, r.cfg.Target.Host, strings.Join(r.tried, ", ")))
	}
	return []Effect{Fetch{Request: getRequest(r.queue[0].url)}}
}

// skip records why the head of the queue did not answer and moves on.
func (r *Resolve) skip(why string) []Effect {
	r.tried = append(r.tried, fmt.Sprintf("%s (%s)", r.queue[0].url, why))
	r.queue = r.queue[1:]
	return r.next()
}

func (r *Resolve) fetched(ev Fetched) []Effect {
	p := r.queue[0]
	if errors.Is(ev.Err, ErrTooLarge) {
		return r.fail(fmt.Errorf("%w: %s: %w; refusing it", ErrDiscovery, p.url, ErrTooLarge))
	}
	if ev.Err != nil {
		return r.fail(fmt.Errorf("%w: cannot reach %s: %v", ErrDiscovery, hostOf(p.url), ev.Err))
	}
	resp := ev.Response
	if tooLong(resp) {
		return r.fail(fmt.Errorf("%w: %s: %w; refusing it", ErrDiscovery, p.url, ErrTooLarge))
	}
	if p.kind == probeChallenge {
		return r.challenged(resp)
	}
	if resp.Status != 200 {
		return r.skip(fmt.Sprintf("HTTP %d", resp.Status))
	}
	switch p.kind {
	case probeHostMetadata:
		h, err := ParseHostMetadata(resp.Body)
		if err != nil {
			if errors.Is(err, errMetadataNotJSON) {
				return r.skip("not JSON")
			}
			return r.skip("not Databricks host metadata: " + err.Error())
		}
		iss, err := h.Issuer(r.cfg.Target.AccountID)
		if err != nil {
			return r.fail(fmt.Errorf("%s is a %s (host metadata at %s), and %w", r.cfg.Target.Host, h.Kind().Describe(), p.url, err))
		}
		if origin(iss) != origin(r.cfg.Target.Host) {
			// The login is kept under the host the user named: an issuer
			// elsewhere would file another host's tokens (a real
			// workspace's, say) under this one, and `auth api HOST` would
			// send them here. Databricks hosts serve /oidc themselves.
			return r.fail(fmt.Errorf("%w: host metadata at %s names an issuer on another host (%s); dualauth logs in to a host's own issuer only: run `auth login %s` to log in there",
				ErrDiscovery, p.url, origin(iss), ShellWord(origin(iss))))
		}
		r.res.Kind, r.res.KindFrom = h.Kind(), "host metadata at "+p.url
		r.res.AccountID, r.res.WorkspaceID, r.res.Cloud = h.AccountID, h.WorkspaceID, h.Cloud
		if r.cfg.Target.AccountID != "" && strings.Contains(h.OIDCEndpoint, accountPlaceholder) {
			r.res.AccountID = r.cfg.Target.AccountID
		}
		c := Candidate{URL: iss + "/.well-known/oauth-authorization-server", Issuer: iss}
		r.queue = []probe{{kind: probeMetadata, url: c.URL, cand: c, as: r.res.Kind, asFrom: r.res.KindFrom}}
		return r.next()
	case probeResource:
		return r.resourceMetadata(p, resp.Body)
	}
	m, err := ParseMetadata(p.cand, resp.Body)
	if err != nil {
		if errors.Is(err, errMetadataNotJSON) {
			return r.skip("not JSON")
		}
		return r.fail(err)
	}
	return r.found(p, m)
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return raw
}

// challenged reads the answer of the resource itself: only a 401 naming
// its resource metadata helps.
func (r *Resolve) challenged(resp Response) []Effect {
	if resp.Status != 401 {
		return r.skip(fmt.Sprintf("HTTP %d, no 401 challenge", resp.Status))
	}
	rm, scope := ParseChallenge(resp.WWWAuthenticate)
	if rm == "" {
		return r.skip("HTTP 401 without resource_metadata")
	}
	if err := CheckURL(rm); err != nil {
		return r.fail(fmt.Errorf("the 401 from %s names resource metadata at %q: %w", r.cfg.Target.Host, rm, err))
	}
	r.scope = scope
	r.queue = []probe{{kind: probeResource, url: rm}}
	return r.next()
}

func (r *Resolve) resourceMetadata(p probe, body []byte) []Effect {
	pm, err := ParseResourceMetadata(body, r.cfg.Target.Host)
	if err != nil {
		if errors.Is(err, errMetadataNotJSON) {
			return r.skip("not JSON")
		}
		if p.root && errors.Is(err, ErrResourceMismatch) {
			return r.skip("another resource's metadata") // the origin's own, say
		}
		return r.fail(fmt.Errorf("protected-resource metadata at %s: %w", p.url, err))
	}
	as, err := NormalizeHost(pm.AuthorizationServers[0])
	if err != nil { // ParseResourceMetadata checked it; never asks "://…"
		return r.fail(fmt.Errorf("protected-resource metadata at %s: authorization server: %w", p.url, err))
	}
	r.res.Kind, r.res.KindFrom = KindResource, "protected-resource metadata at "+p.url
	r.res.Resource, r.res.ResourceFrom = r.cfg.Target.Host, "protected-resource metadata at "+p.url
	// The scopes the 401 asked for come first (the MCP authorization
	// spec's scope selection), then what the metadata lists.
	r.res.Scopes = strings.Fields(r.scope)
	if len(r.res.Scopes) == 0 {
		r.res.Scopes = pm.ScopesSupported
	}
	r.res.DPoPRequired = pm.DPoPBoundAccessTokensRequired
	from := "authorization_servers of " + p.url
	r.queue = nil
	for _, c := range serverMetadataURLs(as) {
		r.queue = append(r.queue, probe{kind: probeMetadata, url: c.URL, cand: c, as: KindResource, asFrom: from})
	}
	return r.next()
}

// serverMetadataURLs are the documents that may describe the
// authorization server issuer, in the order the MCP authorization spec
// tries them: RFC 8414 with the path inserted, then OpenID Connect with
// the path inserted and appended (for an issuer without a path, RFC 8414
// then OpenID Connect at the root).
func serverMetadataURLs(issuer string) []Candidate {
	u, _ := url.Parse(issuer)
	origin, path := u.Scheme+"://"+u.Host, strings.TrimSuffix(u.Path, "/")
	cs := []Candidate{{URL: origin + "/.well-known/oauth-authorization-server" + path, Issuer: issuer}}
	if path != "" {
		cs = append(cs, Candidate{URL: origin + "/.well-known/openid-configuration" + path, Issuer: issuer, OpenID: true})
	}
	return append(cs, Candidate{URL: origin + path + "/.well-known/openid-configuration", Issuer: issuer, OpenID: true})
}

// found ends the resolution with the authorization server's metadata.
func (r *Resolve) found(p probe, m *Metadata) []Effect {
	if r.res.Kind == "" {
		r.res.Kind, r.res.KindFrom = p.as, p.asFrom
		if !strings.HasPrefix(p.asFrom, "host name") {
			r.res.KindFrom += " at " + p.url
		}
	}
	r.res.Issuer, r.res.IssuerFrom = m.Issuer, p.url
	r.res.Metadata = *m
	if r.cfg.Resource != "" {
		r.res.Resource, r.res.ResourceFrom = r.cfg.Resource, "given with the login"
	}
	switch {
	case r.res.Kind.Databricks():
		r.res.databricksDefaults()
		if r.res.AccountID == "" {
			r.res.AccountID = r.cfg.Target.AccountID
		}
	case r.res.Kind == KindResource:
		// The resource's scopes, plus who signed in and a refresh token
		// where the server says it offers them.
		for _, s := range []string{"openid", "offline_access"} {
			if slices.Contains(m.ScopesSupported, s) && !slices.Contains(r.res.Scopes, s) {
				r.res.Scopes = append(r.res.Scopes, s)
			}
		}
	default:
		r.res.Scopes = []string{"openid", "offline_access"}
	}
	r.done = true
	return []Effect{Done{}}
}
