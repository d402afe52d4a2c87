package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) envCommand() *cobra.Command {
	var clientID, accountID, output, shell string
	cmd := &cobra.Command{
		Use:   "env [HOST|PROFILE]",
		Short: "Print shell commands that export the host and a fresh token",
		Long: `Print commands that set DUALAUTH_HOST and DUALAUTH_TOKEN (a valid access
token, refreshed if needed) — plus DATABRICKS_HOST and DATABRICKS_TOKEN for
Databricks hosts, known by name or by what the host said at login (custom
and private-link names) — for eval in a shell. Tokens expire: run it again when
they do. With -o json, a JSON object of the same variables.

Whatever reads the variables sends the token as a bearer token: for a
login whose tokens are bound to a DPoP key (auth login --dpop), auth env
prints nothing and exits 1 with one line saying so, without a request.
Log in with --dpop never, or call the API with auth api or auth proof.`,
		Example: `  eval "$(auth env work)"
  auth env https://idp.example.com --shell fish | source
  auth env --shell powershell | Invoke-Expression
  auth env work -o json`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// text, as auth token calls its plain output (e.g. from
			// $DUALAUTH_OUTPUT), and table are the shell form too.
			output, err := a.outputFormat(output, "shell", "json")
			if err != nil {
				return err
			}
			if shell, err = a.shellSyntax(shell); err != nil {
				return err
			}
			rs, o, err := a.resolveOptions(cmd, args)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			e, err := a.bearerToken(ctx, cmd, rs, o, false, 0, "auth env can only export bearer tokens")
			if err != nil {
				return err
			}
			vars := [][2]string{{"DUALAUTH_HOST", rs.Host.Value}, {"DUALAUTH_TOKEN", e.AccessToken}}
			if !e.Expiry.IsZero() {
				vars = append(vars, [2]string{"DUALAUTH_TOKEN_EXPIRY", e.Expiry.Format(time.RFC3339)})
			}
			if rs.databricksLogin(e) {
				vars = append(vars, [2]string{"DATABRICKS_HOST", rs.Host.Value}, [2]string{"DATABRICKS_TOKEN", e.AccessToken})
			}
			if output == "json" {
				m := map[string]string{}
				for _, v := range vars {
					m[v[0]] = v[1]
				}
				b, _ := json.MarshalIndent(m, "", "  ")
				_, err := fmt.Fprintf(a.stdout, "%s\n", b)
				return err
			}
			var b strings.Builder
			for _, v := range vars {
				b.WriteString(exportLine(shell, v[0], v[1]))
			}
			_, err = fmt.Fprint(a.stdout, b.String())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&clientID, "client-id", "", "OAuth client of the login")
	f.StringVar(&accountID, "account-id", "", "Databricks account ID")
	f.StringVarP(&output, "output", "o", "shell", "output format: shell (text and table are the same) or json")
	f.StringVar(&shell, "shell", "sh", "shell syntax: sh (also bash, zsh, ksh, dash, ash), fish, or powershell (also pwsh)")
	return cmd
}

// shellSyntaxes are the syntaxes --shell names, each with the shells that
// speak it: the check, its message and completion all read this list.
// A function: no package-level value to set up at init (auth token's path).
func shellSyntaxes() [][]string {
	return [][]string{
		{"sh", "bash", "zsh", "ksh", "dash", "ash"},
		{"fish"},
		{"powershell", "pwsh"},
	}
}

// shellSyntax is the syntax --shell names: sh, fish or powershell, or a
// shell that speaks one of them.
func (a *app) shellSyntax(shell string) (string, error) {
	var names []string
	for _, s := range shellSyntaxes() {
		if slices.Contains(s, strings.ToLower(shell)) || s[0] == "sh" && strings.EqualFold(shell, "posix") {
			return s[0], nil
		}
		name := s[0]
		if len(s) > 1 {
			name += " (or " + strings.Join(s[1:], ", ") + ")"
		}
		names = append(names, name)
	}
	return "", usagef("%s must be %s or %s, not %q", a.flagName("shell"), strings.Join(names[:len(names)-1], ", "), names[len(names)-1], shell)
}

// exportLine sets name to value in the given shell, quoted so that no
// character of the value is interpreted.
func exportLine(shell, name, value string) string {
	switch shell {
	case "fish":
		q := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(value)
		return fmt.Sprintf("set -gx %s '%s';\n", name, q)
	case "powershell":
		// PowerShell also ends a '…' string at the typographic quotes
		// U+2018–U+201B; each is escaped by doubling, like '.
		q := strings.NewReplacer("'", "''", "\u2018", "\u2018\u2018", "\u2019", "\u2019\u2019", "\u201a", "\u201a\u201a", "\u201b", "\u201b\u201b").Replace(value)
		return fmt.Sprintf("$Env:%s = '%s'\n", name, q)
	}
	return fmt.Sprintf("export %s='%s'\n", name, strings.ReplaceAll(value, "'", `'\''`))
}
