package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/spf13/cobra"
)

// resolveTarget finds out what the login's host is (see core.Resolve),
// with the resource given with the login (--resource), says so on stderr,
// and fills in the settings nothing else gave: client, scopes and
// redirect URI of that kind of target. Without a client and without a
// server that lets one register, it is a usage error. The login is then
// kept under the resolution's LoginTarget.
func (a *app) resolveTarget(ctx context.Context, cmd *cobra.Command, rs *settings, o native.Options) (*core.Resolution, error) {
	o.Target, o.Resource = rs.hostTarget(), rs.Resource.Value
	res, err := native.Resolve(ctx, o)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(a.stderr, "Found: %s\n", core.Sanitize(describeResolution(res)))
	if rs.ClientID.Value == "" && res.ClientID != "" {
		rs.ClientID = setting{res.ClientID, res.ClientIDFrom}
	}
	rs.targetScopes(res)
	if rs.RedirectURI.Value == "" && res.RedirectURI != "" && a.flagSource(cmd, "port") == "" {
		rs.RedirectURI = setting{res.RedirectURI, "default for Databricks hosts"}
	}
	if rs.ClientID.Value == "" && res.Metadata.RegistrationEndpoint == "" {
		return nil, usagef("%s gives no client ID and does not let clients register themselves (no registration_endpoint): pass --client-id with the OAuth client registered for this CLI", core.Sanitize(res.Issuer))
	}
	return res, nil
}

// targetScopes: where nothing set the scopes, a login asks for the ones
// its target wants (a protected resource's, from its metadata or 401)
// when they are not the default ones. The login applies it to what it
// found; describe to what the cached login found.
func (s *settings) targetScopes(res *core.Resolution) {
	if s.Scopes.Source != "default" || res == nil {
		return
	}
	if want := strings.Join(core.LoginScopes(nil, res, s.target()), " "); !sameScopes(s.Scopes.Value, want) {
		s.Scopes = setting{want, "default for a " + res.Kind.Describe()}
	}
}

// describeResolution is the one line that says what a login target is and
// where that came from.
func describeResolution(r *core.Resolution) string {
	switch {
	case r.Kind == core.KindResource:
		return fmt.Sprintf("protected resource %s (%s) → issuer %s", r.Resource, r.KindFrom, r.Issuer)
	case r.Kind.Databricks():
		acct := ""
		if r.AccountID != "" {
			acct = ", account " + r.AccountID
		}
		return fmt.Sprintf("%s (%s%s) → issuer %s", r.Kind.Describe(), r.KindFrom, acct, r.Issuer)
	}
	return fmt.Sprintf("%s %s (%s)", r.Kind.Describe(), r.Issuer, r.KindFrom)
}
