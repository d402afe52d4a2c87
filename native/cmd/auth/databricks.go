package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native/config"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// auth as the token source of the Databricks SDKs, the Terraform provider,
// the VS Code extension and dbt: their databricks-cli credential type runs
//
//	CLI version
//	CLI auth token --host HOST [--account-id ID] [--force-refresh]
//	CLI auth token --profile NAME [--force-refresh]
//
// where CLI is $DATABRICKS_CLI_PATH (then this binary: `auth auth token`)
// or `databricks` on PATH (a link to this binary, see runDatabricks).

// databricksName is the name the Databricks tools run: a link to auth
// under this name answers as the Databricks CLI's token commands.
const databricksName = "databricks"

// databricksCLILevel is the Databricks CLI version whose token interface
// auth implements: --profile (the SDKs pass it from 0.207.1 on) and
// --force-refresh (from 0.296.0 on). `auth version` reports it, with
// dualauth's own version as semver build metadata.
const databricksCLILevel = "v0.296.0"

// annotationDatabricks marks the command groups whose commands are the
// Databricks forms (`auth auth …`, `databricks auth …`).
const annotationDatabricks = "databricks-form"

// notConfiguredText is what older Databricks SDKs look for in the CLI's
// error to try their next credential type (a PAT, the Azure CLI…): it
// starts the error of a Databricks form that finds no login.
const notConfiguredText = "databricks OAuth is not configured for this host"

// versionText is the answer of `auth version`: a semver the Databricks
// SDKs parse as the CLI level above, whose build metadata says it is
// dualauth and which version, e.g. v0.296.0+dualauth.v1.4.0.
func versionText() string {
	var ids []string
	for _, id := range strings.Split("dualauth."+version, ".") {
		// Build metadata identifiers are [0-9A-Za-z-]+ (semver 2.0 §10).
		id = strings.Map(func(r rune) rune {
			if r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
				return r
			}
			return '-'
		}, id)
		if id != "" {
			ids = append(ids, id)
		}
	}
	return databricksCLILevel + "+" + strings.Join(ids, ".")
}

// useVersionText makes --version print what the version command prints:
// one version text (not on the hot paths, which have no --version). Not
// cobra's version flag: its "auth version X" line could only change by a
// template, and a template links text/template (+2 MB, every start slower).
// The root has no Run, so cobra shows its help: that shows the version.
func useVersionText(root *cobra.Command) {
	root.Version = ""
	var show bool
	root.Flags().BoolVarP(&show, "version", "v", false, "print the version, as the version command does")
	help := root.HelpFunc()
	root.SetHelpFunc(func(cmd *cobra.Command, args []string) {
		if show && cmd == root {
			fmt.Fprintln(cmd.OutOrStdout(), versionText())
			return
		}
		help(cmd, args)
	})
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, in the form the Databricks SDKs read",
		Long: `Print auth's version as one semver line, e.g. ` + databricksCLILevel + `+dualauth.v1.4.0: the
Databricks CLI level whose token commands auth serves (the Databricks SDKs
read it to pass --profile and --force-refresh), then dualauth's own version
as build metadata.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(a.stdout, versionText())
			return err
		},
	}
}

// databricksGroup is the `auth` command group of the Databricks CLI: the
// seed's login, token, env, describe, profiles and logout, as `auth auth
// token …` (DATABRICKS_CLI_PATH=/path/to/auth) and `databricks auth token
// …` (a link). cmds are the commands to build (the hot path builds token
// only).
func (a *app) databricksGroup(cmds ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{
		Use:   "auth",
		Short: "The Databricks CLI's auth commands, for the Databricks SDKs, Terraform, VS Code, dbt",
		Long: `The Databricks CLI's auth commands (login, token, env, describe, profiles,
logout), for the tools that get their token from the Databricks CLI: the
Databricks SDKs, the Terraform provider, the VS Code extension, dbt. Point
them at auth with DATABRICKS_CLI_PATH=/path/to/auth, or put a link named
databricks on PATH:

  ln -s "$(command -v auth)" ~/.local/bin/databricks

They run "auth token --host HOST" or "auth token --profile NAME" (with
--force-refresh), which answer from auth's cache as "auth token" does.
Here --profile NAME is only ever the section NAME of the Databricks CLI's
config file, as for the SDKs: --databricks-config typed on the command
line, else $DATABRICKS_CONFIG_FILE, else ~/.databrickscfg (never
$DUALAUTH_DATABRICKS_CONFIG); never a profile of auth's own file (auth's
own commands read auth's own profiles), and "profiles" lists them:
auth_type = databricks-cli sections log in by browser, oauth-m2m sections
(client_id, client_secret) get tokens without a person. A NAME argument
is read profile first, as the Databricks CLI reads it: a bare word is
--profile NAME, a dotted one that file's section when it has one, else
a host.
Without a login, or for a section auth skips (a personal access token, no
auth_type) or none, token exits 1 saying "` + notConfiguredText + `"
(older SDKs then try their next credential type) and how to log in.`,
		Example: `  DATABRICKS_CLI_PATH=$(command -v auth) terraform plan
  databricks auth login https://adb-123.4.azuredatabricks.net
  databricks auth token --profile DEFAULT`,
		Annotations: map[string]string{annotationDatabricks: "1"},
		Args:        cobra.NoArgs,
	}
	g.AddCommand(cmds...)
	return g
}

// databricksCommands are the commands of databricksGroup.
func (a *app) databricksCommands() []*cobra.Command {
	return []*cobra.Command{a.loginCommand(), a.tokenCommand(), a.envCommand(), a.describeCommand(), a.profilesCommand(), a.logoutCommand()}
}

// databricksForm reports whether cmd is one of the Databricks forms.
func databricksForm(cmd *cobra.Command) bool {
	p := cmd.Parent()
	return p != nil && p.Annotations[annotationDatabricks] != ""
}

// databricksConfig is the Databricks CLI's own config file, found as the
// Databricks SDKs find it: $DATABRICKS_CONFIG_FILE, else ~/.databrickscfg;
// "" when there is none.
func (a *app) databricksConfig() string {
	path := config.DefaultDatabricksPath(a.getenv)
	if path == "" {
		return ""
	}
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

// databricksSection reports whether the Databricks CLI's config file (as
// the Databricks forms find it) has a section called name, one auth reads
// or one it skips; a file that cannot be read has none.
func (a *app) databricksSection(name string) bool {
	path := a.databricksPath
	if path == "" {
		path = config.DefaultDatabricksPath(a.getenv)
	}
	if path == "" {
		return false
	}
	path, err := a.expandHome(path)
	if err != nil {
		return false
	}
	ps, skipped, err := config.ScanDatabricks(path)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(ps, func(p config.Profile) bool { return p.Name == name }) ||
		slices.ContainsFunc(skipped, func(s config.Skipped) bool { return s.Name == name })
}

// notConfigured gives a Databricks form's "not logged in" the words the
// older Databricks SDKs look for, before auth's own hint.
func notConfigured(err error) error {
	var lr *core.LoginRequiredError
	if errors.As(err, &lr) && lr.Cause == nil {
		return fmt.Errorf("%s: %w", notConfiguredText, err)
	}
	return err
}

// databricksUsage is the one line for a command a `databricks` link does
// not serve.
func databricksUsage(cmd string) string {
	return fmt.Sprintf("auth: %q is not served here: this databricks is a link to dualauth's auth, which serves only `databricks auth login|token|env|describe|profiles|logout` and `databricks version` (the token source of the Databricks SDKs); for other commands install the Databricks CLI", cmd)
}

// runDatabricks runs auth invoked as databricks (a link): the Databricks
// CLI's auth commands and version; any other command exits 2 with one
// line saying what this binary is.
func (a *app) runDatabricks(args []string) int {
	a.as = databricksName
	root := a.rootCommand(args)
	if w := unserved(root, args); w != "" {
		fmt.Fprintln(a.stderr, databricksUsage(w))
		return exitUsage
	}
	return a.execute(root, commandFirst(root, args))
}

// commandFirst puts the command path of args (served: see unserved)
// before the rest when cobra would find another command: it takes the
// word after a flag it does not know for that flag's value, so
// `databricks --debug auth token` would be the unknown command "token".
// As `databricks auth token --debug`, cobra names the unknown flag.
func commandFirst(root *cobra.Command, args []string) []string {
	idx := positions(root, args)
	words := make([]string, len(idx))
	for j, i := range idx {
		words[j] = args[i]
	}
	c, k := commandPath(root, words)
	if found, _, err := root.Find(args); k == 0 || err == nil && found == c {
		return args
	}
	out := make([]string, 0, len(args))
	for _, i := range idx[:k] {
		out = append(out, args[i])
	}
	for i, s := range args {
		if !slices.Contains(idx[:k], i) {
			out = append(out, s)
		}
	}
	return out
}

// unserved is the command of args that root does not serve (at most two
// words, for the message), "" when it serves it: when the words of args
// are a command path of root (`auth`, `auth token`), or a runnable
// command's path and its arguments (`auth token HOST`, `help nonsense`).
// Flags play no part: a served command with a flag it does not know
// (`databricks --debug auth token`) is cobra's to report, exit 2.
func unserved(root *cobra.Command, args []string) string {
	words := positional(root, args)
	c, k := commandPath(root, words)
	if k == len(words) || k > 0 && c.Runnable() {
		return ""
	}
	return strings.Join(words[:min(len(words), 2)], " ")
}

// commandPath is the command that the first k words name from root on,
// as far as they are command names.
func commandPath(root *cobra.Command, words []string) (c *cobra.Command, k int) {
	c = root
	for ; k < len(words); k++ {
		next := subcommand(c, words[k])
		if next == nil {
			break
		}
		c = next
	}
	return c, k
}

// subcommand is c's command named (or aliased) name, nil for none.
func subcommand(c *cobra.Command, name string) *cobra.Command {
	for _, sub := range c.Commands() {
		if sub.Name() == name || sub.HasAlias(name) {
			return sub
		}
	}
	return nil
}

// positional are the words of args that are not flags nor the values of
// root's flags: the command path and its arguments.
func positional(root *cobra.Command, args []string) []string {
	var out []string
	for _, i := range positions(root, args) {
		out = append(out, args[i])
	}
	return out
}

// positions are the indexes in args of the words positional returns.
func positions(root *cobra.Command, args []string) []int {
	var out []int
	for i := 0; i < len(args); i++ {
		s := args[i]
		if s == "--" {
			for j := i + 1; j < len(args); j++ {
				out = append(out, j)
			}
			return out
		}
		if !strings.HasPrefix(s, "-") || s == "-" {
			out = append(out, i)
			continue
		}
		if strings.Contains(s, "=") {
			continue
		}
		var f *pflag.Flag
		if name, ok := strings.CutPrefix(s, "--"); ok {
			f = root.PersistentFlags().Lookup(name)
		} else if len(s) == 2 {
			f = root.PersistentFlags().ShorthandLookup(s[1:])
		}
		if f != nil && f.NoOptDefVal == "" {
			i++ // its value
		}
	}
	return out
}
