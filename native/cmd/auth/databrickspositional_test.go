package main

import (
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
