//go:build js && wasm

package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/dualauth/dualauth/core"
)

// resolveTarget runs the core's target resolution for a login, with the
// resource the page gave, if any (see core.ResolveConfig.Resource).
func (d *driver) resolveTarget(t core.Target, resource string) (*core.Resolution, error) {
	m := core.NewResolve(core.ResolveConfig{Target: t, Resource: resource})
	if done := d.run(m, core.Start{Now: d.clock()}); done.Err != nil {
		return nil, done.Err
	}
	return m.Result(), nil
}

// storedClient is the client of the only login of t in this origin (from
// the token-free summaries mirrored to localStorage): a login by URL alone
// need not make the page remember a registered client ID.
func (d *driver) storedClient(t core.Target) (string, error) {
	prefixes := core.IssuerKeys(t, "")
	var ids []string
	for _, k := range d.local.keys(sessionPrefix) {
		raw, ok := d.local.get(k)
		if !ok {
			continue
		}
		var si sessionInfo
		if json.Unmarshal([]byte(raw), &si) != nil || si.ClientID == "" {
			continue
		}
		key := strings.TrimPrefix(k, sessionPrefix)
		mine := si.Host == t.Host || slices.ContainsFunc(prefixes, func(p string) bool { return key == p+si.ClientID })
		if mine && !slices.Contains(ids, si.ClientID) {
			ids = append(ids, si.ClientID)
		}
	}
	switch len(ids) {
	case 0:
		return "", &core.LoginRequiredError{Host: t.Host}
	case 1:
		return ids[0], nil
	}
	slices.Sort(ids)
	return "", fmt.Errorf("%w: several clients are logged in to %s (%s): pass clientId", errBadArgument, t.Host, strings.Join(ids, ", "))
}

// loginForURL is the host of the stored login whose RFC 8707 resource
// contains rawURL (see core.LoginForURL), "" when there is none.
func (d *driver) loginForURL(rawURL string) string {
	logins := map[string]string{}
	for _, k := range d.local.keys(sessionPrefix) {
		raw, ok := d.local.get(k)
		var si sessionInfo
		if !ok || json.Unmarshal([]byte(raw), &si) != nil || si.Resource == "" || si.Host == "" {
			continue
		}
		logins[si.Resource] = si.Host
	}
	return core.LoginForURL(logins, rawURL)
}
