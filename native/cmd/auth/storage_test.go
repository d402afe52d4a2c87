package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// These run without a keyring: DBUS_SESSION_BUS_ADDRESS points at a socket
// that does not exist. scripts/test-e2e-keyring.sh covers a real one.

func noBus(e *env) []string {
	return []string{"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(e.home, "no-bus")}
}

func TestCLI_StorageModeIsValidatedFromTheFlagAndTheEnvironment(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		env  []string
		args []string
	}{
		{nil, []string{"token", e.srv.Issuer, "--storage", "vault"}},
		{[]string{"DUALAUTH_STORAGE=vault"}, []string{"token", e.srv.Issuer}},
	} {
		t.Run(strings.Join(append(tc.env, tc.args...), " "), func(t *testing.T) {
			is := is.New(t)
			r := e.auth(tc.env, tc.args...)
			is.Equal(r.code, 2)
			lines := errorLines(r.stderr)
			is.Equal(len(lines), 1)
			is.True(strings.Contains(lines[0], `storage must be auto, keyring or file, not "vault"`))
		})
	}
}

func TestCLI_AutoStorageWithoutAKeyringSaysSoOnceAtLoginAndUsesTheFile(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	file := filepath.Join(e.cache, native.CacheFileName)
	r := e.auth(noBus(e), "login", e.srv.Issuer, "--client-id", clientID)
	is.Equal(r.code, 0)
	var notices []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.Contains(l, "keyring") {
			notices = append(notices, l)
		}
	}
	is.Equal(len(notices), 1)
	is.True(strings.HasPrefix(notices[0], "auth: warning: keyring unavailable: the OS keyring (Secret Service) failed: "))
	is.True(strings.HasSuffix(notices[0], "; tokens stored in "+file+" (--storage file or DUALAUTH_STORAGE=file picks the file without this warning)"))
	is.True(strings.Contains(r.stderr, "; refresh token in "+file+"\n")) // the mode in use, on the login line
	en := e.entry()
	is.True(en.RefreshToken != "")
	is.Equal(en.RefreshTokenIn, "")

	// auth token neither probes nor warns: the storage was settled at login.
	r = e.auth(noBus(e), "token", e.srv.Issuer, "-o", "text")
	is.Equal(r.code, 0)
	is.Equal(r.stderr, "")
	e.expire()
	r = e.auth(noBus(e), "token", e.srv.Issuer, "-o", "text")
	is.Equal(r.code, 0)
	is.Equal(r.stderr, "")
	is.Equal(e.srv.Requests("refresh_token"), 1)
	is.True(e.entry().RefreshToken != en.RefreshToken) // rotated, still in the file
}

func TestCLI_ExplicitKeyringWithoutAKeyringFailsBeforeTheBrowser(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := e.auth(append(noBus(e), "DUALAUTH_STORAGE=keyring"), "login", e.srv.Issuer, "--client-id", clientID)
	is.Equal(r.code, 1)
	is.True(r.took < 5*time.Second)
	lines := errorLines(r.stderr)
	is.Equal(len(lines), 1)
	is.True(strings.HasPrefix(lines[0], "auth: the OS keyring (Secret Service) failed: "))
	is.True(strings.HasSuffix(lines[0], "(probing it); unlock the keyring, or use --storage file"))
	is.True(!strings.Contains(r.stderr, "Opening")) // no browser
	is.Equal(e.srv.Requests("authorization_code"), 0)
	_, err := os.Stat(filepath.Join(e.cache, native.CacheFileName))
	is.True(os.IsNotExist(err)) // no fallback to the file
}
