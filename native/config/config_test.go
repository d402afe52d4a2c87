package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

// write puts body in a fresh config.ini and returns its path.
func write(t *testing.T, body string) string { return writeNamed(t, "config.ini", body) }

func writeNamed(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	is.New(t).NoErr(os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestLoad_MissingFileIsEmpty(t *testing.T) {
	is := is.New(t)
	f, err := Load(filepath.Join(t.TempDir(), "nope", "config.ini"))
	is.NoErr(err)
	is.Equal(len(f.Profiles()), 0)
	is.Equal(f.Default(), "")
}

func TestLoad_BadININamesFileAndLine(t *testing.T) {
	for name, tc := range map[string]struct{ body, line string }{
		"NoDelimiter":     {"[a]\nhost = https://x\nthis line is broken\n", ":3:"},
		"UnclosedSection": {"[a]\nhost = h\n\n[b\n", ":4:"},
		"BadProfileName":  {"[a]\nhost = h\n[bad name!]\nhost = h\n", ":3:"},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			p := write(t, tc.body)
			_, err := Load(p)
			is.True(err != nil)
			is.True(strings.Contains(err.Error(), p+tc.line)) // file and line named
		})
	}
}

func TestPut_FirstProfileBecomesDefaultAndFileIs0600(t *testing.T) {
	is := is.New(t)
	p := filepath.Join(t.TempDir(), "sub", "config.ini")
	f, err := Load(p)
	is.NoErr(err)
	is.NoErr(f.Put(Profile{Name: "work", Host: "https://a.example.com", ClientID: "c1", Scopes: "openid offline_access"}))
	is.NoErr(f.Put(Profile{Name: "play", Host: "https://b.example.com", ClientID: "c2"}))
	is.NoErr(f.Save())
	st, err := os.Stat(p)
	is.NoErr(err)
	is.Equal(st.Mode().Perm(), os.FileMode(0o600))
	dir, err := os.Stat(filepath.Dir(p))
	is.NoErr(err)
	is.Equal(dir.Mode().Perm(), os.FileMode(0o700))

	g, err := Load(p)
	is.NoErr(err)
	is.Equal(g.Default(), "work")
	w, ok := g.Profile("work")
	is.True(ok)
	is.Equal(w, Profile{Name: "work", Host: "https://a.example.com", ClientID: "c1", Scopes: "openid offline_access"})
	is.Equal(len(g.Profiles()), 2)
}

func TestSave_KeepsCommentsAndUnknownKeys(t *testing.T) {
	is := is.New(t)
	p := write(t, "; my dualauth profiles\n[settings]\ndefault_profile = a\n\n# the work one\n[a]\nhost = https://a.example.com\nteam_color = blue\n")
	f, err := Load(p)
	is.NoErr(err)
	is.NoErr(f.Put(Profile{Name: "a", Host: "https://a.example.com", ClientID: "new"}))
	is.NoErr(f.Put(Profile{Name: "b", Host: "https://b.example.com"}))
	is.NoErr(f.Save())
	raw, err := os.ReadFile(p)
	is.NoErr(err)
	s := string(raw)
	for _, want := range []string{"; my dualauth profiles", "# the work one", "team_color", "blue", "client_id", "new", "[b]"} {
		is.True(strings.Contains(s, want)) // kept or added
	}
	is.Equal(strings.Count(s, "default_profile"), 1)
}

func TestDelete_RemovesProfileAndDefault(t *testing.T) {
	is := is.New(t)
	f, err := Load(write(t, "[settings]\ndefault_profile = a\n[a]\nhost = h\n[b]\nhost = h2\n"))
	is.NoErr(err)
	is.True(f.Delete("a"))
	is.True(!f.Delete("a"))
	is.Equal(f.Default(), "")
	_, ok := f.Profile("a")
	is.True(!ok)
	_, ok = f.Profile(SettingsSection)
	is.True(!ok) // [settings] is never a profile
}

func TestValidName(t *testing.T) {
	is := is.New(t)
	is.NoErr(ValidName("prod-eu.1_a"))
	for _, bad := range []string{"", "settings", "DEFAULT", "a b", "-x", "x/y"} {
		is.True(ValidName(bad) != nil) // rejected name
	}
	f, _ := Load(filepath.Join(t.TempDir(), "c.ini"))
	is.True(f.Put(Profile{Name: "settings"}) != nil)
}

func TestDefaultPath(t *testing.T) {
	is := is.New(t)
	p, err := DefaultPath(func(k string) string {
		if k == EnvConfigFile {
			return "/x/c.ini"
		}
		return ""
	})
	is.NoErr(err)
	is.Equal(p, "/x/c.ini")
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	p, err = DefaultPath(func(string) string { return "" })
	is.NoErr(err)
	is.Equal(p, "/cfg/dualauth/config.ini")
}

const sample = `[settings]
default_profile = def

[def]
host = https://def.example.com

[work]
host = https://work.example.com
client_id = w

[twin1]
host = https://twin.example.com
client_id = same

[twin2]
host = https://twin.example.com/
client_id = same

[clash1]
host = https://clash.example.com
client_id = one

[clash2]
host = https://clash.example.com
client_id = two

[nohost]
client_id = x
`

// Several profiles of a host (and of the client and account given): the
// default one when it is among them; else, all alike, the first by name,
// saying so; else an error naming them (a guess could use settings the
// user did not choose) — here scopes differ, then a setting of another
// kind (ca_cert), then the account only with --account-id.
func TestResolve_SeveralProfilesOfAHost(t *testing.T) {
	const body = `[short]
host = https://h.example.com
client_id = c
scopes = openid

[work]
host = https://h.example.com
client_id = c
scopes = openid offline_access

[ca]
host = https://ca.example.com
client_id = c

[ca2]
host = https://ca.example.com
client_id = c
ca_cert = /x.pem

[acct1]
host = https://acct.example.com
account_id = one

[acct2]
host = https://acct.example.com
account_id = two
`
	for _, tc := range []struct {
		name, def string
		in        Inputs
		profile   string
		from, err string
	}{
		{name: "DefaultAmongThem", def: "work", in: Inputs{Arg: "h.example.com", ClientID: "c"}, profile: "work", from: "the default profile, of the profiles for this host (short, work)"},
		{name: "DefaultAmongThemByHostFlag", def: "work", in: Inputs{Host: "h.example.com"}, profile: "work", from: "the default profile"},
		{name: "DefaultNotAmongThem", def: "ca", in: Inputs{Arg: "h.example.com", ClientID: "c"}, err: "several profiles are for https://h.example.com, with different settings (short, work), and none is the default: pass --profile NAME, or the profile's name instead of the host"},
		{name: "NoDefault", in: Inputs{Arg: "h.example.com"}, err: "several profiles are for https://h.example.com, with different settings (short, work)"},
		{name: "OtherSettingDiffers", in: Inputs{Arg: "ca.example.com"}, err: "several profiles are for https://ca.example.com, with different settings (ca, ca2)"},
		{name: "AccountNarrows", in: Inputs{Arg: "acct.example.com", AccountID: "two"}, profile: "acct2", from: "profile for this host"},
		{name: "AccountsDiffer", in: Inputs{Arg: "acct.example.com"}, err: "several profiles are for https://acct.example.com, with different settings (acct1, acct2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			b := body
			if tc.def != "" {
				b = "[settings]\ndefault_profile = " + tc.def + "\n\n" + b
			}
			f, err := Load(write(t, b))
			is.NoErr(err)
			r, err := f.Resolve(tc.in, core.NormalizeHost)
			if tc.err != "" {
				is.True(err != nil)
				is.True(strings.HasPrefix(err.Error(), tc.err))
				return
			}
			is.NoErr(err)
			is.Equal(r.ProfileName, tc.profile)
			is.Equal(r.Profile.Name, tc.profile)
			is.True(strings.HasPrefix(r.ProfileFrom, tc.from))
		})
	}
}

func TestResolve_Order(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name        string
		in          Inputs
		host, from  string
		profile     string
		profileFrom string
	}{
		{name: "ArgIsProfile", in: Inputs{Arg: "work", Host: "other.example.com"}, host: "https://work.example.com", from: "profile work", profile: "work", profileFrom: "argument"},
		{name: "ArgIsHost", in: Inputs{Arg: "x.example.com", Host: "other.example.com"}, host: "https://x.example.com", from: "argument"},
		{name: "ArgHostMatchingOneProfile", in: Inputs{Arg: "work.example.com"}, host: "https://work.example.com", from: "argument", profile: "work", profileFrom: "profile for this host"},
		{name: "HostFlagBeatsProfileFlag", in: Inputs{Host: "y.example.com", Profile: "newname"}, host: "https://y.example.com", from: "flag --host", profile: "newname", profileFrom: "flag --profile"},
		{name: "ProfileFlag", in: Inputs{Profile: "work", Getenv: env(EnvHost, "e.example.com")}, host: "https://work.example.com", from: "profile work", profile: "work", profileFrom: "flag --profile"},
		{name: "EnvHostBeatsEnvProfile", in: Inputs{Getenv: env(EnvHost, "e.example.com", EnvProfile, "work")}, host: "https://e.example.com", from: "env DUALAUTH_HOST"},
		{name: "ArgHostBeatsEnvProfile", in: Inputs{Arg: "other.example.com", Getenv: env(EnvProfile, "work")}, host: "https://other.example.com", from: "argument"},
		{name: "EnvProfile", in: Inputs{Getenv: env(EnvProfile, "work")}, host: "https://work.example.com", from: "profile work", profile: "work", profileFrom: "env DUALAUTH_PROFILE"},
		{name: "DefaultProfile", in: Inputs{}, host: "https://def.example.com", from: "profile def", profile: "def", profileFrom: "default profile"},
		{name: "TwoProfilesSharingALogin", in: Inputs{Arg: "twin.example.com"}, host: "https://twin.example.com", from: "argument", profile: "twin1", profileFrom: "the first by name of the profiles for this host, which are alike (twin1, twin2)"},
		{name: "ClientIDNarrowsHostMatches", in: Inputs{Arg: "clash.example.com", ClientID: "two"}, host: "https://clash.example.com", from: "argument", profile: "clash2", profileFrom: "profile for this host"},
		{name: "ArgProfileNameWithProfileFlagIsHost", in: Inputs{Arg: "h.example.com", Profile: "work2"}, host: "https://h.example.com", from: "argument", profile: "work2", profileFrom: "flag --profile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			f, err := Load(write(t, sample))
			is.NoErr(err)
			r, err := f.Resolve(tc.in, core.NormalizeHost)
			is.NoErr(err)
			is.Equal(r.Host, tc.host)
			is.Equal(r.HostFrom, tc.from)
			is.Equal(r.ProfileName, tc.profile)
			is.True(strings.HasPrefix(r.ProfileFrom, tc.profileFrom))
			is.Equal(r.Profile != nil && r.Profile.Name == tc.profile, r.Profile != nil)
			// Named (what logout --delete needs): the command line named
			// the profile, never the environment, the default or a host.
			is.Equal(r.Named, tc.profileFrom == "argument" || tc.profileFrom == "flag --profile")
		})
	}
}

func TestResolve_Errors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		in         Inputs
		want       string
	}{
		{name: "NothingAtAll", in: Inputs{}, want: "no host: pass HOST or --profile, or run `auth login HOST`"},
		{name: "UnknownProfileFlag", body: sample, in: Inputs{Profile: "ghost"}, want: `no profile "ghost"`},
		{name: "UnknownEnvProfile", body: sample, in: Inputs{Getenv: func(k string) string {
			if k == EnvProfile {
				return "ghost"
			}
			return ""
		}}, want: `no profile "ghost" (from DUALAUTH_PROFILE)`},
		{name: "DefaultProfileMissing", body: "[settings]\ndefault_profile = gone\n", want: `default profile "gone" is missing`},
		{name: "AmbiguousHost", body: sample, in: Inputs{Arg: "clash.example.com"}, want: "several profiles are for https://clash.example.com, with different settings (clash1, clash2), and none is the default: pass --profile NAME"},
		{name: "ProfileWithoutHost", body: sample, in: Inputs{Arg: "nohost"}, want: `profile "nohost"`},
		{name: "ProfileForAnotherHost", body: sample, in: Inputs{Arg: "z.example.com", Profile: "work"}, want: `profile "work" is for https://work.example.com, not https://z.example.com`},
		{name: "BadHost", body: sample, in: Inputs{Arg: "http://insecure.example.com"}, want: "https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			f, err := Load(write(t, tc.body))
			is.NoErr(err)
			_, err = f.Resolve(tc.in, core.NormalizeHost)
			is.True(err != nil)
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// A profile whose name extends another's ([prod.eu] next to [prod]) has
// only its own settings: ini.v1 would lend it the keys of [prod].
func TestLoad_DottedProfileDoesNotInheritFromItsPrefix(t *testing.T) {
	is := is.New(t)
	f, err := Load(write(t, "[prod]\nhost = https://prod.example\nclient_id = prod-cli\nscopes = a b\n\n[prod.eu]\nhost = https://eu.example\n"))
	is.NoErr(err)
	p, ok := f.Profile("prod.eu")
	is.True(ok)
	is.Equal(p.Host, "https://eu.example")
	is.Equal(p.ClientID, "") // not prod-cli
	is.Equal(p.Scopes, "")
}

// A profiles file of tens of MB (the wrong path, say) is refused before the
// INI parser sees it: a 29 MB file took 2.2 GB of memory to parse.
func TestLoad_HugeFileIsRefusedWithoutReadingItAll(t *testing.T) {
	body := strings.Repeat("[p]\nhost = https://x.example\n", 29<<20/30)
	for name, load := range map[string]func(string) error{
		"profiles":   func(p string) error { _, err := Load(p); return err },
		"databricks": func(p string) error { _, err := ReadDatabricks(p); return err },
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			p := write(t, body)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := load(p)
			runtime.ReadMemStats(&after)
			is.True(err != nil)
			is.True(strings.Contains(err.Error(), p+" is over 1 MiB"))
			is.True(after.TotalAlloc-before.TotalAlloc < 8<<20) // read up to the cap, no further
		})
	}
	t.Run("a file under the cap loads", func(t *testing.T) {
		is := is.New(t)
		_, err := Load(write(t, strings.Repeat("# comment\n", (MaxFileSize-20)/10)+"[p]\nhost = https://x\n"))
		is.NoErr(err)
	})
}

func TestValidName_SaysWhyANameIsRefused(t *testing.T) {
	is := is.New(t)
	for name, why := range map[string]string{
		"DEFAULT":  "keys before any section",
		"settings": "the file's own settings",
		"-dash":    "would read as a flag",
		"é-ü":      "is not ASCII",
		"a b":      "neither a letter",
		"":         "needs a name",
	} {
		err := ValidName(name)
		is.True(err != nil)
		is.True(strings.Contains(err.Error(), why)) // the reason for this name
		is.True(strings.Contains(err.Error(), "use ASCII letters, digits"))
	}
	is.NoErr(ValidName("prod-eu.2"))
}

func TestUnknownProfile_NamesNearestSkippedAndTheDatabricksFile(t *testing.T) {
	is := is.New(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	dbx := filepath.Join(home, ".databrickscfg")
	is.NoErr(os.WriteFile(dbx, []byte("[dev]\nhost = https://a.cloud.databricks.com\nauth_type = databricks-cli\n[pat]\nhost = https://b.cloud.databricks.com\ntoken = x\n[bare]\nhost = https://c.cloud.databricks.com\n"), 0o600))
	f, err := Load(write(t, "[work]\nhost = https://idp.example.com\n"))
	is.NoErr(err)
	getenv := func(k string) string { // the home comes from the environment given
		if k == "HOME" || k == "USERPROFILE" {
			return home
		}
		return ""
	}
	msg := func(name string) string { return f.UnknownProfile(name, "", getenv).Error() }
	is.True(strings.Contains(msg("WORK"), "did you mean work?"))
	is.True(strings.Contains(msg("dev"), dbx+" has a Databricks CLI profile [dev]: add --databricks-config "+dbx))
	is.True(strings.Contains(msg("pat"), "[pat], which auth skips even with --databricks-config: it holds a personal access token"))
	is.True(strings.Contains(msg("bare"), "it has no auth_type"))
	is.True(!strings.Contains(msg("zzz"), dbx)) // nothing of that name there
	// The suggested command quotes the name, so pasting it runs nothing
	// else: a profile name is anyone's text.
	is.True(strings.Contains(msg("a $(id)"), "run `auth login --profile 'a $(id)' HOST`"))

	// In use, the file's skipped sections are named with the reason.
	is.NoErr(f.UseDatabricks(dbx))
	is.True(strings.Contains(msg("pat"), "[pat] of "+dbx+" is skipped: it holds a personal access token"))
	is.Equal(len(f.Skipped()), 2)
	r, err := f.Resolve(Inputs{Arg: "wrok"}, core.NormalizeHost)
	is.True(r == nil && err != nil)
	is.True(strings.Contains(err.Error(), `no profile "wrok"`))
	is.True(strings.Contains(err.Error(), "did you mean work?"))
}
