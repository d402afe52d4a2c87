package core

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// Decisions both drivers used to take themselves (issue #21): which
// client a host's login is, which DPoP key no login uses any more, what a
// second logout says, and a token a resource refused.

func TestPickClient(t *testing.T) {
	idp := Target{Host: "https://idp.example.com"}
	login := func(id string, minutes int, registered bool) LoginSummary {
		return LoginSummary{Host: idp.Host, Issuer: idp.Host, ClientID: id, ObtainedAt: t0.Add(time.Duration(minutes) * time.Minute),
			Resolved: true, ClientRegistered: registered}
	}
	for _, tc := range []struct {
		name   string
		t      Target
		given  string
		logins []LoginSummary
		want   string
		err    error
	}{
		{name: "the one given", t: idp, given: "mine", logins: []LoginSummary{login("other", 0, false)}, want: "mine"},
		{name: "a Databricks host's default", t: Target{Host: dbxHost}, want: DatabricksClientID},
		{name: "none logged in", t: idp},
		{name: "the only one", t: idp, logins: []LoginSummary{login("cli", 0, false)}, want: "cli"},
		{name: "another issuer's login is not this host's", t: idp, logins: []LoginSummary{{Host: "https://other.example", Issuer: "https://other.example", ClientID: "x"}}},
		{name: "by the host typed at login, once resolved", t: idp, logins: []LoginSummary{{Host: idp.Host, Issuer: "https://login.elsewhere.example", ClientID: "r", Resolved: true}}, want: "r"},
		{name: "the host alone is no match without a resolution", t: idp, logins: []LoginSummary{{Host: idp.Host, Issuer: "https://login.elsewhere.example", ClientID: "r"}}},
		{name: "several named by the user: ask", t: idp, logins: []LoginSummary{login("b", 1, false), login("a", 0, false)}, err: ErrAmbiguousClient},
		{name: "several dualauth registered: the newest (U3)", t: idp, logins: []LoginSummary{login("reg-2", 5, true), login("reg-1", 0, true), login("reg-3", 2, true)}, want: "reg-2"},
		{name: "several dualauth registered, one logged in twice: the newest login's", t: idp, logins: []LoginSummary{login("reg-1", 0, true), login("reg-2", 2, true), login("reg-1", 5, true)}, want: "reg-1"},
		{name: "a registered one beside a named one: ask", t: idp, logins: []LoginSummary{login("reg-1", 5, true), login("named", 0, false)}, err: ErrAmbiguousClient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			got, err := PickClient(tc.t, tc.given, tc.logins)
			if tc.err != nil {
				is.True(errors.Is(err, tc.err))
				is.Equal(got, "")
				return
			}
			is.NoErr(err)
			is.Equal(got, tc.want)
		})
	}
}

func TestSummarize_CarriesWhenAndWhetherRegistered(t *testing.T) {
	is := is.New(t)
	e := Entry{Host: "https://idp.example.com", ClientID: "reg-1", ObtainedAt: t0, Metadata: Metadata{Issuer: "https://idp.example.com"},
		Resolution: &Resolution{ClientRegistered: true}}
	s := Summarize(e)
	is.Equal(s, LoginSummary{Host: e.Host, Issuer: e.Host, ClientID: "reg-1", ObtainedAt: t0, Resolved: true, ClientRegistered: true})
	e.Resolution = nil
	is.True(!Summarize(e).ClientRegistered)
}

func TestLogout_NothingStoredIsNoError(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	d := Drive(NewLogout(Target{Host: dbxHost}, Client{ID: "databricks-cli"}), Start{Now: w.now}, w.perform)
	is.NoErr(d.Err)         // not "not logged in": the user is logged out, as asked
	is.True(d.Entry == nil) // and Done says nothing was removed
	is.True(!w.locked)
	is.Equal(len(w.srv.requests), 0)
}

func TestDropKey_ALoginReplacingADPoPLoginDropsTheOldKey(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	newDPoPServer(w)
	login := func(mode string) Done { // each with entropy of its own: the server refuses a proof's jti twice
		return Drive(NewLogin(dpopLogin(mode)), Start{Now: w.now, Rand: &w.rnd}, w.perform)
	}
	first := login(DPoPAlways)
	is.NoErr(first.Err)
	is.Equal(len(w.dropped), 0)
	second := login(DPoPAlways)
	is.NoErr(second.Err)
	is.Equal(w.dropped, []string{first.Entry.DPoP.Key}) // the replaced login's key
	is.True(second.Entry.DPoP.Key != first.Entry.DPoP.Key)
	bearer := login(DPoPNever)
	is.NoErr(bearer.Err)
	is.Equal(w.dropped, []string{first.Entry.DPoP.Key, second.Entry.DPoP.Key})
	is.True(!w.locked)
}

func TestDropKey_AFailedLoginDropsTheKeyItMade(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	newDPoPServer(w)
	w.onSave = func() error { return errors.New("disk full") }
	d := w.login(dpopLogin(DPoPAlways))
	is.True(d.Err != nil)
	is.Equal(w.dropped, []string{"dpop:1"})
	is.True(!w.locked)
}

func TestDropKey_ALoginSuspendedAtTheRedirectKeepsItsKey(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	newDPoPServer(w)
	suspend := func(err error) Done {
		return Drive(NewLogin(dpopLogin(DPoPAlways)), Start{Now: w.now, Rand: &counter{}}, func(e Effect) Event {
			if _, ok := e.(Authorize); ok {
				return Aborted{Err: err}
			}
			return w.perform(e)
		})
	}
	d := suspend(errors.Join(errors.New("off to the authorization server"), ErrPendingKept))
	is.True(errors.Is(d.Err, ErrPendingKept))
	is.Equal(len(w.dropped), 0) // the pending login names it
	d = suspend(errors.New("timed out"))
	is.True(d.Err != nil)
	is.Equal(w.dropped, []string{"dpop:2"}) // given up: nothing names it
}

func TestDropKey_LogoutDropsTheKeyOfTheLoginItRemoves(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	newDPoPServer(w)
	in := w.login(dpopLogin(DPoPAlways))
	is.NoErr(in.Err)
	d := Drive(NewLogout(Target{Host: dbxHost}, Client{ID: "databricks-cli"}), Start{Now: w.now}, w.perform)
	is.NoErr(d.Err)
	is.Equal(w.dropped, []string{in.Entry.DPoP.Key})
	is.True(!w.locked)
}

func TestDropKey_ARefreshKeepsTheKey(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, newFakeServer(dbxIssuer))
	newDPoPServer(w)
	is.NoErr(w.login(dpopLogin(DPoPAlways)).Err)
	w.now = w.now.Add(2 * time.Hour)
	got := w.token(dbxToken())
	is.NoErr(got.Err)
	is.Equal(got.Token.TokenType, "DPoP")
	is.Equal(len(w.dropped), 0)
}

// Two git erases of the same refused token: the second finds, under the
// lock, that the first replaced it, and hands out the new token.
func TestRefresh_RefusedTokenRefreshesOnceForCallersTogether(t *testing.T) {
	is := is.New(t)
	w := loggedIn(t, 3600)
	refused := w.token(dbxToken()).Token.AccessToken
	cfg := dbxToken()
	cfg.Refused = refused
	var first Done
	w.onLock = func() error {
		// The other erase gets the lock first, while this one waits.
		w.onLock = nil
		first = w.token(cfg)
		return nil
	}
	second := w.token(cfg)
	is.NoErr(first.Err)
	is.NoErr(second.Err)
	is.True(first.Token.AccessToken != refused)
	is.Equal(second.Token.AccessToken, first.Token.AccessToken)
	is.Equal(refreshRequests(w.srv), 1)

	// A valid token that is not the refused one: no lock, no request.
	w.log = nil
	cfg.Refused = "some-older-token"
	again := w.token(cfg)
	is.NoErr(again.Err)
	is.Equal(again.Token.AccessToken, first.Token.AccessToken)
	is.Equal(refreshRequests(w.srv), 1)
	for _, l := range w.log {
		is.True(!strings.HasPrefix(l, "Lock")) // the fast path
	}
}

// A driver that reads its store itself (the browser when its localStorage
// mirror is gone) picks from the logins among the entries: a registered
// client is not a login.
func TestSummarizeLogins_LeavesRegisteredClientsOut(t *testing.T) {
	is := is.New(t)
	iss := "https://idp.example"
	login := Entry{Host: iss, ClientID: "app", Metadata: Metadata{Issuer: iss}, RefreshToken: "rt"}
	reg := Entry{Host: iss, ClientID: "reg-1", Metadata: Metadata{Issuer: iss}, Registration: &Registration{}}
	logins := SummarizeLogins([]Entry{reg, login})
	is.Equal(len(logins), 1)
	id, err := PickClient(Target{Host: iss}, "", logins)
	is.NoErr(err)
	is.Equal(id, "app")
}

// A refused token is refreshed even when ForceSharesNew would share it as
// just obtained (the Databricks forms pass it): the resource said no to
// that token, so handing it back — however new — only fails again.
func TestRefresh_RefusedTokenIsRefreshedEvenWhenJustObtained(t *testing.T) {
	is := is.New(t)
	w := loggedIn(t, 3600)
	w.now = w.now.Add(5 * time.Second) // obtained 5 s ago: "just obtained"
	refused := w.token(dbxToken()).Token.AccessToken
	cfg := dbxToken()
	cfg.ForceSharesNew = true
	cfg.Refused = refused
	d := w.token(cfg)
	is.NoErr(d.Err)
	is.True(d.Token.AccessToken != refused)
	is.Equal(refreshRequests(w.srv), 1)
}
