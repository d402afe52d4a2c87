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
)

// Scenario is one row of the table.
type Scenario struct {
	Name   string
	Server ServerConfig
	// Before are the clients with a login in storage before the first
	// step: valid for an hour, tokens issued by the server.
	Before []string
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
	// Advance moves the clock before the step (2h: the token expired).
	Advance time.Duration
	// Change changes the server before the step (forgets clients, revokes
	// tokens, slows down).
	Change func(*Server)
	Want   Want
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
}

// Difference is a known difference between the targets: the step of the
// scenario fails on the target, for the reason given. It is run anyway;
// once it passes, the test fails until the row is removed.
type Difference struct {
	Scenario, Step, Target, Why string
}

// Outcome classes an error the same way on every target: "" (none),
// login_required, client_forgotten, an OAuth error code, or error.
func Outcome(err error) string {
	var oe *core.OAuthError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, core.ErrNotLoggedIn):
		return "login_required"
	case errors.Is(err, core.ErrClientForgotten):
		return "client_forgotten"
	case errors.As(err, &oe):
		return oe.Code
	}
	return "error"
}

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
	for i, st := range sc.Steps {
		name := stepName(i, st)
		offset.Add(int64(st.Advance))
		if st.Change != nil {
			st.Change(srv)
		}
		seen := len(srv.Log())
		problems := runStep(d, st)
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
func runStep(d Driver, st Step) []string {
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
	}
	switch st.Op {
	case OpLogin:
		outcome(d.Login(st.ClientID, st.DPoP))
	case OpLogout:
		removed, err := d.Logout(st.ClientID)
		outcome(err)
		if err == nil && removed == st.Want.NothingToRemove {
			mismatch("logout removed a login", removed, !st.Want.NothingToRemove)
		}
	case OpToken:
		n := max(st.Callers, 1)
		toks := make([]Token, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { toks[i], errs[i] = d.Token(st.ClientID, st.Force) })
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
	if !slices.Equal(warned, w.Warnings) {
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
		s := Stored{ClientID: e.ClientID, AccessToken: e.AccessToken, RefreshToken: e.RefreshToken, TokenType: e.TokenType, DPoP: e.DPoP != nil}
		if s.TokenType == "Bearer" {
			s.TokenType = ""
		}
		logins = append(logins, s)
	}
	slices.SortFunc(logins, func(a, b Stored) int { return strings.Compare(a.ClientID, b.ClientID) })
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
