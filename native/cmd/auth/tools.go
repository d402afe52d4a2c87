package main

import (
	"context"
	"strconv"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
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
	f.DurationVar(d, "min-ttl", 0, "refresh the token when less than this is left, e.g. 30m for a long job (default: a minute before it expires)")
}

// freshToken is the token path of `auth token`: the cached token when it is
// valid for minTTL more (no network, no lock, no keyring), else a refresh
// under the lock.
func freshToken(ctx context.Context, o native.Options, force bool, minTTL time.Duration) (*core.Entry, error) {
	return native.Token(ctx, native.TokenOptions{Options: o, Force: force, MinTTL: minTTL})
}

// exitError ends auth with code after the command has said what it had to
// (or, for auth exec, with the command's own status); run prints nothing more.
type exitError struct{ code int }

func (e exitError) Error() string { return "exit status " + strconv.Itoa(e.code) }
