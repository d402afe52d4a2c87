package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/deviceop"
	"github.com/matryer/is"
)

// registrations are the clients the provider registered (RFC 7591).
func registrations(op *deviceop.Server) []deviceop.Request {
	var regs []deviceop.Request
	for _, r := range op.Requests() {
		if r.Path == "/reg" && r.Status == 201 {
			regs = append(regs, r)
		}
	}
	return regs
}

// The device flow by URL alone against oidc-provider (registration and
// the device grant enabled): `auth login URL --device` registers a client
// of the device grant (no redirect URI), says so, and the next login —
// --flow auto on a machine without a browser picks the device grant —
// reuses it; `auth token URL` then finds the login offline.
func TestCLI_DeviceLoginByURLAloneRegistersADeviceClientOnceAndReusesIt(t *testing.T) {
	is := is.New(t)
	w := newDeviceWorld(t, deviceop.Options{ByURL: true, Interval: time.Second})
	deviceLogin := func(flow ...string) result {
		r := startAuth(t, w.environ(), append([]string{"login", w.op.Issuer, "--timeout", "40s"}, flow...)...)
		line := r.waitFor("/device?user_code=", 15*time.Second)
		is.NoErr(w.op.Approve(t.Context(), completeURL(t, line)))
		return r.wait(30 * time.Second)
	}
	res := deviceLogin("--device")
	if res.code != 0 {
		t.Fatalf("device login failed (%d):\n%s", res.code, res.stderr)
	}
	is.True(strings.Contains(res.stderr, "Login flow: device authorization grant\n"))
	is.True(strings.Contains(res.stderr, "registered at "+w.op.Issuer+"/reg just now"))
	regs := registrations(w.op)
	is.Equal(len(regs), 1)
	is.True(slices.Contains(regs[0].Params, "grant_types"))
	is.True(!slices.Contains(regs[0].Params, "redirect_uris")) // a device client has none
	rec, ok := w.cacheFile().Tokens[core.DeviceRegistrationKey(w.op.Issuer)]
	is.True(ok)
	is.True(rec.Registration.Device())
	is.True(strings.Contains(res.stderr, "Client: "+rec.ClientID+", registered at"))

	res = deviceLogin("--flow", "auto")
	if res.code != 0 {
		t.Fatalf("second device login failed (%d):\n%s", res.code, res.stderr)
	}
	is.True(strings.Contains(res.stderr, "Login flow: device authorization grant (auto: "))
	is.True(strings.Contains(res.stderr, "Client: "+rec.ClientID+", registered at "+w.op.Issuer+"/reg on ")) // reused
	is.Equal(len(registrations(w.op)), 1)                                                                    // two logins, one registration

	entry, ok := w.cacheFile().Tokens[core.Key(w.op.Issuer, rec.ClientID)]
	is.True(ok)
	tok := startAuth(t, w.environ(), "token", w.op.Issuer, "-o", "text").wait(10 * time.Second)
	is.Equal(tok.code, 0)
	is.Equal(tok.stdout, entry.AccessToken+"\n")
}

// The token endpoint refusing a registered client (invalid_client: here
// the provider forgets the client between the sign-in and the code
// exchange) ends that login with one line saying that the same command
// registers a new client; the same command, with no flag added, does so,
// says why, and logs in.
func TestCLI_ClientRefusedAtTheCodeExchangeIsRegisteredAgainByTheSameCommand(t *testing.T) {
	is := is.New(t)
	w := newDeviceWorld(t, deviceop.Options{ByURL: true})
	login := func(beforePaste func()) result {
		r := startAuth(t, w.environ(), "login", w.op.Issuer, "--no-browser", "--paste", "--timeout", "30s")
		authorize := strings.TrimSpace(r.waitFor(w.op.Issuer+"/auth?", 10*time.Second))
		landed, err := w.op.Authorize(t.Context(), authorize)
		is.NoErr(err)
		beforePaste()
		r.paste(landed.String())
		return r.wait(20 * time.Second)
	}
	var first string
	res := login(func() {
		first = w.cacheFile().Tokens[core.RegistrationKey(w.op.Issuer)].ClientID
		is.True(first != "")
		is.NoErr(w.op.ForgetClient(first))
	})
	is.Equal(res.code, 1)
	lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
	last := lines[len(lines)-1]
	t.Logf("first login ends with: %s", last)
	is.True(strings.Contains(last, "no longer accepts the client dualauth registered ("+first+")"))
	is.True(strings.Contains(last, "invalid_client"))
	is.True(strings.Contains(last, "run the same login command again: it registers a new client"))

	res = login(func() {})
	if res.code != 0 {
		t.Fatalf("the same command again failed (%d):\n%s", res.code, res.stderr)
	}
	is.True(strings.Contains(res.stderr, "refused client "+first+" that dualauth registered at "+w.op.Issuer+" at the last login; registering a new one"))
	second := w.cacheFile().Tokens[core.RegistrationKey(w.op.Issuer)].ClientID
	is.True(second != first)
	is.True(strings.Contains(res.stderr, "Client: "+second+", registered at "+w.op.Issuer+"/reg just now"))
	is.Equal(len(registrations(w.op)), 2)
	tok := startAuth(t, w.environ(), "token", w.op.Issuer, "-o", "text").wait(10 * time.Second)
	is.Equal(tok.code, 0)
}
