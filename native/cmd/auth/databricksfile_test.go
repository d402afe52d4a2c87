package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// Under the Databricks forms, --profile NAME is the section of the file
// the Databricks tools read ($DATABRICKS_CONFIG_FILE), never one of
// $DUALAUTH_DATABRICKS_CONFIG (a default for auth's own commands): with
// both set to files whose [prod] are two hosts, the answer is the token
// of the host the tool reads. A --databricks-config typed on the command
// line still names the file.
func TestDatabricksCLI_TheToolsConfigFileWinsOverDualauthsDatabricksConfig(t *testing.T) {
	is := is.New(t)
	e := newEnv(t, databricksClient)
	link := e.databricksLink()
	a := filepath.Join(e.home, "a.cfg")
	b := filepath.Join(e.home, "b.cfg")
	is.NoErr(os.WriteFile(a, []byte("[prod]\nhost = "+e.srv.Issuer+"\nauth_type = databricks-cli\n"), 0o600))
	is.NoErr(os.WriteFile(b, []byte("[prod]\nhost = https://adb-222.2.azuredatabricks.net\nauth_type = databricks-cli\n"), 0o600))
	both := []string{"DUALAUTH_CONFIG_FILE=" + e.configPath(), "DATABRICKS_CONFIG_FILE=" + a, "DUALAUTH_DATABRICKS_CONFIG=" + b}
	is.Equal(e.run(authBin, both, "auth", "login", "--profile", "prod", "--flow", "browser", "--scopes", "openid offline_access").code, 0)
	en := e.file().Tokens[core.Key(e.srv.Issuer, native.DatabricksClientID)]
	is.True(en.AccessToken != "") // the login went to a.cfg's host
	e.secrets = append(e.secrets, en.AccessToken, en.RefreshToken)

	for _, bin := range []string{authBin, link} {
		r := e.run(bin, both, "auth", "token", "--profile", "prod")
		is.Equal(r.code, 0)
		is.True(tokenIs(t, r.stdout, en.AccessToken))
		// Typed on the command line, the file is the one named.
		r = e.run(bin, both, "auth", "token", "--profile", "prod", "--databricks-config", b)
		is.Equal(r.code, 1)
		is.Equal(r.stdout, "")
		is.True(strings.Contains(r.stderr, "adb-222"))
	}
	// auth's own commands still take $DUALAUTH_DATABRICKS_CONFIG.
	r := e.run(authBin, both, "describe", "--profile", "prod", "-o", "json")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stdout, "adb-222"))
	// The help says which file these forms read.
	r = e.run(authBin, nil, "--help")
	is.True(strings.Contains(r.stdout, "not under auth auth /\n                        databricks auth"))
}

// A malformed line of either profiles file is reported by file, line and
// the kind of mistake, never by its text: a client_secret line missing
// its "=" would otherwise print the secret.
func TestProfiles_AMalformedLineIsReportedWithoutItsText(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	const secret = "dose0123SECRETVALUE"
	body := "[sp]\nhost = https://adb-1.1.azuredatabricks.net\nauth_type = oauth-m2m\nclient_id = x\nclient_secret " + secret + "\n"
	dbx, _ := e.writeDatabricks(body)
	e.writeConfig(body)
	for _, c := range []struct {
		path string
		args []string
	}{
		{e.configPath(), []string{"profiles"}},
		{dbx, []string{"profiles", "--databricks-config", dbx, "--config", filepath.Join(e.home, "none.ini")}},
		{dbx, []string{"auth", "token", "--profile", "sp", "--config", filepath.Join(e.home, "none.ini")}},
	} {
		r := e.run(authBin, []string{"DUALAUTH_CONFIG_FILE=" + e.configPath()}, c.args...)
		is.True(r.code != 0)
		is.True(!strings.Contains(r.stderr, secret))
		is.True(!strings.Contains(r.stderr, "client_secret"))
		is.True(strings.Contains(r.stderr, c.path+":5: key-value delimiter not found"))
	}
}

// Under the Databricks forms --profile NAME is a section of the Databricks
// CLI's config file only: with auth's own profile dev and no [dev] there,
// the error names that file alone (not auth's, which has dev) and
// suggests only that file's sections; the help says "only ever", with
// no fallback to auth's own file.
func TestDatabricksCLI_AnUnknownProfileNamesAndSuggestsOnlyTheDatabricksFile(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	dbx, _ := e.writeDatabricks("[prod]\nhost = https://adb-1.1.azuredatabricks.net\nauth_type = databricks-cli\n")
	e.writeConfig("[dev]\nhost = https://adb-2.2.azuredatabricks.net\n")
	ours := []string{"DUALAUTH_CONFIG_FILE=" + e.configPath()}
	for _, bin := range []string{authBin, e.databricksLink()} {
		r := e.run(bin, ours, "auth", "token", "--profile", "dev")
		is.Equal(r.code, 1)
		lines := errorLines(r.stderr)
		is.Equal(len(lines), 1)
		is.True(strings.HasPrefix(lines[0], "auth: "+notConfiguredText+": no profile \"dev\" in "+dbx+":"))
		is.True(!strings.Contains(lines[0], e.configPath()))
		r = e.run(bin, ours, "auth", "token", "--profile", "de")
		is.Equal(r.code, 1)
		is.True(!strings.Contains(r.stderr, "did you mean dev"))
		r = e.run(bin, ours, "auth", "token", "--profile", "prd")
		is.Equal(r.code, 1)
		is.True(strings.Contains(r.stderr, "did you mean prod?"))
	}
	r := e.run(authBin, nil, "auth", "--help")
	is.True(strings.Contains(r.stdout, "--profile NAME is only ever the section NAME"))
	is.True(!strings.Contains(r.stdout, "before\na profile of auth's own file"))
}

// The INI examples of the README and docs put comments on lines of their
// own: Python's configparser (databricks-sdk-py, dbt) keeps a "# …" after
// a value as part of the value, so a copied example would break there.
func TestDocs_INIExamplesHaveNoCommentAfterAValue(t *testing.T) {
	is := is.New(t)
	docs, err := filepath.Glob(filepath.Join("..", "..", "..", "docs", "*.md"))
	is.NoErr(err)
	blocks := 0
	for _, path := range append(docs, filepath.Join("..", "..", "..", "README.md")) {
		f, err := os.Open(path)
		is.NoErr(err)
		sc := bufio.NewScanner(f)
		in, n := false, 0
		for sc.Scan() {
			n++
			line := sc.Text()
			if strings.HasPrefix(line, "```") {
				in = !in && strings.TrimPrefix(line, "```") == "ini"
				if in {
					blocks++
				}
				continue
			}
			_, value, ok := strings.Cut(line, "=")
			if in && ok && strings.ContainsAny(value, "#;") {
				t.Errorf("%s:%d: a comment after a value: %s", path, n, line)
			}
		}
		is.NoErr(sc.Err())
		f.Close()
	}
	is.True(blocks > 0) // the README has INI examples
}

// The README's first hour starts the provider its `auth login
// http://127.0.0.1:PORT` logs in to (make demo stops its own): a testidp
// line before that login, on that port, registering that client, whose
// flags testidp takes; the login as written then works against it (on a
// free port here, the README's may be taken).
func TestREADME_TheFirstHourStartsTheProviderItLogsInTo(t *testing.T) {
	is := is.New(t)
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	is.NoErr(err)
	_, hour, ok := strings.Cut(string(b), "### The first hour")
	is.True(ok)
	var provider, login []string
	for _, line := range strings.Split(hour, "\n") {
		line, _, _ = strings.Cut(line, "#")
		words := strings.Fields(line)
		if provider == nil && len(words) > 3 && strings.HasSuffix(words[2], "/cmd/testidp") {
			provider = words[3:]
		}
		if len(words) > 2 && words[0] == "auth" && words[1] == "login" && strings.HasPrefix(words[2], "http://127.0.0.1:") {
			login = words[1:]
			break
		}
	}
	is.True(login != nil)
	is.True(provider != nil) // started before the login
	port := strings.TrimPrefix(login[1], "http://127.0.0.1:")
	is.True(slices.Contains(provider, "127.0.0.1:"+port))
	clientID := login[slices.Index(login, "--client-id")+1]
	is.True(slices.ContainsFunc(provider, func(w string) bool { return strings.HasPrefix(w, clientID+"=") }))

	// Those flags, on a free port, and the login as written.
	args := slices.Clone(provider)
	args[slices.Index(args, "127.0.0.1:"+port)] = "127.0.0.1:0"
	idp := exec.Command(testidpBin, args...)
	stdin, err := idp.StdinPipe() // the provider runs until its stdin ends
	is.NoErr(err)
	out, err := idp.StdoutPipe()
	is.NoErr(err)
	is.NoErr(idp.Start())
	t.Cleanup(func() { stdin.Close(); idp.Wait() })
	var started struct{ Issuer string }
	is.NoErr(json.NewDecoder(out).Decode(&started))
	e := newEnv(t)
	login[1] = started.Issuer
	r := e.run(authBin, []string{"DUALAUTH_CONFIG_FILE=" + e.configPath()}, login...)
	is.Equal(r.code, 0)
	r = e.run(authBin, []string{"DUALAUTH_CONFIG_FILE=" + e.configPath()}, "token", "-o", "text")
	is.Equal(r.code, 0)
	is.True(r.stdout != "")
}

// Completion under the Databricks forms offers what they accept: --profile
// the sections of the Databricks CLI's config file (never auth's own
// profiles, which these forms refuse; nothing without that file), the
// HOST argument no names and no files, and -o and --shell their values,
// as auth's own commands do.
func TestCLI_CompletionUnderTheDatabricksFormsOffersWhatTheyAccept(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	e.writeConfig("[dev]\nhost = https://adb-2.2.azuredatabricks.net\n")
	dbx, _ := e.writeDatabricks("[prod]\nhost = https://adb-1.1.azuredatabricks.net\nauth_type = databricks-cli\n[pat]\nhost = https://adb-3.3.azuredatabricks.net\ntoken = dapi0\n")
	ours := []string{"DUALAUTH_CONFIG_FILE=" + e.configPath()}
	noFiles := ":4" // cobra.ShellCompDirectiveNoFileComp
	for _, cmd := range []string{"token", "login", "env", "describe", "logout"} {
		got, dir := e.completions(ours, "auth", cmd, "--profile", "")
		is.Equal(got, []string{"prod"})
		is.Equal(dir, noFiles)
		got, dir = e.completions(ours, "auth", cmd, "") // a NAME argument is --profile NAME there
		is.Equal(got, []string{"prod"})
		is.Equal(dir, noFiles)
	}
	got, dir := e.completions(ours, "auth", "token", "-o", "")
	is.Equal(got, []string{"text", "table", "json", "exec-credential"})
	is.Equal(dir, noFiles)
	got, dir = e.completions(ours, "auth", "env", "--shell", "")
	is.True(slices.Contains(got, "fish") && slices.Contains(got, "bash"))
	is.Equal(dir, noFiles)
	// auth's own commands: auth's own profiles.
	got, _ = e.completions(ours, "token", "--profile", "")
	is.Equal(got, []string{"dev"})
	// No Databricks file: no names.
	is.NoErr(os.Remove(dbx))
	got, dir = e.completions(ours, "auth", "token", "--profile", "")
	is.Equal(len(got), 0)
	is.Equal(dir, noFiles)
}

// With $HOME unset and no file named, --profile NAME under the Databricks
// forms has no ~/.databrickscfg to read: exit 1 in the words the older
// SDKs look for, saying to set $HOME or $DATABRICKS_CONFIG_FILE, naming no
// flag nobody typed; never a profile of auth's own file.
func TestDatabricksCLI_NoHomeIsNotConfiguredAndSaysWhatToSet(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	e.writeConfig("[DEFAULT]\nhost = https://adb-2.2.azuredatabricks.net\n[prod]\nhost = https://adb-2.2.azuredatabricks.net\n")
	noHome := []string{"HOME=", "DUALAUTH_CONFIG_FILE=" + e.configPath()}
	for _, bin := range []string{authBin, e.databricksLink()} {
		for _, name := range []string{"DEFAULT", "prod"} {
			r := e.run(bin, noHome, "auth", "token", "--profile", name)
			is.Equal(r.code, 1)
			is.Equal(r.stdout, "")
			lines := errorLines(r.stderr)
			is.Equal(len(lines), 1)
			is.True(strings.HasPrefix(lines[0], "auth: "+notConfiguredText+": "))
			is.True(strings.Contains(lines[0], "set $HOME, or $DATABRICKS_CONFIG_FILE"))
			is.True(!strings.Contains(lines[0], "--databricks-config"))
		}
	}
	// $DATABRICKS_CONFIG_FILE names the file: no home needed.
	dbx := filepath.Join(e.home, "d.cfg")
	is.NoErr(os.WriteFile(dbx, []byte("[prod]\nhost = https://adb-1.1.azuredatabricks.net\nauth_type = databricks-cli\n"), 0o600))
	r := e.run(authBin, append(noHome, "DATABRICKS_CONFIG_FILE="+dbx), "auth", "token", "--profile", "prod")
	is.Equal(r.code, 1)
	is.True(strings.Contains(r.stderr, "not logged in to https://adb-1.1.azuredatabricks.net"))
}
