package main

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/spf13/cobra"
)

func (a *app) loginCommand() *cobra.Command {
	var (
		clientID, accountID, scopes, redirectURI, browserCmd, prompt string
		port                                                         int
		timeout                                                      time.Duration
		noBrowser, noPrompt                                          bool
		authParams                                                   []string
		flows                                                        flowFlags
		grants                                                       grantFlags
	)
	cmd := &cobra.Command{
		Use:   "login [HOST]",
		Short: "Log in (browser, device code or pasted redirect) and cache the tokens",
		Long:  loginIntro,
		Example: `  # A server that registers auth's client itself, a Databricks host, an API:
  auth login https://login.example.com
  auth login https://adb-123.4.azuredatabricks.net
  auth login https://api.example.com/v1
  # A client registered for this CLI, saved as profile work; then "auth token work":
  auth login --profile work https://idp.example.com --client-id my-cli
  # Again, later (a profile remembers the flags):
  auth login work
  # A profile of the Databricks CLI:
  auth login DEFAULT --databricks-config ~/.databrickscfg
  # Scopes, or the exact redirect URI the client was registered with:
  auth login https://idp.example.com --client-id my-cli --scopes "openid offline_access profile"
  auth login https://idp.example.com --client-id my-cli --redirect-uri http://localhost:8020/cb`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if redirectURI != "" && cmd.Flags().Changed("port") {
				return usagef("%s and %s cannot be used together", a.flagName("port"), a.flagName("redirect-uri"))
			}
			rs, err := a.resolve(cmd, args)
			if err != nil {
				return err
			}
			if rs.withoutPerson() {
				return a.grantLogin(cmd, rs, grants.secretStdin)
			}
			// Every check of the command line comes before the first request.
			clientID = rs.ClientID.Value
			redirectURI = rs.RedirectURI.Value
			if cmd.Flags().Changed("port") {
				redirectURI = "" // --port beats a profile's redirect_uri
			}
			if port < 0 || port > 65535 {
				return usagef("%s must be between 0 and 65535, not %d (0 picks a free port)", a.flagName("port"), port)
			}
			lc := native.ListenerConfig{RedirectURI: redirectURI, Port: port}
			if err := native.CheckListenerConfig(lc); err != nil {
				return usagef("%s: %v", given(rs.RedirectURI.Source), err)
			}
			if timeout <= 0 {
				return usagef("%s must be more than 0, not %s: it is how long the login waits for you (default %s)", given(a.flagSource(cmd, "timeout")), timeout, native.DefaultLoginTimeout)
			}
			if noPrompt && prompt != "" {
				return usagef("%s and %s cannot be used together", a.flagName("prompt"), a.flagName("no-prompt"))
			}
			params := url.Values{}
			for _, p := range authParams {
				k, v, ok := strings.Cut(p, "=")
				if !ok || k == "" {
					return usagef("%s wants KEY=VALUE, got %q", a.flagName("auth-param"), p)
				}
				params.Add(k, v)
			}
			if noPrompt {
				prompt = core.PromptNone
			}
			if browserCmd == "" {
				browserCmd = a.getenv("BROWSER")
			}
			saved := ""
			if strings.HasPrefix(rs.Flow.Source, "profile ") {
				saved = rs.Flow.Value
			}
			flow, err := flows.choice(cmd, noBrowser, saved, a.flagName)
			if err != nil {
				return err
			}
			t := rs.target()
			o, err := a.options(t, clientID)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			res, err := a.resolveTarget(ctx, cmd, rs, o)
			if err != nil {
				return err
			}
			o.Target = res.LoginTarget(rs.hostTarget())
			// What the target said it wants (scopes, a redirect URI).
			clientID = rs.ClientID.Value
			o.ClientID = clientID
			scopes = rs.Scopes.Value
			if !cmd.Flags().Changed("port") {
				lc.RedirectURI = rs.RedirectURI.Value
			}
			a.timeoutSet = cmd.Flags().Changed("timeout")
			e, err := a.loginByFlow(ctx, flow, &flows, noBrowser, native.LoginOptions{
				Options:    o,
				Scopes:     native.ParseScopes(scopes),
				Prompt:     prompt,
				AuthParams: params,
				Listener:   lc,
				Opener:     native.Opener{Command: browserCmd, Disabled: noBrowser, Output: a.stderr},
				Timeout:    timeout,
				Resolution: res,
			})
			if errors.Is(err, core.ErrNoClient) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			valid := "without an expiry"
			if !e.Expiry.IsZero() {
				valid = "valid until " + e.Expiry.Local().Format(time.RFC3339)
			}
			fmt.Fprintf(a.stderr, "Logged in to %s; token %s%s\n", t.Host, valid, storedWhere(o.Store, e))
			a.warnShared(rs, e)
			return a.saveProfile(rs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&clientID, "client-id", "", "OAuth client ID registered for this CLI (default: databricks-cli on Databricks hosts, else one registered at the server when it allows that)")
	f.StringVar(&accountID, "account-id", "", "Databricks account ID (log in to the account console)")
	f.StringVar(&scopes, "scopes", "", `scopes, space or comma separated (default "openid offline_access", Databricks "all-apis offline_access")`)
	f.StringVar(&redirectURI, "redirect-uri", "", "exact redirect URI registered for the client (http on 127.0.0.1, [::1] or localhost, with a port)")
	f.IntVar(&port, "port", 0, "fixed loopback port for the redirect URI http://127.0.0.1:PORT/callback (default: a free port)")
	f.DurationVar(&timeout, "timeout", native.DefaultLoginTimeout, "give up if the login is not completed in this time, more than 0 (device flow: default the code's own lifetime)")
	f.StringVar(&browserCmd, "browser", "", `command that opens the login page, run as "CMD URL" (default $BROWSER, then the system browser)`)
	f.BoolVar(&noBrowser, "no-browser", false, "do not open a browser; print the URL to open instead")
	f.StringVar(&prompt, "prompt", "", "prompt parameter to send (default: consent when asking an OpenID provider for offline_access)")
	f.BoolVar(&noPrompt, "no-prompt", false, "send no prompt parameter")
	f.String("dpop", core.DPoPAuto, "bind tokens to a key of this login (DPoP, RFC 9449): auto (when the server supports it and the resource or client requires it), always, or never")
	f.StringArrayVar(&authParams, "auth-param", nil, "extra authorization request parameter KEY=VALUE (repeatable)")
	f.String("resource", "", "ask for a token for this API (RFC 8707 resource), for one that publishes no protected-resource metadata; the login is kept under it")
	flows.register(cmd)
	grants.register(cmd)
	cmd.SetHelpFunc(loginHelp)
	return cmd
}

const loginIntro = `Log in to HOST (a server's URL, or a profile) and cache its tokens: then
"auth token HOST" prints a valid access token, refreshed when needed.
Below: the common cases, then the flags; the reference (how HOST is found,
the login flows, logins without a person) is in the help topics named last.`

// loginHostsHelp is the help topic login-hosts: how auth login finds out
// what HOST is, its defaults, and what it saves in a profile.
const loginHostsHelp = `Four ways in. auth first asks HOST what it is, and says what it found on
stderr ("Found: …"; auth describe shows it later):
  1. A Databricks host: known by its name (*.cloud.databricks.com,
     *.azuredatabricks.net, *.databricks.azure.us, …, without asking), else by
     its host metadata (/.well-known/databricks-config) or its /oidc document,
     whatever its name (private link, custom domain). Account and unified
     hosts take --account-id.
  2. An OpenID Connect or RFC 8414 issuer. Without --client-id, a server with
     dynamic client registration (RFC 7591) gets a public client registered
     once per issuer and reused (one for the browser flow, one for the device
     flow); auth says so ("Client: … registered at …"). If the server later
     refuses it, the login says so and the next one registers a new client.
  3. A protected resource (an API URL): its RFC 9728 metadata, at
     /.well-known/oauth-protected-resource/PATH or named by its 401, gives the
     authorization server and scopes; the token is asked with resource=URL
     (RFC 8707), so its audience is that API. "auth token URL" gives it.
     An API without that metadata: log in at its issuer with --resource
     API_URL, asked for the same way; the login is kept under API_URL.
  4. --client-id, when the server offers none of the above: a client
     registered for this CLI by hand.
When nothing answers, the one-line error names every document tried.

Defaults: Databricks hosts use client databricks-cli, scopes "all-apis
offline_access" and redirect URI http://localhost:8020; a protected resource
asks for its own scopes, plus openid and offline_access where its server
offers them; other hosts ask for "openid offline_access" (with
prompt=consent, which OpenID providers need to issue a refresh token). The
default redirect URI is http://127.0.0.1:PORT/callback on a free port.

With --profile NAME, the settings of a successful login are saved as
profile NAME: host, client and account always; scopes, redirect URI, CA
certificate, storage, login flow and DPoP mode when given as flags (--flow or
--device; not from the environment). The first profile becomes the default, so a later
"auth token" needs no arguments (auth profiles --default NAME changes it).
A HOST that is a profile's host selects that profile: the login updates it
("Updated profile NAME"). Of several profiles of that HOST (and of
--client-id, --account-id), the default one; else, when they differ only in
name, the first by name; else the login is refused before any request,
naming them (pass --profile NAME, or NAME as HOST). A login that
replaces the one other profiles of the same host and client use, with other
scopes, warns that they now get its token. Without HOST, the host comes from --host,
--profile, $DUALAUTH_HOST, $DUALAUTH_PROFILE or the default profile, in that
order.

A profile read from a Databricks CLI config file (--databricks-config) is
never saved, there or in the profiles file: auth only reads that file. Flags
given when logging in to such a profile apply to that login only (auth says
so); to keep them, log in with --profile OTHERNAME HOST.

Nothing is written to stdout. On success one line on stderr says until when
the token is valid.`

// loginFlowsIntro opens the help topic login-flows (see flowHelp).
const loginFlowsIntro = `How it works: auth listens on a loopback port, opens your browser at the
server's login page (authorization code flow with PKCE), receives the
redirect, and stores the tokens and the server's metadata in the cache.

The browser: --browser CMD, else $BROWSER, is run as "CMD URL" and not waited
for ("%s" in CMD stands for the URL; "a:b:c" tries a, b, c and runs the first
one installed); otherwise the system's default browser is opened. With --no-browser, or
when opening fails, the URL is printed on stderr and auth keeps waiting.`

// loginTopics are the reference of auth login, as help topics (auth help
// login-flows): the top of auth login --help stays the common cases. A
// function: no package init work on auth token's path.
func loginTopics() []struct{ name, short, long string } {
	return []struct{ name, short, long string }{
		{"login-hosts", "How auth login finds out what HOST is, its defaults and profiles", loginHostsHelp},
		{"login-flows", "The login flows: browser, device, auto, paste; the browser command", loginFlowsIntro + flowHelp},
		{"login-ci", "Logins without a person (CI, services): secret, key, token exchange", strings.TrimPrefix(grantHelp, "\n\n") + "\n\nExamples:" + grantExamples},
	}
}

// loginTopicCommands are loginTopics as commands without a Run, which
// cobra lists as "Additional help topics" and auth help NAME shows.
func loginTopicCommands() []*cobra.Command {
	var cmds []*cobra.Command
	for _, t := range loginTopics() {
		cmds = append(cmds, &cobra.Command{Use: t.name, Short: t.short, Long: t.long})
	}
	return cmds
}

// loginHelp shows auth login --help in the order a new user needs it: what
// the command does, the common cases, the flags, then where the reference
// is.
func loginHelp(cmd *cobra.Command, _ []string) {
	name := cmd.Root().Name()
	var more strings.Builder
	for _, t := range loginTopics() {
		fmt.Fprintf(&more, "  %s help %-12s %s\n", name, t.name, t.short)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s\n\n%s\nMore in the help topics:\n%s", cmd.Long, cmd.UsageString(), more.String())
}

// given names where a setting was given, as the user wrote it: --flag,
// $DUALAUTH_VAR, profile NAME (from a setting's Source).
func given(source string) string {
	if env, ok := strings.CutPrefix(source, "env "); ok {
		return "$" + env // as app.flagName names it
	}
	return strings.TrimPrefix(source, "flag ")
}

// status shows the user what the login waits for: on a terminal the URL
// and a spinner line, elsewhere plain lines. A terminal that cannot move
// the cursor (TERM=dumb: Emacs shells, some CI logs) gets the URL but no
// spinner; colour needs the spinner and no NO_COLOR.
type status struct {
	a       *app
	host    string
	tty     bool
	spinner bool
	color   bool
	manual  bool // --no-browser: the user opens the URL
	mu      sync.Mutex
	done    chan struct{}
	stopped bool
	wg      sync.WaitGroup
}

func (a *app) newStatus(host string, manual bool) *status {
	tty := isTerminal(a.stderr)
	spinner := tty && a.getenv("TERM") != "dumb"
	return &status{a: a, host: host, tty: tty, spinner: spinner, color: spinner && a.getenv("NO_COLOR") == "", manual: manual, done: make(chan struct{})}
}

func (s *status) authorize(u string, failed <-chan error) {
	w := s.a.stderr
	// The origin the browser is actually sent to, which may not be the
	// host's (a custom sign-in domain): the user sees where to sign in.
	opened := core.Sanitize(core.Origin(u))
	s.mu.Lock()
	switch {
	case s.manual:
		fmt.Fprintf(w, "Open this URL in a browser to log in to %s:\n\n  %s\n\n", s.host, core.Sanitize(u))
	case s.tty:
		// The URL once, on its own lines: a spinner line that held it
		// would wrap, and \r could no longer redraw it.
		fmt.Fprintf(w, "Opening your browser to %s to log in to %s. If nothing opens, visit:\n\n  %s\n\n", opened, s.host, core.Sanitize(u))
	default:
		fmt.Fprintf(w, "Opening a browser to %s to log in to %s…\n", opened, s.host)
	}
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case err := <-failed:
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.stopped || s.manual {
				return
			}
			if s.spinner {
				fmt.Fprint(w, "\r\033[K")
			}
			fmt.Fprintf(w, "auth: warning: %s\n", oneLine(err.Error()))
			if !s.tty {
				fmt.Fprintf(w, "Open this URL in a browser to log in to %s:\n\n  %s\n\n", s.host, core.Sanitize(u))
			}
		case <-s.done:
		}
	}()
	switch {
	case s.spinner:
		s.wg.Add(1)
		go s.spin()
	case s.tty:
		fmt.Fprintln(w, waitingLine)
	}
}

const waitingLine = "Waiting for the login in your browser (Ctrl-C to cancel)…"

func (s *status) spin() {
	defer s.wg.Done()
	frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	t := time.NewTicker(120 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		s.mu.Lock()
		frame := frames[i%len(frames)]
		if s.color {
			frame = "\033[36m" + frame + "\033[0m"
		}
		fmt.Fprintf(s.a.stderr, "\r\033[K%s %s", frame, waitingLine)
		s.mu.Unlock()
		select {
		case <-s.done:
			return
		case <-t.C:
		}
	}
}

func (s *status) stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	close(s.done)
	s.mu.Unlock()
	s.wg.Wait()
	if s.spinner {
		fmt.Fprint(s.a.stderr, "\r\033[K")
	}
}

// storedWhere completes the login line with where the refresh token went,
// so the storage mode in use is visible at every login.
func storedWhere(s native.Store, e *core.Entry) string {
	ks, ok := s.(*native.KeyringStore)
	if !ok || e.RefreshToken == "" {
		return ""
	}
	info, err := ks.Resolve()
	switch {
	case err != nil:
		return ""
	case info.InUse == native.StorageKeyring:
		return "; refresh token in the OS keyring (" + info.Keyring + ")"
	}
	return "; refresh token in " + info.File
}

// warnShared warns when the login just made is also the login of other
// profiles (same host, client and account: one cache entry) that ask for
// other scopes: their tokens are this login's from now on.
func (a *app) warnShared(rs *settings, e *core.Entry) {
	byDefault := !strings.HasPrefix(rs.Scopes.Source, "flag ") && !strings.HasPrefix(rs.Scopes.Source, "profile ") && !strings.HasPrefix(rs.Scopes.Source, "env ")
	for _, name := range rs.sharers(e.ClientID) {
		p, _ := rs.file.Profile(name)
		theirs := strings.Join(native.ParseScopes(p.Scopes), " ")
		switch {
		case theirs == "" && byDefault:
			continue // both ask for the default
		case theirs == "" && sameScopes(strings.Join(native.DefaultScopes(rs.target()), " "), rs.Scopes.Value):
			continue // this login names the default scopes
		case theirs != "" && sameScopes(theirs, rs.Scopes.Value):
			continue
		}
		if theirs == "" {
			theirs = "the default scopes"
		} else {
			theirs = fmt.Sprintf("scopes %q", theirs)
		}
		// Names from files, scopes from the server (S37).
		fmt.Fprintf(a.stderr, "auth: warning: %s\n", oneLine(fmt.Sprintf("profile %s shares this login (same host and client) but asks for %s; its token is now this one, with scopes %q. Give it a client of its own (client_id) to keep both logins",
			name, theirs, strings.Join(e.Scopes, " "))))
	}
}

// sameScopes: two space-separated scope lists that ask for the same
// scopes, in any order.
func sameScopes(a, b string) bool {
	x, y := strings.Fields(a), strings.Fields(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}
