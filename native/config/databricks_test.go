package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

const databricksSample = `; written by the Databricks CLI
[DEFAULT]
host = https://adb-111.1.azuredatabricks.net
auth_type = databricks-cli

[pat]
host = https://adb-222.2.azuredatabricks.net
token = dapi-not-a-profile-here

[acct]
host = https://accounts.cloud.databricks.com
account_id = 0123-abcd
auth_type = databricks-cli
cluster_id = ignored

[acct.child]
auth_type = databricks-cli

[m2m]
host = https://adb-333.3.azuredatabricks.net
auth_type = oauth-m2m
client_id = sp
`

func writeDatabricks(t *testing.T, body string) string { return writeNamed(t, ".databrickscfg", body) }

func TestReadDatabricks_OnlyOAuthSectionsAndDEFAULTIsOne(t *testing.T) {
	is := is.New(t)
	p := writeDatabricks(t, databricksSample)
	ps, err := ReadDatabricks(p)
	is.NoErr(err)
	is.Equal(ps, []Profile{
		{Name: "DEFAULT", Host: "https://adb-111.1.azuredatabricks.net", ClientID: "databricks-cli", Origin: p + " [DEFAULT]"},
		{Name: "acct", Host: "https://accounts.cloud.databricks.com", AccountID: "0123-abcd", ClientID: "databricks-cli", Origin: p + " [acct]"},
		// A dotted name does not inherit [acct]'s host (ini.v1 child sections).
		{Name: "acct.child", ClientID: "databricks-cli", Origin: p + " [acct.child]"},
		{Name: "m2m", Host: "https://adb-333.3.azuredatabricks.net", ClientID: "sp", Grant: GrantClientCredentials, Origin: p + " [m2m]"},
	})

	// Keys before any header are the DEFAULT section, as for the Databricks CLI.
	ps, err = ReadDatabricks(writeDatabricks(t, "host = https://adb-1.1.azuredatabricks.net\nauth_type = databricks-cli\n"))
	is.NoErr(err)
	is.Equal(len(ps), 1)
	is.Equal(ps[0].Name, "DEFAULT")

	ps, err = ReadDatabricks(writeDatabricks(t, ""))
	is.NoErr(err)
	is.Equal(len(ps), 0)
}

func TestReadDatabricks_MissingAndMalformedFilesNameThePath(t *testing.T) {
	is := is.New(t)
	missing := filepath.Join(t.TempDir(), "nope.cfg")
	_, err := ReadDatabricks(missing)
	is.True(errors.Is(err, ErrNoDatabricksConfig))
	is.True(strings.Contains(err.Error(), missing))

	p := writeDatabricks(t, "[DEFAULT]\nhost = https://x.cloud.databricks.com\nauth_type = databricks-cli\nthis line is broken\n")
	_, err = ReadDatabricks(p)
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), p+":4:")) // file and line named
	_, err = os.Stat(missing)
	is.True(errors.Is(err, os.ErrNotExist)) // never created
}

func TestUseDatabricks_ProfilesFileWinsAndResolveSaysWhereEachIs(t *testing.T) {
	is := is.New(t)
	dbx := writeDatabricks(t, databricksSample+"\n[work]\nhost = https://adb-444.4.azuredatabricks.net\nauth_type = databricks-cli\n")
	own := write(t, "[work]\nhost = https://work.example.com\nclient_id = w\n\n[mine]\nhost = https://adb-111.1.azuredatabricks.net\nclient_id = databricks-cli\n")
	f, err := Load(own)
	is.NoErr(err)
	is.NoErr(f.UseDatabricks(dbx))

	var names []string
	for _, p := range f.Profiles() {
		names = append(names, p.Name)
	}
	is.Equal(names, []string{"work", "mine", "DEFAULT", "acct", "acct.child", "m2m"}) // ours first; the hidden [work] not listed
	w, ok := f.Profile("work")
	is.True(ok)
	is.Equal(w.Host, "https://work.example.com") // the profiles file wins
	h, ok := f.Hides("work")
	is.True(ok)
	is.Equal(h.Origin, dbx+" [work]")
	d, ok := f.Profile("DEFAULT")
	is.True(ok)
	is.Equal(f.Where(d), dbx+" [DEFAULT]")
	is.Equal(f.Where(w), own)

	for _, tc := range []struct {
		name string
		in   Inputs
		host string
		from string
	}{
		{"DEFAULTByName", Inputs{Arg: "DEFAULT"}, "https://adb-111.1.azuredatabricks.net", "argument (profile in " + dbx + " [DEFAULT])"},
		{"ByProfileFlag", Inputs{Profile: "acct"}, "https://accounts.cloud.databricks.com", "flag --profile in " + dbx + " [acct]"},
		{"ClashSaysWhatItHides", Inputs{Arg: "work"}, "https://work.example.com", "argument (profile in " + own + "; it hides " + dbx + " [work])"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			r, err := f.Resolve(tc.in, core.NormalizeHost)
			is.NoErr(err)
			is.Equal(r.Host, tc.host)
			is.Equal(r.ProfileFrom, tc.from)
		})
	}
	// A host named by a profile of each file, with the same client: one
	// login, not an ambiguity.
	r, err := f.Resolve(Inputs{Arg: "adb-111.1.azuredatabricks.net"}, core.NormalizeHost)
	is.NoErr(err)
	is.True(r.Profile != nil)

	_, err = f.Resolve(Inputs{Profile: "ghost"}, core.NormalizeHost)
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), own+" or "+dbx)) // both files named

	// Read only: no delete, no put.
	is.True(!f.Delete("DEFAULT"))
	is.True(f.Put(d) != nil)
}

func TestPut_FlowIsSavedAndRead(t *testing.T) {
	is := is.New(t)
	p := filepath.Join(t.TempDir(), "config.ini")
	f, err := Load(p)
	is.NoErr(err)
	is.NoErr(f.Put(Profile{Name: "work", Host: "https://a.example.com", Flow: "device"}))
	is.NoErr(f.Save())
	raw, err := os.ReadFile(p)
	is.NoErr(err)
	is.True(strings.Contains(string(raw), "flow") && strings.Contains(string(raw), "device"))
	g, err := Load(p)
	is.NoErr(err)
	w, _ := g.Profile("work")
	is.Equal(w.Flow, "device")
	is.NoErr(g.Put(Profile{Name: "work", Host: "https://a.example.com"})) // empty removes the key
	w, _ = g.Profile("work")
	is.Equal(w.Flow, "")
}

// The auth types of a service principal: its secret stays in memory (never
// in a JSON listing), federation names where the subject token is read.
func TestReadDatabricks_ServicePrincipalAuthTypes(t *testing.T) {
	is := is.New(t)
	p := writeDatabricks(t, `[sp]
host = https://adb-1.1.azuredatabricks.net
auth_type = oauth-m2m
client_id = sp-id
client_secret = dose-SECRET-1

[gh]
host = adb-2.2.azuredatabricks.net
auth_type = github-oidc
client_id = gh-id

[gh-aud]
host = https://accounts.cloud.databricks.com
account_id = acc-1
auth_type = github-oidc
client_id = gh-id
token_audience = custom-aud

[gh-acct]
host = https://accounts.cloud.databricks.com
account_id = acc-1
auth_type = github-oidc
client_id = gh-id

[env]
host = https://adb-3.3.azuredatabricks.net
auth_type = env-oidc
client_id = env-id

[env-named]
host = https://adb-3.3.azuredatabricks.net
auth_type = env-oidc
client_id = env-id
oidc_token_env = MY_TOKEN

[file]
host = https://adb-4.4.azuredatabricks.net
auth_type = file-oidc
client_id = file-id
oidc_token_filepath = /var/run/secrets/tokens/dbx
`)
	ps, err := ReadDatabricks(p)
	is.NoErr(err)
	got := map[string]Profile{}
	for _, x := range ps {
		got[x.Name] = x
	}
	is.Equal(len(got), 7)
	is.Equal(got["sp"].Grant, GrantClientCredentials)
	is.Equal(got["sp"].ClientID, "sp-id")
	is.Equal(got["sp"].ClientSecret, "dose-SECRET-1")
	b, _ := json.Marshal(got["sp"])
	is.True(!strings.Contains(string(b), "dose-SECRET-1"))
	is.Equal(got["gh"].SubjectToken, "github-actions") // the core adds the Databricks audience at the grant
	is.Equal(got["gh-aud"].SubjectToken, "github-actions:custom-aud")
	is.Equal(got["gh-acct"].SubjectToken, "github-actions")
	is.Equal(got["env"].SubjectToken, "env:DATABRICKS_OIDC_TOKEN")
	is.Equal(got["env-named"].SubjectToken, "env:MY_TOKEN")
	is.Equal(got["file"].SubjectToken, "file:/var/run/secrets/tokens/dbx")
	for _, n := range []string{"gh", "env", "file"} {
		is.Equal(got[n].Grant, GrantTokenExchange)
	}
}

// The Databricks CLI's config file is found from the environment given
// (the CLI's getenv), its home included, never from the process's own
// $HOME: the Databricks forms and the unknown-profile hints find the same
// file. ~/ in $DATABRICKS_CONFIG_FILE is that home, as for the SDKs.
func TestDefaultDatabricksPath_ComesFromTheGivenEnvironmentOnly(t *testing.T) {
	is := is.New(t)
	t.Setenv("HOME", "/process/home")
	env := func(vars ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(vars); i += 2 {
				if vars[i] == k {
					return vars[i+1]
				}
			}
			return ""
		}
	}
	is.Equal(DefaultDatabricksPath(env("HOME", "/given")), filepath.Join("/given", ".databrickscfg"))
	is.Equal(DefaultDatabricksPath(env()), "") // no home given: none
	is.Equal(DefaultDatabricksPath(env("HOME", "/given", EnvDatabricksConfigFile, "~/dbx.cfg")), filepath.Join("/given", "dbx.cfg"))
	is.Equal(DefaultDatabricksPath(env("HOME", "/given", EnvDatabricksConfigFile, "/etc/dbx.cfg")), "/etc/dbx.cfg")
	is.Equal(DefaultDatabricksPath(env(EnvDatabricksConfigFile, "~/dbx.cfg")), "")
}
