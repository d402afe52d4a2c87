package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/testidp"
	"github.com/dualauth/dualauth/native"
	"github.com/dualauth/dualauth/native/config"
	"github.com/matryer/is"
)

// databricksClient registers the Databricks CLI's client at the test
// provider, for profiles read from a .databrickscfg.
func databricksClient(o *testidp.Options) {
	o.Clients = append(o.Clients, testidp.Client{ID: native.DatabricksClientID, RedirectURIs: []string{"http://127.0.0.1/callback"}})
}

// writeDatabricks writes a Databricks CLI config file and returns its
// path and a check that it was not changed since.
func (e *env) writeDatabricks(body string) (path string, unchanged func()) {
	e.t.Helper()
	path = filepath.Join(e.home, ".databrickscfg")
	if err := os.WriteFile(path, []byte(body), 0o640); err != nil {
		e.t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		e.t.Fatal(err)
	}
	return path, func() {
		e.t.Helper()
		raw, err := os.ReadFile(path)
		if err != nil {
			e.t.Fatal(err)
		}
		after, err := os.Stat(path)
		if err != nil {
			e.t.Fatal(err)
		}
		if string(raw) != body || after.Mode() != before.Mode() || !after.ModTime().Equal(before.ModTime()) {
			e.t.Errorf("%s was changed", path)
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		for _, de := range entries {
			if strings.HasPrefix(de.Name(), ".config-") || strings.HasPrefix(de.Name(), ".databrickscfg.") {
				e.t.Errorf("a file was written next to %s: %s", path, de.Name())
			}
		}
	}
}

func TestDatabricksConfig_ClientIsTheNativeDefault(t *testing.T) {
	is.New(t).Equal(config.DatabricksClientID, native.DatabricksClientID)
}

// TestDatabricksConfig_DEFAULTProfileLogsInGivesTokensAndTheFileIsNeverWritten:
// a [DEFAULT] section with auth_type = databricks-cli is a profile for
// login, token, env, describe and profiles; other sections are not; the
// file stays byte for byte the same and login saves the profile nowhere.
func TestDatabricksConfig_DEFAULTProfileLogsInGivesTokensAndTheFileIsNeverWritten(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, databricksClient)
	body := "; Databricks CLI profiles\n[DEFAULT]\nhost = " + e.srv.Issuer + "\nauth_type = databricks-cli\n\n" +
		"[pat]\nhost = https://adb-222.2.azuredatabricks.net\ntoken = dapi-xyz\n\n" +
		"[acct]\nhost = https://accounts.cloud.databricks.com\naccount_id = 0123-abcd\nauth_type = databricks-cli\n"
	dbx, unchanged := e.writeDatabricks(body)
	flag := []string{"--databricks-config", dbx}

	r := e.cfg(nil, append([]string{"login", "DEFAULT", "--flow", "browser", "--scopes", "openid offline_access"}, flag...)...)
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Logged in to "+e.srv.Issuer))
	is.True(strings.Contains(r.stderr, "Not saved: profile DEFAULT is read from "+dbx+" [DEFAULT], which auth never writes; --scopes, --flow applied to this login only"))
	_, err := os.Stat(e.configPath())
	is.True(os.IsNotExist(err)) // nothing saved in the profiles file either
	en, ok := e.file().Tokens[core.Key(e.srv.Issuer, native.DatabricksClientID)]
	is.True(ok) // the login of the Databricks CLI's client
	e.mu.Lock()
	e.secrets = append(e.secrets, en.AccessToken, en.RefreshToken)
	e.mu.Unlock()

	// The environment variable works like the flag.
	viaEnv := []string{"DUALAUTH_DATABRICKS_CONFIG=" + dbx}
	for _, args := range [][]string{{"token", "DEFAULT", "-o", "text"}, {"token", "--profile", "DEFAULT", "-o", "text"}} {
		r = e.cfg(viaEnv, args...)
		is.Equal(r.code, 0)
		is.Equal(r.stdout, en.AccessToken+"\n")
	}
	r = e.cfg(nil, append([]string{"env", "DEFAULT", "-o", "json"}, flag...)...)
	is.Equal(r.code, 0)
	var vars map[string]string
	is.NoErr(json.Unmarshal([]byte(r.stdout), &vars))
	is.Equal(vars["DUALAUTH_TOKEN"], en.AccessToken)
	is.Equal(vars["DUALAUTH_HOST"], e.srv.Issuer)

	r = e.cfg(viaEnv, "describe", "DEFAULT", "-o", "json")
	is.Equal(r.code, 0)
	var d struct {
		Settings map[string]setting `json:"settings"`
		Token    map[string]any     `json:"token"`
		Paths    map[string]string  `json:"paths"`
	}
	is.NoErr(json.Unmarshal([]byte(r.stdout), &d))
	is.Equal(d.Settings["profile"], setting{"DEFAULT", "argument (profile in " + dbx + " [DEFAULT])"})
	is.Equal(d.Settings["host"], setting{e.srv.Issuer, "profile DEFAULT"})
	is.Equal(d.Settings["client_id"], setting{native.DatabricksClientID, "profile DEFAULT (the Databricks CLI's client)"})
	is.Equal(d.Token["state"], "valid")
	is.Equal(d.Paths["databricks_config"], dbx)
	r = e.cfg(viaEnv, "describe", "DEFAULT")
	is.True(strings.Contains(r.stdout, dbx+" [DEFAULT]"))

	// auth profiles: the Databricks CLI profiles, with where they come from.
	r = e.cfg(nil, append([]string{"profiles"}, flag...)...)
	is.Equal(r.code, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	is.Equal(len(lines), 3)
	is.True(strings.HasSuffix(strings.TrimSpace(lines[0]), "SOURCE"))
	is.True(strings.HasPrefix(lines[1], "DEFAULT ") && strings.Contains(lines[1], "valid until") && strings.HasSuffix(lines[1], dbx))
	is.True(strings.HasPrefix(lines[2], "acct ") && strings.Contains(lines[2], "https://accounts.cloud.databricks.com") && strings.HasSuffix(lines[2], dbx))
	is.True(!strings.Contains(r.stdout, "pat")) // a token profile is not one of ours
	r = e.cfg(viaEnv, "profiles", "-o", "json")
	is.Equal(r.code, 0)
	var rows []profileRow
	is.NoErr(json.Unmarshal([]byte(r.stdout), &rows))
	is.Equal(len(rows), 2)
	is.Equal(rows[0].Name, "DEFAULT")
	is.Equal(rows[0].Source, dbx)
	is.Equal(rows[0].ClientID, native.DatabricksClientID)
	is.Equal(rows[0].Status.State, "valid")
	is.Equal(rows[1].Name, "acct")

	// Without the flag, the file is not read: DEFAULT is no profile then.
	r = e.cfg(nil, "token", "DEFAULT")
	is.True(r.code != 0)

	// Logout works; --delete cannot remove a section of that file.
	r = e.cfg(nil, append([]string{"logout", "DEFAULT", "--delete"}, flag...)...)
	is.Equal(r.code, 2)
	is.True(strings.Contains(r.stderr, "profile DEFAULT is read from "+dbx+" [DEFAULT], which auth never changes"))
	is.Equal(len(e.file().Tokens), 1) // refused before logging out
	r = e.cfg(nil, append([]string{"logout", "DEFAULT"}, flag...)...)
	is.Equal(r.code, 0)
	is.Equal(len(e.file().Tokens), 0)

	unchanged()
	_, err = os.Stat(e.configPath())
	is.True(os.IsNotExist(err))
}

func TestDatabricksConfig_TheProfilesFileWinsOnANameClashAndSaysSo(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, databricksClient)
	dbx, unchanged := e.writeDatabricks("[work]\nhost = https://adb-444.4.azuredatabricks.net\nauth_type = databricks-cli\n\n[dbx]\nhost = " + e.srv.Issuer + "\nauth_type = databricks-cli\n")
	flag := []string{"--databricks-config", dbx}
	is.Equal(e.cfg(nil, "login", "--profile", "work", e.srv.Issuer, "--client-id", clientID).code, 0)
	en := e.entry()

	r := e.cfg(nil, append([]string{"token", "work", "-o", "text"}, flag...)...)
	is.Equal(r.code, 0)
	is.Equal(r.stdout, en.AccessToken+"\n") // ours, not the Databricks host

	r = e.cfg(nil, append([]string{"describe", "work", "-o", "json"}, flag...)...)
	is.Equal(r.code, 0)
	var d struct {
		Settings map[string]setting `json:"settings"`
	}
	is.NoErr(json.Unmarshal([]byte(r.stdout), &d))
	is.Equal(d.Settings["profile"].Source, "argument (profile in "+e.configPath()+"; it hides "+dbx+" [work])")
	is.Equal(d.Settings["host"].Value, e.srv.Issuer)

	r = e.cfg(nil, append([]string{"profiles"}, flag...)...)
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Note: profile work of "+e.configPath()+" hides "+dbx+" [work]"))
	is.Equal(strings.Count(r.stdout, "\nwork"), 1) // listed once, from the profiles file
	is.True(strings.Contains(r.stdout, e.configPath()))
	r = e.cfg(nil, append([]string{"profiles", "-o", "json"}, flag...)...)
	var rows []profileRow
	is.NoErr(json.Unmarshal([]byte(r.stdout), &rows))
	is.Equal(len(rows), 2)
	is.Equal([]string{rows[0].Name, rows[0].Source, rows[1].Name, rows[1].Source}, []string{"work", e.configPath(), "dbx", dbx})

	// A login to our own profile still saves into our own file.
	r = e.cfg(nil, append([]string{"login", "work", "--flow", "browser"}, flag...)...)
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Updated profile work in "+e.configPath()))
	is.True(strings.Contains(e.readConfig(), "flow"))
	unchanged()
}

func TestDatabricksConfig_MissingOrMalformedFileIsAnErrorNamingIt(t *testing.T) {
	e := newEnv(t)
	missing := filepath.Join(e.home, "no", ".databrickscfg")
	bad := filepath.Join(e.home, "bad.cfg")
	if err := os.WriteFile(bad, []byte("[DEFAULT]\nhost = https://x.cloud.databricks.com\nauth_type = databricks-cli\nnot a key value line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want []string
	}{
		{"MissingByFlag", nil, []string{"token", "--databricks-config", missing}, 2, []string{missing, "no such file", "drop --databricks-config"}},
		{"MissingByEnv", []string{"DUALAUTH_DATABRICKS_CONFIG=" + missing}, []string{"profiles"}, 2, []string{missing, "unset DUALAUTH_DATABRICKS_CONFIG"}},
		{"Malformed", nil, []string{"describe", "DEFAULT", "--databricks-config", bad}, 1, []string{bad + ":4: key-value delimiter not found"}}, // the kind, never the line's text (it may hold a secret)
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			r := e.cfg(tc.env, tc.args...)
			is.Equal(r.code, tc.code)
			lines := errorLines(r.stderr)
			is.Equal(len(lines), 1)
			for _, w := range tc.want {
				if !strings.Contains(lines[0], w) {
					t.Errorf("%q does not say %q", lines[0], w)
				}
			}
			_, err := os.Stat(missing)
			is.True(os.IsNotExist(err)) // never created
		})
	}
}

func TestDatabricksConfig_HelpDocumentsItAndThatLoginSavesNothingThere(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := e.auth(nil, "--help")
	is.Equal(r.code, 0)
	root := strings.Join(strings.Fields(r.stdout), " ")
	for _, want := range []string{"--databricks-config string", "DUALAUTH_DATABRICKS_CONFIG", "auth_type = databricks-cli", "[DEFAULT] included", "never writes it"} {
		is.True(strings.Contains(root, want)) // auth --help
	}
	r = e.auth(nil, "help", "login-hosts") // the reference of auth login
	login := strings.Join(strings.Fields(r.stdout), " ")
	is.True(strings.Contains(login, "A profile read from a Databricks CLI config file (--databricks-config) is never saved"))
	is.True(strings.Contains(login, "login flow and DPoP mode when given as flags (--flow or --device"))
}

// Issue 24 item 2: `auth profiles` without --databricks-config says how
// many profiles the Databricks CLI's own config file has that it leaves
// out (a note on stderr; the list itself is unchanged), and nothing when
// that file is absent or has none auth could list.
func TestDatabricksConfig_ProfilesWithoutTheFlagCountsTheDatabricksCLIProfiles(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, databricksClient)
	is.Equal(e.cfg(nil, "login", "--profile", "work", e.srv.Issuer, "--client-id", clientID).code, 0)
	note := func(args ...string) string {
		t.Helper()
		r := e.cfg(nil, append([]string{"profiles"}, args...)...)
		is.Equal(r.code, 0)
		is.True(strings.Contains(r.stdout, "work"))
		for _, l := range strings.Split(r.stderr, "\n") {
			if strings.Contains(l, "Databricks CLI profile") {
				return l
			}
		}
		return ""
	}
	is.Equal(note(), "") // no ~/.databrickscfg
	dbx, unchanged := e.writeDatabricks("[DEFAULT]\nhost = https://adb-1.2.azuredatabricks.net\nauth_type = databricks-cli\n\n" +
		"[m2m]\nhost = https://adb-1.2.azuredatabricks.net\nauth_type = oauth-m2m\nclient_id = c\nclient_secret = s\n\n" +
		"[pat]\nhost = https://adb-1.2.azuredatabricks.net\ntoken = dapi-x\n")
	want := "Note: 2 Databricks CLI profiles in " + dbx + ": add --databricks-config " + dbx + " to list them"
	is.Equal(note(), want)
	is.Equal(note("-o", "json"), want)
	is.Equal(note("--databricks-config", dbx), "") // listed instead
	unchanged()
	e.writeDatabricks("[DEFAULT]\nhost = https://adb-1.2.azuredatabricks.net\nauth_type = databricks-cli\n")
	is.Equal(note(), "Note: 1 Databricks CLI profile in "+dbx+": add --databricks-config "+dbx+" to list it")
	e.writeDatabricks("[pat]\nhost = https://adb-1.2.azuredatabricks.net\ntoken = dapi-x\n")
	is.Equal(note(), "") // none auth could list
}
