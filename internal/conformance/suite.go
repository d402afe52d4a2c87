// Package conformance holds every driver to the same behaviour: one table
// of scenarios (what the server offers, what storage holds before, the
// operations, and what must hold after each: the requests the server saw,
// the stored logins and registered clients, the DPoP keys still kept, the
// token or error), run by [Run] against a target's real driver through a
// small adapter in that target's tests (native/conformance_test.go,
// wasm/conformance_test.go). A difference between the targets is a failing
// test; one that is known and not fixed yet is listed, once, in
// [KnownDifferences], and printed by every run.
//
// The package is pure Go and builds for GOOS=js: no syscall/js, no
// net/http. The server is a function from request to response; each
// adapter delivers requests to it in its own way.
package conformance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

// Driver is a target's driver as the suite uses it: each method runs the
// target's own code path (the native flows, the browser's JS API methods).
type Driver interface {
	// Host is the host a user names to log in: the server as this target
	// reaches it (a loopback URL).
	Host() string
	// Login logs in with the client (""  : the one the target resolves or
	// registers) and DPoP mode (""  : auto), the user signing in at once:
	// the adapter hands the authorization URL to [Server.Authorize] and
	// delivers the redirect it answers as the browser would.
	Login(clientID, dpop string) error
	// Token returns the login's access token, refreshing it if needed.
	Token(clientID string, force bool) (Token, error)
	// Logout ends the login; removed is false when none was stored (which
	// is no error: the user is logged out, as asked).
	Logout(clientID string) (removed bool, err error)
	// Entries are all the entries in the target's storage, by key.
	Entries() (map[string]core.Entry, error)
	// Put stores e under key as the target's driver saves a login.
	Put(key string, e core.Entry) error
	// Keys counts the DPoP private keys the target keeps.
	Keys() (int, error)
	// Warnings are the warnings the driver gave the user (the core's Warn
	// effects) since the last call.
	Warnings() []string
	// LoginWith is Login with more said about it (see [LoginCall]).
	LoginWith(LoginCall) error
	// Fetch calls an API at url with a login's token, as `auth api` and
	// dualauth.fetch do: host names the login ("" : the login whose
	// resource contains url). The response's body is not read.
	Fetch(url, host string) (status int, err error)
	// PutUnreadable stores something under key that the target's driver
	// cannot read as a login, as damage or another program leaves it.
	PutUnreadable(key string) error
}

// LoginCall is a login as [Driver.LoginWith] makes it.
type LoginCall struct {
	// Host is the URL the user names: the server, or a resource on it.
	Host     string
	ClientID string
	DPoP     string
	// RedirectTaken: the redirect URI a client dualauth registered was
	// registered with cannot receive this login (natively its port is
	// taken; in the browser the login starts on another page).
	RedirectTaken bool
	// Resource is an RFC 8707 resource given with the login (see
	// [ResourceDriver]).
	Resource string
}

// ResourceDriver is a Driver that logs in for an RFC 8707 resource given
// with the login (an API that publishes no protected-resource metadata:
// the browser's resource option, `auth login --resource`) and finds that
// login by the resource. Steps with a Resource need it.
type ResourceDriver interface {
	// LoginResource is Login asking for a token for resource.
	LoginResource(clientID, resource string) error
	// TokenResource is Token for the login kept under resource.
	TokenResource(clientID, resource string) (Token, error)
}

// Token is what a token call hands out.
type Token struct {
	AccessToken string
	TokenType   string
}

// Env is what the suite gives an adapter for one scenario: the server and
// the clock the driver must use.
type Env struct {
	Server *Server
	Now    func() time.Time
}

// Adapter makes a target's driver for one scenario; it stops what it
// starts with t.Cleanup.
type Adapter func(t *testing.T, env Env) Driver

// Op is a scenario step's operation.
type Op string

// The operations of a step.
const (
	OpLogin  Op = "login"
	OpToken  Op = "token"
	OpLogout Op = "logout"
	OpFetch  Op = "fetch"
)

// Scenario is one row of the table.
type Scenario struct {
	Name   string
	Server ServerConfig
	// Before are the clients with a login in storage before the first
	// step: valid for an hour, tokens issued by the server.
	Before []string
	// Unreadable are the clients whose stored login cannot be read before
	// the first step (natively every login is in one cache file, so the
	// whole file is: such a scenario stores nothing Before).
	Unreadable []string
	// BeforeRegistered are clients dualauth registered, each with a login
	// in storage as in Before, made a minute apart in this order (the
	// last is the newest).
	BeforeRegistered []string
	Steps            []Step
}

// Step is one operation and what must hold after it.
type Step struct {
	Name     string
	Op       Op
	ClientID string
	DPoP     string // login: auto (""), always or never
	Force    bool   // token: refresh even a valid token
	// Callers is how many token calls run at once (0 means 1).
	Callers int
	// Resource: login for this RFC 8707 resource; token: the login kept
	// under it (see [ResourceDriver]).
	Resource string
	// Advance moves the clock before the step (2h: the token expired).
	Advance time.Duration
	// Change changes the server before the step (forgets clients, revokes
	// tokens, slows down).
	Change func(*Server)
	// Path is where on the server the step goes: a login's resource (the
	// URL the user names is the host and Path), or a fetch's URL.
	Path string
	// Login, for a fetch, names the login by its resource path on the
	// server ("" : the login is found by the URL); Elsewhere sends the
	// fetch to the server's other origin ([Elsewhere]).
	Login     string
	Elsewhere bool
	// RedirectTaken: see [LoginCall].
	RedirectTaken bool
	Want          Want
}

// Want is what must hold after a step.
type Want struct {
	// Err is the outcome's class (see [Outcome]); "" is success.
	Err string
	// Token is the access token (and TokenType its type, "" for Bearer)
	// every token call gets.
	Token     string
	TokenType string
	// Requests is what the server saw during the step (see [Server.Log]).
	Requests []string
	// Logins are the logins stored after the step, by client ID.
	Logins []Stored
	// Registered are the clients whose registration is stored, "ID
	// refused" for one the server refused at the last login.
	Registered []string
	// Warnings are what the user was warned of, HOST standing for the
	// host.
	Warnings []string
	// WarnedOf, when set, is checked instead of Warnings: one warning for
	// each, containing it (the targets word some warnings differently).
	WarnedOf []string
	// ErrText is in the outcome's message, which holds no character a
	// terminal or a page would act on (core.Sanitize leaves it as it is).
	ErrText string
	// Scope is the scope of the step's authorization request ("": not
	// checked; [NoScope]: no scope parameter). A step that made no
	// authorization request has none to match.
	Scope string
	// Status is a fetch's HTTP status.
	Status int
	// LooseOn is the target on which the outcome, the warnings and the
	// removal of the step are left unchecked, as it differs there by
	// design; LooseWhy says how and why, and every run on that target
	// prints it (so a step that cannot fail there is listed, not hidden).
	// What the server saw and what is stored after are checked all the
	// same, and on every other target the step is checked in full.
	LooseOn, LooseWhy string
	loose             bool // LooseOn is the target being run
	// Keys counts the DPoP private keys the target still keeps: one per
	// DPoP login, none left behind by a logout, a failed login or a login
	// that replaced another.
	Keys int
	// NothingToRemove: a logout found no login to remove.
	NothingToRemove bool
}

// Stored is a stored login as the suite compares it.
type Stored struct {
	ClientID     string
	AccessToken  string
	RefreshToken string
	TokenType    string // "" : Bearer
	DPoP         bool   // the entry names a DPoP key
	Resource     string // the login's resource: its path on the server, or a whole URL elsewhere
}

// Difference is a known difference between the targets: the step of the
// scenario fails on the target, for the reason given. It is run anyway;
// once it passes, the test fails until the row is removed.
type Difference struct {
	Scenario, Step, Target, Why string
}

// Outcome classes an error the same way on every target: "" (none),
// login_required, client_forgotten, a refusal of the core's (see
// [refusals]), an OAuth error code, or error.
func Outcome(err error) string {
	var oe *core.OAuthError
	var charset *core.TokenCharsetError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, core.ErrNotLoggedIn):
		return "login_required"
	case errors.Is(err, core.ErrClientForgotten):
		return "client_forgotten"
	case errors.As(err, &charset):
		return "token_charset"
	case errors.As(err, &oe):
		return oe.Code
	}
	for _, r := range refusals {
		if errors.Is(err, r.err) {
			return r.class
		}
	}
	return "error"
}

// refusals are the core's refusals an outcome names.
var refusals = []struct {
	err   error
	class string
}{
	{core.ErrMixUp, "mix_up"},
	{core.ErrMissingIssuer, "missing_iss"},
	{core.ErrIssuerMismatch, "issuer_mismatch"},
	{core.ErrDPoPUnsupported, "dpop_unsupported"},
	{core.ErrWrongOrigin, "wrong_origin"},
	{core.ErrUnreadableEntry, "unreadable_entry"},
	{core.ErrAmbiguousClient, "ambiguous_client"},
	{core.ErrInvalidResource, "invalid_resource"},
}

// NoScope, as a [Want] Scope, is an authorization request without a scope
// parameter.
const NoScope = "(no scope)"

// Run runs every scenario of [Scenarios] against the target's driver.
func Run(t *testing.T, target string, adapter Adapter) {
	is := is.New(t)
	for _, d := range KnownDifferences {
		is.True(names(d.Scenario, d.Step)) // a known difference names a step of the table
	}
	for _, d := range KnownDifferences {
		if d.Target == target {
			t.Logf("KNOWN DIFFERENCE on %s: %s / %s: %s", target, d.Scenario, d.Step, d.Why)
		}
	}
	for _, sc := range Scenarios {
		t.Run(sc.Name, func(t *testing.T) { runScenario(t, target, sc, adapter) })
	}
}

// names reports whether the table has the step of the scenario.
func names(scenario, step string) bool {
	for _, sc := range Scenarios {
		for i, st := range sc.Steps {
			if sc.Name == scenario && stepName(i, st) == step {
				return true
			}
		}
	}
	return false
}

func stepName(i int, st Step) string {
	if st.Name != "" {
		return st.Name
	}
	return fmt.Sprintf("step %d (%s)", i+1, st.Op)
}

func known(target, scenario, step string) *Difference {
	for i, d := range KnownDifferences {
		if d.Target == target && d.Scenario == scenario && d.Step == step {
			return &KnownDifferences[i]
		}
	}
	return nil
}

func runScenario(t *testing.T, target string, sc Scenario, adapter Adapter) {
	is := is.New(t)
	srv := NewServer(sc.Server)
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	d := adapter(t, Env{Server: srv, Now: now})
	host := d.Host()
	for i, id := range append(slices.Clone(sc.Before), sc.BeforeRegistered...) {
		access, refresh := srv.Mint(id)
		e := core.Entry{Host: host, ClientID: id, AccessToken: access, TokenType: "Bearer", RefreshToken: refresh,
			Expiry: now().Add(time.Hour), ObtainedAt: now(), Metadata: srv.Metadata(host)}
		if j := i - len(sc.Before); j >= 0 {
			e.ObtainedAt = now().Add(time.Duration(j-len(sc.BeforeRegistered)) * time.Minute)
			e.Resolution = &core.Resolution{Kind: core.KindIssuer, Issuer: host, ClientID: id, ClientRegistered: true}
		}
		is.NoErr(d.Put(e.Key(), e))
	}
	for _, id := range sc.Unreadable {
		is.NoErr(d.PutUnreadable(core.Key(host, id)))
	}
	for i, st := range sc.Steps {
		name := stepName(i, st)
		offset.Add(int64(st.Advance))
		if st.Change != nil {
			st.Change(srv)
		}
		seen := len(srv.Log())
		st.Want.loose = st.Want.LooseOn == target
		if st.Want.loose {
			t.Logf("LOOSE on %s: %s / %s: %s", target, sc.Name, name, st.Want.LooseWhy)
		}
		problems := runStep(d, srv, st)
		if st.Want.loose {
			problems = slices.DeleteFunc(problems, func(p string) bool { return strings.HasPrefix(p, "outcome: ") })
			d.Warnings()
		}
		problems = append(problems, checkAfter(d, srv, st.Want, seen)...)
		if k := known(target, sc.Name, name); k != nil {
			is.True(len(problems) > 0) // a known difference that no longer differs: remove it from KnownDifferences
			t.Logf("%s: known difference (%s): %s", name, k.Why, strings.Join(problems, "; "))
			continue
		}
		for _, p := range problems {
			t.Logf("%s: %s", name, p)
		}
		is.Equal(len(problems), 0) // the target differs from the scenario (see the log above)
	}
}

// runStep performs the step and says where its outcome differs.
func runStep(d Driver, srv *Server, st Step) []string {
	var problems []string
	mismatch := func(what string, got, want any) {
		problems = append(problems, fmt.Sprintf("%s: got %v, want %v", what, got, want))
	}
	outcome := func(err error) {
		if o := Outcome(err); o != st.Want.Err {
			msg := ""
			if err != nil {
				msg = " (" + core.Sanitize(err.Error()) + ")"
			}
			mismatch("outcome", fmt.Sprintf("%q%s", o, msg), fmt.Sprintf("%q", st.Want.Err))
		}
		if st.Want.ErrText == "" {
			return
		}
		if msg := fmt.Sprint(err); !strings.Contains(msg, st.Want.ErrText) || core.Sanitize(msg) != msg {
			mismatch("the outcome's message", fmt.Sprintf("%q", msg), fmt.Sprintf("one with %q and no control or bidi characters", st.Want.ErrText))
		}
	}
	rd, _ := d.(ResourceDriver)
	if st.Resource != "" && rd == nil {
		return []string{"the driver cannot log in for a resource (conformance.ResourceDriver)"}
	}
	switch st.Op {
	case OpLogin:
		srv.forgetScope() // compared is this step's authorization request, if it made one
		switch {
		case st.Resource != "":
			outcome(rd.LoginResource(st.ClientID, st.Resource))
		case st.Path == "" && !st.RedirectTaken:
			outcome(d.Login(st.ClientID, st.DPoP))
		default:
			outcome(d.LoginWith(LoginCall{Host: d.Host() + st.Path, ClientID: st.ClientID, DPoP: st.DPoP, RedirectTaken: st.RedirectTaken}))
		}
		if got, want := srv.Scope(), strings.TrimPrefix(st.Want.Scope, NoScope); st.Want.Scope != "" && got != want {
			mismatch("scope", fmt.Sprintf("%q", got), fmt.Sprintf("%q", want))
		}
	case OpFetch:
		at, login := d.Host(), ""
		if st.Elsewhere {
			at = Elsewhere(at)
		}
		if st.Login != "" {
			login = d.Host() + st.Login
		}
		status, err := d.Fetch(at+st.Path, login)
		outcome(err)
		if status != st.Want.Status {
			mismatch("status", status, st.Want.Status)
		}
	case OpLogout:
		removed, err := d.Logout(st.ClientID)
		outcome(err)
		if err == nil && !st.Want.loose && removed == st.Want.NothingToRemove {
			mismatch("logout removed a login", removed, !st.Want.NothingToRemove)
		}
	case OpToken:
		n := max(st.Callers, 1)
		toks := make([]Token, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if st.Resource != "" {
					toks[i], errs[i] = rd.TokenResource(st.ClientID, st.Resource)
					return
				}
				toks[i], errs[i] = d.Token(st.ClientID, st.Force)
			})
		}
		wg.Wait()
		wantType := st.Want.TokenType
		if wantType == "" && st.Want.Token != "" {
			wantType = "Bearer"
		}
		for i := range n {
			outcome(errs[i])
			if toks[i].AccessToken != st.Want.Token || toks[i].TokenType != wantType {
				mismatch(fmt.Sprintf("token of call %d", i+1), toks[i].TokenType+" "+toks[i].AccessToken, wantType+" "+st.Want.Token)
			}
		}
	default:
		problems = append(problems, "unknown operation "+string(st.Op))
	}
	return problems
}

// checkAfter compares what the server saw and what storage holds with w.
func checkAfter(d Driver, srv *Server, w Want, seen int) []string {
	var problems []string
	mismatch := func(what string, got, want any) {
		problems = append(problems, fmt.Sprintf("%s: got %v, want %v", what, got, want))
	}
	if f := srv.Failure(); f != "" {
		problems = append(problems, "the server saw a broken request: "+f)
	}
	if got := srv.Log()[seen:]; !slices.Equal(got, w.Requests) {
		mismatch("requests", got, w.Requests)
	}
	var warned []string
	for _, m := range d.Warnings() {
		warned = append(warned, strings.ReplaceAll(m, d.Host(), "HOST"))
	}
	switch {
	case w.loose: // unchecked on this target (see LooseOn)
	case w.WarnedOf != nil:
		ok := len(warned) == len(w.WarnedOf)
		for i := 0; ok && i < len(warned); i++ {
			ok = strings.Contains(warned[i], w.WarnedOf[i])
		}
		if !ok {
			mismatch("warnings", warned, fmt.Sprintf("one each with %q", w.WarnedOf))
		}
	case !slices.Equal(warned, w.Warnings):
		mismatch("warnings", warned, w.Warnings)
	}
	entries, err := d.Entries()
	if err != nil {
		return append(problems, "reading storage: "+core.Sanitize(err.Error()))
	}
	var logins []Stored
	var registered []string
	for _, e := range entries {
		if e.Registration != nil {
			if e.Registration.Refused {
				e.ClientID += " refused"
			}
			registered = append(registered, e.ClientID)
			continue
		}
		s := Stored{ClientID: e.ClientID, AccessToken: e.AccessToken, RefreshToken: e.RefreshToken, TokenType: e.TokenType, DPoP: e.DPoP != nil,
			Resource: strings.TrimPrefix(e.Resource, d.Host())}
		if s.TokenType == "Bearer" {
			s.TokenType = ""
		}
		logins = append(logins, s)
	}
	slices.SortFunc(logins, func(a, b Stored) int {
		return strings.Compare(a.ClientID+" "+a.Resource, b.ClientID+" "+b.Resource)
	})
	slices.Sort(registered)
	if !slices.Equal(logins, w.Logins) {
		mismatch("stored logins", logins, w.Logins)
	}
	if !slices.Equal(registered, w.Registered) {
		mismatch("registered clients", registered, w.Registered)
	}
	if n, err := d.Keys(); err != nil {
		problems = append(problems, "reading the DPoP key store: "+core.Sanitize(err.Error()))
	} else if n != w.Keys {
		mismatch("DPoP keys kept", n, w.Keys)
	}
	return problems
}
