package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native/config"
	"github.com/spf13/cobra"
)

// jsonString is s as a JSON string literal.
func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

func (a *app) tokenCommand() *cobra.Command {
	var (
		clientID, accountID, output string
		force                       bool
		minTTL                      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "token [HOST|PROFILE]",
		Short: "Print a valid access token (refreshed if needed)",
		Long: `Print a valid access token for a login made with "auth login".

The token comes from the cache when it is still valid (no network, no lock).
Otherwise it is refreshed with the refresh token under that login's lock, which
every auth process takes, so parallel calls refresh once (other logins never
wait for it). Only the token goes to stdout:
JSON {"access_token", "token_type", "expiry"} by default, the bare token with
-o text. The refresh token is never printed. A HOST URL inside a protected
resource's login (https://mcp.example.com/mcp/x for the login of
https://mcp.example.com/mcp) is that login, the longest resource first; so
for auth exec, auth env and auth api.

A profile saved with a grant (grant = client_credentials or token_exchange,
for CI jobs and services) that has no login yet logs in here, without a
person: with $DUALAUTH_CLIENT_SECRET (or the secret of a Databricks CLI
config file), the profile's client_key or its subject_token source — never
a prompt or stdin. The grant is made under the login's lock (parallel
first calls make one) and saved as "auth login" saves it. Without any of
them it exits 1 and says to run "auth login … --client-secret-stdin". The
same holds for auth env, auth exec and auth api.

-o exec-credential prints a Kubernetes ExecCredential, for kubectl's exec
credential plugins, in the apiVersion kubectl asks for in
KUBERNETES_EXEC_INFO (client.authentication.k8s.io/v1 when it is unset, or
v1beta1). It never prompts: without a valid login it exits 1 and says to run
auth login. In ~/.kube/config:

  users:
  - name: work
    user:
      exec:
        apiVersion: client.authentication.k8s.io/v1
        command: auth
        args: [token, https://idp.example.com, -o, exec-credential]
        interactiveMode: Never

(kubectl older than 1.22: apiVersion client.authentication.k8s.io/v1beta1,
without interactiveMode.)

kubectl sends the token as a bearer token. For a login whose tokens are
bound to a DPoP key (auth login --dpop), -o exec-credential prints nothing
and exits 1 with one line saying so, from the cache alone (no network, no
lock): log in for kubectl with --dpop never. The JSON and text outputs
give a DPoP login's token as it is ("token_type": "DPoP"); it works only
with a proof (auth api, auth proof).`,
		Example: `  auth token https://idp.example.com
  auth token https://idp.example.com -o text
  TOKEN=$(auth token https://idp.example.com -o text)
  auth token https://idp.example.com --force-refresh
  auth token work                      # the host and client of profile "work"
  auth token                           # the default profile
  auth token work -o exec-credential   # for kubectl (see above)
  auth token work --min-ttl 30m        # good for at least 30 more minutes
  DUALAUTH_CLIENT_SECRET="$SECRET" auth token ci   # a grant profile's first token`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kubeVersion := ""
			output, err := a.outputFormat(output, "text", "json", "exec-credential")
			if err != nil {
				return err
			}
			if output == "exec-credential" {
				v, err := execCredentialVersion(a.getenv("KUBERNETES_EXEC_INFO"))
				if err != nil {
					return err
				}
				kubeVersion = v
			}
			rs, o, err := a.resolveOptions(cmd, args)
			var np *config.NoProfileError
			if a.databricksForm && errors.As(err, &np) {
				// A profile of the Databricks CLI's config file that auth
				// skips (a PAT…), or none: the SDKs try their next
				// credential type on these words.
				return fmt.Errorf("%s: %w", notConfiguredText, np)
			}
			if err != nil {
				return err
			}
			// No signal handler: Ctrl-C may simply kill a refresh, the
			// kernel drops the lock and the cache is replaced atomically.
			// Not installing one keeps the fast path short.
			var e *core.Entry
			if kubeVersion != "" {
				e, err = a.bearerToken(context.Background(), cmd, rs, o, force, minTTL, "kubectl can only send bearer tokens")
			} else {
				e, err = a.freshToken(context.Background(), cmd, rs, o, force, minTTL)
			}
			if err != nil && a.databricksForm {
				return notConfigured(err)
			}
			if err != nil {
				return err
			}
			if kubeVersion != "" {
				_, err = io.WriteString(a.stdout, execCredential(kubeVersion, e))
				return err
			}
			if output == "text" {
				_, err = fmt.Fprintln(a.stdout, e.AccessToken)
				return err
			}
			// The same bytes json.MarshalIndent gives for the three fields,
			// written out: building a struct encoder by reflection is a
			// measurable part of this hot path.
			var b strings.Builder
			b.WriteString("{\n  \"access_token\": " + jsonString(e.AccessToken) + ",\n  \"token_type\": " + jsonString(e.TokenType))
			if !e.Expiry.IsZero() {
				b.WriteString(",\n  \"expiry\": " + jsonString(e.Expiry.Format(time.RFC3339)))
			}
			b.WriteString("\n}\n")
			_, err = io.WriteString(a.stdout, b.String())
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&clientID, "client-id", "", "OAuth client of the login (default: the only client logged in to HOST)")
	f.StringVar(&accountID, "account-id", "", "Databricks account ID (account console logins)")
	f.StringVarP(&output, "output", "o", "json", "output format: json, text (the bare token; table names it too) or exec-credential (for kubectl)")
	f.BoolVar(&force, "force-refresh", false, "refresh even if the cached token is still valid")
	addMinTTL(f, &minTTL)
	return cmd
}
