package main

import (
	"fmt"
	"strings"

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
local login is still removed and a warning says so.

Profiles of the same host, client and account share one login: logging
out one logs out the others too, and auth names them. A logout when
there is no login (a second one, say) says so and exits 0.

--delete also deletes the profile, which must be named (the argument or
--profile): never the default profile or one matched by its host.`,
		Example: `  auth logout https://idp.example.com
  auth logout https://idp.example.com --client-id my-cli
  auth logout work
  auth logout work --delete              # also remove the profile`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := a.resolve(cmd, args)
			if err != nil {
				return err
			}
			t := rs.target()
			if del && (rs.Profile.Value == "" || !rs.resolved.Named) {
				// Never the default profile, nor one that merely has this host.
				return usagef("%s removes a profile: name it, as in `auth logout NAME --delete` or `auth logout --profile NAME --delete`", a.flagName("delete"))
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
			e, err := native.Logout(ctx, o)
			switch {
			case err != nil:
				return err
			case e == nil:
				// Nothing was stored (core.Logout): what the user asked for
				// is the case, so a repeated logout, or a script's, succeeds.
				fmt.Fprintf(a.stderr, "Already logged out of %s (no login in the cache)\n", t.Host)
			default:
				fmt.Fprintf(a.stderr, "Logged out of %s%s\n", t.Host, ended(rs.sharers(e.ClientID)))
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

// ended completes "Logged out of HOST" with the other profiles whose login
// that was.
func ended(others []string) string {
	if len(others) == 0 {
		return ""
	}
	return "; profiles sharing this login (same host and client) are logged out too: " + oneLine(strings.Join(others, ", ")) // names from files (S37)
}
