package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// TestExec_TheCommandGetsTheTokenAndHostAndStdoutIsOnlyItsOwn: the child
// sees DUALAUTH_TOKEN and DUALAUTH_HOST, each once (an inherited stale
// value is replaced), no Databricks variables on another host, and auth
// adds nothing to stdout.
func TestExec_TheCommandGetsTheTokenAndHostAndStdoutIsOnlyItsOwn(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	en := e.login()
	r := e.auth([]string{"DUALAUTH_TOKEN=stale", "KEEP_ME=1"}, "exec", e.srv.Issuer, "--",
		"sh", "-c", `printf '%s|%s|%s|%s|' "$DUALAUTH_TOKEN" "$DUALAUTH_HOST" "$KEEP_ME" "$DATABRICKS_TOKEN"; env | grep -c '^DUALAUTH_TOKEN='`)
	is.Equal(r.code, 0)
	is.Equal(r.stdout, en.AccessToken+"|"+e.srv.Issuer+"|1||1\n")
	is.Equal(r.stderr, "")
	checkNoRefreshToken(t, en, r)
}

// TestExec_DatabricksHostsAlsoGetDATABRICKS_HOSTAndTOKEN, from a cached
// login to a Databricks workspace (a valid token: no network).
func TestExec_DatabricksHostsAlsoGetDATABRICKS_HOSTAndTOKEN(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	host := "https://adb-1234567890123456.7.azuredatabricks.net"
	en := core.Entry{Host: host, ClientID: native.DatabricksClientID, AccessToken: "dbx-access-token", TokenType: "Bearer",
		Expiry: time.Now().Add(time.Hour), Metadata: core.Metadata{Issuer: host + "/oidc", TokenEndpoint: host + "/oidc/v1/token"}}
	keys := core.IssuerKeys(core.Target{Host: host}, native.DatabricksClientID)
	e.login() // a cache file to add to
	e.edit(func(c *core.CacheFile) { c.Tokens[keys[0]] = en })
	r := e.auth(nil, "exec", host, "--", "sh", "-c", `printf '%s|%s|%s|%s' "$DUALAUTH_HOST" "$DUALAUTH_TOKEN" "$DATABRICKS_HOST" "$DATABRICKS_TOKEN"`)
	is.Equal(r.code, 0)
	is.Equal(r.stdout, host+"|dbx-access-token|"+host+"|dbx-access-token")
}

func TestExec_ExitStatusIsTheCommands(t *testing.T) {
	e := newEnv(t)
	e.login()
	for _, code := range []int{0, 1, 3, 42} {
		r := e.auth(nil, "exec", e.srv.Issuer, "--", "sh", "-c", "exit "+strconv.Itoa(code))
		is.New(t).Equal(r.code, code)
	}
	t.Run("not found", func(t *testing.T) {
		is := is.New(t)
		r := e.auth(nil, "exec", e.srv.Issuer, "--", "no-such-command-dualauth")
		is.Equal(r.code, 127)
		is.Equal(r.stdout, "")
		is.Equal(errorLines(r.stderr), []string{"auth: cannot run no-such-command-dualauth: executable file not found in $PATH"})
	})
}

// TestExec_SignalsReachTheCommand: a signal sent to auth's process reaches
// the command (auth became it), which handles it and decides the status.
func TestExec_SignalsReachTheCommand(t *testing.T) {
	e := newEnv(t)
	e.login()
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
	}{{syscall.SIGTERM, "TERM"}, {syscall.SIGINT, "INT"}, {syscall.SIGHUP, "HUP"}} {
		sig, name := tc.sig, tc.name
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			script := `trap 'echo got-` + name + `; exit 9' ` + name + `; echo ready; while :; do sleep 0.05; done`
			cmd := e.command(nil, "exec", e.srv.Issuer, "--", "sh", "-c", script)
			out, err := cmd.StdoutPipe()
			is.NoErr(err)
			var errb bytes.Buffer
			cmd.Stderr = &errb
			is.NoErr(cmd.Start())
			br := bufio.NewReader(out)
			line, err := br.ReadString('\n')
			is.NoErr(err)
			is.Equal(line, "ready\n") // auth printed nothing before the command's own output
			is.NoErr(cmd.Process.Signal(sig))
			rest, _ := io.ReadAll(br)
			err = cmd.Wait()
			var ee *exec.ExitError
			is.True(errors.As(err, &ee))
			is.Equal(ee.ExitCode(), 9) // the command's status for that signal
			is.Equal(string(rest), "got-"+name+"\n")
			e.record(result{stderr: errb.String()})
		})
	}
}

func TestExec_UsageAndLoginErrorsRunNothing(t *testing.T) {
	e := newEnv(t)
	marker := "touch " + e.home + "/ran"
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"exec", e.srv.Issuer, "sh", "-c", marker}, 2, "put -- before the command"},
		{[]string{"exec", e.srv.Issuer, "--"}, 2, "no command after --"},
		{[]string{"exec", e.srv.Issuer, "extra", "--", "sh", "-c", marker}, 2, "one HOST or PROFILE before --"},
		{[]string{"exec", e.srv.Issuer, "--", "sh", "-c", marker}, 1, "not logged in to " + e.srv.Issuer},
	} {
		t.Run(tc.want, func(t *testing.T) {
			is := is.New(t)
			r := e.auth(nil, tc.args...)
			is.Equal(r.code, tc.code)
			is.Equal(r.stdout, "")
			lines := errorLines(r.stderr)
			is.Equal(len(lines), 1)
			is.True(strings.Contains(lines[0], tc.want))
			_, err := exec.Command("test", "-e", e.home+"/ran").Output()
			is.True(err != nil) // the command never ran
		})
	}
}

// S33: a client secret given to auth in its environment stays auth's.
func TestExec_TheCommandDoesNotGetTheClientSecret(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	e.login()
	r := e.auth([]string{"DUALAUTH_CLIENT_SECRET=s3cret-for-auth-only"}, "exec", e.srv.Issuer, "--",
		"sh", "-c", `printf '%s' "${DUALAUTH_CLIENT_SECRET-unset}"`)
	is.Equal(r.code, 0)
	is.Equal(r.stdout, "unset")
}
