package core

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
)

// The client of a login without a client ID: the one registered at the
// issuer before (S32: bound to that issuer), checked when the server lets
// it be read; else a new registration (RFC 7591), kept for the next login.

func (l *Login) findClient() []Effect {
	m := l.pending.Metadata
	if m.RegistrationEndpoint == "" {
		return l.fail(fmt.Errorf("%w for %s: the server does not let clients register themselves (no registration_endpoint in its metadata); pass --client-id with a client registered there",
			ErrNoClient, m.Issuer))
	}
	l.phase = loginFindLocking
	return []Effect{Lock{Key: RegistrationKey(m.Issuer)}}
}

// foundClient releases the registration's lock once it is read: the check
// and a new registration are requests, and no lock is held across them.
func (l *Login) foundClient(ev Loaded) []Effect {
	effs := l.useFound(ev)
	if l.findHeld {
		l.findHeld = false
		effs = append([]Effect{Unlock{RegistrationKey(l.pending.Metadata.Issuer)}}, effs...)
	}
	return effs
}

func (l *Login) useFound(ev Loaded) []Effect {
	e := ev.Entry
	m := l.pending.Metadata
	if ev.Err != nil || e == nil || e.Registration == nil || e.ClientID == "" ||
		Key(e.Metadata.Issuer, "") != Key(m.Issuer, "") || !slices.Contains(e.Registration.RedirectURIs, l.pending.RedirectURI) && !loopbackAnyPort(e.Registration.RedirectURIs, l.pending.RedirectURI) {
		return l.register()
	}
	l.useClient(e.ClientID, "registered at "+e.Registration.Endpoint+" on "+e.Registration.RegisteredAt.Format("2006-01-02"))
	l.pending.ClientDPoP = e.Registration.DPoPBound
	if e.Registration.ClientURI != "" && e.RefreshToken != "" {
		l.phase = loginCheckingClient
		return []Effect{Fetch{Request: readRegistrationRequest(e.Registration.ClientURI, e.RefreshToken)}}
	}
	l.phase = loginSavingPending
	return []Effect{SavePending{Pending: l.pending}}
}

// loopbackAnyPort: a loopback redirect URI matches another that differs in
// its port only (RFC 8252 §7.3: the server must allow any port).
func loopbackAnyPort(registered []string, uri string) bool {
	strip := func(s string) string {
		u, err := parseLoopback(s)
		if err != nil {
			return ""
		}
		return u
	}
	want := strip(uri)
	return want != "" && slices.ContainsFunc(registered, func(r string) bool { return strip(r) == want })
}

// checkedClient reads the answer about the stored client: a server that
// no longer knows it (401, 403, 404) gets a new registration, once; any
// other answer keeps it.
func (l *Login) checkedClient(ev Fetched) []Effect {
	if ev.Err == nil && !l.renewed && (ev.Response.Status == 401 || ev.Response.Status == 403 || ev.Response.Status == 404) {
		l.renewed = true
		old := l.pending.ClientID
		effs := l.register()
		return append([]Effect{Warn{Message: fmt.Sprintf("the server no longer knows client %s that dualauth registered at %s; registering a new one", Sanitize(old), l.pending.Metadata.Issuer)}}, effs...)
	}
	l.phase = loginSavingPending
	return []Effect{SavePending{Pending: l.pending}}
}

func (l *Login) appType() string {
	if l.cfg.AppType != "" {
		return l.cfg.AppType
	}
	return AppNative
}

func (l *Login) register() []Effect {
	l.phase = loginRegistering
	l.req = registrationRequest(l.pending.Metadata.RegistrationEndpoint, l.pending.RedirectURI, l.appType(), l.pending.DPoP == DPoPAlways)
	return []Effect{Fetch{Request: l.req}}
}

func (l *Login) registered(ev Fetched) []Effect {
	m := l.pending.Metadata
	if ev.Err != nil {
		return l.fail(fmt.Errorf("registering a client at %s failed: %v", m.RegistrationEndpoint, ev.Err))
	}
	c, err := ParseRegistration(ev.Response)
	if err != nil {
		return l.fail(fmt.Errorf("registering a client at %s: %w", m.RegistrationEndpoint, err))
	}
	l.useClient(c.ClientID, "registered at "+m.RegistrationEndpoint+" just now")
	l.reg = Entry{
		Host: m.Issuer, ClientID: c.ClientID, RefreshToken: c.RegistrationAccessToken, ObtainedAt: ev.Now, Metadata: m,
		Registration: &Registration{Endpoint: m.RegistrationEndpoint, ClientURI: c.RegistrationClientURI,
			RedirectURIs: []string{l.pending.RedirectURI}, ApplicationType: l.appType(), RegisteredAt: ev.Now,
			DPoPBound: l.pending.DPoP == DPoPAlways},
	}
	l.pending.ClientDPoP = l.reg.Registration.DPoPBound
	l.phase = loginLockingClient
	return []Effect{Lock{Key: l.reg.Key()}}
}

func (l *Login) useClient(id, from string) {
	l.pending.ClientID, l.pending.Registered = id, true
	res := Resolution{}
	if l.pending.Resolution != nil {
		res = *l.pending.Resolution
	}
	res.ClientID, res.ClientIDFrom = id, from
	l.pending.Resolution = &res
}

// ErrClientForgotten: the token endpoint refused a client dualauth had
// registered; the registration is dropped so that the next login
// registers again.
var ErrClientForgotten = errors.New("the server no longer accepts the client dualauth registered")

func parseLoopback(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || !IsLoopback(u.Hostname()) {
		return "", errors.New("not a loopback URI")
	}
	u.Host = u.Hostname()
	return u.String(), nil
}

// forget drops the registration the token endpoint refused, under the
// lock, and ends the login with err.
func (l *Login) forget(err error) []Effect {
	l.reg = Entry{Metadata: l.pending.Metadata, Registration: &Registration{}}
	l.forgetErr = fmt.Errorf("%w (%s): %w; it is forgotten, so the next login registers a new one: run the login again", ErrClientForgotten, Sanitize(l.pending.ClientID), err)
	l.phase = loginForgetLocking
	return []Effect{Lock{Key: l.reg.Key()}}
}

func (l *Login) forgetStep(ev Event) []Effect {
	switch ev := ev.(type) {
	case Locked:
		if ev.Err != nil {
			return l.fail(l.forgetErr)
		}
		l.phase = loginForgetting
		return []Effect{Delete{Key: l.reg.Key()}}
	case Saved, Aborted:
		if l.phase == loginForgetLocking { // aborted before the lock was granted
			return l.fail(l.forgetErr)
		}
		l.phase = loginDone
		return []Effect{Unlock{l.reg.Key()}, Done{Err: l.forgetErr}}
	}
	return l.fail(l.forgetErr)
}
