package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/internal/deviceop"
	"github.com/dualauth/dualauth/native/config"
	"github.com/matryer/is"
)

// savedFlow is the flow key of profile name in this test's profiles file.
func (e *env) savedFlow(name string) string {
	e.t.Helper()
	f, err := config.Load(e.configPath())
	if err != nil {
		e.t.Fatal(err)
	}
	p, ok := f.Profile(name)
	if !ok {
		e.t.Fatalf("no profile %s in %s", name, e.configPath())
	}
	return p.Flow
}

func describeFlow(t *testing.T, e *env, args ...string) setting {
	t.Helper()
	r := e.cfg(nil, append([]string{"describe", "-o", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("describe failed (%d): %s", r.code, r.stderr)
	}
	var d struct {
		Settings map[string]setting `json:"settings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	return d.Settings["flow"]
}

// TestProfiles_FlowGivenAsAFlagIsSavedAndUsedByLaterLogins: --flow saves
// flow = … in the profile; a later login without --flow uses it (said
// without "auto:"); the environment's DUALAUTH_FLOW is used, not saved.
func TestProfiles_FlowGivenAsAFlagIsSavedAndUsedByLaterLogins(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	is.Equal(describeFlow(t, e, e.srv.Issuer, "--client-id", clientID), setting{"auto", "default"})

	r := e.cfg(nil, "login", "--profile", "work", e.srv.Issuer, "--client-id", clientID)
	is.Equal(r.code, 0)
	is.Equal(e.savedFlow("work"), "") // not given: not saved
	is.True(strings.Contains(r.stderr, "Login flow: browser (auto: "))

	r = e.cfg(nil, "login", "--profile", "work", "--flow", "browser")
	is.Equal(r.code, 0)
	is.Equal(e.savedFlow("work"), "browser")
	is.Equal(describeFlow(t, e, "work"), setting{"browser", "profile work"})

	r = e.cfg(nil, "login", "work")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Login flow: browser\n")) // the saved flow, not auto's choice

	r = e.cfg([]string{"DUALAUTH_FLOW=auto"}, "login", "work")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Login flow: browser (auto: ")) // the environment beats the profile…
	is.Equal(e.savedFlow("work"), "browser")                           // …and is not saved
	is.Equal(e.srv.Requests("authorization_code"), 4)
}

// TestProfiles_SavedDeviceFlowIsUsedAndCommandLineFlowFlagsBeatIt: with
// flow = device saved, `auth login P` runs the device grant (which this
// provider refuses to the client: no fallback, since it was asked for);
// --paste and --flow browser on the command line win over the saved flow,
// and --flow saves the new one.
func TestProfiles_SavedDeviceFlowIsUsedAndCommandLineFlowFlagsBeatIt(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	e.writeConfig("[work]\nhost = " + e.srv.Issuer + "\nclient_id = " + clientID + "\nflow = device\n")
	is.Equal(describeFlow(t, e, "work"), setting{"device", "profile work"})

	r := e.cfg(nil, "login", "work", "--timeout", "10s")
	is.Equal(r.code, 1)
	is.True(strings.Contains(r.stderr, "Login flow: device authorization grant\n"))
	is.True(strings.Contains(r.stderr, "unauthorized_client"))

	r = e.cfg(nil, "login", "work", "--paste", "--timeout", "1s")
	is.Equal(r.code, 1) // nothing to paste from (stdin is /dev/null), not a usage error
	is.True(strings.Contains(r.stderr, "Login flow: browser, with paste-the-redirect\n"))
	is.True(strings.Contains(r.stderr, "stdin ended before an address was pasted"))

	r = e.cfg(nil, "login", "work", "--flow", "browser")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Login flow: browser\n"))
	is.Equal(e.savedFlow("work"), "browser")
	is.Equal(e.srv.Requests("authorization_code"), 1)
}

// TestProfiles_BadSavedFlowIsAnErrorNamingTheProfileAndTheFlows: on
// every command that reads the profile, before any request; --flow on
// the command line replaces it (and saves the fix).
func TestProfiles_BadSavedFlowIsAnErrorNamingTheProfileAndTheFlows(t *testing.T) {
	e := newEnv(t)
	e.writeConfig("[work]\nhost = " + e.srv.Issuer + "\nclient_id = " + clientID + "\nflow = carrier-pigeon\n")
	for _, args := range [][]string{{"login", "work"}, {"token", "work"}, {"describe", "work"}, {"login", "--profile", "work"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			is := is.New(t)
			r := e.cfg(nil, args...)
			is.Equal(r.code, 2)
			lines := errorLines(r.stderr)
			is.Equal(len(lines), 1)
			is.True(strings.Contains(lines[0], `profile work in `+e.configPath()+` has flow = "carrier-pigeon"`))
			is.True(strings.Contains(lines[0], "browser, device or auto"))
		})
	}
	is := is.New(t)
	is.Equal(e.srv.Requests("authorization_code"), 0)
	// --device replaces it too: the device grant runs (and this provider
	// refuses it to the client), no complaint about the saved value.
	r := e.cfg(nil, "login", "work", "--device", "--timeout", "10s")
	is.Equal(r.code, 1)
	is.True(strings.Contains(r.stderr, "Login flow: device authorization grant\n"))
	is.True(!strings.Contains(r.stderr, "carrier-pigeon"))
	r = e.cfg(nil, "login", "work", "--flow", "browser")
	is.Equal(r.code, 0)
	is.True(!strings.Contains(e.readConfig(), "carrier-pigeon"))
	is.Equal(e.cfg(nil, "token", "work").code, 0)
}

// TestProfiles_DeviceFlagSavesFlowDeviceAndTheNextLoginUsesIt: a real
// device login (oidc-provider) with --device and --profile saves
// flow = device; `auth login P` on a machine where auto would also pick
// the device grant says it ran the saved flow, not auto.
func TestProfiles_DeviceFlagSavesFlowDeviceAndTheNextLoginUsesIt(t *testing.T) {
	is := is.New(t)
	w := newDeviceWorld(t, deviceop.Options{Interval: time.Second})
	cfg := "DUALAUTH_CONFIG_FILE=" + w.home + "/dualauth.ini"
	login := func(args ...string) result {
		t.Helper()
		r := startAuth(t, w.environ(cfg), args...)
		r.waitFor("Login flow: device authorization grant", 10*time.Second)
		line := r.waitFor("/device?user_code=", 10*time.Second)
		is.NoErr(w.op.Approve(t.Context(), completeURL(t, line)))
		return r.wait(30 * time.Second)
	}
	res := login("login", "--profile", "dev", w.op.Issuer, "--client-id", w.op.ClientID, "--device", "--timeout", "30s")
	if res.code != 0 {
		t.Fatalf("device login failed (%d):\n%s", res.code, res.stderr)
	}
	is.True(strings.Contains(res.stderr, "Saved profile dev in "))
	res = login("login", "dev", "--timeout", "30s")
	is.Equal(res.code, 0)
	is.True(strings.Contains(res.stderr, "Login flow: device authorization grant\n")) // not "(auto: …)"
	r := startAuth(t, w.environ(cfg), "describe", "dev", "-o", "json").wait(30 * time.Second)
	is.Equal(r.code, 0)
	var d struct {
		Settings map[string]setting `json:"settings"`
	}
	is.NoErr(json.Unmarshal([]byte(r.stdout), &d))
	is.Equal(d.Settings["flow"], setting{"device", "profile dev"})
}
