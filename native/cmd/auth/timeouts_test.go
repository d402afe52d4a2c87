package main

import (
	"strings"
	"testing"

	"github.com/matryer/is"
)

// A timeout of 0 or less, from a flag or the environment, is a usage
// error that names where it came from and the default — not the default
// in silence, and not "no timeout".
func TestCLI_TimeoutsOfZeroOrLessAreUsageErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"token", e.srv.Issuer, "--http-timeout", "0"}, "auth: --http-timeout must be more than 0, not 0s: it bounds each request to the server (default 10s)"},
		{nil, []string{"token", e.srv.Issuer, "--lock-timeout", "-1s"}, "auth: --lock-timeout must be more than 0, not -1s: it bounds the wait for another auth process refreshing the same login (default 30s)"},
		{[]string{"DUALAUTH_KEYRING_TIMEOUT=0s"}, []string{"token", e.srv.Issuer}, "auth: $DUALAUTH_KEYRING_TIMEOUT must be more than 0, not 0s: it bounds each call to the OS keyring (default 3s)"},
	} {
		is := is.New(t)
		r := e.auth(tc.env, tc.args...)
		is.Equal(r.code, 2)
		is.Equal(r.stdout, "")
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		is.Equal(len(lines), 2)
		is.Equal(lines[0], tc.want)
		is.Equal(lines[1], "Run 'auth token --help' for usage.")
	}

	// Commands that wait on nothing do not check: a bad DUALAUTH_* value
	// does not break help, completion or the version probe of the SDKs.
	for _, bad := range [][]string{{"DUALAUTH_HTTP_TIMEOUT=0", "DUALAUTH_LOCK_TIMEOUT=-1s"}, {"DUALAUTH_HTTP_TIMEOUT=abc"}} {
		for _, args := range [][]string{{"version"}, {"help", "login"}, {"completion", "bash"}, {"__complete", "token", ""}} {
			is := is.New(t)
			r := e.auth(bad, args...)
			is.Equal(r.code, 0)
			is.True(r.stdout != "")
			is.True(!strings.Contains(r.stderr, "DUALAUTH_"))
		}
		is := is.New(t)
		is.Equal(e.auth(bad, "token", e.srv.Issuer).code, 2) // a command that waits still refuses it
	}
}
