package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dualauth/dualauth/internal/mcpserver"
	"github.com/matryer/is"
)

// Tests of issue 24, "the first hour with auth", part C: what parts A and
// B left inconsistent.

// TestCLI_ValueMistakesFromTheEnvironmentNameTheVariable (issue 24 item
// 6): a bad value that came from DUALAUTH_<FLAG> is reported under that
// variable's name (the user never typed the flag), before any request.
func TestCLI_ValueMistakesFromTheEnvironmentNameTheVariable(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	e := newEnv(t)
	e.writeConfig("[settings]\ndefault_profile = work\n\n[work]\nhost = " + srv.URL + "\n")
	for _, tc := range []struct {
		env  []string
		args []string
		want string
		flag string // the flag the message must not name
	}{
		{[]string{"DUALAUTH_FLOW=devcie"}, []string{"login"}, `$DUALAUTH_FLOW must be browser, device or auto, not "devcie"`, "--flow"},
		{[]string{"DUALAUTH_FLOW=browser", "DUALAUTH_DEVICE=true"}, []string{"login"}, "$DUALAUTH_DEVICE and $DUALAUTH_FLOW browser cannot be used together", "--flow"},
		{[]string{"DUALAUTH_FLOW=device", "DUALAUTH_PASTE=1"}, []string{"login"}, "$DUALAUTH_PASTE belongs to the browser flow, not to the device flow ($DUALAUTH_FLOW)", "--flow"},
		{[]string{"DUALAUTH_PORT=99999"}, []string{"login"}, "$DUALAUTH_PORT must be between 0 and 65535, not 99999", "--port"},
		{[]string{"DUALAUTH_PORT=8020", "DUALAUTH_REDIRECT_URI=http://127.0.0.1:8021/cb"}, []string{"login"}, "$DUALAUTH_PORT and $DUALAUTH_REDIRECT_URI cannot be used together", "--port"},
		{[]string{"DUALAUTH_PROMPT=login", "DUALAUTH_NO_PROMPT=true"}, []string{"login"}, "$DUALAUTH_PROMPT and $DUALAUTH_NO_PROMPT cannot be used together", "--prompt"},
		{[]string{"DUALAUTH_AUTH_PARAM=novalue"}, []string{"login"}, `$DUALAUTH_AUTH_PARAM wants KEY=VALUE, got "novalue"`, "--auth-param"},
		{[]string{"DUALAUTH_REDIRECT_URI=http://example.com:8020/cb"}, []string{"login"}, "$DUALAUTH_REDIRECT_URI: invalid redirect URI", "--redirect-uri"},
		{[]string{"DUALAUTH_DPOP=sometimes"}, []string{"login"}, `$DUALAUTH_DPOP: dpop must be auto, always or never, not "sometimes"`, "--dpop"},
		{[]string{"DUALAUTH_CLIENT_AUTH=jwt", "DUALAUTH_CLIENT_SECRET=s"}, []string{"login"}, `$DUALAUTH_CLIENT_AUTH must be basic or post, not "jwt"`, "--client-auth"},
		{[]string{"DUALAUTH_CLIENT_AUTH=basic"}, []string{"login", "--client-key", "/nonexistent.pem"}, "$DUALAUTH_CLIENT_AUTH basic: client authentication client_secret_basic sends the client secret", "--client-auth"},
		{[]string{"DUALAUTH_OUTPUT=yaml"}, []string{"proof", "--method", "GET", "--url", "https://api.example.com/x"}, `$DUALAUTH_OUTPUT must be text (or table) or headers, not "yaml"`, "--output"},
		{[]string{"DUALAUTH_TIMEOUT=soon"}, []string{"login"}, `$DUALAUTH_TIMEOUT: invalid value "soon": want a duration such as 90s, 5m or 1h`, "--timeout"},
		{[]string{"DUALAUTH_PORT=abc"}, []string{"login"}, `$DUALAUTH_PORT: invalid value "abc": want a whole number`, "--port"},
		{[]string{"DUALAUTH_NO_BROWSER=maybe"}, []string{"login"}, `$DUALAUTH_NO_BROWSER: invalid value "maybe": want true or false`, "--no-browser"},
		{[]string{"DUALAUTH_MIN_TTL=-1h"}, []string{"token"}, `$DUALAUTH_MIN_TTL: invalid value "-1h": it cannot be negative`, "--min-ttl"},
		{[]string{"DUALAUTH_CLIENT_SECRET_STDIN=true"}, []string{"login"}, "$DUALAUTH_CLIENT_SECRET_STDIN: stdin is empty", "--client-secret-stdin"},
		{[]string{"DUALAUTH_DELETE=true", "DUALAUTH_CONFIG_FILE=" + e.configPath()}, []string{"logout"}, "$DUALAUTH_DELETE removes a profile: name it", "--delete removes"},
		{[]string{"DUALAUTH_METHOD=G T"}, []string{"api", "/x"}, `$DUALAUTH_METHOD "G T" is not an HTTP method`, "-X"},
		{[]string{"DUALAUTH_HEADER=Host: elsewhere"}, []string{"api", "/x"}, "$DUALAUTH_HEADER Host: the host comes from HOST or the URL", "-H"},
		{[]string{"DUALAUTH_DATA=@/nonexistent/body.json"}, []string{"api", "/x"}, "$DUALAUTH_DATA @/nonexistent/body.json: no such file or directory", "-d"},
		{[]string{"DUALAUTH_METHOD=G T"}, []string{"proof", "--url", "https://api.example.com/x"}, `$DUALAUTH_METHOD "G T" is not an HTTP method`, "--method"},
	} {
		t.Run(strings.Join(append(tc.env, tc.args...), " "), func(t *testing.T) {
			is := is.New(t)
			args := append([]string{tc.args[0], srv.URL, "--client-id", clientID}, tc.args[1:]...)
			if tc.args[0] == "proof" || tc.args[0] == "api" {
				args = append([]string{tc.args[0], srv.URL}, tc.args[1:]...)
			}
			if tc.args[0] == "logout" {
				args = tc.args // no name: what --delete needs
			}
			r := e.auth(tc.env, args...)
			is.Equal(r.code, 2)
			lines := errorLines(r.stderr)
			is.Equal(len(lines), 1)
			is.True(strings.Contains(lines[0], tc.want))
			is.True(!strings.Contains(lines[0], tc.flag)) // not the flag the user never typed
			is.Equal(requests.Load(), int32(0))
		})
	}
	// The same mistake on the command line names the flag.
	r := e.auth(nil, "login", srv.URL, "--client-id", clientID, "--flow", "devcie")
	is.New(t).True(strings.Contains(r.stderr, `auth: --flow must be browser, device or auto, not "devcie"`))
}

// TestCLI_CompletionOffersEveryAcceptedValue (issue 24 item 7): for each
// flag with fixed values, completion offers exactly the values the
// command's own "must be" message lists as accepted: -o text and table on
// every command, the shells --shell takes (bash, zsh, pwsh…), no more and
// no fewer. (TestCLI_CompletionValuesAreAccepted checks the other way.)
func TestCLI_CompletionOffersEveryAcceptedValue(t *testing.T) {
	e := newEnv(t)
	never := "https://never.example.com"
	for _, tc := range []struct {
		cmd, flag string
		extra     []string // to reach the check
		env       []string
	}{
		{"token", "output", nil, nil},
		{"describe", "output", nil, nil},
		{"profiles", "output", nil, nil},
		{"env", "output", nil, nil},
		{"proof", "output", []string{"--method", "GET", "--url", never + "/x"}, nil},
		{"env", "shell", nil, nil},
		{"login", "flow", []string{"--client-id", clientID}, nil},
		{"login", "dpop", []string{"--client-id", clientID}, nil},
		{"token", "storage", nil, nil},
		{"login", "client-auth", []string{"--client-id", clientID}, []string{"DUALAUTH_CLIENT_SECRET=s"}},
	} {
		t.Run(tc.cmd+" --"+tc.flag, func(t *testing.T) {
			is := is.New(t)
			args := []string{tc.cmd}
			if tc.cmd != "profiles" {
				args = append(args, never)
			}
			args = append(append(args, tc.extra...), "--"+tc.flag, "bogus")
			r := e.auth(append([]string{"HTTPS_PROXY=http://127.0.0.1:1"}, tc.env...), args...)
			is.Equal(r.code, 2)
			_, list, ok := strings.Cut(r.stderr, "must be ")
			is.True(ok) // the message lists the accepted values
			list, _, _ = strings.Cut(list, `, not "bogus"`)
			var accepted []string
			for _, w := range regexp.MustCompile(`[a-z][a-z-]*`).FindAllString(list, -1) {
				if w != "or" {
					accepted = append(accepted, w)
				}
			}
			offered, directive := e.completions(nil, tc.cmd, "--"+tc.flag, "")
			is.Equal(directive, ":4") // no file names
			slices.Sort(accepted)
			slices.Sort(offered)
			is.Equal(offered, accepted)
		})
	}
}

// TestCLI_VersionFlagAndCommandPrintTheSameLine (issue 24 item 11, #20):
// auth --version and auth version answer one text, the semver the
// Databricks SDKs parse.
func TestCLI_VersionFlagAndCommandPrintTheSameLine(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	flag := e.auth(nil, "--version")
	cmd := e.auth(nil, "version")
	is.Equal(flag.code, 0)
	is.Equal(cmd.code, 0)
	is.Equal(flag.stdout, cmd.stdout)
	is.True(regexp.MustCompile(`^v\d+\.\d+\.\d+\+dualauth\.[0-9A-Za-z.-]+\n$`).MatchString(flag.stdout))
}

// TestCLI_DescribeOfAResourceLoginShowsTheScopesItAsksFor (issue 24 item
// 4, #22): describe of an MCP server's login shows the scopes that login
// asked for and a login again asks for (the resource's own, from its
// metadata), not the "openid offline_access (default)" of other hosts.
func TestCLI_DescribeOfAResourceLoginShowsTheScopesItAsksFor(t *testing.T) {
	is := is.New(t)
	srv, err := mcpserver.Start()
	is.NoErr(err)
	defer srv.Close()
	e := newEnv(t)
	is.Equal(e.auth(nil, "login", srv.URL).code, 0)
	login, _ := e.mcpEntries(srv)
	is.True(login.Resolution != nil && len(login.Resolution.Scopes) > 0)
	asked := strings.Join(login.Resolution.Scopes, " ")
	is.True(!sameScopes(asked, "openid offline_access")) // the resource's own

	r := e.auth(nil, "describe", srv.URL, "-o", "json")
	is.Equal(r.code, 0)
	var d description
	is.NoErr(json.Unmarshal([]byte(r.stdout), &d))
	is.Equal(d.Settings["scopes"], setting{asked, "default for a protected resource"})
	r = e.auth(nil, "describe", srv.URL)
	is.True(regexp.MustCompile(`\nScopes +` + regexp.QuoteMeta(asked) + ` +\(default for a protected resource\)\n`).MatchString(r.stdout))
}

// TestCLI_LoginHelpIsTheCommonCasesWithTheReferenceInHelpTopics (issue 24
// item 11): auth login --help is what it does, the common cases and the
// flags (its first 25 lines the cases), under 80 lines instead of 176; the
// reference is in three help topics it names (auth help login-hosts,
// login-flows, login-ci), which auth --help lists and which keep all of
// it (TestCLI_LoginHelpShowsTheFourWaysIn,
// TestCLI_LoginHelpDocumentsTheFlowsAndWhenAutoPicksWhich and
// TestDatabricksCLI_HelpNamesTheConfigFile read them). Under the name
// databricks the topics are there too, named so.
func TestCLI_LoginHelpIsTheCommonCasesWithTheReferenceInHelpTopics(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := e.auth(nil, "login", "--help")
	is.Equal(r.code, 0)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	is.True(len(lines) < 80)
	top := strings.Join(lines[:25], "\n")
	for _, want := range []string{"Usage:\n  auth login [HOST] [flags]", "Examples:", "auth login https://login.example.com\n", "auth login --profile work https://idp.example.com --client-id my-cli\n", "auth login work\n", "--client-id my-cli --device\n", "--no-browser --paste"} {
		is.True(strings.Contains(top, want)) // the common cases, on the first screen
	}
	for _, gone := range []string{"How it works:", "Four ways in.", "Flows (--flow", "Without a person (CI"} {
		is.True(!strings.Contains(r.stdout, gone)) // in the topics now
	}
	root := e.auth(nil, "--help")
	for _, tc := range []struct{ topic, starts, has string }{
		{"login-hosts", "Four ways in. auth first asks HOST what it is", "Nothing is written to stdout."},
		{"login-flows", "How it works: auth listens on a loopback port", "Flows (--flow; the one chosen is said on stderr)"},
		{"login-ci", "Without a person (CI, services, containers; never a browser):", "auth login https://idp.example.com --client-id svc --client-key svc-key.pem --profile svc"},
	} {
		is.True(strings.Contains(r.stdout, "\n  auth help "+tc.topic+" "))                    // named by auth login --help
		is.True(regexp.MustCompile(`\n  auth ` + tc.topic + ` +\S`).MatchString(root.stdout)) // listed by auth --help
		h := e.auth(nil, "help", tc.topic)
		is.Equal(h.code, 0)
		is.True(strings.HasPrefix(h.stdout, tc.starts))
		is.True(strings.Contains(h.stdout, tc.has))
	}
	link := e.databricksLink()
	r = e.run(link, nil, "auth", "login", "--help")
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stdout, "\n  databricks help login-flows "))
	r = e.run(link, nil, "help", "login-flows")
	is.Equal(r.code, 0)
	is.True(strings.HasPrefix(r.stdout, "How it works:"))
}

// readmeAuthCommands are the auth command lines of the README's code
// blocks, as argument lists: continuation lines joined, comments dropped,
// each "auth …" taken up to the end of its shell command (a pipe, ")",
// "&&", a redirect, the closing quote around it).
func readmeAuthCommands(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds [][]string
	inBlock := false
	for _, line := range strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n") {
		if strings.HasPrefix(line, "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			continue
		}
		for i := 0; i < len(line); i++ {
			if !strings.HasPrefix(line[i:], "auth ") || i > 0 && !strings.ContainsRune(" ('!", rune(line[i-1])) {
				continue
			}
			args, n := shellWords(line[i+len("auth "):])
			if len(args) > 0 && args[0] != "auth" && (i == 0 || line[i-1] != '#') && !strings.Contains(line[:i], "# ") {
				cmds = append(cmds, args)
			}
			i += n
		}
	}
	return cmds
}

// shellWords splits s as sh would (quotes, no expansion) up to the end of
// the command, and says how many bytes that took.
func shellWords(s string) (words []string, n int) {
	var w strings.Builder
	inWord := false
	var quote byte
	flush := func() {
		if inWord {
			words = append(words, w.String())
			w.Reset()
			inWord = false
		}
	}
	for n = 0; n < len(s); n++ {
		c := s[n]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			w.WriteByte(c)
		case c == '\'' || c == '"':
			if !strings.ContainsRune(s[n+1:], rune(c)) {
				flush() // the closing quote of a string around the command
				return words, n
			}
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			flush()
		case strings.IndexByte(")|&>#;", c) >= 0:
			flush()
			return words, n
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words, n
}

// TestREADME_EveryAuthExampleIsAcceptedAsWritten (issue 24 item 12): every
// auth command in the README's code blocks parses and passes auth's
// checks of the command line as written — no unknown command or flag, no
// value out of its set, no contradicting flags, no missing argument —
// with HOST a host (a loopback one on a closed port), the profiles and
// files the README uses, and the stdin
// it pipes in (a secret; git's request to a credential helper, with the
// operation git appends). No request leaves the machine: a proxy on a
// closed loopback port takes them all, so the commands end at the network
// (exit 1) or before it, never with a usage error (exit 2).
func TestREADME_EveryAuthExampleIsAcceptedAsWritten(t *testing.T) {
	e := newEnv(t)
	cmds := readmeAuthCommands(t)
	if len(cmds) < 40 {
		t.Fatalf("found %d auth commands in the README", len(cmds))
	}
	dir := t.TempDir()
	for _, f := range []string{"initialize.json", "notebook.json"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range cmds {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			is := is.New(t)
			for i, a := range args {
				if a == "HOST" {
					args[i] = "https://idp.example.com"
				}
				// A loopback server of the README's: a port nothing listens on.
				args[i] = regexp.MustCompile(`^http://127\.0\.0\.1:\d+`).ReplaceAllString(args[i], "http://127.0.0.1:1")
			}
			stdin := ""
			switch {
			case slices.Contains(args, "--client-secret-stdin"):
				stdin = "s3cret"
			case args[0] == "git-credential":
				args = append(args, "get") // as git runs a helper
				stdin = "protocol=https\nhost=git.example.com\n\n"
			}
			e.writeConfig("[settings]\ndefault_profile = work\n\n[work]\nhost = https://idp.example.com\nclient_id = my-cli\n\n" +
				"[ci]\nhost = https://ci.example.com\nclient_id = svc\ngrant = client_credentials\n\n" +
				"[sp]\nhost = https://adb-123.4.azuredatabricks.net\nclient_id = $SP_APPLICATION_ID\n\n" +
				"[dev]\nhost = http://127.0.0.1:1\nclient_id = my-cli\n")
			cmd := e.command([]string{"DUALAUTH_CONFIG_FILE=" + e.configPath(), "HTTPS_PROXY=http://127.0.0.1:1", "HTTP_PROXY=http://127.0.0.1:1", "BROWSER=false", "DUALAUTH_TIMEOUT=2s"}, args...)
			cmd.Dir, cmd.Stdin = dir, strings.NewReader(stdin)
			var errb strings.Builder
			cmd.Stderr = &errb
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			e.record(result{code: code, stderr: errb.String()})
			if code == 2 {
				t.Errorf("auth %s: a usage error: %s", strings.Join(args, " "), errb.String())
			}
			is.True(code == 0 || code == 1)
		})
	}
}

// TestAPI_AURLOffTheDefaultProfilesHostFindsItsOwnLogin (#22, issue 24
// item 12): the README's `auth api https://mcp.example.com/mcp …` works
// once a default profile exists (the first saved profile is one): a
// default profile of another host is no host named on the command line,
// so the URL finds its own login as without one. --profile or $DUALAUTH_HOST
// naming the other host still refuses it, and nothing reaches that host.
func TestAPI_AURLOffTheDefaultProfilesHostFindsItsOwnLogin(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	en := e.login()
	api := e.startAPI()
	other, got := otherHost(t)
	e.writeConfig("[settings]\ndefault_profile = elsewhere\n\n[elsewhere]\nhost = " + other.URL + "\nclient_id = " + clientID + "\n")

	r := e.cfg(nil, "api", e.srv.Issuer+"/api/echo")
	is.Equal(r.code, 0)
	is.Equal(echoed(t, r.stdout)["method"], "GET")
	is.Equal(api.seen(), []string{en.AccessToken})

	r = e.cfg(nil, "api", "--profile", "elsewhere", e.srv.Issuer+"/api/echo")
	is.Equal(r.code, 2) // named: the token goes to its own host only
	is.True(strings.Contains(r.stderr, "is not on "+other.URL))
	is.Equal(got(), []string(nil))
}

// TestCLI_AFlagOnTheCommandLineBeatsAContradictingEnvironmentValue (issue
// 24 items 5, 6): DUALAUTH_<FLAG> values are defaults, so a flag typed on
// the command line that contradicts one wins, as it wins over a profile's
// saved flow: $DUALAUTH_FLOW=device with --paste is a paste login,
// $DUALAUTH_FLOW=browser with --device a device login, $DUALAUTH_DEVICE
// with --flow browser a browser login, $DUALAUTH_PROMPT with --no-prompt
// and $DUALAUTH_PORT with --redirect-uri the typed one. Both from the
// command line (TestCLI_LoginFlagMistakesAreUsageErrorsBeforeAnyRequest)
// or both from the environment
// (TestCLI_ValueMistakesFromTheEnvironmentNameTheVariable) stay errors.
func TestCLI_AFlagOnTheCommandLineBeatsAContradictingEnvironmentValue(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := ln.Addr().String() // for the typed --redirect-uri
	ln.Close()
	for _, tc := range []struct {
		env  []string
		args []string
		flow string // the "Login flow:" line
		code int
	}{
		{[]string{"DUALAUTH_FLOW=device"}, []string{"--paste"}, "Login flow: browser, with paste-the-redirect", 1}, // stdin ended
		{[]string{"DUALAUTH_FLOW=browser"}, []string{"--device", "--timeout", "1s"}, "Login flow: device authorization grant", 1},
		{[]string{"DUALAUTH_DEVICE=true"}, []string{"--flow", "browser"}, "Login flow: browser", 0},
		{[]string{"DUALAUTH_PASTE=true"}, []string{"--device", "--timeout", "1s"}, "Login flow: device authorization grant", 1},
		{[]string{"DUALAUTH_PROMPT=login"}, []string{"--no-prompt"}, "Login flow: browser", 0},
		{[]string{"DUALAUTH_PORT=1"}, []string{"--redirect-uri", "http://" + free + "/callback"}, "Login flow: browser", 0},
	} {
		t.Run(strings.Join(append(tc.env, tc.args...), " "), func(t *testing.T) {
			is := is.New(t)
			r := e.auth(tc.env, append([]string{"login", e.srv.Issuer, "--client-id", clientID}, tc.args...)...)
			is.True(strings.Contains(r.stderr, tc.flow+"\n") || strings.Contains(r.stderr, tc.flow+" ("))
			is.True(!strings.Contains(r.stderr, "cannot be used together"))
			is.True(!strings.Contains(r.stderr, "belongs to"))
			is.Equal(r.code, tc.code)
		})
	}
}
