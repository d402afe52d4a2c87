//go:build js && wasm

package main

import (
	"fmt"

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

// storedClient is the client of the login of t in this origin, picked by
// the core (core.PickClient) from the token-free summaries mirrored to
// localStorage (or, when the mirror has none, from the entries in
// IndexedDB): a login by URL alone need not make the page remember a
// registered client ID.
func (d *driver) storedClient(t core.Target) (string, error) {
	var logins []core.LoginSummary
	for _, si := range d.local.sessions() {
		logins = append(logins, si.login())
	}
	id, err := core.PickClient(t, "", logins)
	if err == nil && id == "" {
		// The mirror is a copy for other tabs' storage events, and a page
		// may have cleared it (localStorage.clear()): IndexedDB is the
		// authoritative store, so a login there is still found — and a
		// logout still removes it and revokes its refresh token.
		entries, _ := d.tokens.entries() // none readable: none to pick
		id, err = core.PickClient(t, "", core.SummarizeLogins(entries))
	}
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: %w: pass clientId", errBadArgument, err)
	case id == "":
		return "", &core.LoginRequiredError{Host: t.Host}
	}
	return id, nil
}

// loginForURL is the host of the stored login whose RFC 8707 resource
// contains rawURL (see core.LoginForURL), "" when there is none: from the
// summaries mirrored to localStorage, or, when none of them contains it,
// from the entries in IndexedDB (the authoritative store; a page may have
// cleared the mirror), as storedClient does.
func (d *driver) loginForURL(rawURL string) string {
	logins := map[string]string{}
	for _, si := range d.local.sessions() {
		if si.Resource != "" && si.Host != "" {
			logins[si.Resource] = si.Host
		}
	}
	if h := core.LoginForURL(logins, rawURL); h != "" {
		return h
	}
	entries, _ := d.tokens.entries() // none readable: no login for it
	return core.LoginForURL(core.ResourceLogins(entries), rawURL)
}
