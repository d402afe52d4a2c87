package main

import (
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

const execLong = `Run CMD with a valid access token of the login in its environment:

  DUALAUTH_TOKEN         the access token (refreshed first if needed)
  DUALAUTH_TOKEN_EXPIRY  when it expires (RFC 3339), if known
  DUALAUTH_HOST          the host of the login
  DATABRICKS_HOST, DATABRICKS_TOKEN
                         the same, for Databricks hosts, known by name or
                         by what the host said at login (the Databricks
                         CLI and SDKs read them)

Everything else in the environment is passed on unchanged. auth prints
nothing on stdout: what you see is CMD's. On Linux and macOS auth becomes
CMD (exec), so CMD receives every signal sent to it (Ctrl-C, kill) and its
exit status is auth's; elsewhere auth runs CMD, passes Ctrl-C on and exits
with CMD's status. When CMD cannot be started, auth exits 127 (not found)
or 126 (not executable), as shells do.

The token is not renewed while CMD runs: for a long job, ask for one that
lasts with --min-ttl.

CMD gets a bearer token: for a login whose tokens are bound to a DPoP key
(auth login --dpop), auth exec runs nothing and exits 1 with one line
saying so, without a request. Log in with --dpop never, or call the API
with auth api or auth proof.`

func (a *app) execCommand() *cobra.Command {
	var lf loginFlags
	cmd := &cobra.Command{
		Use:   "exec [HOST|PROFILE] -- CMD [ARGS...]",
		Short: "Run a command with a valid access token in its environment",
		Long:  execLong,
		Example: `  auth exec work -- sh -c 'curl -H "Authorization: Bearer $DUALAUTH_TOKEN" https://api.example.com/'
  auth exec https://adb-123.azuredatabricks.net -- databricks clusters list
  auth exec work --min-ttl 2h -- ./nightly-job.sh`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			switch {
			case dash < 0:
				return usagef("put -- before the command: auth exec [HOST|PROFILE] -- CMD [ARGS...]")
			case dash > 1:
				return usagef("auth exec takes one HOST or PROFILE before --, got %d arguments", dash)
			case dash == len(args):
				return usagef("no command after --: auth exec [HOST|PROFILE] -- CMD [ARGS...]")
			}
			rs, o, err := a.resolveOptions(cmd, args[:dash])
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			e, err := a.bearerToken(ctx, cmd, rs, o, false, lf.minTTL, "auth exec can only hand CMD a bearer token")
			stop()
			if err != nil {
				return err
			}
			vars := map[string]string{"DUALAUTH_TOKEN": e.AccessToken, "DUALAUTH_HOST": rs.Host.Value}
			if !e.Expiry.IsZero() {
				vars["DUALAUTH_TOKEN_EXPIRY"] = e.Expiry.Format(time.RFC3339)
			}
			if rs.databricksLogin(e) {
				vars["DATABRICKS_HOST"], vars["DATABRICKS_TOKEN"] = rs.Host.Value, e.AccessToken
			}
			return a.runCommand(args[dash], args[dash+1:], childEnv(os.Environ(), vars))
		},
	}
	lf.add(cmd.Flags())
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		// Most likely a flag of CMD, given without the -- before it.
		return usagef("%v (put -- before the command: auth exec [HOST|PROFILE] -- CMD [ARGS...])", err)
	})
	return cmd
}

// childEnv is env with vars set, each once (an inherited value of the same
// name is replaced, not shadowed by a second entry).
func childEnv(env []string, vars map[string]string) []string {
	out := slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		_, ours := vars[k]
		// The client secret auth may have logged in with is auth's, not
		// the command's (S33).
		return ours || k == envClientSecret
	})
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}
