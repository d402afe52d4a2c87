package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// Issue #24, "the first hour with auth": what a new user trips over.

// Item 2: a bare word that names no profile is a mistyped profile, never
// a host, on every command; the error says what is near and what a
// Databricks CLI config file has of that name.
func TestFirstHour_AMistypedProfileIsNotAHost(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	is.Equal(e.cfg(nil, "login", "--profile", "work", e.srv.Issuer, "--client-id", clientID).code, 0)
	dbx, _ := e.writeDatabricks("[dev]\nhost = https://adb-1.1.azuredatabricks.net\nauth_type = databricks-cli\n\n[pat]\nhost = https://adb-2.2.azuredatabricks.net\ntoken = not-a-real-one\n\n[plain]\nhost = https://adb-3.3.azuredatabricks.net\n")
	before := e.srv.TotalRequests()

	for _, cmd := range []string{"token", "describe", "login", "logout", "env", "exec", "api"} {
		args := []string{cmd, "wrok"}
		switch cmd {
		case "exec":
			args = append(args, "--", "true")
		case "api":
			args = append(args, "/userinfo")
		}
		r := e.cfg(nil, args...)
		is.Equal(r.code, 2) // a usage error, before any request
		lines := errorLines(r.stderr)
		is.Equal(len(lines), 1)
		is.True(strings.Contains(lines[0], `no profile "wrok" in `+e.configPath()+"; did you mean work?"))
		is.True(strings.Contains(lines[0], "write https://wrok for a host of that name"))
		is.True(!strings.Contains(lines[0], "auth login https://wrok")) // not the hint of a host
	}
	// Case counts: WORK is not work, and is suggested.
	r := e.cfg(nil, "token", "WORK")
	is.Equal(r.code, 2)
	is.True(strings.Contains(r.stderr, "did you mean work?"))

	// The Databricks CLI's own file (~/.databrickscfg), not in use: its
	// profile of that name is named with the flag that reads it, a section
	// auth skips with the reason.
	r = e.cfg(nil, "token", "dev")
	is.Equal(r.code, 2)
	is.True(strings.Contains(r.stderr, dbx+" has a Databricks CLI profile [dev]: add --databricks-config "+dbx))
	r = e.cfg(nil, "describe", "pat")
	is.Equal(r.code, 2)
	is.True(strings.Contains(r.stderr, "has a section [pat], which auth skips even with --databricks-config: it holds a personal access token (token) and no auth_type"))
	is.True(!strings.Contains(r.stderr, "not-a-real-one")) // never the token itself
	// $DATABRICKS_CONFIG_FILE names that file, as for the Databricks CLI.
	other := filepath.Join(t.TempDir(), "cfg")
	is.NoErr(os.WriteFile(other, []byte("[elsewhere]\nhost = https://adb-5.5.azuredatabricks.net\nauth_type = databricks-cli\n"), 0o600))
	r = e.cfg([]string{"DATABRICKS_CONFIG_FILE=" + other}, "token", "elsewhere")
	is.True(strings.Contains(r.stderr, "add --databricks-config "+other))

	// In use, the file's skipped sections are named, with why.
	r = e.cfg(nil, "token", "plain", "--databricks-config", dbx)
	is.Equal(r.code, 2)
	is.True(strings.Contains(r.stderr, "[plain] of "+dbx+" is skipped: it has no auth_type"))
	r = e.cfg(nil, "profiles", "--databricks-config", dbx)
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Note: [pat] of "+dbx+" is not listed: it holds a personal access token"))
	is.True(strings.Contains(r.stderr, "Note: [plain] of "+dbx+" is not listed: it has no auth_type"))
	r = e.cfg(nil, "profiles", "--databricks-config", dbx, "-o", "json")
	is.True(strings.Contains(r.stderr, "Note: [pat] of "+dbx+" is not listed"))
	// A section name reaches the terminal sanitised (S37).
	hostile, _ := e.writeDatabricks("[e\x1b[2Jvil\u202e]\nhost = https://adb-6.6.azuredatabricks.net\nauth_type = pat\n")
	for _, args := range [][]string{{"profiles", "--databricks-config", hostile}, {"token", "evil", "--databricks-config", hostile}, {"token", "e\x1b[2Jvil\u202e"}} {
		r = e.cfg(nil, args...)
		is.True(strings.Contains(r.stderr, "vil"))
		is.True(!strings.Contains(r.stderr, "\x1b") && !strings.Contains(r.stderr, "\u202e"))
	}

	// A path is no host; --profile "" is no name.
	r = e.cfg(nil, "token", "../../etc")
	is.Equal(r.code, 2)
	is.True(strings.Contains(r.stderr, `"../../etc" (argument) is not a host`))
	r = e.cfg(nil, "token", "--profile", "")
	is.Equal(r.code, 2)
	is.True(strings.Contains(r.stderr, "--profile needs a name"))
	// A host with a dot, a scheme or a port is still a host.
	r = e.cfg(nil, "token", "never.example.com")
	is.Equal(r.code, 1)
	is.True(strings.Contains(r.stderr, "not logged in to https://never.example.com"))
	is.Equal(e.srv.TotalRequests(), before) // none of these asked the server
}

// Item 3: --delete needs a name, a logout names the profiles it also
// ends, a second logout succeeds, the default can be chosen, and "no
// host" lists the profiles.
func TestFirstHour_LogoutSaysWhatItEndsAndTheDefaultCanBeChosen(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	is.Equal(e.cfg(nil, "login", "--profile", "a", e.srv.Issuer, "--client-id", clientID).code, 0)
	e.writeConfig(e.readConfig() + "\n[b]\nhost = " + e.srv.Issuer + "\nclient_id = " + clientID + "\n\n[c]\nhost = https://other.example.com\nclient_id = x\n")

	// --delete without a name never deletes the default profile.
	r := e.cfg(nil, "logout", "--delete")
	is.Equal(r.code, 2)
	is.True(strings.Contains(r.stderr, "--delete removes a profile: name it"))
	is.True(strings.Contains(e.readConfig(), "[a]"))
	is.Equal(len(e.file().Tokens), 1) // refused before logging out

	r = e.cfg(nil, "logout", "a")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Logged out of "+e.srv.Issuer+"; profiles sharing this login (same host and client) are logged out too: b\n"))
	is.Equal(len(e.file().Tokens), 0)

	r = e.cfg(nil, "logout", "a")
	is.Equal(r.code, 0) // already what was asked for
	is.True(strings.Contains(r.stderr, "Already logged out of "+e.srv.Issuer))
	is.Equal(len(errorLines(r.stderr)), 0)

	// auth profiles --default NAME chooses the default.
	r = e.cfg(nil, "profiles", "--default", "c")
	is.Equal(r.code, 0)
	is.Equal(r.stdout, "")
	is.True(strings.Contains(r.stderr, "Default profile: c"))
	is.True(strings.Contains(e.readConfig(), "default_profile = c"))
	r = e.cfg(nil, "describe", "-o", "json")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stdout, `"source": "default profile in `+e.configPath()))
	is.True(strings.Contains(r.stdout, `"value": "https://other.example.com"`))
	r = e.cfg(nil, "profiles", "--default", "cc")
	is.Equal(r.code, 2)
	is.True(strings.Contains(r.stderr, `no profile "cc"`) && strings.Contains(r.stderr, "did you mean c?"))
	is.True(strings.Contains(e.readConfig(), "default_profile = c"))

	// Without a default, "no host" lists the profiles there are.
	r = e.cfg(nil, "logout", "c", "--delete")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Deleted profile c"))
	r = e.cfg(nil, "token")
	is.Equal(r.code, 2)
	is.True(strings.Contains(r.stderr, "no host: pass HOST or --profile, or run `auth login HOST`; no profile is the default among those of "+e.configPath()+" (a, b): pass one, or choose the default with `auth profiles --default NAME`"))
}

// Item 4: a login that replaces the login other profiles use with other
// scopes says so, and describe shows the token's own scopes.
func TestFirstHour_ASharedLoginReplacedWithOtherScopesWarns(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	is.Equal(e.cfg(nil, "login", "--profile", "a", e.srv.Issuer, "--client-id", clientID).code, 0)
	r := e.cfg(nil, "login", "--profile", "b", e.srv.Issuer, "--client-id", clientID, "--scopes", "openid offline_access profile")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, `auth: warning: profile a shares this login (same host and client) but asks for the default scopes; its token is now this one, with scopes "openid offline_access profile"`))

	r = e.cfg(nil, "describe", "a", "-o", "json")
	is.Equal(r.code, 0)
	var d struct {
		Settings    map[string]setting `json:"settings"`
		TokenScopes []string           `json:"token_scopes"`
	}
	is.NoErr(json.Unmarshal([]byte(r.stdout), &d))
	is.Equal(d.Settings["scopes"], setting{"openid offline_access", "default"})
	is.Equal(d.TokenScopes, []string{"openid", "offline_access", "profile"})
	r = e.cfg(nil, "describe", "a")
	is.True(strings.Contains(r.stdout, "openid offline_access profile"))
	is.True(strings.Contains(r.stdout, "not the scopes above"))

	// The same scopes again: nothing to warn about.
	r = e.cfg(nil, "login", "b")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "warning: profile a shares this login")) // a still asks for others
	r = e.cfg(nil, "login", "a")
	is.True(strings.Contains(r.stderr, "warning: profile b shares this login"))
	e.writeConfig(strings.Replace(e.readConfig(), "scopes", "; scopes", 1))
	r = e.cfg(nil, "login", "a")
	is.Equal(r.code, 0)
	is.True(!strings.Contains(r.stderr, "warning: profile"))
	r = e.cfg(nil, "login", "a", "--scopes", "offline_access,openid") // the default, named
	is.Equal(r.code, 0)
	is.True(!strings.Contains(r.stderr, "warning: profile"))
}

// Item 6: text and table are the human form of every -o; shells are
// known by their names; an error about a value from the environment
// names the variable.
func TestFirstHour_OutputValuesAreTheSameEverywhere(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	is.Equal(e.cfg(nil, "login", "--profile", "work", e.srv.Issuer, "--client-id", clientID).code, 0)
	en := e.entry()

	for _, o := range []string{"text", "table"} {
		r := e.cfg(nil, "profiles", "-o", o)
		is.Equal(r.code, 0)
		is.True(strings.HasPrefix(r.stdout, "NAME"))
		r = e.cfg(nil, "describe", "work", "-o", o)
		is.Equal(r.code, 0)
		is.True(strings.HasPrefix(r.stdout, "Host "))
		r = e.cfg(nil, "token", "work", "-o", o)
		is.Equal(r.code, 0)
		is.Equal(r.stdout, en.AccessToken+"\n")
		r = e.cfg(nil, "env", "work", "-o", o)
		is.Equal(r.code, 0)
		is.True(strings.HasPrefix(r.stdout, "export DUALAUTH_HOST="))
	}
	for shell, prefix := range map[string]string{"bash": "export ", "zsh": "export ", "pwsh": "$Env:", "PowerShell": "$Env:", "fish": "set -gx "} {
		r := e.cfg(nil, "env", "work", "--shell", shell)
		is.Equal(r.code, 0)
		is.True(strings.HasPrefix(r.stdout, prefix+"DUALAUTH_HOST"))
	}

	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"DUALAUTH_OUTPUT=yaml"}, []string{"token", "work"}, "auth: $DUALAUTH_OUTPUT must be text (or table) or json or exec-credential, not \"yaml\""},
		{[]string{"DUALAUTH_OUTPUT=yaml"}, []string{"profiles"}, "auth: $DUALAUTH_OUTPUT must be table (or text) or json, not \"yaml\""},
		{nil, []string{"describe", "work", "-o", "yaml"}, "auth: --output must be text (or table) or json, not \"yaml\""},
		{[]string{"DUALAUTH_SHELL=tcsh"}, []string{"env", "work"}, "auth: $DUALAUTH_SHELL must be sh"},
		{[]string{"DUALAUTH_STORAGE=vault"}, []string{"token", "work"}, "auth: $DUALAUTH_STORAGE: storage must be auto, keyring or file, not \"vault\""},
		{[]string{"DUALAUTH_STORAGE=vault"}, []string{"profiles"}, "auth: $DUALAUTH_STORAGE: storage must be"},
		{nil, []string{"token", "work", "--storage", "vault"}, "auth: --storage: storage must be"},
	} {
		r := e.cfg(tc.env, tc.args...)
		is.Equal(r.code, 2)
		lines := errorLines(r.stderr)
		is.Equal(len(lines), 1)
		is.True(strings.HasPrefix(lines[0], tc.want)) // names where the value came from
	}

	// JSON: describe writes <free port> as is; profiles gives the expiry
	// in seconds, as auth token does.
	r := e.cfg(nil, "describe", "work", "-o", "json")
	is.True(strings.Contains(r.stdout, "http://127.0.0.1:<free port>/callback"))
	is.True(!strings.Contains(r.stdout, `\u003c`))
	r = e.cfg(nil, "profiles", "-o", "json")
	var rows []struct {
		Status struct {
			Expiry string `json:"expiry"`
		} `json:"status"`
	}
	is.NoErr(json.Unmarshal([]byte(r.stdout), &rows))
	is.Equal(rows[0].Status.Expiry, en.Expiry.Format(time.RFC3339))
	r = e.cfg(nil, "token", "work")
	is.True(strings.Contains(r.stdout, `"expiry": "`+rows[0].Status.Expiry+`"`))
}

// Item 10: the hint to log in again names the login as the user does:
// the profile, with --databricks-config for a Databricks CLI profile.
func TestFirstHour_ReloginHintsNameTheProfile(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, databricksClient)
	is.Equal(e.cfg(nil, "login", "--profile", "short", e.srv.Issuer, "--client-id", clientID).code, 0)
	e.edit(func(c *core.CacheFile) { // expired, and no refresh token
		k := core.Key(e.srv.Issuer, clientID)
		en := c.Tokens[k]
		en.Expiry, en.RefreshToken = time.Now().Add(-time.Hour), ""
		c.Tokens[k] = en
	})
	for _, args := range [][]string{{"token", "short"}, {"env", "short"}, {"token", e.srv.Issuer}, {"api", "short", "/userinfo"}} {
		r := e.cfg(nil, args...)
		is.Equal(r.code, 1)
		lines := errorLines(r.stderr)
		is.Equal(len(lines), 1)
		is.True(strings.HasSuffix(lines[0], "run `auth login short`")) // not the host and client
	}
	r := e.cfg(nil, "profiles")
	is.True(strings.Contains(r.stdout, "expired: run auth login short"))
	r = e.cfg(nil, "profiles", "--check")
	is.True(strings.Contains(r.stdout, "expired: run auth login short"))
	r = e.cfg(nil, "describe", "short")
	is.True(strings.Contains(r.stdout, "expired: run auth login short"))

	// A profile of a Databricks CLI config file: the flag that reads it.
	dbx, _ := e.writeDatabricks("[dev]\nhost = " + e.srv.Issuer + "\nauth_type = databricks-cli\n")
	r = e.cfg(nil, "token", "dev", "--databricks-config", dbx)
	is.Equal(r.code, 1)
	is.True(strings.HasSuffix(errorLines(r.stderr)[0], "run `auth login dev --databricks-config "+dbx+"`"))
	is.Equal(e.cfg(nil, "login", "dev", "--databricks-config", dbx).code, 0)
	e.edit(func(c *core.CacheFile) {
		k := core.Key(e.srv.Issuer, native.DatabricksClientID)
		en := c.Tokens[k]
		en.Expiry, en.RefreshToken = time.Now().Add(-time.Hour), ""
		c.Tokens[k] = en
	})
	r = e.cfg(nil, "profiles", "--databricks-config", dbx)
	is.True(strings.Contains(r.stdout, "expired: run auth login dev --databricks-config "+dbx))
}

// Item 11 (part): the smaller ones.
func TestFirstHour_SmallerOnes(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	is.Equal(e.cfg(nil, "login", "--profile", "work", e.srv.Issuer, "--client-id", clientID).code, 0)
	// A login of the host of profile work updates work, and says so.
	r := e.cfg(nil, "login", e.srv.Issuer, "--client-id", clientID)
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Updated profile work in "+e.configPath()))

	// The profile-name rule says why a name is refused, before a login.
	for name, why := range map[string]string{"DEFAULT": "keys before any section", "-dash": "would read as a flag", "é-ü": "is not ASCII"} {
		r = e.cfg(nil, "login", "--profile="+name, e.srv.Issuer, "--client-id", clientID)
		is.Equal(r.code, 2)
		is.True(strings.Contains(r.stderr, why))
	}
	is.Equal(e.srv.Requests("authorization_code"), 2)

	// A cache that cannot be read says so once.
	is.NoErr(os.RemoveAll(e.cache))
	is.NoErr(os.MkdirAll(filepath.Join(e.cache, native.CacheFileName), 0o700))
	r = e.cfg(nil, "token", "work")
	is.Equal(r.code, 1)
	is.Equal(strings.Count(r.stderr, "reading the token cache"), 1)
}

// Items 4 and 12: several profiles of a HOST (and of the client and
// account given). The default one wins when it is among them; else, with
// different settings, every command that resolves a HOST is a usage error
// before any request, naming them; else (alike) the first by name, and
// describe and login say which.
func TestFirstHour_SeveralProfilesOfAHost(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	is.Equal(e.cfg(nil, "login", "--profile", "work", e.srv.Issuer, "--client-id", clientID).code, 0) // the default
	is.Equal(e.cfg(nil, "login", "--profile", "short", e.srv.Issuer, "--client-id", clientID, "--scopes", "openid offline_access profile").code, 0)
	is.True(strings.Contains(e.readConfig(), "default_profile = work"))
	profileOf := func(args ...string) setting {
		t.Helper()
		r := e.cfg(nil, append([]string{"describe", "-o", "json"}, args...)...)
		is.Equal(r.code, 0)
		var d struct {
			Settings map[string]setting `json:"settings"`
		}
		is.NoErr(json.Unmarshal([]byte(r.stdout), &d))
		return d.Settings["profile"]
	}

	// The default among them: `work`, not `short` (first by name).
	r := e.cfg(nil, "login", e.srv.Issuer, "--client-id", clientID)
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Updated profile work"))
	is.True(strings.Contains(e.readConfig(), "= openid offline_access profile\n")) // short's scopes, kept
	p := profileOf(e.srv.Issuer)
	is.Equal(p.Value, "work")
	is.True(strings.HasPrefix(p.Source, "the default profile, of the profiles for this host (short, work)"))

	// None of them the default, settings that differ: exit 2 on every
	// command that resolves a HOST, before any request, naming them.
	e.writeConfig(strings.Replace(e.readConfig(), "default_profile = work", "; no default", 1))
	want := "auth: several profiles are for " + e.srv.Issuer + ", with different settings (short, work), and none is the default: pass --profile NAME, or the profile's name instead of the host"
	before := e.srv.TotalRequests()
	for _, args := range [][]string{
		{"login", e.srv.Issuer, "--client-id", clientID},
		{"login", e.srv.Issuer},
		{"token", e.srv.Issuer},
		{"token", "--host", e.srv.Issuer},
		{"describe", e.srv.Issuer},
		{"logout", e.srv.Issuer},
		{"env", e.srv.Issuer},
		{"api", e.srv.Issuer, "/userinfo"},
		{"exec", e.srv.Issuer, "--", "true"},
	} {
		r := e.cfg(nil, args...)
		is.Equal(r.code, 2)
		is.True(strings.HasPrefix(errorLines(r.stderr)[0], want))
	}
	r = e.authIn("protocol=https\nhost=git.example.com\n\n", []string{"DUALAUTH_CONFIG_FILE=" + e.configPath()}, "git-credential", e.srv.Issuer, "get")
	is.Equal(r.code, 2)
	is.True(strings.HasPrefix(errorLines(r.stderr)[0], want))
	is.Equal(e.srv.TotalRequests(), before)
	// The name picks one.
	is.Equal(e.cfg(nil, "token", "short", "-o", "text").code, 0)
	is.Equal(e.cfg(nil, "token", "--profile", "work", "-o", "text").code, 0)

	// Alike (scopes too): the first by name, and describe and login say so.
	lines := strings.Split(e.readConfig(), "\n")
	lines = slices.DeleteFunc(lines, func(l string) bool { return strings.HasSuffix(l, "= openid offline_access profile") })
	e.writeConfig(strings.Join(lines, "\n"))
	p = profileOf(e.srv.Issuer)
	is.Equal(p.Value, "short")
	is.True(strings.HasPrefix(p.Source, "the first by name of the profiles for this host, which are alike (short, work)"))
	is.Equal(e.cfg(nil, "token", e.srv.Issuer, "-o", "text").code, 0)
	r = e.cfg(nil, "login", e.srv.Issuer)
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Updated profile short"))
}
