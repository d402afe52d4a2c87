package core

import (
	"errors"
	"fmt"
)

type logoutPhase int

const (
	logoutIdle logoutPhase = iota
	logoutLoading
	logoutLocking
	logoutReloading
	logoutDeleting
	logoutRevoking
	logoutDone
)

// Logout removes a login: Load → Lock → Load again (what is under the lock
// is what gets revoked; a store may only hand out the refresh token to the
// lock holder) → Delete → DropKey of its DPoP key → Unlock → Fetch
// revocation (RFC 7009) when the server has an endpoint → Done. The local
// entry goes first, so a slow or failing revocation never keeps a login
// around; a failed revocation is a [Warn]. A stored entry that cannot be
// read ([ErrUnreadableEntry]) is removed all the same.
//
// With no login stored (a second logout, one in another process that came
// first) the user already has what they asked for: Done has neither Err
// nor Entry, and both targets say "already logged out".
type Logout struct {
	target Target
	client Client
	phase  logoutPhase
	key    string
	entry  Entry
}

// NewLogout returns a logout machine that begins with [Start].
func NewLogout(t Target, c Client) *Logout { return &Logout{target: t, client: c} }

func (l *Logout) done(err error) []Effect {
	l.phase = logoutDone
	if err != nil {
		return []Effect{Done{Err: err}}
	}
	e := l.entry
	return []Effect{Done{Entry: &e}}
}

// Step advances the logout by one event.
func (l *Logout) Step(ev Event) []Effect {
	switch ev := ev.(type) {
	case Start:
		if l.phase == logoutIdle {
			l.phase = logoutLoading
			return []Effect{Load{Keys: IssuerKeys(l.target, l.client.ID)}}
		}
	case Loaded:
		if l.phase == logoutReloading {
			if ev.Err != nil {
				// The entry cannot be read in full (say, a locked keyring
				// holds its refresh token): the login still goes, and
				// what can be revoked is what was read before the lock.
				l.phase = logoutDeleting
				msg := fmt.Sprintf("could not read the refresh token to revoke it (%v)", ev.Err)
				if l.entry.AccessToken == "" && l.entry.RefreshToken == "" {
					msg = "removing a stored login that cannot be read; nothing of it could be revoked at the server"
				}
				return []Effect{Warn{Message: msg}, Delete{Key: l.key}}
			}
			if ev.Entry == nil {
				l.phase = logoutDone
				return []Effect{Unlock{l.key}, Done{}} // logged out meanwhile
			}
			l.entry = *ev.Entry
			l.phase = logoutDeleting
			return []Effect{Delete{Key: l.key}}
		}
		if l.phase == logoutLoading {
			if ev.Err != nil && errors.Is(ev.Err, ErrUnreadableEntry) && ev.Key != "" {
				// A damaged entry is still removed: logging out is the
				// way out of it. Nothing of it can be revoked.
				l.key = ev.Key
				l.phase = logoutLocking
				return []Effect{Lock{Key: l.key}}
			}
			if ev.Err != nil {
				return l.done(fmt.Errorf("reading the token cache: %w", ev.Err))
			}
			if ev.Entry == nil {
				l.phase = logoutDone
				return []Effect{Done{}} // nothing to remove
			}
			l.key, l.entry = ev.Key, *ev.Entry
			l.phase = logoutLocking
			return []Effect{Lock{Key: l.key}}
		}
	case Locked:
		if l.phase == logoutLocking {
			if ev.Err != nil {
				return l.done(fmt.Errorf("waiting for the token cache lock: %w", ev.Err))
			}
			l.phase = logoutReloading
			return []Effect{Load{Keys: []string{l.key}}}
		}
	case Saved:
		if l.phase == logoutDeleting {
			if ev.Err != nil {
				l.phase = logoutDone
				return []Effect{Unlock{l.key}, Done{Err: fmt.Errorf("removing the login: %w", ev.Err)}}
			}
			out := append(dropKey(l.entry.DPoP), Unlock{l.key})
			tok, hint := l.entry.RefreshToken, "refresh_token"
			if tok == "" {
				tok, hint = l.entry.AccessToken, "access_token"
			}
			if l.entry.Metadata.RevocationEndpoint == "" || tok == "" {
				return append(out, l.done(nil)...)
			}
			l.phase = logoutRevoking
			return append(out, Fetch{Request: l.client.RevokeRequest(l.entry.Metadata.RevocationEndpoint, tok, hint)})
		}
	case Aborted:
		if l.phase == logoutReloading || l.phase == logoutDeleting {
			l.phase = logoutDone
			return []Effect{Unlock{l.key}, Done{Err: ev.Err}}
		}
		if l.phase == logoutRevoking {
			// The local login is already gone: the user is logged out.
			return append([]Effect{Warn{Message: fmt.Sprintf("logged out locally; revoking the token at the server was interrupted (%v)", ev.Err)}}, l.done(nil)...)
		}
		return l.done(ev.Err)
	case Fetched:
		if l.phase == logoutRevoking {
			var warn string
			switch {
			case ev.Err != nil:
				warn = fmt.Sprintf("logged out locally, but could not reach %s to revoke the token: %v", l.entry.Metadata.RevocationEndpoint, ev.Err)
			case ev.Response.Status != 200:
				warn = fmt.Sprintf("logged out locally, but the server refused to revoke the token (HTTP %d)", ev.Response.Status)
			}
			if warn != "" {
				return append([]Effect{Warn{Message: warn}}, l.done(nil)...)
			}
			return l.done(nil)
		}
	}
	return l.done(fmt.Errorf("logout: unexpected %T in phase %d", ev, l.phase))
}
