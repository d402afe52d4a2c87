package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/spf13/cobra"
)

func (a *app) logoutCommand() *cobra.Command {
	var (
		clientID, accountID string
		del                 bool
	)
	cmd := &cobra.Command{
		Use:   "logout [HOST|PROFILE]",
		Short: "Remove a login and revoke its refresh token",
		Long: `Remove the cached login for HOST. When the server has a revocation
endpoint (RFC 7009), the refresh token is revoked too; if that fails, the
local login is still removed and a warning says so.`,
		Example: `  auth logout https://idp.example.com
  auth logout https://idp.example.com --client-id my-cli
  auth logout --profile work --delete    # also remove the profile`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := a.resolve(cmd, args)
			if err != nil {
				return err
			}
			t := rs.target()
			if del && (rs.Profile.Value == "" || strings.HasPrefix(rs.Profile.Source, "profile for this host")) {
				return usagef("--delete removes a profile: name it with --profile NAME (or as the argument)")
			}
			if rp := rs.resolved.Profile; del && rp != nil && rp.Origin != "" {
				return usagef("profile %s is read from %s, which auth never changes: remove it there (auth logout %s, without --delete, removes the login)", rp.Name, rp.Origin, rp.Name)
			}
			o, err := a.options(t, rs.ClientID.Value)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			_, err = native.Logout(ctx, o)
			switch {
			case err == nil:
				fmt.Fprintf(a.stderr, "Logged out of %s\n", t.Host)
			case del && errors.Is(err, core.ErrNotLoggedIn):
				fmt.Fprintf(a.stderr, "Not logged in to %s\n", t.Host)
			default:
				return err
			}
			if del {
				rs.file.Delete(rs.Profile.Value)
				if err := rs.file.Save(); err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "Deleted profile %s from %s\n", rs.Profile.Value, rs.file.Path)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&clientID, "client-id", "", "OAuth client of the login (default: the only client logged in to HOST)")
	cmd.Flags().StringVar(&accountID, "account-id", "", "Databricks account ID (account console logins)")
	cmd.Flags().BoolVar(&del, "delete", false, "also delete the profile named by --profile (or the argument)")
	return cmd
}
