package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/matryer/is"
)

// Tests of issue 24, "the first hour with auth": what a new user trips
// over on the command line.

// TestCLI_StdinAtEndFailsAPasteLoginAtOnce (issue 24 item 1): a login
// that can only end by a paste — --paste, --no-browser or --flow browser
// where no browser can be opened, auto's last resort — whose stdin ends
// (</dev/null, a closed pipe, after a refused paste) exits 1 at once,
// saying why and what to do, instead of waiting for --timeout (5m).
func TestCLI_StdinAtEndFailsAPasteLoginAtOnce(t *testing.T) {
	e := newEnv(t)
	headless := headlessEnviron(e.home)
	for _, tc := range []struct {
		name    string
		environ []string
		args    []string
		stdin   string // written, then stdin is closed
		flow    string
		device  bool // --device is suggested
	}{
		{"--paste", e.environ(), []string{"--paste"}, "", "Login flow: browser, with paste-the-redirect\n", true},
		{"--no-browser without a browser here", headless, []string{"--no-browser"}, "",
			"Login flow: browser, with paste-the-redirect (no browser can be opened here: no graphical display", true},
		{"--flow browser without a browser here", headless, []string{"--flow", "browser"}, "",
			"Login flow: browser, with paste-the-redirect (no browser can be opened here: no graphical display", true},
		// The test provider refuses the device grant to this client: auto
		// ends in paste-the-redirect, and --device is no way out.
		{"auto without a browser here", headless, nil, "",
			"Login flow: browser with paste-the-redirect (auto: the server refused the device grant", false},
		{"a refused paste, then the end", e.environ(), []string{"--paste"}, "not an address\n", "Not accepted: that is not a URL", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			r := startAuth(t, tc.environ, append([]string{"login", e.srv.Issuer, "--client-id", clientID}, tc.args...)...)
			if tc.stdin != "" {
				r.paste(strings.TrimSuffix(tc.stdin, "\n"))
			}
			is.NoErr(r.stdin.Close())
			res := r.wait(time.Minute)
			e.record(res)
			is.Equal(res.code, 1)
			is.True(res.took < 10*time.Second) // not the 5 minutes of the default --timeout
			is.True(strings.Contains(res.stderr, tc.flow))
			lines := errorLines(res.stderr)
			is.Equal(len(lines), 1)
			is.True(strings.HasPrefix(lines[0], "auth: stdin ended before an address was pasted, so the login ends now rather than wait for a browser to reach this machine's loopback listener: "))
			is.True(!strings.Contains(lines[0], "no browser here can finish")) // one through ssh -L can
			is.True(strings.HasSuffix(lines[0], "; to finish it in a browser elsewhere through port forwarding (ssh -L), keep stdin open or pass --timeout, and the login waits for the listener that long"))
			is.True(strings.Contains(lines[0], "run auth login in a terminal to paste the address"))
			is.True(strings.Contains(lines[0], "set BROWSER to a command that opens a browser on this machine"))
			is.Equal(strings.Contains(lines[0], "--device"), tc.device)
			is.True(strings.Contains(res.stderr, "Paste the address here and press Enter: \nauth: stdin ended")) // not on the prompt's line
			is.Equal(e.srv.Requests("authorization_code"), 0)
		})
	}
}

// With --timeout, stdin at its end does not end a paste login: the
// loopback listener still takes the browser's redirect (here the
// provider's, as a browser elsewhere would send it through ssh -L) until
// then, as the error without --timeout says.
func TestCLI_StdinAtEndWithTimeoutWaitsForTheListener(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := startAuth(t, headlessEnviron(e.home), "login", e.srv.Issuer, "--client-id", clientID, "--no-browser", "--timeout", "30s")
	authorize := ""
	for !strings.HasPrefix(authorize, e.srv.Issuer+"/") { // the line of the address alone
		authorize = strings.TrimSpace(r.waitFor(e.srv.Issuer+"/", 10*time.Second))
	}
	is.NoErr(r.stdin.Close())
	r.waitFor("still waiting for the browser's redirect to this machine's listener, until --timeout (30s)", 10*time.Second)
	if out, err := exec.Command(testidpBin, "-login", authorize).CombinedOutput(); err != nil { // the redirect reaches the listener
		t.Fatalf("the browser: %v: %s", err, out)
	}
	res := r.wait(time.Minute)
	e.record(res)
	is.Equal(res.code, 0)
	is.True(strings.Contains(res.stderr, "Logged in to "+e.srv.Issuer))
	e.entry()
}

// TestCLI_StdinLeftOpenStillWaitsForAPaste: an open stdin (a terminal, a
// pipe still written to) is no reason to give up: the login waits, until
// --timeout here.
func TestCLI_StdinLeftOpenStillWaitsForAPaste(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := startAuth(t, headlessEnviron(e.home), "login", e.srv.Issuer, "--client-id", clientID, "--no-browser", "--timeout", "2s")
	res := r.wait(time.Minute)
	e.record(res)
	is.Equal(res.code, 1)
	is.True(res.took >= 2*time.Second)
	is.True(strings.Contains(res.stderr, "no login completed within 2s"))
}

// TestCLI_LoginFlagMistakesAreUsageErrorsBeforeAnyRequest (issue 24 item
// 5): every check of auth login's command line comes before discovery, so
// a typo exits 2 at once, with no request sent, even when the host would
// not answer at all.
func TestCLI_LoginFlagMistakesAreUsageErrorsBeforeAnyRequest(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--flow", "devcie"}, nil, `--flow must be browser, device or auto, not "devcie"`},
		{[]string{"--port", "99999"}, nil, "--port must be between 0 and 65535, not 99999"},
		{[]string{"--port", "-1"}, nil, "--port must be between 0 and 65535, not -1"},
		{[]string{"--device", "--flow", "browser"}, nil, "--device and --flow browser cannot be used together"},
		{[]string{"--paste", "--flow", "device"}, nil, "--paste belongs to the browser flow"},
		{[]string{"--redirect-uri", "http://example.com:8020/cb"}, nil, `--redirect-uri: invalid redirect URI "http://example.com:8020/cb": the host must be loopback`},
		{[]string{"--redirect-uri", "https://127.0.0.1:8020/cb"}, nil, "want http://127.0.0.1:PORT/PATH"},
		{[]string{"--redirect-uri", "http://127.0.0.1/cb"}, nil, "it needs an explicit port"},
		{[]string{"--device", "--redirect-uri", "http://example.com:8020/cb"}, nil, "the host must be loopback"},
		{[]string{"--timeout", "0"}, nil, "--timeout must be more than 0, not 0s"},
		{nil, []string{"DUALAUTH_TIMEOUT=-5m"}, "$DUALAUTH_TIMEOUT must be more than 0, not -5m0s"},
		{[]string{"--prompt", "login", "--no-prompt"}, nil, "--prompt and --no-prompt cannot be used together"},
		{[]string{"--auth-param", "novalue"}, nil, "--auth-param wants KEY=VALUE"},
	} {
		t.Run(strings.Join(append(tc.env, tc.args...), " "), func(t *testing.T) {
			is := is.New(t)
			for _, host := range []string{srv.URL, "https://nothing.invalid"} {
				r := e.auth(tc.env, append([]string{"login", host, "--client-id", clientID}, tc.args...)...)
				is.Equal(r.code, 2)
				lines := errorLines(r.stderr)
				is.Equal(len(lines), 1)
				is.True(strings.Contains(lines[0], tc.want))
				is.True(!strings.Contains(r.stderr, "Found:")) // no discovery
				is.True(!strings.Contains(r.stderr, "Login flow:"))
			}
			is.Equal(requests.Load(), int32(0))
		})
	}
}

// TestCLI_ClientSecretStdinFromAnEmptyStdin (issue 24 item 11): an empty
// stdin (</dev/null, a character device but no terminal) is said to be
// empty, not "a terminal".
func TestCLI_ClientSecretStdinFromAnEmptyStdin(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	devnull, err := os.Open(os.DevNull)
	is.NoErr(err)
	defer devnull.Close()
	cmd := e.command(nil, "login", e.srv.Issuer, "--client-id", "svc", "--client-secret-stdin")
	cmd.Stdin = devnull
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	is.True(errors.As(err, &ee))
	is.Equal(ee.ExitCode(), 2)
	lines := errorLines(errb.String())
	is.Equal(len(lines), 1)
	is.True(strings.Contains(lines[0], "--client-secret-stdin: stdin is empty"))
	is.True(strings.Contains(lines[0], "DUALAUTH_CLIENT_SECRET"))
	is.True(!strings.Contains(lines[0], "terminal"))
	is.Equal(e.srv.Requests("client_credentials"), 0)
}

// TestCLI_DumbTerminalGetsTheURLButNoSpinnerOrColour (issue 24 item 11):
// TERM=dumb cannot move the cursor back: the URL and one waiting line,
// without the spinner's redraws and colours.
func TestCLI_DumbTerminalGetsTheURLButNoSpinnerOrColour(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Fatal("`script` (util-linux/bsdutils) is needed for the terminal test")
	}
	is := is.New(t)
	e := newEnv(t)
	browser := filepath.Join(t.TempDir(), "browser.sh")
	is.NoErr(os.WriteFile(browser, []byte("#!/bin/sh\nsleep 0.5\nexec \""+testidpBin+"\" -login \"$1\"\n"), 0o755))
	line := fmt.Sprintf("%q login %s --client-id %s --browser %q", authBin, e.srv.Issuer, clientID, browser)
	cmd := exec.Command(scriptBin, "-qec", line, "/dev/null")
	cmd.Env = e.environ("TERM=dumb")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	is.NoErr(err)
	s := string(out)
	e.record(result{stderr: s})
	is.True(strings.Contains(s, "Opening your browser to "+e.srv.Issuer+" to log in to "+e.srv.Issuer+". If nothing opens, visit:"))
	is.Equal(strings.Count(s, e.srv.Issuer+"/auth?"), 1)
	is.Equal(strings.Count(s, "Waiting for the login in your browser (Ctrl-C to cancel)…"), 1)
	is.True(!strings.Contains(s, "\033[")) // no colour, no cursor moves
	is.True(!strings.Contains(s, "⠋"))
	is.True(strings.Contains(s, "Logged in to "+e.srv.Issuer))
}

// TestCLI_ArgumentsInTheWrongRole (issue 24 item 8): a profile name where
// auth api wants its PATH, or where git-credential wants its operation,
// and a git-credential get run by hand with nothing on stdin, are usage
// errors that say what is missing, with no request sent.
func TestCLI_ArgumentsInTheWrongRole(t *testing.T) {
	e := newEnv(t)
	e.login("--profile", "work")
	var paths []string
	var mu sync.Mutex
	e.srv.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		return false
	})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"api", "work"}, `auth: missing PATH after "work": auth api work /PATH (e.g. /api/2.0/clusters/list), or a full URL`},
		{[]string{"api", "example.com"}, `auth: missing PATH after "example.com"`},
		{[]string{"git-credential", "work"}, `auth: missing operation (get|store|erase) after "work": git appends it when it runs the helper`},
		{[]string{"git-credential", "work", "get"}, "auth: git sent no protocol/host on stdin: git writes them when it runs the helper"},
		{[]string{"git-credential", "get"}, "auth: git sent no protocol/host on stdin"},
		{[]string{"git-credential", "work", "fetch"}, `auth: unknown operation "fetch": git runs the helper with get, store or erase`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			is := is.New(t)
			r := e.auth(nil, tc.args...) // stdin: /dev/null
			is.Equal(r.code, 2)
			is.Equal(r.stdout, "")
			lines := errorLines(r.stderr)
			is.Equal(len(lines), 1)
			is.True(strings.HasPrefix(lines[0], tc.want))
			is.True(strings.Contains(r.stderr, "Run 'auth "+tc.args[0]+" --help' for usage."))
		})
	}
	mu.Lock()
	defer mu.Unlock()
	is.New(t).Equal(paths, []string(nil)) // nothing was asked of the server
}

// TestCLI_LoopbackHostWithoutAScheme (issue 24 item 9): 127.0.0.1:PORT,
// localhost:PORT or [::1]:PORT is refused (exit 2) by login and token
// alike, with the spelling to use; the http:// spelling it suggests logs
// in, and auth token's hint then names a login that works.
func TestCLI_LoopbackHostWithoutAScheme(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	bare := strings.TrimPrefix(e.srv.Issuer, "http://") // 127.0.0.1:PORT
	port := bare[strings.LastIndex(bare, ":")+1:]
	for _, host := range []string{bare, "localhost:" + port, "[::1]:" + port} {
		for _, cmd := range []string{"login", "token"} {
			r := e.auth(nil, cmd, host, "--client-id", clientID)
			is.Equal(r.code, 2)
			is.Equal(errorLines(r.stderr), []string{"auth: a loopback host needs its scheme: write http://" + host + " for a server without TLS (or https://" + host + ")"})
			is.True(!strings.Contains(r.stderr, "HTTP response to HTTPS client"))
		}
	}
	is.Equal(e.srv.Requests("authorization_code"), 0)

	r := e.auth(nil, "token", "http://"+bare)
	is.Equal(r.code, 1)
	hint := "run `auth login http://" + bare + "`"
	is.True(strings.HasSuffix(errorLines(r.stderr)[0], hint))
	r = e.auth(nil, "login", "http://"+bare, "--client-id", clientID)
	is.Equal(r.code, 0)
	r = e.auth(nil, "token", "http://"+bare, "-o", "text")
	is.Equal(r.code, 0)
	is.Equal(r.stdout, e.entry().AccessToken+"\n")
}

// completions runs `auth __complete ARGS` (what the shell scripts run) and
// returns the candidates and the directive line.
func (e *env) completions(extra []string, args ...string) (candidates []string, directive string) {
	e.t.Helper()
	r := e.auth(extra, append([]string{"__complete"}, args...)...)
	if r.code != 0 {
		e.t.Fatalf("auth __complete %v: exit %d: %s", args, r.code, r.stderr)
	}
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if strings.HasPrefix(l, ":") {
			directive = l
			continue
		}
		name, _, _ := strings.Cut(l, "\t")
		candidates = append(candidates, name)
	}
	return candidates, directive
}

// TestCLI_CompletionOffersProfilesAndFlagValues (issue 24 item 7): the
// HOST|PROFILE argument and --profile complete to the profiles (from the
// profiles file and a --databricks-config file, without the network), the
// flags with fixed values to those values, and never to file names.
func TestCLI_CompletionOffersProfilesAndFlagValues(t *testing.T) {
	e := newEnv(t)
	e.writeConfig("[settings]\ndefault_profile = work\n\n[work]\nhost = https://work.example.com\n\n[workshop]\nhost = https://shop.example.com\n\n[staging]\nhost = https://staging.example.com\n")
	dbx := filepath.Join(e.home, ".databrickscfg")
	if err := os.WriteFile(dbx, []byte("[lakehouse]\nhost = https://adb-1.2.azuredatabricks.net\nauth_type = databricks-cli\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := []string{"DUALAUTH_CONFIG_FILE=" + e.configPath(), "HTTPS_PROXY=http://127.0.0.1:1"} // any request would fail
	noFiles := ":4"
	for _, tc := range []struct {
		args []string
		env  []string
		want []string
	}{
		{[]string{"token", ""}, nil, []string{"staging", "work", "workshop"}},
		{[]string{"token", "wo"}, nil, []string{"work", "workshop"}},
		{[]string{"describe", "--databricks-config", dbx, ""}, nil, []string{"lakehouse", "staging", "work", "workshop"}},
		{[]string{"logout", ""}, []string{"DUALAUTH_DATABRICKS_CONFIG=" + dbx}, []string{"lakehouse", "staging", "work", "workshop"}},
		{[]string{"token", "--profile", "st"}, nil, []string{"staging"}},
		{[]string{"token", "work", ""}, nil, nil}, // one argument only
		{[]string{"git-credential", "work", ""}, nil, []string{"erase", "get", "store"}},
		{[]string{"api", "work", ""}, nil, nil},
		{[]string{"token", "-o", ""}, nil, []string{"exec-credential", "json", "table", "text"}},
		{[]string{"describe", "-o", ""}, nil, []string{"json", "table", "text"}},
		{[]string{"profiles", "-o", ""}, nil, []string{"json", "table", "text"}},
		{[]string{"env", "-o", ""}, nil, []string{"json", "shell", "table", "text"}},
		{[]string{"env", "--shell", ""}, nil, []string{"ash", "bash", "dash", "fish", "ksh", "powershell", "pwsh", "sh", "zsh"}},
		{[]string{"login", "--flow", ""}, nil, []string{"auto", "browser", "device"}},
		{[]string{"login", "--dpop", ""}, nil, []string{"always", "auto", "never"}},
		{[]string{"token", "--storage", ""}, nil, []string{"auto", "file", "keyring"}},
		{[]string{"login", "--client-auth", ""}, nil, []string{"basic", "post"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			is := is.New(t)
			got, directive := e.completions(append(slices.Clone(cfg), tc.env...), tc.args...)
			slices.Sort(got)
			is.Equal(got, tc.want)
			is.Equal(directive, noFiles)
		})
	}
	// No file on disk: nothing to offer, and no error either.
	got, _ := e.completions([]string{"DUALAUTH_CONFIG_FILE=" + filepath.Join(e.home, "none.ini")}, "token", "")
	is.New(t).Equal(got, []string(nil))
}

// TestCLI_CompletionValuesAreAccepted: every value completion offers for
// a flag is one its command accepts (no "must be" usage error).
func TestCLI_CompletionValuesAreAccepted(t *testing.T) {
	e := newEnv(t)
	for flag, byCmd := range flagValues() {
		for cmd, values := range byCmd {
			if cmd == "" {
				cmd = "login"
				if flag == "storage" {
					cmd = "token"
				}
			}
			for _, v := range values {
				t.Run(cmd+" --"+flag+" "+v, func(t *testing.T) {
					is := is.New(t)
					args := []string{cmd, "https://never.example.com", "--" + flag, v}
					switch cmd {
					case "login":
						args = append(args, "--client-id", clientID, "--timeout", "1ms")
					case "proof":
						args = append(args, "--method", "GET", "--url", "https://never.example.com/x")
					}
					r := e.auth([]string{"HTTPS_PROXY=http://127.0.0.1:1"}, args...)
					is.True(!strings.Contains(r.stderr, "must be")) // accepted
					is.True(!strings.Contains(r.stderr, "invalid argument"))
				})
			}
		}
	}
}

// TestCLI_CompletionTcshAndUnknownHelpTopicsAreUsageErrors (issue 24
// items 7, 11): a shell auth cannot complete for and a help topic that
// does not exist exit 2 with one line saying so, instead of a help page
// and exit 0.
func TestCLI_CompletionTcshAndUnknownHelpTopicsAreUsageErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"completion", "tcsh"}, `auth: no completion for the shell "tcsh": auth completes bash, zsh, fish and powershell`},
		{[]string{"help", "nonsense"}, `auth: no help topic "nonsense": the topics are auth's commands and its additional help topics (auth --help lists both)`},
		{[]string{"help", "tokn"}, `auth: no help topic "tokn"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			is := is.New(t)
			r := e.auth(nil, tc.args...)
			is.Equal(r.code, 2)
			is.Equal(r.stdout, "")
			lines := errorLines(r.stderr)
			is.Equal(len(lines), 1)
			is.True(strings.HasPrefix(lines[0], tc.want))
		})
	}
	for _, args := range [][]string{{"completion"}, {"help"}, {"help", "login"}, {"completion", "fish"}} {
		r := e.auth(nil, args...)
		is.New(t).Equal(r.code, 0)
	}
}

// TestCLI_SmallUsageMistakes (issue 24 item 11): a negative --min-ttl
// (flag or environment) is refused; cobra's "Did you mean" for a mistyped
// command comes on its own line, after the one error line.
func TestCLI_SmallUsageMistakes(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args, env []string
		want      []string // the error line, then any further lines before "Run …"
	}{
		{[]string{"token", e.srv.Issuer, "--min-ttl=-5m"}, nil,
			[]string{`auth: invalid argument "-5m" for "--min-ttl" flag: it cannot be negative: it is how long the token must still be valid, e.g. 30m (0: the default)`}},
		{[]string{"exec", e.srv.Issuer, "--min-ttl", "-1s", "--", "true"}, nil, []string{`auth: invalid argument "-1s" for "--min-ttl" flag: it cannot be negative`}},
		{[]string{"token", e.srv.Issuer}, []string{"DUALAUTH_MIN_TTL=-1h"}, []string{`auth: $DUALAUTH_MIN_TTL: invalid value "-1h": it cannot be negative`}},
		{[]string{"tokn"}, nil, []string{`auth: unknown command "tokn" for "auth"`, "Did you mean this? token"}},
		{[]string{"prof"}, nil, []string{`auth: unknown command "prof" for "auth"`, "Did you mean this? profiles, proof"}},
	} {
		t.Run(strings.Join(append(tc.env, tc.args...), " "), func(t *testing.T) {
			is := is.New(t)
			r := e.auth(tc.env, tc.args...)
			is.Equal(r.code, 2)
			is.Equal(r.stdout, "")
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			is.Equal(len(lines), len(tc.want)+1)
			is.True(strings.HasPrefix(lines[0], tc.want[0]))
			is.Equal(lines[1:len(tc.want)], tc.want[1:])
			is.True(strings.HasPrefix(lines[len(lines)-1], "Run 'auth"))
		})
	}
	is := is.New(t)
	e.login()
	r := e.auth(nil, "token", e.srv.Issuer, "--min-ttl", "0", "-o", "text")
	is.Equal(r.code, 0) // 0 is the default, and accepted
}

// TestCLI_RefusalsSayWhatToDoNext (issue 24 item 11): the device grant
// refused to this client, a --dpop always login at a server that ignores
// DPoP, and a refresh that finds the server down each end with the next
// step; the last one keeps the login, and the same command works once
// the server answers.
func TestCLI_RefusalsSayWhatToDoNext(t *testing.T) {
	e := newEnv(t)
	t.Run("device grant refused", func(t *testing.T) {
		is := is.New(t)
		r := e.auth(nil, "login", e.srv.Issuer, "--client-id", clientID, "--device")
		is.Equal(r.code, 1)
		lines := errorLines(r.stderr)
		is.Equal(len(lines), 1)
		is.True(strings.HasPrefix(lines[0], "auth: the server refused the device authorization request: "))
		is.True(strings.HasSuffix(lines[0], ": this server may not allow the device grant for this client: log in with --flow browser instead (add --paste for a browser on another machine), or ask the server's administrators to enable the device grant for this client"))
	})
	t.Run("--dpop always at a server without DPoP", func(t *testing.T) {
		is := is.New(t)
		r := e.auth(nil, "login", e.srv.Issuer, "--client-id", clientID, "--dpop", "always")
		is.Equal(r.code, 1)
		lines := errorLines(r.stderr)
		is.Equal(len(lines), 1)
		// Refused from the metadata, before the browser opens (one core rule).
		is.True(strings.Contains(lines[0], "publishes no dpop_signing_alg_values_supported, so tokens cannot be bound to a key; log in with DPoP mode auto or never (--dpop auto"))
		r = e.auth(nil, "login", e.srv.Issuer, "--client-id", clientID, "--dpop", "auto")
		is.Equal(r.code, 0) // as it says
	})
	t.Run("server down during a refresh", func(t *testing.T) {
		is := is.New(t)
		e.login()
		e.expire()
		endpoint := e.entry().Metadata.TokenEndpoint
		e.edit(func(c *core.CacheFile) {
			en := c.Tokens[core.Key(e.srv.Issuer, clientID)]
			en.Metadata.TokenEndpoint = "http://127.0.0.1:1/oauth/token" // nothing listens there
			c.Tokens[en.Key()] = en
		})
		r := e.auth(nil, "token", e.srv.Issuer)
		is.Equal(r.code, 1)
		lines := errorLines(r.stderr)
		is.Equal(len(lines), 1)
		is.True(strings.Contains(lines[0], "connection refused"))
		is.True(strings.HasSuffix(lines[0], "; the login is kept: run the command again once the server answers"))
		is.True(e.entry().RefreshToken != "") // kept, as it says
		e.edit(func(c *core.CacheFile) {      // the server is back
			en := c.Tokens[core.Key(e.srv.Issuer, clientID)]
			en.Metadata.TokenEndpoint = endpoint
			c.Tokens[en.Key()] = en
		})
		r = e.auth(nil, "token", e.srv.Issuer, "-o", "text")
		is.Equal(r.code, 0)
		is.Equal(r.stdout, e.entry().AccessToken+"\n")
	})
}

// TestCLI_KeyringWarningSaysHowToSilenceIt (issue 24 item 11): auto
// storage without a keyring warns at each login, naming --storage file
// and DUALAUTH_STORAGE=file; either one ends the warning.
func TestCLI_KeyringWarningSaysHowToSilenceIt(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := e.auth(noBus(e), "login", e.srv.Issuer, "--client-id", clientID)
	is.Equal(r.code, 0)
	is.True(strings.Contains(r.stderr, "auth: warning: keyring unavailable: "))
	is.True(strings.Contains(r.stderr, " (--storage file or DUALAUTH_STORAGE=file picks the file without this warning)\n"))
	for _, tc := range []struct{ env, args []string }{
		{noBus(e), []string{"--storage", "file"}},
		{append(noBus(e), "DUALAUTH_STORAGE=file"), nil},
	} {
		r := e.auth(tc.env, append([]string{"login", e.srv.Issuer, "--client-id", clientID}, tc.args...)...)
		is.Equal(r.code, 0)
		is.True(!strings.Contains(r.stderr, "warning"))
		is.True(strings.Contains(r.stderr, "; refresh token in "+filepath.Join(e.cache, native.CacheFileName)))
	}
}

// TestCLI_LoginHelpLeadsWithTheCommonCases (issue 24 item 11): auth login
// --help (and auth help login) starts with what the command does and the
// common cases, then the flags; where the reference (how HOST is found,
// the flows, logins without a person) is comes last.
func TestCLI_LoginHelpLeadsWithTheCommonCases(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{{"login", "--help"}, {"help", "login"}} {
		is := is.New(t)
		r := e.auth(nil, args...)
		is.Equal(r.code, 0)
		help := r.stdout
		is.True(strings.HasPrefix(help, "Log in to HOST (a server's URL, or a profile) and cache its tokens"))
		order := []string{"Usage:", "Examples:", "auth login --profile work https://idp.example.com --client-id my-cli\n",
			"auth login work\n", "--client-id my-cli --device", "Flags:", "Global Flags:", "More in the help topics:", "\n  auth help login-hosts", "\n  auth help login-flows", "\n  auth help login-ci"}
		at := -1
		for _, s := range order {
			i := strings.Index(help, s)
			if i <= at {
				t.Fatalf("%q is not after %q in auth %s", s, order[max(0, slices.Index(order, s)-1)], strings.Join(args, " "))
			}
			at = i
		}
		is.True(strings.Index(help, "Examples:") < 1000) // on the first screen
	}
}

// TestMake_BenchInstallsWhatItNeeds (issue 24 item 11): make bench, like
// make test, first runs the tools step (playwright-core for the browser
// numbers, …), so it works on a fresh clone.
func TestMake_BenchInstallsWhatItNeeds(t *testing.T) {
	is := is.New(t)
	for _, target := range []string{"bench", "test"} {
		cmd := exec.Command("make", "-n", target)
		cmd.Dir = repoRoot
		out, err := cmd.Output()
		is.NoErr(err)
		lines := strings.Split(string(out), "\n")
		tools := slices.Index(lines, "bash scripts/ensure-tools.sh")
		is.True(tools >= 0) // make TARGET installs the tools…
		if target == "bench" {
			is.True(tools < slices.Index(lines, "bash scripts/bench.sh")) // …before it needs them
		}
	}
}

// TestCLI_CompletionOffersNoNameWithTerminalControls (S37): a Databricks
// CLI profile whose section name holds control or bidi characters (any
// section name is a profile there; the profiles file refuses such names)
// is not handed to the shell, which would show it as it is.
func TestCLI_CompletionOffersNoNameWithTerminalControls(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	e.writeConfig("[work]\nhost = https://work.example.com\n")
	dbx := filepath.Join(e.home, ".databrickscfg")
	cfg := "[wdbx\x07]\n[w\x1bXevil]\n[w\u202eevil]\n[wlake]\n"
	cfg = strings.ReplaceAll(cfg, "]\n", "]\nhost = https://adb-1.2.azuredatabricks.net\nauth_type = databricks-cli\n\n")
	is.NoErr(os.WriteFile(dbx, []byte(cfg), 0o600))
	got, _ := e.completions([]string{"DUALAUTH_CONFIG_FILE=" + e.configPath(), "DUALAUTH_DATABRICKS_CONFIG=" + dbx}, "token", "w")
	slices.Sort(got)
	is.Equal(got, []string{"wlake", "work"})
}
