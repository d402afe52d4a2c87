package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// Exit codes.
const (
	exitOK    = 0
	exitAuth  = 1 // the command ran and failed: not logged in, server errors, timeouts…
	exitUsage = 2 // the command line is wrong
)

// app is the whole CLI; tests run it in process with their own writers.
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// stdin is what git-credential and api -d @- read; nil means os.Stdin.
	stdin io.Reader

	// Flags shared by every command.
	cacheDir    string
	caCert      string
	httpTimeout time.Duration
	lockTimeout time.Duration
	// storage is auto, keyring or file (where refresh tokens go);
	// keyringTimeout bounds each call to the OS keyring.
	storage        string
	keyringTimeout time.Duration
	// storageFrom says where storage came from once resolve set it
	// (setting.Source: "profile work", "env DUALAUTH_STORAGE"…).
	storageFrom string
	// dpop is the DPoP mode of a login (auto, always, never).
	dpop string

	// Host resolution (see resolve.go); fromEnv records the flags that
	// applyEnv set from DUALAUTH_* variables, for describe.
	configPath, hostFlag, profileFlag string
	// positional: the HOST|PROFILE argument of a Databricks form without
	// --profile, which configFile reads as the Databricks CLI does.
	positional string
	fromEnv    map[string]string
	// databricksPath: --databricks-config, a Databricks CLI config file
	// whose databricks-cli sections are read as profiles (see resolve.go).
	databricksPath string
	// timeoutSet: auth login got --timeout (or DUALAUTH_TIMEOUT).
	timeoutSet bool
	// as is the name auth runs under: "databricks" for a link of that
	// name (runDatabricks), else "".
	as string
	// databricksForm: the command is one of the Databricks CLI's
	// (`auth auth token`, `databricks auth token`; see databricks.go);
	// databricksList: it is `auth profiles` among them.
	databricksForm, databricksList bool
}

func newApp(stdout, stderr io.Writer, getenv func(string) string) *app {
	return &app{stdout: stdout, stderr: stderr, getenv: getenv}
}

// usageError is a mistake on the command line (exit 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func (a *app) run(args []string) int {
	return a.execute(a.rootCommand(args), args)
}

func (a *app) execute(root *cobra.Command, args []string) int {
	root.SetArgs(args)
	ran := false
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		ran = true
		a.databricksForm = databricksForm(cmd)
		a.databricksList = a.databricksForm && cmd.Name() == "profiles"
		err := a.applyEnv(cmd)
		if waitsOnNothing(cmd) {
			// A bad DUALAUTH_* value must not break help, completion or
			// the version the Databricks SDKs probe: they use none.
			return nil
		}
		if err != nil {
			return err
		}
		return a.checkTimeouts()
	}
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var xe exitError
	if errors.As(err, &xe) {
		return xe.code // the command has said what it had to
	}
	var ue usageError
	usage := !ran || errors.As(err, &ue) || errors.Is(err, native.ErrAmbiguousClient)
	msg, suggestions, _ := strings.Cut(err.Error(), "\n\nDid you mean this?")
	fmt.Fprintf(a.stderr, "auth: %s\n", oneLine(msg))
	if suggestions != "" {
		// cobra's suggestions for a mistyped command, on their own line.
		fmt.Fprintf(a.stderr, "Did you mean this? %s\n", core.Sanitize(strings.Join(strings.Fields(suggestions), ", ")))
	}
	if usage {
		path := root.Name()
		if c, _, ferr := root.Find(args); ferr == nil && c != nil {
			path = c.CommandPath()
		}
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", path)
		return exitUsage
	}
	return exitAuth
}

// oneLine is how every message reaches the terminal: on one line, and
// through the one sanitiser, since errors and warnings carry what servers
// and files said (S37).
func oneLine(s string) string {
	return core.Sanitize(strings.Join(strings.Fields(s), " "))
}

const rootLong = `auth logs in to an OAuth 2.0 / OpenID Connect server from the terminal
(authorization code + PKCE through your browser and a loopback listener) and
hands out access tokens from a local cache, refreshing them when they expire.

Environment:
  DUALAUTH_CACHE_DIR    token cache directory (default: the user cache dir + /dualauth)
  DUALAUTH_CONFIG_FILE  profiles file
  DUALAUTH_DATABRICKS_CONFIG
                        Databricks CLI config file to read profiles from
                        (--databricks-config); not under auth auth /
                        databricks auth, which read $DATABRICKS_CONFIG_FILE
                        (else ~/.databrickscfg) as the Databricks tools do
  DUALAUTH_HOST         host to use when none is given
  DUALAUTH_PROFILE      profile to use when no host is given
  DUALAUTH_STORAGE      where refresh tokens go: auto (default), keyring or file
  DUALAUTH_<FLAG>       default for any flag, e.g. DUALAUTH_CLIENT_ID, DUALAUTH_CA_CERT,
                        DUALAUTH_TIMEOUT; a flag on the command line wins, also
                        one that contradicts it (--device over DUALAUTH_FLOW)
  BROWSER               command that opens the login page, run as "CMD URL"
  HTTPS_PROXY, NO_PROXY proxy for requests to the authorization server
  NO_COLOR              no colors on the terminal
  TERM=dumb             no spinner and no colors (the URL and plain lines only)

Profiles (auth login --profile NAME HOST; auth profiles) keep a host's
settings in an INI file ($DUALAUTH_CONFIG_FILE, default the user config dir +
/dualauth/config.ini), so that "auth token NAME" needs no flags.
With --databricks-config PATH (e.g. ~/.databrickscfg), the sections of that
Databricks CLI config file with auth_type = databricks-cli are profiles too,
[DEFAULT] included: name = section, its host and account_id, client
databricks-cli. auth only reads that file, never writes it; a profile of the
same name in the profiles file wins over one there.
Which host a command uses: the HOST argument (or a profile of that name),
--host, --profile, $DUALAUTH_HOST, $DUALAUTH_PROFILE, the default profile
(auth profiles --default NAME chooses it). A host that is a profile's host
selects that profile and its settings; of several profiles of that host
(and of --client-id, --account-id), the default one, else the first by name
when they differ only in name, else it is an error naming them: pass
--profile NAME. A bare word (no dot, scheme or
port; localhost excepted) is a profile name, never a host: one that names
no profile is an error naming the nearest ones (https://NAME is the host).

Tokens for other tools (the same cache and refresh; see each command's --help):
  kubectl   in ~/.kube/config:
              users:
              - name: work
                user:
                  exec:
                    apiVersion: client.authentication.k8s.io/v1
                    command: auth
                    args: [token, work, -o, exec-credential]
                    interactiveMode: Never
  git       git config --global --replace-all credential.https://git.example.com.helper ''
            git config --global --add credential.https://git.example.com.helper '!auth git-credential work'
  any CMD   auth exec work -- CMD ARGS...   (DUALAUTH_TOKEN, DUALAUTH_HOST in its environment)
  an API    auth api work /api/2.0/clusters/list
  Databricks SDKs, Terraform, VS Code, dbt (their auth_type = databricks-cli)
            export DATABRICKS_CLI_PATH="$(command -v auth)", or a link on PATH:
            ln -s "$(command -v auth)" ~/.local/bin/databricks
            (they run "auth token --profile NAME"; see auth auth --help)

HOST is a URL or a host name (https is assumed); a server on a loopback
address needs its scheme: http://127.0.0.1:8080, not 127.0.0.1:8080.

Exit codes: 0 success (a logout with nothing to log out included), 1
authentication or server error, 2 usage error, always before any request
(auth exec: the command's own). -o text and -o table name the form for
people on every command.`

const databricksLong = `This databricks is a link to auth (dualauth): it answers the Databricks
CLI's auth commands, so that the Databricks SDKs, the Terraform provider, the
VS Code extension and dbt get their tokens from auth's cache
(auth_type = databricks-cli). It serves "databricks auth login|token|env|
describe|profiles|logout" and "databricks version" only; for any other
command install the Databricks CLI. See "databricks auth --help".`

func (a *app) rootCommand(args []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "auth",
		Short:         "Log in to OAuth/OIDC servers and get access tokens",
		Long:          rootLong,
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
		Example: `  auth login https://idp.example.com --client-id my-cli
  auth token https://idp.example.com
  curl -H "Authorization: Bearer $(auth token https://idp.example.com -o text)" https://api.example.com/
  auth exec https://idp.example.com -- ./script-that-reads-DUALAUTH_TOKEN.sh
  auth api https://idp.example.com /userinfo
  auth logout https://idp.example.com`,
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.cacheDir, "cache-dir", "", "token cache directory (default $DUALAUTH_CACHE_DIR or the user cache dir)")
	pf.StringVar(&a.caCert, "ca-cert", "", "PEM file with extra CA certificates to trust for the server")
	pf.DurationVar(&a.httpTimeout, "http-timeout", native.DefaultHTTPTimeout, "timeout of each request to the server")
	pf.DurationVar(&a.lockTimeout, "lock-timeout", native.DefaultLockTimeout, "how long to wait for another auth process refreshing the same login")
	pf.StringVar(&a.storage, "storage", string(native.StorageAuto), "where refresh tokens go: auto (the OS keyring when it answers at login, else the cache file), keyring or file")
	pf.DurationVar(&a.keyringTimeout, "keyring-timeout", native.DefaultKeyringTimeout, "give up on an OS keyring that does not answer in this time")
	pf.StringVar(&a.hostFlag, "host", "", "host to use when no HOST argument is given (see auth --help for the order)")
	pf.StringVarP(&a.profileFlag, "profile", "p", "", "profile to use (on login: the profile to save the settings in)")
	pf.StringVar(&a.configPath, "config", "", "profiles file (default $DUALAUTH_CONFIG_FILE or the user config dir + /dualauth/config.ini)")
	pf.StringVar(&a.databricksPath, "databricks-config", "", "also read the auth_type = databricks-cli profiles of this Databricks CLI config file, e.g. ~/.databrickscfg (read only; on a name in both files, the profiles file wins, except under auth auth / databricks auth, where this file does)")

	if a.as == databricksName {
		root.Use, root.Short, root.Long = databricksName, "dualauth's auth under the name databricks: the Databricks CLI's auth commands", databricksLong
		root.Example = "  databricks auth login https://adb-123.4.azuredatabricks.net\n  databricks auth token --profile DEFAULT"
		root.CompletionOptions.DisableDefaultCmd = true
		if len(args) > 1 && args[0] == "auth" && args[1] == "token" {
			root.AddCommand(a.databricksGroup(a.tokenCommand())) // the hot path, as below
			return root
		}
		root.AddCommand(a.databricksGroup(a.databricksCommands()...), a.versionCommand())
		root.AddCommand(loginTopicCommands()...)
		useVersionText(root)
		strictHelp(root, "auth")
		return root
	}
	if len(args) > 1 && args[0] == "auth" && args[1] == "token" {
		// The Databricks SDKs' hot path with DATABRICKS_CLI_PATH=auth.
		root.CompletionOptions.DisableDefaultCmd = true
		root.AddCommand(a.databricksGroup(a.tokenCommand()))
		return root
	}
	if len(args) > 0 && (args[0] == "token" || args[0] == "git-credential") {
		// The hot paths: scripts call `auth token` before every request,
		// kubectl runs `auth token -o exec-credential` and git runs
		// `auth git-credential` for every command. Their tree holds only
		// their own command, which spares building the others and the
		// completion commands.
		root.CompletionOptions.DisableDefaultCmd = true
		if args[0] == "token" {
			root.AddCommand(a.tokenCommand())
		} else {
			root.AddCommand(a.gitCredentialCommand())
		}
		return root
	}
	useVersionText(root)
	root.AddCommand(a.loginCommand(), a.tokenCommand(), a.logoutCommand(), a.profilesCommand(), a.describeCommand(), a.envCommand(),
		a.execCommand(), a.apiCommand(), a.gitCredentialCommand(), a.proofCommand(), a.versionCommand(), a.databricksGroup(a.databricksCommands()...))
	root.AddCommand(loginTopicCommands()...)
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Example = `  source <(auth completion bash)
  auth completion zsh > "${fpath[1]}/_auth"
  auth completion fish > ~/.config/fish/completions/auth.fish`
			for _, sub := range c.Commands() {
				sub.Example = "  auth completion " + sub.Name() + " > auth-completion." + sub.Name()
			}
			// Without this, cobra shows the help of `completion` for any
			// other shell (tcsh, ksh) and exits 0, as if it had worked.
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return cmd.Help()
				}
				return usagef("no completion for the shell %q: auth completes bash, zsh, fish and powershell", args[0])
			}
		}
	}
	strictHelp(root, "login")
	a.addCompletion(root)
	return root
}

// strictHelp adds root's help command, which exits 2 for a topic root
// does not have (cobra's shows the usage and exits 0, as if it had
// helped); example is a topic for its example.
func strictHelp(root *cobra.Command, example string) {
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			c.Example = "  " + root.Name() + " help " + example
			help := c.Run
			c.Run = nil
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if found, _, err := root.Find(args); err != nil || found == root && len(args) > 0 {
					return usagef("no help topic %q: the topics are %s's commands and its additional help topics (%s --help lists both)", strings.Join(args, " "), root.Name(), root.Name())
				}
				help(cmd, args)
				return nil
			}
		}
	}
}

// waitsOnNothing: help, version and completion, which read no login and
// make no request.
func waitsOnNothing(cmd *cobra.Command) bool {
	switch cmd.Name() {
	case "help", "version", "completion", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
		return true
	}
	p := cmd.Parent()
	return p != nil && p.Name() == "completion" // auth completion bash
}

// checkTimeouts refuses a timeout of 0 or less, which would otherwise
// quietly mean the default (or, to a curl user, no timeout at all).
func (a *app) checkTimeouts() error {
	for _, t := range []struct {
		flag    string
		v, def  time.Duration
		whatFor string
	}{
		{"http-timeout", a.httpTimeout, native.DefaultHTTPTimeout, "each request to the server"},
		{"lock-timeout", a.lockTimeout, native.DefaultLockTimeout, "the wait for another auth process refreshing the same login"},
		{"keyring-timeout", a.keyringTimeout, native.DefaultKeyringTimeout, "each call to the OS keyring"},
	} {
		if t.v <= 0 {
			return usagef("%s must be more than 0, not %s: it bounds %s (default %s)", a.flagName(t.flag), t.v, t.whatFor, t.def)
		}
	}
	return nil
}

// applyEnv gives every flag not set on the command line the value of
// DUALAUTH_<NAME> (dashes as underscores), when that is set.
func (a *app) applyEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		switch f.Name {
		case "host", "profile", "config":
			return // resolved in their documented order (resolve.go)
		case "databricks-config":
			if databricksForm(cmd) {
				// The Databricks forms answer the Databricks tools, which
				// read $DATABRICKS_CONFIG_FILE (else ~/.databrickscfg):
				// a default for auth's own commands must not make them
				// answer from another file, for another host.
				return
			}
		}
		name := "DUALAUTH_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := a.getenv(name); v != "" {
			if a.envYields(cmd, f.Name, v) {
				return // a flag typed on the command line says otherwise
			}
			if serr := cmd.Flags().Set(f.Name, v); serr != nil {
				// pflag's message names the flag, which the user never
				// typed: the variable and the value's own problem instead.
				var bad *pflag.InvalidValueError
				if errors.As(serr, &bad) {
					serr = errors.Unwrap(bad)
				}
				var num *strconv.NumError
				if want := valueForm(f.Value.Type()); want != "" && (errors.As(serr, &num) || strings.HasPrefix(serr.Error(), "time: ")) {
					serr = errors.New("want " + want) // not Go's parser's words
				}
				err = usagef("$%s: invalid value %q: %v", name, v, serr)
			}
			if a.fromEnv == nil {
				a.fromEnv = map[string]string{}
			}
			a.fromEnv[f.Name] = name
		}
	})
	return err
}

// envYields: a DUALAUTH_<FLAG> value is a default, so it gives way to a
// flag typed on the command line that it would contradict (the pairs a
// login refuses together), as a profile's saved flow gives way to --device
// or --paste. Two contradicting values from the command line, or two from
// the environment, stay an error.
func (a *app) envYields(cmd *cobra.Command, flag, value string) bool {
	typed := func(name string) (string, bool) {
		f := cmd.Flags().Lookup(name)
		if f == nil || !f.Changed || a.fromEnv[name] != "" {
			return "", false
		}
		return f.Value.String(), true
	}
	on := func(name string) bool { v, ok := typed(name); return ok && v == "true" }
	switch flag {
	case "flow":
		return on("device") && value != flowDevice || on("paste") && value == flowDevice
	case "device":
		flow, ok := typed("flow")
		return ok && flow != flowDevice || on("paste")
	case "paste":
		flow, ok := typed("flow")
		return ok && flow == flowDevice || on("device")
	case "port", "redirect-uri", "prompt", "no-prompt":
		_, ok := typed(map[string]string{"port": "redirect-uri", "redirect-uri": "port", "prompt": "no-prompt", "no-prompt": "prompt"}[flag])
		return ok
	}
	return false
}

// valueForm says what a flag of a pflag type takes, for a value from the
// environment that does not parse ("" for other types). A switch, not a
// map: no package init work on auth token's path.
func valueForm(typ string) string {
	switch typ {
	case "int":
		return "a whole number"
	case "bool":
		return "true or false (or 1 or 0)"
	case "duration":
		return "a duration such as 90s, 5m or 1h"
	}
	return ""
}

// options are the settings every flow shares.
func (a *app) options(t core.Target, clientID string) (native.Options, error) {
	dir := a.cacheDir
	if dir == "" {
		d, err := native.DefaultCacheDir()
		if err != nil {
			return native.Options{}, err
		}
		dir = d
	}
	warn := func(msg string) { fmt.Fprintf(a.stderr, "auth: warning: %s\n", oneLine(msg)) }
	store, err := native.NewKeyringStore(&native.FileCache{Dir: dir, Warn: warn}, a.storage)
	if err != nil {
		from := a.flagName("storage")
		if strings.HasPrefix(a.storageFrom, "profile ") {
			from = a.storageFrom // the profile's storage line
		}
		return native.Options{}, usagef("%s: %v", from, err)
	}
	store.Timeout = a.keyringTimeout
	return native.Options{
		Target:      t,
		ClientID:    clientID,
		Store:       store,
		HTTPOptions: native.HTTPOptions{Timeout: a.httpTimeout, CACertFile: a.caCert},
		LockTimeout: a.lockTimeout,
		Warn:        warn,
		ClientChosen: func(id, from string) {
			fmt.Fprintf(a.stderr, "Client: %s, %s\n", core.Sanitize(id), core.Sanitize(from))
		},
		Getenv: a.getenv,
		DPoP:   a.dpop,
	}, nil
}

// signalContext ends on Ctrl-C or SIGTERM, so waits end cleanly and the
// lock is released.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// isTerminal reports whether w (or a reader) is a terminal: not merely a
// character device, which /dev/null is too.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// flagName is how a message names where a flag's value came from: the
// environment variable that set it (DUALAUTH_OUTPUT=…), else the flag.
func (a *app) flagName(flag string) string {
	return a.named(flag, "--"+flag)
}

// named is flagName with the form the user types for the flag (-X).
func (a *app) named(flag, typed string) string {
	if env, ok := a.fromEnv[flag]; ok {
		return "$" + env
	}
	return typed
}

// outputFormat checks an --output value: human is the command's form for
// people, which "text" and "table" name as well on every command; others
// are its other forms.
func (a *app) outputFormat(value, human string, others ...string) (string, error) {
	if value == human || value == "text" || value == "table" {
		return human, nil
	}
	if slices.Contains(others, value) {
		return value, nil
	}
	aliases := slices.DeleteFunc([]string{"text", "table"}, func(s string) bool { return s == human })
	return "", usagef("%s must be %s (or %s) or %s, not %q", a.flagName("output"), human, strings.Join(aliases, ", "), strings.Join(others, " or "), value)
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usagef("%s takes at most %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}
