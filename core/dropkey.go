package core

import (
	"errors"
	"fmt"
)

// DropKey tells the driver that no login uses the DPoP key named Key any
// more: it deletes the private key from its key store (failing to is a
// warning, never an error). It needs no answer. The machines decide it, so
// that both drivers drop the same keys: the key of a login that a new one
// replaced ([Login], [Device], [GrantLogin]) or that a logout removed
// ([Logout]), and the key a login made before it failed.
type DropKey struct{ Key string }

func (DropKey) effect() {}

// ErrPendingKept is what a driver's [Aborted] matches (errors.Is) when it
// ends a login's run at [Authorize] on purpose and keeps the [Pending] to
// resume the login later: a browser leaving the page for the authorization
// server. The login's DPoP key, which the pending login names, then stays;
// any other end of a failed login drops it.
var ErrPendingKept = errors.New("the login goes on when the callback arrives")

// dropKey is the DropKey of k, none for nil.
func dropKey(k *DPoPKey) []Effect {
	if k == nil || k.Key == "" {
		return nil
	}
	return []Effect{DropKey{Key: k.Key}}
}

// dropOwnKey is the DropKey of the key k a login made, when the login
// fails with err: no entry names it. A login suspended with its pending
// record kept ([ErrPendingKept]) keeps it.
func dropOwnKey(k *DPoPKey, err error) []Effect {
	if errors.Is(err, ErrPendingKept) {
		return nil
	}
	return dropKey(k)
}

type keepPhase int

const (
	keepLocking keepPhase = iota
	keepReading
	keepSaving
	keepDone
)

// keep is the end every login shares: Lock (unless the machine holds it
// already) → Load the entry the new one replaces → Save → DropKey of the
// key only the old entry used → Unlock. Reading the old entry under the
// lock is what lets the core, not the driver, say which key is no longer
// used.
type keep struct {
	phase keepPhase
	key   string
	entry Entry
	old   *DPoPKey
}

// begin starts saving e under key; locked says the caller holds the lock.
func (k *keep) begin(key string, e Entry, locked bool) []Effect {
	k.key, k.entry = key, e
	if locked {
		k.phase = keepReading
		return []Effect{Load{Keys: []string{key}}}
	}
	k.phase = keepLocking
	return []Effect{Lock{Key: key}}
}

// stepLogin is step for a login machine whose DPoP key is own: its
// effects end with Done once the save is over (done): the saved entry, or
// the error after a DropKey of own.
func (k *keep) stepLogin(ev Event, own *DPoPKey) (effs []Effect, done bool) {
	effs, done, err := k.step(ev)
	switch {
	case !done:
		return effs, false
	case err != nil:
		return append(append(effs, dropOwnKey(own, err)...), Done{Err: err}), true
	}
	e := k.entry
	return append(effs, Done{Token: e.Token(), Entry: &e}), true
}

// step advances the save. It returns the effects to perform, and done once
// the entry is saved (err nil) or the save failed; the lock is released by
// then.
func (k *keep) step(ev Event) (effs []Effect, done bool, err error) {
	switch ev := ev.(type) {
	case Locked:
		if k.phase == keepLocking {
			if ev.Err != nil {
				k.phase = keepDone
				return nil, true, fmt.Errorf("locking the token cache: %w", ev.Err)
			}
			k.phase = keepReading
			return []Effect{Load{Keys: []string{k.key}}}, false, nil
		}
	case Loaded:
		if k.phase == keepReading {
			// An entry that cannot be read is replaced all the same; its
			// key, if any, cannot be known.
			if old := ev.Entry; ev.Err == nil && old != nil && old.DPoP != nil && (k.entry.DPoP == nil || k.entry.DPoP.Key != old.DPoP.Key) {
				k.old = old.DPoP
			}
			k.phase = keepSaving
			return []Effect{Save{Key: k.key, Entry: k.entry}}, false, nil
		}
	case Saved:
		if k.phase == keepSaving {
			k.phase = keepDone
			if ev.Err != nil {
				return []Effect{Unlock{k.key}}, true, fmt.Errorf("saving the token: %w", ev.Err)
			}
			return append(dropKey(k.old), Unlock{k.key}), true, nil
		}
	case Aborted:
		held := k.phase != keepLocking
		k.phase = keepDone
		if held {
			return []Effect{Unlock{k.key}}, true, ev.Err
		}
		return nil, true, ev.Err
	}
	held := k.phase != keepLocking && k.phase != keepDone
	k.phase = keepDone
	err = fmt.Errorf("saving the login: unexpected %T", ev)
	if held {
		return []Effect{Unlock{k.key}}, true, err
	}
	return nil, true, err
}

// beforeDone puts extra before the Done that ends effs (the effects of a
// login that is over).
func beforeDone(effs []Effect, extra []Effect) []Effect {
	n := len(effs) - 1
	return append(append(effs[:n:n], extra...), effs[n])
}

// UnusedKeys is the names among stored (what a driver's key store holds)
// that neither a pending login nor a stored entry names: keys no login can
// use any more, which the driver deletes. The browser's worker mode needs
// it at start: its logins lived in the memory of a worker that is gone,
// while their DPoP keys stayed in IndexedDB.
func UnusedKeys(stored []string, pending []Pending, entries []Entry) []string {
	used := map[string]bool{}
	for _, p := range pending {
		if p.Key != nil {
			used[p.Key.Key] = true
		}
	}
	for _, e := range entries {
		if e.DPoP != nil {
			used[e.DPoP.Key] = true
		}
	}
	var out []string
	for _, k := range stored {
		if !used[k] {
			out = append(out, k)
		}
	}
	return out
}
