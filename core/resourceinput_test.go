package core

import (
	"errors"
	"testing"

	"github.com/matryer/is"
)

// A resource given with the login (an API that publishes no
// protected-resource metadata) is the core's input, as the browser's
// resource option and the CLI's --resource give it: resolution keeps what
// it found about the issuer and asks for that resource; the login is sent
// with resource= and kept under the resource.
func TestResolve_GivenResourceIsAskedForAndKeepsTheLogin(t *testing.T) {
	is := is.New(t)
	srv := newFakeServer(m2mIssuer)
	srv.openID = true
	w, _ := newWebWorld(t, srv)
	const api = "https://api.example.com/v1"
	m := NewResolve(ResolveConfig{Target: Target{Host: m2mIssuer}, Resource: "https://API.example.com/v1/"})
	d := Drive(m, Start{Now: w.now}, w.perform)
	is.NoErr(d.Err)
	res := m.Result()
	is.Equal(res.Kind, KindIssuer)
	is.Equal(res.Issuer, m2mIssuer)
	is.Equal(res.Resource, api) // normalised
	is.Equal(res.ResourceFrom, "given with the login")
	tg := res.LoginTarget(Target{Host: m2mIssuer})
	is.Equal(tg.Host, api)

	done := w.loginResolved(tg, res, "console")
	is.NoErr(done.Err)
	is.Equal(done.Entry.Resource, api)
	is.Equal(done.Entry.Host, api)
	last := w.srv.requests[len(w.srv.requests)-1]
	is.Equal(last.Form.Get("resource"), api)

	plain := &Resolution{Kind: KindIssuer}
	is.Equal(plain.LoginTarget(Target{Host: m2mIssuer}).Host, m2mIssuer) // no resource: kept under the host
}

func TestResolve_InvalidGivenResourceFailsBeforeAnyRequest(t *testing.T) {
	for _, bad := range []string{"ftp://api.example.com", "http://api.example.com", "https://api.example.com/?q=1"} {
		t.Run(bad, func(t *testing.T) {
			is := is.New(t)
			w, _ := newWebWorld(t, newFakeServer(m2mIssuer))
			d := Drive(NewResolve(ResolveConfig{Target: Target{Host: m2mIssuer}, Resource: bad}), Start{Now: w.now}, w.perform)
			is.True(errors.Is(d.Err, ErrInvalidResource))
			is.Equal(len(w.srv.requests), 0)
		})
	}
}
