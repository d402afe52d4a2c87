package main

import (
	"fmt"

	"github.com/dualauth/dualauth/native"
	"github.com/spf13/cobra"
)

func (a *app) logoutCommand() *cobra.Command {
	var clientID, accountID string
	cmd := &cobra.Command{
		Use:   "logout HOST",
		Short: "Remove a login and revoke its refresh token",
		Long: `Remove the cached login for HOST. When the server has a revocation
endpoint (RFC 7009), the refresh token is revoked too; if that fails, the
local login is still removed and a warning says so.`,
		Example: `  auth logout https://idp.example.com
  auth logout https://idp.example.com --client-id my-cli`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := a.target(args, accountID)
			if err != nil {
				return err
			}
			o, err := a.options(t, clientID)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			if _, err := native.Logout(ctx, o); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "Logged out of %s\n", t.Host)
			return nil
		},
	}
	cmd.Flags().StringVar(&clientID, "client-id", "", "OAuth client of the login (default: the only client logged in to HOST)")
	cmd.Flags().StringVar(&accountID, "account-id", "", "Databricks account ID (account console logins)")
	return cmd
}
