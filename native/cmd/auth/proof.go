package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/dualauth/dualauth/core"
	"github.com/spf13/cobra"
)

func (a *app) proofCommand() *cobra.Command {
	var (
		lf                         loginFlags
		method, target, nonce, out string
	)
	cmd := &cobra.Command{
		Use:   "proof [HOST|PROFILE] --method M --url U [--nonce N]",
		Short: "Print a DPoP proof for one request with the login's token",
		Long: `Print a DPoP proof (RFC 9449) for one request to an API, for scripts that
send requests themselves. It applies to a login whose tokens are bound to a
key ("auth login --dpop always", or auto when the server and resource call
for it; "auth token" then shows "token_type": "DPoP"). The proof is signed
with the login's private key, which never leaves the OS keyring or its 0600
file, and names the method, the URL without query and fragment, the hash of
the current access token (refreshed first if needed) and the nonce: --nonce,
else the last one the resource sent. A proof is for one request only.

-o text (the default) prints the proof alone; -o headers prints the two
request headers, "Authorization: DPoP TOKEN" and "DPoP: PROOF", for curl's
-H @- (token and proof then always match). When the resource answers 401
with error="use_dpop_nonce", make a new proof with --nonce set to its
DPoP-Nonce header. "auth api" does all of this by itself.`,
		Example: `  auth proof work --method GET --url https://api.example.com/v1/items -o headers |
    curl -H @- https://api.example.com/v1/items
  curl -H "Authorization: DPoP $(auth token work -o text)" \
       -H "DPoP: $(auth proof work --method POST --url https://api.example.com/v1/items)" \
       -d '{}' https://api.example.com/v1/items`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := a.outputFormat(out, "text", "headers")
			if err != nil {
				return err
			}
			if method == "" || target == "" {
				return usagef("auth proof needs --method and --url")
			}
			if !core.HTTPToken(method) {
				return usagef("%s %q is not an HTTP method", a.flagName("method"), method)
			}
			if err := core.CheckURL(target); err != nil { // absolute, with a host
				return usageError{err}
			}
			rs, o, err := a.resolveOptions(cmd, args)
			if err != nil {
				return err
			}
			e, err := a.freshToken(context.Background(), cmd, rs, o, false, lf.minTTL)
			if err != nil {
				return err
			}
			if e.DPoP == nil {
				return fmt.Errorf("the login of %s uses Bearer tokens, which need no proof: log in with --dpop always to bind its tokens to a key", o.Target.Host)
			}
			p, err := o.Proof(e, strings.ToUpper(method), target, nonce)
			if err != nil {
				return err
			}
			if out == "headers" {
				_, err = fmt.Fprintf(a.stdout, "Authorization: %s\nDPoP: %s\n", core.Authorization(e.Token()), p)
				return err
			}
			_, err = fmt.Fprintln(a.stdout, p)
			return err
		},
	}
	f := cmd.Flags()
	lf.add(f)
	f.StringVar(&method, "method", "", "HTTP method of the request (GET, POST…)")
	f.StringVar(&target, "url", "", "URL of the request (query and fragment are left out of the proof)")
	f.StringVar(&nonce, "nonce", "", "the resource's DPoP-Nonce to put in the proof (default: the last one it sent)")
	f.StringVarP(&out, "output", "o", "text", "output: text (the proof) or headers (Authorization and DPoP lines for curl -H @-)")
	return cmd
}
