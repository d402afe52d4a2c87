package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// writeProfiles saves profiles of logins without a person as a CI job's
// config would hold them: in the profiles file, never logged in.
func (w *m2mWorld) writeProfiles(ini string) {
	w.t.Helper()
	is.New(w.t).NoErr(os.WriteFile(filepath.Join(w.home, "config.ini"), []byte(ini), 0o600))
}

// Issue 14: a profile saved with a client-credentials grant and no login
// yet. Without the secret, auth token says in one line how to log in, and
// makes no request. With $DUALAUTH_CLIENT_SECRET, the first auth token is
// the login: 16 parallel first calls make one grant, all print its token,
// and the login is saved as auth login saves it (the secret in the 0600
// secrets file), so later calls and a grant after expiry need no variable.
func TestM2M_FirstTokenOfAGrantProfileLogsInWithoutAPerson(t *testing.T) {
	is := is.New(t)
	w := newM2MWorld(t)
	w.writeProfiles("[ci]\nhost = " + w.op.Issuer + "\nclient_id = svc-basic\ngrant = client_credentials\nstorage = file\n")

	r := w.auth("token", "ci", "-o", "text")
	is.Equal(r.code, 1)
	is.Equal(r.stdout, "")
	is.Equal(strings.Count(strings.TrimSpace(r.stderr), "\n"), 0) // one line
	is.True(strings.Contains(r.stderr, "not logged in to "+w.op.Issuer))
	is.True(strings.Contains(r.stderr, "--client-secret-stdin"))
	is.True(strings.Contains(r.stderr, "$DUALAUTH_CLIENT_SECRET"))
	is.Equal(w.op.Count("client_credentials"), 0)
	is.Equal(len(w.cacheFile().Tokens), 0)

	const n = 16
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	errs := make([]*bytes.Buffer, n)
	for i := range n {
		cmds[i] = exec.Command(authBin, "token", "ci", "-o", "text")
		cmds[i].Env = w.environ("DUALAUTH_CLIENT_SECRET=" + m2mSecret)
		outs[i], errs[i] = &bytes.Buffer{}, &bytes.Buffer{}
		cmds[i].Stdout, cmds[i].Stderr = outs[i], errs[i]
		cmds[i].Stdin = strings.NewReader("not the secret\n") // never read
	}
	for _, c := range cmds {
		is.NoErr(c.Start())
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("process %d: %v: %s", i, err, errs[i])
		}
		w.outputs = append(w.outputs, outs[i].String(), errs[i].String())
	}
	is.Equal(w.op.Count("client_credentials"), 1) // sixteen first calls, one grant
	e, ok := w.cacheFile().Tokens[core.Key(w.op.Issuer, "svc-basic")]
	is.True(ok)
	is.True(e.Grant != nil)
	is.Equal(e.Grant.ClientAuth, core.AuthSecretBasic)
	for i := range n {
		is.Equal(outs[i].String(), e.AccessToken+"\n")
	}
	st, err := os.Stat(filepath.Join(w.home, "cache", native.SecretsFileName))
	is.NoErr(err)
	is.Equal(st.Mode().Perm(), os.FileMode(0o600))

	// Saved as auth login saves it: no variable needed from now on, for
	// the cached token or for a new grant after expiry.
	is.Equal(w.auth("token", "ci", "-o", "text").stdout, e.AccessToken+"\n")
	w.expire("svc-basic")
	r = w.auth("token", "ci", "-o", "text")
	is.Equal(r.code, 0)
	is.Equal(w.op.Count("client_credentials"), 2)
	is.True(r.stdout != e.AccessToken+"\n")
}

// The same for a profile with a key file (auth env), a subject-token file
// (auth token -o exec-credential, auth exec): the first call is the
// login; a source that is missing is one line saying why, and nothing is
// sent.
func TestM2M_FirstTokenOfKeyAndTokenExchangeProfiles(t *testing.T) {
	is := is.New(t)
	w := newM2MWorld(t)
	sa := filepath.Join(w.home, "sa-token")
	w.writeProfiles("[k]\nhost = " + w.op.Issuer + "\nclient_id = svc-key\ngrant = client_credentials\nclient_key = " + w.ecPath +
		"\n\n[pod]\nhost = " + w.op.Issuer + "\nclient_id = svc-fed\ngrant = token_exchange\nsubject_token = file:" + sa + "\n")

	r := w.auth("env", "k", "-o", "json")
	is.Equal(r.code, 0)
	var vars map[string]string
	is.NoErr(json.Unmarshal([]byte(r.stdout), &vars))
	k := w.cacheFile().Tokens[core.Key(w.op.Issuer, "svc-key")]
	is.True(k.AccessToken != "")
	is.Equal(vars["DUALAUTH_TOKEN"], k.AccessToken)
	is.Equal(w.op.Count("client_credentials"), 1)

	// No projected token yet: not logged in, and why; nothing sent.
	r = w.auth("token", "pod", "-o", "exec-credential")
	is.Equal(r.code, 1)
	is.Equal(r.stdout, "")
	is.Equal(strings.Count(strings.TrimSpace(r.stderr), "\n"), 0)
	is.True(strings.Contains(r.stderr, "not logged in to "+w.op.Issuer))
	is.True(strings.Contains(r.stderr, "profile pod could not log in by itself"))
	is.True(strings.Contains(r.stderr, "subject token file"))
	is.Equal(w.op.Count(core.TokenExchangeGrantType), 0)

	is.NoErr(os.WriteFile(sa, []byte(w.ciToken(w.ciPath, time.Hour)), 0o600))
	r = w.auth("token", "pod", "-o", "exec-credential")
	is.Equal(r.code, 0)
	var cred struct {
		Status struct {
			Token string `json:"token"`
		} `json:"status"`
	}
	is.NoErr(json.Unmarshal([]byte(r.stdout), &cred))
	fed := w.cacheFile().Tokens[core.Key(w.op.Issuer, "svc-fed")]
	is.True(fed.Grant != nil)
	is.Equal(cred.Status.Token, fed.AccessToken)
	is.Equal(w.op.Count(core.TokenExchangeGrantType), 1)

	r = w.auth("exec", "pod", "--", "sh", "-c", `test "$DUALAUTH_TOKEN" = "`+fed.AccessToken+`"`)
	is.Equal(r.code, 0) // from the cache now
	is.Equal(w.op.Count(core.TokenExchangeGrantType), 1)
}
