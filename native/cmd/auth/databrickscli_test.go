package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
	"golang.org/x/mod/semver"
)

// The version answer, as the Databricks SDKs read it: the text after an
// optional "Databricks CLI " prefix must be semver, at least the level
// that gets --profile (0.207.1) and --force-refresh (0.296.0); its build
// metadata says dualauth and which version, whatever the build's version.
func TestDatabricksCLI_VersionIsSemverAtTheFlagsLevelAndSaysDualauth(t *testing.T) {
	saved := version
	t.Cleanup(func() { version = saved })
	for _, v := range []string{"dev", "v1.4.0", "v1.4.0-3-gabc1234-dirty", "1.0/rc..1 +x", ""} {
		t.Run(v, func(t *testing.T) {
			is := is.New(t)
			version = v
			var out, errb bytes.Buffer
			is.Equal(newApp(&out, &errb, func(string) string { return "" }).run([]string{"version"}), 0)
			got := strings.TrimSpace(out.String())
			is.Equal(got, versionText())
			is.True(!strings.Contains(got, "\n"))
			is.True(semver.IsValid(got))
			is.True(semver.Compare(got, "v0.296.0") >= 0) // --force-refresh
			is.True(semver.Compare(got, "v0.207.1") >= 0) // --profile
			is.Equal(semver.Build(got)[:len("+dualauth")], "+dualauth")
			for _, part := range strings.FieldsFunc(v, func(r rune) bool {
				return !strings.ContainsRune("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", r)
			}) {
				is.True(strings.Contains(semver.Build(got), part)) // the version is all there
			}
		})
	}
}

// The argument forms the Databricks tools use, parsed in process: which
// command runs, whether it is a Databricks form, and what a link named
// databricks refuses.
func TestDatabricksCLI_ArgumentForms(t *testing.T) {
	for _, tc := range []struct {
		as   string
		args []string
		path string // the command that runs; "" when refused
		form bool
	}{
		{"", []string{"auth", "token", "--host", "https://adb-1.2.azuredatabricks.net", "--force-refresh"}, "auth auth token", true},
		{"", []string{"auth", "token", "--host", "https://accounts.cloud.databricks.com", "--account-id", "abc"}, "auth auth token", true},
		{"", []string{"auth", "token", "--profile", "DEFAULT", "--force-refresh"}, "auth auth token", true},
		{"", []string{"--cache-dir", "/tmp/x", "auth", "login", "-p", "DEFAULT"}, "auth auth login", true},
		{"", []string{"version"}, "auth version", false},
		{"", []string{"token", "--profile", "DEFAULT"}, "auth token", false},
		{databricksName, []string{"auth", "token", "--profile", "DEFAULT", "--force-refresh"}, "databricks auth token", true},
		{databricksName, []string{"auth", "token", "--host", "https://adb-1.2.azuredatabricks.net"}, "databricks auth token", true},
		{databricksName, []string{"-p", "DEFAULT", "auth", "env"}, "databricks auth env", true},
		{databricksName, []string{"auth", "describe"}, "databricks auth describe", true},
		{databricksName, []string{"auth", "profiles"}, "databricks auth profiles", true},
		{databricksName, []string{"auth", "logout", "--profile", "x"}, "databricks auth logout", true},
		{databricksName, []string{"version"}, "databricks version", false},
		{databricksName, []string{"clusters", "list"}, "", false},
		{databricksName, []string{"--profile", "DEFAULT", "jobs", "list"}, "", false},
		{databricksName, []string{"auth", "nonsense"}, "", false},
		{databricksName, []string{"token"}, "", false}, // auth's own commands are not databricks ones
		{databricksName, []string{"exec", "--", "sh"}, "", false},
	} {
		t.Run(tc.as+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			is := is.New(t)
			a := newApp(&bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
			a.as = tc.as
			root := a.rootCommand(tc.args)
			if tc.path == "" {
				is.True(unserved(root, tc.args) != "")
				return
			}
			is.Equal(unserved(root, tc.args), "")
			c, _, err := root.Find(tc.args)
			is.NoErr(err)
			is.Equal(c.CommandPath(), tc.path)
			is.Equal(databricksForm(c), tc.form)
		})
	}
}

// Through a link named databricks, a command it does not serve exits 2
// with one line saying what this binary is, before anything else.
func TestDatabricksCLI_LinkRefusesOtherCommandsInOneLine(t *testing.T) {
	e := newEnv(t)
	link := e.databricksLink()
	for _, args := range [][]string{{"clusters", "list"}, {"--profile", "x", "workspace", "ls"}, {"auth", "nonsense"}, {"exec", "--", "true"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			is := is.New(t)
			r := e.run(link, nil, args...)
			is.Equal(r.code, 2)
			is.Equal(r.stdout, "")
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			is.Equal(len(lines), 1)
			for _, want := range []string{"link to dualauth's auth", "databricks auth login|token|env|describe|profiles|logout", "databricks version", "install the Databricks CLI"} {
				is.True(strings.Contains(lines[0], want))
			}
		})
	}
	r := e.run(link, nil, "version")
	is.New(t).Equal(r.code, 0)
	is.New(t).Equal(r.stdout, e.auth(nil, "version").stdout)
}

// Through the link, a served command with a flag auth does not know
// (`databricks --debug auth token`, as a script written for the
// Databricks CLI may run it) is a usage error naming that flag, not "not
// served here"; `databricks help TOPIC` with no such topic exits 2, as
// `auth help TOPIC` does.
func TestDatabricksCLI_LinkReportsAnUnknownFlagOfAServedCommandAndAnUnknownHelpTopic(t *testing.T) {
	e := newEnv(t)
	link := e.databricksLink()
	for _, tc := range []struct {
		args        []string
		want, usage string
	}{
		{[]string{"--debug", "auth", "token", "--host", e.srv.Issuer}, "auth: unknown flag: --debug", "databricks auth token"},
		{[]string{"-x", "auth", "login"}, "auth: unknown shorthand flag: 'x' in -x", "databricks auth login"},
		{[]string{"auth", "token", "--debug", "--host", e.srv.Issuer}, "auth: unknown flag: --debug", "databricks auth token"},
		{[]string{"help", "nonsense"}, `auth: no help topic "nonsense"`, "databricks help"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			is := is.New(t)
			r := e.run(link, nil, tc.args...)
			is.Equal(r.code, 2)
			is.Equal(r.stdout, "")
			is.True(strings.HasPrefix(r.stderr, tc.want))
			is.True(strings.Contains(r.stderr, "Run '"+tc.usage+" --help' for usage."))
			is.True(!strings.Contains(r.stderr, "not served here"))
		})
	}
	is := is.New(t)
	r := e.auth(nil, "help", "nonsense")
	is.Equal(r.code, 2) // as the link
	r = e.run(link, nil, "help", "auth", "token")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stdout, "--force-refresh"))
}

// tokenIs reports whether stdout is token JSON with the access token want
// (a boolean for is.True: a failing is.Equal would print the tokens).
func tokenIs(t *testing.T, stdout, want string) bool {
	t.Helper()
	return parseToken(t, stdout)["access_token"] == want
}

// databricksLink is a link named databricks to the binary under test, in a
// directory of its own (to put on PATH).
func (e *env) databricksLink() string {
	e.t.Helper()
	dir := filepath.Join(e.home, "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	link := filepath.Join(dir, databricksName)
	if err := os.Symlink(authBin, link); err != nil && !os.IsExist(err) {
		e.t.Fatal(err)
	}
	return link
}

// run runs bin (the binary or a link to it) like auth does.
func (e *env) run(bin string, extra []string, args ...string) result {
	e.t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = e.environ(extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	e.record(r)
	return r
}

// The Databricks CLI's token command, as the SDKs run it: `auth auth
// token` (DATABRICKS_CLI_PATH) and `databricks auth token` (a link), by
// --host and by --profile of ~/.databrickscfg; valid: from the cache with
// no request; --force-refresh: exactly one refresh; not logged in: exit 1
// with the text older SDKs look for and the login hint; a refused refresh
// token: exit 1 with the re-login line, never a browser.
func TestDatabricksCLI_TokenFormsByHostAndProfile(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, databricksClient)
	link := e.databricksLink()
	const pat = "dapi-not-a-real-personal-access-token"
	e.secrets = append(e.secrets, pat)
	dbx, unchanged := e.writeDatabricks("[DEFAULT]\nhost = " + e.srv.Issuer + "\nauth_type = databricks-cli\n\n" +
		"[azure]\nhost = https://adb-1.2.azuredatabricks.net\n\n" +
		"[pat]\nhost = " + e.srv.Issuer + "\ntoken = " + pat + "\n")

	// A section auth skips (no auth_type: the Azure CLI's; a personal
	// access token) or no section of that name: exit 1 with the text the
	// SDKs fall through on, then auth's own hint — not a usage error.
	for _, name := range []string{"azure", "pat", "nosuch"} {
		for _, bin := range []string{authBin, link} {
			r := e.run(bin, nil, "auth", "token", "--profile", name, "--force-refresh")
			is.Equal(r.code, 1)
			is.Equal(r.stdout, "")
			lines := errorLines(r.stderr)
			is.Equal(len(lines), 1)
			is.True(strings.HasPrefix(lines[0], "auth: "+notConfiguredText+": no profile \""+name+"\""))
			// The Databricks forms read that file only: the hint is a section there.
			is.True(strings.HasSuffix(lines[0], ": add a section ["+name+"] with its host and auth_type = databricks-cli to "+dbx+" (auth reads that file, never writes it), then log in with --profile "+name))
		}
	}

	// Not logged in, by host and by profile.
	for _, args := range [][]string{{"auth", "token", "--host", e.srv.Issuer}, {"auth", "token", "--profile", "DEFAULT", "--force-refresh"}} {
		for _, bin := range []string{authBin, link} {
			r := e.run(bin, nil, args...)
			is.Equal(r.code, 1)
			is.Equal(r.stdout, "")
			lines := errorLines(r.stderr)
			is.Equal(len(lines), 1)
			// The text older SDKs look for, then auth's own hint (naming the
			// client here: the test host's name is not a Databricks one).
			// By profile, the hint names the profile as auth reads it.
			again := e.srv.Issuer
			if args[2] == "--profile" {
				again = "DEFAULT --databricks-config " + dbx
			}
			is.True(strings.HasPrefix(lines[0], "auth: databricks OAuth is not configured for this host: not logged in to "+e.srv.Issuer+": run `auth login "+again))
		}
	}

	// databricks auth login --profile DEFAULT: the section of
	// ~/.databrickscfg, found without --databricks-config, by browser.
	r := e.run(link, nil, "auth", "login", "--profile", "DEFAULT", "--flow", "browser", "--scopes", "openid offline_access")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Logged in to "+e.srv.Issuer))
	en, ok := e.file().Tokens[core.Key(e.srv.Issuer, native.DatabricksClientID)]
	is.True(ok)
	e.mu.Lock()
	e.secrets = append(e.secrets, en.AccessToken, en.RefreshToken)
	e.mu.Unlock()

	// Valid: every form answers from the cache, no request.
	e.srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		t.Errorf("a valid token made a request: %s", r.URL)
		return false
	})
	forms := [][]string{
		{"auth", "token", "--host", e.srv.Issuer},
		{"auth", "token", "--profile", "DEFAULT"},
	}
	for _, args := range forms {
		for _, bin := range []string{authBin, link} {
			r := e.run(bin, nil, args...)
			is.Equal(r.code, 0)
			is.Equal(r.stderr, "")
			is.True(tokenIs(t, r.stdout, en.AccessToken))
		}
	}
	// $DATABRICKS_CONFIG_FILE names the file, as for the SDKs.
	other := filepath.Join(e.home, "elsewhere.cfg")
	is.NoErr(os.WriteFile(other, []byte("[ws]\nhost = "+e.srv.Issuer+"\nauth_type = databricks-cli\n"), 0o600))
	r = e.run(authBin, []string{"DATABRICKS_CONFIG_FILE=" + other}, "auth", "token", "--profile", "ws")
	is.Equal(r.code, 0)
	is.True(tokenIs(t, r.stdout, en.AccessToken))
	// databricks auth profiles lists the file's profiles, as the
	// Databricks CLI does; auth profiles only with --databricks-config.
	r = e.run(link, nil, "auth", "profiles")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stdout, "DEFAULT") && strings.Contains(r.stdout, filepath.Join(e.home, ".databrickscfg")))
	r = e.run(authBin, nil, "profiles")
	is.True(!strings.Contains(r.stdout, "DEFAULT"))
	// The plain `auth token` reads that file only with --databricks-config.
	is.True(e.run(authBin, nil, "token", "--profile", "DEFAULT").code != 0)
	e.srv.Intercept(nil)

	// --force-refresh: exactly one refresh, by host and by profile, of a
	// token obtained a while ago; none for one obtained just now (what a
	// refresh would give: the SDKs ask twice as each process starts).
	k := core.Key(e.srv.Issuer, native.DatabricksClientID)
	aged := func() {
		e.edit(func(c *core.CacheFile) {
			x := c.Tokens[k]
			x.ObtainedAt, x.Expiry = time.Now().Add(-10*time.Minute), time.Now().Add(4*time.Minute)
			c.Tokens[k] = x
		})
	}
	for i, args := range [][]string{{"auth", "token", "--host", e.srv.Issuer, "--force-refresh"}, {"auth", "token", "--profile", "DEFAULT", "--force-refresh"}} {
		aged()
		r := e.run(link, nil, args...)
		is.Equal(r.code, 0)
		is.Equal(e.srv.Requests("refresh_token"), i+1)
		now := e.file().Tokens[core.Key(e.srv.Issuer, native.DatabricksClientID)]
		e.mu.Lock()
		e.secrets = append(e.secrets, now.AccessToken, now.RefreshToken)
		e.mu.Unlock()
		is.True(tokenIs(t, r.stdout, now.AccessToken))
		r = e.run(authBin, nil, args...) // just obtained: shared
		is.Equal(r.code, 0)
		is.True(tokenIs(t, r.stdout, now.AccessToken))
		is.Equal(e.srv.Requests("refresh_token"), i+1)
	}
	// The plain `auth token --force-refresh` always refreshes, as before.
	is.Equal(e.run(authBin, nil, "token", e.srv.Issuer, "--force-refresh").code, 0)
	is.Equal(e.srv.Requests("refresh_token"), 3)

	// A refused refresh token: exit 1, the re-login line, no browser.
	spent := e.file().Tokens[k]
	is.Equal(e.run(authBin, nil, "token", e.srv.Issuer, "--force-refresh").code, 0) // rotates behind the cache's back below
	e.mu.Lock()
	e.secrets = append(e.secrets, e.file().Tokens[k].AccessToken, e.file().Tokens[k].RefreshToken)
	e.mu.Unlock()
	e.edit(func(c *core.CacheFile) {
		x := c.Tokens[k]
		x.RefreshToken = spent.RefreshToken
		x.Expiry = time.Now().Add(-time.Minute)
		c.Tokens[k] = x
	})
	codes := e.srv.Requests("authorization_code")
	r = e.run(link, []string{"BROWSER=/bin/false"}, "auth", "token", "--profile", "DEFAULT", "--force-refresh")
	is.Equal(r.code, 1)
	is.Equal(r.stdout, "")
	lines := errorLines(r.stderr)
	is.Equal(len(lines), 1)
	is.True(strings.HasPrefix(lines[0], "auth: login to "+e.srv.Issuer+" is no longer valid ("))
	is.True(strings.Contains(lines[0], ": run `auth login DEFAULT --databricks-config "+dbx)) // the profile, as auth reads it
	is.True(!strings.Contains(lines[0], notConfiguredText))                                   // a login exists: no falling through to another credential
	is.Equal(e.srv.Requests("authorization_code"), codes)
	unchanged()
}

// `databricks auth token --profile NAME` gives the token of section NAME
// of the Databricks CLI's config file, the one the SDKs read and send the
// token to, even when auth's own profiles file has a profile NAME for
// another host: never that host's token.
func TestDatabricksCLI_ProfileIsTheDatabricksSectionEvenWhenTheProfilesFileHasThatName(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, databricksClient)
	link := e.databricksLink()
	dbx, unchanged := e.writeDatabricks("[work]\nhost = " + e.srv.Issuer + "\nauth_type = databricks-cli\n")
	ours := []string{"DUALAUTH_CONFIG_FILE=" + e.configPath()}
	is.Equal(e.run(link, ours, "auth", "login", "--profile", "work", "--flow", "browser", "--scopes", "openid offline_access").code, 0)
	en := e.file().Tokens[core.Key(e.srv.Issuer, native.DatabricksClientID)]
	e.secrets = append(e.secrets, en.AccessToken, en.RefreshToken)
	other := e.addOther() // a valid token of another host, in the cache
	e.writeConfig("[work]\nhost = " + other.Host + "\nclient_id = " + other.ClientID + "\n")

	for _, bin := range []string{authBin, link} {
		r := e.run(bin, ours, "auth", "token", "--profile", "work")
		is.Equal(r.code, 0)
		is.True(!strings.Contains(r.stdout, other.AccessToken))
		is.True(tokenIs(t, r.stdout, en.AccessToken)) // the Databricks host's
		r = e.run(bin, ours, "auth", "token", "--profile", "work", "--databricks-config", dbx)
		is.Equal(r.code, 0)
		is.True(tokenIs(t, r.stdout, en.AccessToken)) // the same named explicitly
	}
	// databricks auth profiles lists that section, once.
	r := e.run(link, ours, "auth", "profiles", "-o", "json")
	is.Equal(r.code, 0)
	var rows []profileRow
	is.NoErr(json.Unmarshal([]byte(r.stdout), &rows))
	is.Equal(len(rows), 1)
	is.Equal([]string{rows[0].Name, rows[0].Source}, []string{"work", dbx})
	// auth's own commands keep auth's own names: there the profiles file
	// wins, and says so (TestDatabricksConfig_TheProfilesFileWinsOnANameClashAndSaysSo).
	r = e.run(authBin, ours, "token", "--profile", "work", "--databricks-config", dbx)
	is.Equal(r.code, 0)
	is.True(tokenIs(t, r.stdout, other.AccessToken))
	is.True(strings.Contains(e.readConfig(), other.Host)) // never rewritten
	unchanged()

	// auth's own [work] is for another host, and the Databricks file (a)
	// has no [work], (b) does not exist: the Databricks forms read that
	// file only (a missing one is empty), so exit 1 with the SDKs' words,
	// never the other host's token.
	e.writeDatabricks("[DEFAULT]\nhost = " + e.srv.Issuer + "\nauth_type = databricks-cli\n")
	for _, missing := range []bool{false, true} {
		if missing {
			is.NoErr(os.Remove(dbx))
		}
		for _, bin := range []string{authBin, link} {
			for _, force := range [][]string{nil, {"--force-refresh"}} {
				r := e.run(bin, ours, append([]string{"auth", "token", "--profile", "work"}, force...)...)
				is.Equal(r.code, 1)
				is.Equal(r.stdout, "")
				lines := errorLines(r.stderr)
				is.Equal(len(lines), 1)
				is.True(strings.HasPrefix(lines[0], "auth: "+notConfiguredText+": no profile \"work\""))
			}
			// databricks auth login --profile work HOST: no section to
			// read, and auth never writes that file nor replaces its own
			// [work]: a usage error before any request.
			before := e.srv.TotalRequests()
			r := e.run(bin, ours, "auth", "login", "--profile", "work", e.srv.Issuer, "--flow", "browser")
			is.Equal(r.code, 2)
			is.Equal(e.srv.TotalRequests(), before)
			is.True(strings.Contains(r.stderr, "add a section [work] with its host and auth_type = databricks-cli to "+dbx+" (auth reads that file, never writes it), then log in with --profile work; or log in to "+e.srv.Issuer+" without --profile"))
			is.True(strings.Contains(e.readConfig(), other.Host))
		}
		// auth's own form still reads auth's own [work].
		r := e.run(authBin, ours, "token", "--profile", "work")
		is.Equal(r.code, 0)
		is.True(tokenIs(t, r.stdout, other.AccessToken))
	}
	_, err := os.Stat(dbx)
	is.True(errors.Is(err, fs.ErrNotExist)) // never created
}

// Sixteen processes of the SDKs' call (--profile with --force-refresh, as
// SDKs from CLI level 0.296.0 pass it) on an expired token: one refresh,
// the per-login lock and the re-read under it.
func TestDatabricksCLI_SixteenForceRefreshCallsOnAnExpiredTokenRefreshOnce(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, databricksClient)
	link := e.databricksLink()
	e.writeDatabricks("[DEFAULT]\nhost = " + e.srv.Issuer + "\nauth_type = databricks-cli\n")
	is.Equal(e.run(link, nil, "auth", "login", "-p", "DEFAULT", "--flow", "browser", "--scopes", "openid offline_access").code, 0)
	k := core.Key(e.srv.Issuer, native.DatabricksClientID)
	e.edit(func(c *core.CacheFile) {
		x := c.Tokens[k]
		x.Expiry = time.Now().Add(-time.Minute)
		c.Tokens[k] = x
	})
	const n = 16
	cmds := make([]*exec.Cmd, n)
	outs, errs := make([]*bytes.Buffer, n), make([]*bytes.Buffer, n)
	for i := range n {
		cmds[i] = exec.Command(link, "auth", "token", "--profile", "DEFAULT", "--force-refresh")
		cmds[i].Env = e.environ()
		outs[i], errs[i] = &bytes.Buffer{}, &bytes.Buffer{}
		cmds[i].Stdout, cmds[i].Stderr = outs[i], errs[i]
	}
	for _, c := range cmds {
		is.NoErr(c.Start())
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("process %d: %v: %s", i, err, errs[i])
		}
		e.record(result{stderr: errs[i].String()})
	}
	is.Equal(e.srv.Requests("refresh_token"), 1)
	// The SDK's second call as each process starts, just after: shared.
	r := e.run(link, nil, "auth", "token", "--profile", "DEFAULT", "--force-refresh")
	is.Equal(r.code, 0)
	is.Equal(e.srv.Requests("refresh_token"), 1)
	en := e.file().Tokens[k]
	e.mu.Lock()
	e.secrets = append(e.secrets, en.AccessToken, en.RefreshToken)
	e.mu.Unlock()
	for i := range n {
		is.True(tokenIs(t, outs[i].String(), en.AccessToken))
	}
}

func TestDatabricksCLI_HelpSaysHowToUseItWithTheDatabricksTools(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := e.auth(nil, "--help")
	is.Equal(r.code, 0)
	for _, want := range []string{"Databricks SDKs, Terraform, VS Code, dbt", "DATABRICKS_CLI_PATH", `ln -s "$(command -v auth)" ~/.local/bin/databricks`} {
		is.True(strings.Contains(r.stdout, want))
	}
	r = e.auth(nil, "auth", "--help")
	is.Equal(r.code, 0)
	for _, want := range []string{"~/.databrickscfg", "DATABRICKS_CONFIG_FILE", notConfiguredText, "--force-refresh"} {
		is.True(strings.Contains(r.stdout, want))
	}
	r = e.run(e.databricksLink(), nil, "--help")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stdout, "This databricks is a link to auth (dualauth)"))
}
