package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/testidp"
	"github.com/matryer/is"
)

const otherClient = "dualauth-other"

func twoClients(o *testidp.Options) {
	o.Clients = append(o.Clients, testidp.Client{ID: otherClient, RedirectURIs: []string{"http://127.0.0.1/callback"}})
}

func (e *env) configPath() string { return filepath.Join(e.home, "dualauth.ini") }

// cfg runs auth with the profiles file of this test.
func (e *env) cfg(extra []string, args ...string) result {
	e.t.Helper()
	return e.auth(append([]string{"DUALAUTH_CONFIG_FILE=" + e.configPath()}, extra...), args...)
}

func (e *env) writeConfig(body string) {
	e.t.Helper()
	if err := os.WriteFile(e.configPath(), []byte(body), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) readConfig() string {
	e.t.Helper()
	b, err := os.ReadFile(e.configPath())
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func TestProfiles_LoginSavesTheProfileAndTheFirstBecomesDefault(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, twoClients)
	r := e.cfg(nil, "login", "--profile", "work", e.srv.Issuer, "--client-id", clientID, "--scopes", "openid,offline_access")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Saved profile work in "+e.configPath()))
	cfg := e.readConfig()
	for _, want := range []string{"[work]", "host", e.srv.Issuer, "client_id", clientID, "scopes", "openid offline_access", "default_profile", "work"} {
		is.True(strings.Contains(cfg, want)) // saved setting
	}
	st, err := os.Stat(e.configPath())
	is.NoErr(err)
	is.Equal(st.Mode().Perm(), os.FileMode(0o600))
	en := e.entry()

	// The default profile needs no argument; the profile name works too.
	for _, args := range [][]string{{"token", "-o", "text"}, {"token", "work", "-o", "text"}, {"token", "--profile", "work", "-o", "text"}} {
		r = e.cfg(nil, args...)
		is.Equal(r.code, 0)
		is.Equal(r.stdout, en.AccessToken+"\n")
	}

	// A second profile does not take over the default.
	r = e.cfg(nil, "login", "--profile", "other", e.srv.Issuer, "--client-id", otherClient)
	is.Equal(r.code, 0)
	is.True(strings.Contains(e.readConfig(), "default_profile = work"))
	r = e.cfg(nil, "token", "-o", "text")
	is.Equal(r.stdout, en.AccessToken+"\n")
}

func TestProfiles_ResolutionOrderEndToEnd(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, twoClients)
	is.Equal(e.cfg(nil, "login", "--profile", "a", e.srv.Issuer, "--client-id", clientID).code, 0)
	is.Equal(e.cfg(nil, "login", "--profile", "b", e.srv.Issuer, "--client-id", otherClient).code, 0)
	tokA := e.file().Tokens[core.Key(e.srv.Issuer, clientID)].AccessToken
	tokB := e.file().Tokens[core.Key(e.srv.Issuer, otherClient)].AccessToken
	is.True(tokA != tokB) // two clients on one host do not collide

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{name: "DefaultProfile", want: tokA},
		{name: "EnvProfileBeatsDefault", env: []string{"DUALAUTH_PROFILE=b"}, want: tokB},
		{name: "ProfileFlagBeatsEnv", env: []string{"DUALAUTH_PROFILE=a"}, args: []string{"--profile", "b"}, want: tokB},
		{name: "ArgumentProfileBeatsAll", env: []string{"DUALAUTH_PROFILE=a"}, args: []string{"b"}, want: tokB},
		{name: "ProfileFlagBeatsEnvHost", env: []string{"DUALAUTH_HOST=https://nowhere.example.com"}, args: []string{"--profile", "b"}, want: tokB},
		{name: "HostAndClientFlags", args: []string{"--host", e.srv.Issuer, "--client-id", otherClient}, want: tokB},
		// a, the first logged in, is the default: of the host's profiles, it wins.
		{name: "HostOfTwoProfilesWithDifferentClientsIsTheDefault", args: []string{e.srv.Issuer}, want: tokA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			r := e.cfg(tc.env, append([]string{"token", "-o", "text"}, tc.args...)...)
			is.Equal(r.code, 0)
			is.Equal(r.stdout, tc.want+"\n")
		})
	}

	for _, tc := range []struct {
		name, want string
		env        []string
		args       []string
		config     string
	}{
		{name: "HostOfTwoProfilesWithDifferentClientsNoneTheDefault", args: []string{e.srv.Issuer}, config: "[a]\nhost = " + e.srv.Issuer + "\nclient_id = " + clientID + "\n\n[b]\nhost = " + e.srv.Issuer + "\nclient_id = " + otherClient + "\n",
			want: "several profiles are for " + e.srv.Issuer + ", with different settings (a, b), and none is the default: pass --profile NAME"},
		{name: "UnknownProfile", args: []string{"--profile", "ghost"}, want: `no profile "ghost"`},
		{name: "NothingToGoOn", config: "; empty\n", want: "no host: pass HOST or --profile, or run `auth login HOST`"},
		{name: "EnvHostNotLoggedIn", config: "; empty\n", env: []string{"DUALAUTH_HOST=https://nowhere.example.com"}, want: "not logged in to https://nowhere.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			extra := tc.env
			if tc.config != "" {
				p := filepath.Join(t.TempDir(), "c.ini")
				is.NoErr(os.WriteFile(p, []byte(tc.config), 0o600))
				extra = append(extra, "DUALAUTH_CONFIG_FILE="+p)
				r := e.auth(extra, append([]string{"token"}, tc.args...)...)
				is.True(r.code != 0)
				is.True(strings.Contains(r.stderr, tc.want))
				return
			}
			r := e.cfg(extra, append([]string{"token"}, tc.args...)...)
			is.Equal(r.code, 2)
			is.True(strings.Contains(r.stderr, tc.want))
		})
	}
}

func TestProfiles_TwoProfilesOnOneHostAndClientShareALogin(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	is.Equal(e.cfg(nil, "login", "--profile", "one", e.srv.Issuer, "--client-id", clientID).code, 0)
	e.writeConfig(e.readConfig() + "\n[two]\nhost = " + e.srv.Issuer + "/\nclient_id = " + clientID + "\n")
	r := e.cfg(nil, "token", "two", "-o", "text")
	is.Equal(r.code, 0)
	is.Equal(r.stdout, e.entry().AccessToken+"\n")
	is.Equal(e.srv.Requests("authorization_code"), 1) // no second login
	is.Equal(len(e.file().Tokens), 1)
	// And the host itself is not ambiguous: both profiles mean one login.
	r = e.cfg(nil, "token", e.srv.Issuer, "-o", "text")
	is.Equal(r.code, 0)
}

func TestProfiles_ListShowsEachLoginStateAsTableAndJSON(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, twoClients)
	is.Equal(e.cfg(nil, "login", "--profile", "live", e.srv.Issuer, "--client-id", clientID).code, 0)
	is.Equal(e.cfg(nil, "login", "--profile", "stale", e.srv.Issuer, "--client-id", otherClient).code, 0)
	e.edit(func(c *core.CacheFile) {
		k := core.Key(e.srv.Issuer, otherClient)
		en := c.Tokens[k]
		en.Expiry = time.Now().Add(-time.Minute)
		c.Tokens[k] = en
	})
	e.writeConfig(e.readConfig() + "\n[gone]\nhost = https://gone.example.com\nclient_id = c\n")

	r := e.cfg(nil, "profiles")
	is.Equal(r.code, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	is.Equal(len(lines), 4)
	is.True(strings.HasPrefix(lines[0], "NAME"))
	is.True(strings.Contains(lines[1], "live (default)") && strings.Contains(lines[1], "valid until"))
	is.True(strings.Contains(lines[2], "stale") && strings.Contains(lines[2], "expired, refreshable"))
	is.True(strings.Contains(lines[3], "gone") && strings.Contains(lines[3], "logged out"))

	r = e.cfg(nil, "profiles", "-o", "json")
	is.Equal(r.code, 0)
	var rows []map[string]any
	is.NoErr(json.Unmarshal([]byte(r.stdout), &rows))
	is.Equal(len(rows), 3)
	for _, row := range rows {
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range row {
				if !yield(k) {
					return
				}
			}
		})
		is.Equal(keys, []string{"client_id", "default", "host", "name", "source", "status"}) // schema
		is.Equal(row["source"], e.configPath())
		_, ok := row["status"].(map[string]any)["state"].(string)
		is.True(ok)
	}
	is.Equal(rows[0]["status"].(map[string]any)["state"], "valid")
	is.Equal(rows[1]["status"].(map[string]any)["state"], "expired-refreshable")
	is.Equal(rows[2]["status"].(map[string]any)["state"], "logged-out")
	is.Equal(e.srv.Requests("refresh_token"), 0) // offline by default

	// --check refreshes the stale one, within its timeout.
	r = e.cfg(nil, "profiles", "--check", "--timeout", "5s")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stdout, "ok, valid until"))
	is.Equal(strings.Count(r.stdout, "ok, valid until"), 2)
	is.Equal(e.srv.Requests("refresh_token"), 1)
}

func TestProfiles_CheckGivesUpOnADeadServerWithinItsTimeout(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	is.Equal(e.cfg(nil, "login", "--profile", "dead", e.srv.Issuer, "--client-id", clientID).code, 0)
	e.expire()
	e.srv.Close()
	start := time.Now()
	r := e.cfg(nil, "profiles", "--check", "--timeout", "2s")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stdout, "error:"))
	is.True(time.Since(start) < 10*time.Second)
}

func TestDescribe_ShowsEverySettingsSourceAndNoTokenUnlessSensitive(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	is.Equal(e.cfg(nil, "login", "--profile", "work", e.srv.Issuer, "--client-id", clientID).code, 0)
	en := e.entry()
	r := e.cfg([]string{"DUALAUTH_STORAGE=file"}, "describe", "work", "-o", "json")
	is.Equal(r.code, 0)
	is.True(!strings.Contains(r.stdout, en.AccessToken))
	is.True(!strings.Contains(r.stdout, en.RefreshToken))
	var d struct {
		Settings  map[string]setting `json:"settings"`
		Endpoints map[string]any     `json:"endpoints"`
		Token     map[string]any     `json:"token"`
		Storage   map[string]string  `json:"storage"`
		Paths     map[string]string  `json:"paths"`
	}
	is.NoErr(json.Unmarshal([]byte(r.stdout), &d))
	is.Equal(d.Settings["host"], setting{e.srv.Issuer, "profile work"})
	is.True(strings.HasPrefix(d.Settings["profile"].Source, "argument (profile in "+e.configPath()))
	is.Equal(d.Settings["client_id"], setting{clientID, "profile work"})
	is.Equal(d.Settings["scopes"], setting{"openid offline_access", "default"})
	is.Equal(d.Settings["storage"], setting{"file", "env DUALAUTH_STORAGE"})
	is.Equal(d.Endpoints["token_endpoint"], e.srv.Issuer+"/oauth/token")
	is.Equal(d.Token["state"], "valid")
	is.Equal(d.Storage["in_use"], "file")
	is.Equal(d.Paths["cache"], filepath.Join(e.cache, "token-cache.json"))
	is.Equal(d.Paths["lock"], filepath.Join(e.cache, "token-cache.lock"))
	is.Equal(d.Paths["config"], e.configPath())

	r = e.cfg(nil, "describe", "--host", e.srv.Issuer, "--client-id", clientID)
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stdout, "(flag --client-id)"))
	is.True(strings.Contains(r.stdout, "(flag --host)"))
	is.True(!strings.Contains(r.stdout, en.AccessToken))

	r = e.cfg(nil, "describe", "work", "--sensitive")
	is.True(strings.Contains(r.stdout, en.AccessToken))

	r = e.cfg(nil, "describe", "https://fresh.example.com", "--client-id", "c")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stdout, "logged out"))
	is.True(strings.Contains(r.stdout, "not known yet"))
}

func TestEnv_OutputEvaluatedByARealShell(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	is.Equal(e.cfg(nil, "login", "--profile", "work", e.srv.Issuer, "--client-id", clientID).code, 0)
	en := e.entry()
	script := `eval "$("$AUTH" env work)" && printf '%s\n%s\n' "$DUALAUTH_HOST" "$DUALAUTH_TOKEN"`
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(e.environ("DUALAUTH_CONFIG_FILE="+e.configPath()), "AUTH="+authBin)
	out, err := cmd.Output()
	is.NoErr(err)
	is.Equal(string(out), e.srv.Issuer+"\n"+en.AccessToken+"\n")

	r := e.cfg(nil, "env", "work", "-o", "json")
	is.Equal(r.code, 0)
	var m map[string]string
	is.NoErr(json.Unmarshal([]byte(r.stdout), &m))
	is.Equal(m["DUALAUTH_TOKEN"], en.AccessToken)
	is.Equal(m["DUALAUTH_HOST"], e.srv.Issuer)

	e.expire()
	r = e.cfg(nil, "env", "work", "--shell", "fish")
	is.Equal(r.code, 0)
	is.True(strings.HasPrefix(r.stdout, "set -gx DUALAUTH_HOST '"+e.srv.Issuer+"';\n"))
	is.Equal(e.srv.Requests("refresh_token"), 1) // a fresh token
}

func TestEnv_QuotingSurvivesAnyValue(t *testing.T) {
	is := is.New(t)
	for _, v := range []string{`a'b`, `$(touch /tmp/x)`, "`id`", `"; rm -rf /; "`, `back\slash`, "new\nline"} {
		out, err := exec.Command("sh", "-c", exportLine("sh", "V", v)+`printf '%s' "$V"`).Output()
		is.NoErr(err)
		is.Equal(string(out), v) // sh reads back exactly the value
	}
	is.Equal(exportLine("powershell", "V", "it's"), "$Env:V = 'it''s'\n")
	is.Equal(exportLine("powershell", "V", "a\u2019b"), "$Env:V = 'a\u2019\u2019b'\n") // typographic quotes end strings too
	is.Equal(exportLine("fish", "V", `it's \`), `set -gx V 'it\'s \\';`+"\n")
}

func TestLogout_DeleteRemovesTheProfileToo(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	is.Equal(e.cfg(nil, "login", "--profile", "work", e.srv.Issuer, "--client-id", clientID).code, 0)
	r := e.cfg(nil, "logout", "--profile", "work", "--delete")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "Deleted profile work"))
	is.True(!strings.Contains(e.readConfig(), "[work]"))
	is.True(!strings.Contains(e.readConfig(), "default_profile = work"))
	is.Equal(len(e.file().Tokens), 0)

	r = e.cfg(nil, "logout", e.srv.Issuer, "--delete")
	is.Equal(r.code, 2) // --delete needs a profile

	// A profile that merely matches the host is not deleted by accident.
	is.Equal(e.cfg(nil, "login", "--profile", "keep", e.srv.Issuer, "--client-id", clientID).code, 0)
	r = e.cfg(nil, "logout", e.srv.Issuer, "--delete")
	is.Equal(r.code, 2)
	is.True(strings.Contains(e.readConfig(), "[keep]"))
}

func TestConfig_BadININamesFileAndLineAndRewritesKeepComments(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	e.writeConfig("[a]\nhost = https://a.example.com\nnot a key value line\n")
	r := e.cfg(nil, "token")
	is.True(r.code != 0)
	is.Equal(len(errorLines(r.stderr)), 1)
	is.True(strings.Contains(r.stderr, e.configPath()+":3:"))

	e.writeConfig("; my profiles, hand-written\n[settings]\ndefault_profile = a\n\n# the A team\n[a]\nhost = https://a.example.com\ncolor = blue\n")
	is.Equal(e.cfg(nil, "login", "--profile", "b", e.srv.Issuer, "--client-id", clientID).code, 0)
	cfg := e.readConfig()
	for _, want := range []string{"; my profiles, hand-written", "# the A team", "color", "blue", "[b]", "default_profile = a"} {
		is.True(strings.Contains(cfg, want)) // kept across the rewrite
	}
}

func TestProfiles_StorageKeyChoosesWhereRefreshTokensGo(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	e.writeConfig("[k]\nhost = " + e.srv.Issuer + "\nclient_id = " + clientID + "\nstorage = keyring\n")
	// No session bus here: the profile asks for the keyring, so the login
	// fails before the browser instead of silently using the file.
	r := e.cfg([]string{"DBUS_SESSION_BUS_ADDRESS="}, "login", "k")
	is.Equal(r.code, 1)
	is.True(strings.Contains(r.stderr, "keyring"))
	is.Equal(e.srv.Requests("authorization_code"), 0)

	r = e.cfg(nil, "describe", "k", "-o", "json")
	is.Equal(r.code, 0)
	var d struct {
		Settings map[string]setting `json:"settings"`
	}
	is.NoErr(json.Unmarshal([]byte(r.stdout), &d))
	is.Equal(d.Settings["storage"], setting{"keyring", "profile k"})

	// The flag beats the profile.
	r = e.cfg(nil, "login", "k", "--storage", "file")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "refresh token in "+filepath.Join(e.cache, "token-cache.json")))
}

func TestToken_JSONIsWhatMarshalIndentGives(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	en := e.login()
	r := e.auth(nil, "token", e.srv.Issuer)
	is.Equal(r.code, 0)
	want, err := json.MarshalIndent(map[string]string{
		"access_token": en.AccessToken, "token_type": en.TokenType, "expiry": en.Expiry.Format(time.RFC3339),
	}, "", "  ")
	is.NoErr(err)
	// Same bytes, in the documented key order.
	var got, exp map[string]string
	is.NoErr(json.Unmarshal([]byte(r.stdout), &got))
	is.NoErr(json.Unmarshal(want, &exp))
	is.Equal(got, exp)
	is.True(strings.Index(r.stdout, `"access_token"`) < strings.Index(r.stdout, `"token_type"`))
	is.True(strings.Index(r.stdout, `"token_type"`) < strings.Index(r.stdout, `"expiry"`))
	is.True(strings.HasPrefix(r.stdout, "{\n  \"access_token\": \""))
	is.Equal(jsonString("a\"b\\c<\u2028"), `"a\"b\\c\u003c\u2028"`)
}

func TestCLI_TwoClientsOnOneHostWithoutAClientIsAUsageErrorEverywhere(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, twoClients)
	is.Equal(e.auth(nil, "login", e.srv.Issuer, "--client-id", clientID).code, 0)
	is.Equal(e.auth(nil, "login", e.srv.Issuer, "--client-id", otherClient).code, 0)
	for _, cmd := range []string{"token", "logout", "describe", "env"} {
		r := e.auth(nil, cmd, e.srv.Issuer)
		is.Equal(r.code, 2) // the same exit code from every command
		is.True(strings.Contains(r.stderr, "several clients are logged in to "+e.srv.Issuer))
	}
	is.Equal(len(e.file().Tokens), 2) // nothing was logged out
}
