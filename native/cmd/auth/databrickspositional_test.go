package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// Under the Databricks forms, a positional NAME is what the Databricks CLI
// makes of it (profile first): a section of the Databricks CLI's file —
// a bare word always, a dotted name when that file has such a section —
// never a profile of auth's own file, which may be for another host. A
// name with no section is "not configured", the SDKs' words; a host is
// still a host. auth's own commands keep auth's own profiles.
func TestDatabricksCLI_APositionalNameIsASectionOfTheDatabricksFile(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, databricksClient)
	link := e.databricksLink()
	e.writeDatabricks("[work]\nhost = " + e.srv.Issuer + "\nauth_type = databricks-cli\n[team.prod]\nhost = " + e.srv.Issuer + "\nauth_type = databricks-cli\n")
	ours := []string{"DUALAUTH_CONFIG_FILE=" + e.configPath()}
	is.Equal(e.run(link, ours, "auth", "login", "work", "--flow", "browser", "--scopes", "openid offline_access").code, 0)
	en := e.file().Tokens[core.Key(e.srv.Issuer, native.DatabricksClientID)]
	is.True(en.AccessToken != "") // the login went to [work]'s host
	e.secrets = append(e.secrets, en.AccessToken, en.RefreshToken)
	other := e.addOther() // a valid token of another host, in the cache
	e.writeConfig("[work]\nhost = " + other.Host + "\nclient_id = " + other.ClientID + "\n[nosuch]\nhost = " + other.Host + "\nclient_id = " + other.ClientID + "\n")

	for _, bin := range []string{authBin, link} {
		for _, name := range []string{"work", "team.prod", e.srv.Issuer} {
			r := e.run(bin, ours, "auth", "token", name)
			is.Equal(r.code, 0)
			is.True(!strings.Contains(r.stdout, other.AccessToken))
			is.True(tokenIs(t, r.stdout, en.AccessToken)) // the Databricks section's host
		}
		// auth's own [nosuch] is no section of the Databricks file.
		r := e.run(bin, ours, "auth", "token", "nosuch")
		is.Equal(r.code, 1)
		is.Equal(r.stdout, "")
		lines := errorLines(r.stderr)
		is.Equal(len(lines), 1)
		is.True(strings.HasPrefix(lines[0], "auth: "+notConfiguredText+": no profile \"nosuch\""))
	}
	// auth's own form reads auth's own [work].
	r := e.run(authBin, ours, "token", "work")
	is.Equal(r.code, 0)
	is.True(tokenIs(t, r.stdout, other.AccessToken))
}

// databricks auth profiles lists what --profile takes there: the sections
// of the Databricks CLI's file, never auth's own profiles (which a tool
// that lists them would then ask for, and be refused); with no such file,
// none, saying how to add one.
func TestDatabricksCLI_ProfilesListsOnlyTheDatabricksFilesSections(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	link := e.databricksLink()
	ours := []string{"DUALAUTH_CONFIG_FILE=" + e.configPath()}
	e.writeConfig("[dev]\nhost = https://adb-2.2.azuredatabricks.net\n")
	dbx, _ := e.writeDatabricks("[prod]\nhost = https://adb-1.1.azuredatabricks.net\nauth_type = databricks-cli\n")
	names := func(bin string, args ...string) []string {
		t.Helper()
		r := e.run(bin, ours, args...)
		is.Equal(r.code, 0)
		var rows []profileRow
		is.NoErr(json.Unmarshal([]byte(r.stdout), &rows))
		var out []string
		for _, row := range rows {
			out = append(out, row.Name)
		}
		return out
	}
	for _, bin := range []string{authBin, link} {
		is.Equal(names(bin, "auth", "profiles", "-o", "json"), []string{"prod"})
	}
	is.Equal(names(authBin, "profiles", "-o", "json"), []string{"dev"}) // auth's own

	is.NoErr(os.Remove(dbx)) // no file: an empty one
	r := e.run(link, ours, "auth", "profiles")
	is.Equal(r.code, 0)
	is.Equal(r.stdout, "")
	is.True(strings.Contains(r.stderr, "No profiles in "+dbx+": add a section [NAME]"))
	is.Equal(names(link, "auth", "profiles", "-o", "json"), []string(nil))
}

// The NAME argument under the Databricks forms, where the two files
// disagree: a host argument resolves as --host does (one answer for one
// host, whatever sections the Databricks file has); with no Databricks
// file to be found ($HOME unset), a dotted NAME is a host, never auth's
// own profile of that name; and the "log in" hint for a section whose
// name auth's own file also has is the Databricks form, which reads that
// file first (auth login NAME would log in to auth's own, another host).
func TestDatabricksCLI_ANameArgumentNeverFallsBackToAuthsOwnProfile(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, databricksClient)
	link := e.databricksLink()
	other := core.Entry{Host: "https://other.example", ClientID: "x"} // auth's own profiles' host
	dbx, _ := e.writeDatabricks("[DEFAULT]\nhost = " + e.srv.Issuer + "\nauth_type = databricks-cli\n[work]\nhost = " + e.srv.Issuer + "\nauth_type = databricks-cli\n")
	e.writeConfig("[mine]\nhost = " + e.srv.Issuer + "\n[work]\nhost = " + other.Host + "\nclient_id = " + other.ClientID + "\n[team.prod]\nhost = " + other.Host + "\nclient_id = " + other.ClientID + "\n")
	ours := []string{"DUALAUTH_CONFIG_FILE=" + e.configPath()}
	for _, bin := range []string{authBin, link} {
		byArg := e.run(bin, ours, "auth", "token", e.srv.Issuer)
		byFlag := e.run(bin, ours, "auth", "token", "--host", e.srv.Issuer)
		is.Equal(byArg.code, byFlag.code)
		is.Equal(byArg.stdout, byFlag.stdout)
		is.Equal(byArg.stderr, byFlag.stderr)

		// Not logged in to [work]: the hint logs in to that section.
		r := e.run(bin, ours, "auth", "token", "work")
		is.Equal(r.code, 1)
		is.True(strings.Contains(r.stderr, "run `auth auth login --profile work --databricks-config "+dbx+"`"))
		is.True(!strings.Contains(r.stderr, other.Host))

		// No home, no $DATABRICKS_CONFIG_FILE: team.prod is a host.
		r = e.run(bin, append(ours, "HOME="), "auth", "token", "team.prod")
		is.Equal(r.code, 1)
		is.Equal(r.stdout, "")
		is.True(!strings.Contains(r.stderr, other.Host))
		is.True(strings.Contains(r.stderr, "https://team.prod"))
	}
	// The hint runs as printed: it logs in to [work]'s host.
	r := e.run(authBin, ours, "auth", "login", "--profile", "work", "--databricks-config", dbx, "--flow", "browser")
	is.Equal(r.code, 0)
	en := e.file().Tokens[core.Key(e.srv.Issuer, native.DatabricksClientID)]
	is.True(en.AccessToken != "")
	e.secrets = append(e.secrets, en.AccessToken, en.RefreshToken)
	r = e.run(link, ours, "auth", "token", "work")
	is.Equal(r.code, 0)
	is.True(tokenIs(t, r.stdout, en.AccessToken))
}
