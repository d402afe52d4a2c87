package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// loginFlags are the flags of every command that hands a token to another
// tool (git-credential, exec, api): which login, and how long its token
// must still be good for.
type loginFlags struct {
	clientID, accountID string
	minTTL              time.Duration
}

func (l *loginFlags) add(f *pflag.FlagSet) {
	f.StringVar(&l.clientID, "client-id", "", "OAuth client of the login (default: the only client logged in to HOST)")
	f.StringVar(&l.accountID, "account-id", "", "Databricks account ID (account console logins)")
	addMinTTL(f, &l.minTTL)
}

func addMinTTL(f *pflag.FlagSet, d *time.Duration) {
	f.Var((*minTTLValue)(d), "min-ttl", "refresh the token when less than this is left, e.g. 30m for a long job (default: a minute before it expires)")
}

// minTTLValue is --min-ttl: a duration that cannot be negative (a token
// "valid for at least -5m more" would be one that expired 5 minutes ago).
type minTTLValue time.Duration

func (d *minTTLValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("it cannot be negative: it is how long the token must still be valid, e.g. 30m (0: the default)")
	}
	*d = minTTLValue(v)
	return nil
}

func (d *minTTLValue) String() string {
	if *d == 0 {
		return "0" // as pflag shows no default for a zero duration
	}
	return time.Duration(*d).String()
}

func (d *minTTLValue) Type() string { return "duration" }

// freshToken is the token path of `auth token`: the cached token when it is
// valid for minTTL more (no network, no lock, no keyring), else a refresh
// under the lock. A profile saved with a grant and no login yet makes its
// first login here when it can do so without a person (firstGrant); rs nil
// skips that.
func (a *app) freshToken(ctx context.Context, cmd *cobra.Command, rs *settings, o native.Options, force bool, minTTL time.Duration) (*core.Entry, error) {
	// The Databricks forms' --force-refresh asks for a freshly minted
	// token, which one obtained just now is (ForceSharesNew).
	return a.tokenOrGrant(ctx, cmd, rs, native.TokenOptions{Options: o, Force: force, ForceSharesNew: a.databricksForm, MinTTL: minTTL})
}

func (a *app) tokenOrGrant(ctx context.Context, cmd *cobra.Command, rs *settings, to native.TokenOptions) (*core.Entry, error) {
	e, err := native.Token(ctx, to)
	if err == nil {
		return e, nil
	}
	made, err := a.firstGrant(ctx, cmd, rs, err)
	if !made {
		return nil, err
	}
	to.Force = false // the token was just made
	return native.Token(ctx, to)
}

// bearerToken is freshToken for a tool that can send the token only as a
// bearer token (tool: "kubectl", "git", …). A login whose tokens are bound
// to a DPoP key is refused on the same fast path (no network, no lock, no
// keyring): such a token fails at every API that checks the binding.
func (a *app) bearerToken(ctx context.Context, cmd *cobra.Command, rs *settings, o native.Options, force bool, minTTL time.Duration, tool string) (*core.Entry, error) {
	e, err := a.tokenOrGrant(ctx, cmd, rs, native.TokenOptions{Options: o, Force: force, MinTTL: minTTL, BearerOnly: true})
	var be *core.DPoPBoundError
	if errors.As(err, &be) {
		return nil, fmt.Errorf("the tokens of the login to %s are bound to a DPoP key; %s: log in again with --dpop never, or call the API with `auth api` / `auth proof`", be.Host, tool)
	}
	return e, err
}

// exitError ends auth with code after the command has said what it had to
// (or, for auth exec, with the command's own status); run prints nothing more.
type exitError struct{ code int }

func (e exitError) Error() string { return "exit status " + strconv.Itoa(e.code) }
