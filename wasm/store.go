//go:build js && wasm

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"

	"github.com/dualauth/dualauth/core"
)

// Names in browser storage. The version lets a later format live next to
// this one instead of misreading it.
const (
	dbName        = "dualauth"
	dbStore       = "tokens"
	keyStore      = "keys" // DPoP keys: CryptoKey objects, apart from the JSON entries
	dbVersion     = 2
	sessionPrefix = "dualauth.v1.session."
	pendingPrefix = "dualauth.v1.pending."
	lockPrefix    = "dualauth.v1.lock."
	// claimPrefix names, in the token store, the callbacks being finished.
	claimPrefix = "dualauth.v1.claim."
	// workerDBName is the IndexedDB database of the worker mode: pending
	// logins, their DPoP keys and claims; never a cache entry.
	workerDBName = "dualauth-worker"
)

// idbStore keeps the cache entries in IndexedDB: one consistent store per
// origin, so a tab that has just taken the lock reads what the previous
// holder wrote (localStorage gives no such guarantee across tabs, see
// TESTING.md). Entries are kept as the JSON of core.Entry.
type idbStore struct {
	name string
	mu   sync.Mutex // held across the open: callers wait for one connection
	db   js.Value
	// closed is set from a JS callback, which must not wait for mu.
	closed atomic.Bool
	// mem, when set, holds the cache entries instead of the database (the
	// worker mode): they never reach storage.
	mem *memEntries
}

// memEntries are cache entries (as JSON, like the database's) in this
// program's memory.
type memEntries struct {
	mu sync.Mutex
	m  map[string]string
}

func (m *memEntries) get(key string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[key]
	return v, ok
}

func (m *memEntries) set(key, v string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v == "" {
		delete(m.m, key)
	} else {
		m.m[key] = v
	}
}

func (s *idbStore) open() (js.Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db.Truthy() && !s.closed.Load() {
		return s.db, nil
	}
	idb := jsGlobal.Get("indexedDB")
	if !idb.Truthy() {
		return js.Value{}, fmt.Errorf("%w: no IndexedDB", errStorage)
	}
	req, err := call(func() js.Value { return idb.Call("open", s.name, dbVersion) })
	if err != nil {
		return js.Value{}, fmt.Errorf("%w: %v", errStorage, err)
	}
	upgrade := js.FuncOf(func(js.Value, []js.Value) any {
		db := req.Get("result")
		for _, name := range []string{dbStore, keyStore} {
			if !db.Get("objectStoreNames").Call("contains", name).Bool() {
				db.Call("createObjectStore", name)
			}
		}
		return nil
	})
	defer upgrade.Release()
	req.Set("onupgradeneeded", upgrade)
	db, err := awaitRequest(req)
	if err != nil {
		return js.Value{}, fmt.Errorf("%w: opening IndexedDB: %v", errStorage, err)
	}
	// Another tab upgrading or deleting the database must not be blocked
	// by this connection: close it; the next use opens a new one.
	var onVersionChange js.Func
	onVersionChange = js.FuncOf(func(js.Value, []js.Value) any {
		db.Call("close")
		s.closed.Store(true)
		onVersionChange.Release()
		return nil
	})
	db.Set("onversionchange", onVersionChange)
	s.db = db
	s.closed.Store(false)
	return db, nil
}

// awaitRequest waits for an IDBRequest (or IDBOpenDBRequest) to succeed or
// fail and returns its result.
func awaitRequest(req js.Value) (js.Value, error) {
	ch := make(chan error, 1)
	ok := js.FuncOf(func(js.Value, []js.Value) any { ch <- nil; return nil })
	bad := js.FuncOf(func(js.Value, []js.Value) any { ch <- jsErrorOf(req.Get("error")); return nil })
	blocked := js.FuncOf(func(js.Value, []js.Value) any { ch <- fmt.Errorf("blocked by another tab"); return nil })
	defer ok.Release()
	defer bad.Release()
	defer blocked.Release()
	req.Set("onsuccess", ok)
	req.Set("onerror", bad)
	req.Set("onblocked", blocked)
	if err := <-ch; err != nil {
		return js.Value{}, err
	}
	return req.Get("result"), nil
}

// tx runs one transaction on the token store: do issues its requests
// synchronously and returns them; tx waits until the transaction has
// committed (so a write is durable before the caller moves on, e.g. before
// it releases the lock) and returns each request's result.
func (s *idbStore) tx(mode string, do func(st js.Value) []js.Value) ([]js.Value, error) {
	return s.txOn(dbStore, mode, do)
}

// txOn is [idbStore.tx] on the object store named store.
func (s *idbStore) txOn(store, mode string, do func(st js.Value) []js.Value) ([]js.Value, error) {
	db, err := s.open()
	if err != nil {
		return nil, err
	}
	var reqs []js.Value
	t, err := call(func() js.Value {
		t := db.Call("transaction", store, mode)
		reqs = do(t.Call("objectStore", store))
		return t
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errStorage, err)
	}
	ch := make(chan error, 1)
	done := js.FuncOf(func(js.Value, []js.Value) any { ch <- nil; return nil })
	fail := js.FuncOf(func(js.Value, []js.Value) any {
		if e := t.Get("error"); e.Truthy() {
			ch <- jsErrorOf(e)
		} else {
			ch <- fmt.Errorf("transaction aborted")
		}
		return nil
	})
	defer done.Release()
	defer fail.Release()
	t.Set("oncomplete", done)
	t.Set("onerror", fail)
	t.Set("onabort", fail)
	if err := <-ch; err != nil {
		return nil, fmt.Errorf("%w: %v", errStorage, err)
	}
	out := make([]js.Value, len(reqs))
	for i, r := range reqs {
		out[i] = r.Get("result")
	}
	return out, nil
}

// load returns the first entry present under keys, in one read transaction.
func (s *idbStore) load(keys []string) core.Loaded {
	if s.mem != nil {
		for _, k := range keys {
			if v, ok := s.mem.get(k); ok {
				var e core.Entry
				if json.Unmarshal([]byte(v), &e) != nil {
					return core.Loaded{Key: k, Err: unreadable(k)}
				}
				return core.Loaded{Key: k, Entry: &e}
			}
		}
		return core.Loaded{}
	}
	res, err := s.tx("readonly", func(st js.Value) []js.Value {
		reqs := make([]js.Value, len(keys))
		for i, k := range keys {
			reqs[i] = st.Call("get", k)
		}
		return reqs
	})
	if err != nil {
		return core.Loaded{Err: err}
	}
	for i, v := range res {
		if v.Type() == js.TypeUndefined {
			continue
		}
		if v.Type() != js.TypeString {
			return core.Loaded{Key: keys[i], Err: unreadable(keys[i])}
		}
		var e core.Entry
		if err := json.Unmarshal([]byte(v.String()), &e); err != nil {
			// Say which entry, never what it holds; with its key, so
			// that a logout still removes it.
			return core.Loaded{Key: keys[i], Err: unreadable(keys[i])}
		}
		return core.Loaded{Key: keys[i], Entry: &e}
	}
	return core.Loaded{}
}

// unreadable is the error of a stored login that cannot be read: what it
// is, and the way out.
func unreadable(key string) error {
	return fmt.Errorf("%w (%s): it is damaged or was written by something else; logout() removes it, then log in again", core.ErrUnreadableEntry, key)
}

// keyNames finds the names of DPoP keys in the raw value stored under key,
// which cannot be read as an entry: what a logout removes with it.
func (s *idbStore) keyNames(key string) []string {
	raw, ok := s.getRaw(key)
	if !ok {
		return nil
	}
	var out []string
	for {
		i := strings.Index(raw, dpopKeyPrefix)
		if i < 0 {
			return out
		}
		raw = raw[i+len(dpopKeyPrefix):]
		n := 0
		for n < len(raw) && isBase64URL(raw[n]) {
			n++
		}
		if n > 0 {
			out = append(out, dpopKeyPrefix+raw[:n])
		}
		raw = raw[n:]
	}
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// getRaw is the string stored under key: an entry's JSON (in memory in
// the worker mode), or another record of the token store.
func (s *idbStore) getRaw(key string) (string, bool) {
	if s.mem != nil && !strings.HasPrefix(key, pendingPrefix) {
		return s.mem.get(key)
	}
	res, err := s.tx("readonly", func(st js.Value) []js.Value {
		return []js.Value{st.Call("get", key)}
	})
	if err != nil || res[0].Type() != js.TypeString {
		return "", false
	}
	return res[0].String(), true
}

func (s *idbStore) save(key string, e core.Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if s.mem != nil {
		s.mem.set(key, string(b))
		return nil
	}
	return s.putRaw(key, string(b))
}

// reserve writes key's entry back unchanged: a store that refuses the
// write (closed, blocked, out of quota) refuses it before a refresh token
// is spent on tokens it could not keep. Memory (the worker mode) always
// takes writes.
func (s *idbStore) reserve(key string) error {
	if s.mem != nil {
		return nil
	}
	v, ok := s.getRaw(key)
	if !ok {
		return nil // nothing stored, nothing to refresh
	}
	return s.putRaw(key, v)
}

func (s *idbStore) putRaw(key, v string) error {
	_, err := s.tx("readwrite", func(st js.Value) []js.Value {
		return []js.Value{st.Call("put", v, key)}
	})
	return err
}

func (s *idbStore) delete(key string) error {
	if s.mem != nil {
		s.mem.set(key, "")
		return nil
	}
	return s.deleteRaw(key)
}

func (s *idbStore) deleteRaw(key string) error {
	_, err := s.tx("readwrite", func(st js.Value) []js.Value {
		return []js.Value{st.Call("delete", key)}
	})
	return err
}

// entries is every stored login entry that can be read (registered
// clients among them), leaving out the store's other records (callback
// claims) and entries that cannot be read. An error is a store that could
// not be read at all: a caller deciding what is unused must then decide
// nothing.
func (s *idbStore) entries() ([]core.Entry, error) {
	var raws []string
	if s.mem != nil {
		s.mem.mu.Lock()
		for _, v := range s.mem.m {
			raws = append(raws, v)
		}
		s.mem.mu.Unlock()
	} else {
		res, err := s.tx("readonly", func(st js.Value) []js.Value {
			return []js.Value{st.Call("getAllKeys"), st.Call("getAll")}
		})
		if err != nil {
			return nil, err
		}
		for i := range res[0].Length() {
			if k, v := res[0].Index(i), res[1].Index(i); k.Type() == js.TypeString && v.Type() == js.TypeString && !strings.HasPrefix(k.String(), claimPrefix) {
				raws = append(raws, v.String())
			}
		}
	}
	var out []core.Entry
	for _, raw := range raws {
		var e core.Entry
		if json.Unmarshal([]byte(raw), &e) == nil && e.ClientID != "" {
			out = append(out, e)
		}
	}
	return out, nil
}

// keysWith lists the keys of the token store that start with prefix.
func (s *idbStore) keysWith(prefix string) []string {
	rng := jsGlobal.Get("IDBKeyRange").Call("bound", prefix, prefix+"\uffff")
	res, err := s.tx("readonly", func(st js.Value) []js.Value {
		return []js.Value{st.Call("getAllKeys", rng)}
	})
	if err != nil {
		return nil
	}
	var out []string
	for i := range res[0].Length() {
		out = append(out, res[0].Index(i).String())
	}
	return out
}

// claim records that the callback of the pending login under key is being
// finished, and reports whether this call was the first to do so. It is the
// cross-tab half of S29: two tabs opening one callback URL at the same
// instant can both read the pending login from localStorage before either
// removes it, but IndexedDB runs readwrite transactions on a store one at a
// time, so only one `add` of the claim succeeds.
func (s *idbStore) claim(key string, now time.Time) (bool, error) {
	var refused atomic.Bool
	onErr := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ev := arg0(args)
		if e := ev.Get("target").Get("error"); e.Truthy() && e.Get("name").String() == "ConstraintError" {
			refused.Store(true)
			// The key exists: nothing to write, and no reason to abort.
			ev.Call("preventDefault")
			ev.Call("stopPropagation")
		}
		return nil
	})
	defer onErr.Release()
	_, err := s.tx("readwrite", func(st js.Value) []js.Value {
		st.Call("add", now.UnixMilli(), claimPrefix+key).Set("onerror", onErr)
		return nil
	})
	if err != nil {
		return false, err
	}
	return !refused.Load(), nil
}

// dropStaleClaims removes the claims of callbacks older than a pending
// login can live: their state can no longer be replayed anyway (the
// pending login expired). It returns how many it removed.
func (s *idbStore) dropStaleClaims(now time.Time) (int, error) {
	rng := jsGlobal.Get("IDBKeyRange").Call("bound", claimPrefix, claimPrefix+"\uffff")
	res, err := s.tx("readonly", func(st js.Value) []js.Value {
		return []js.Value{st.Call("getAllKeys", rng), st.Call("getAll", rng)}
	})
	if err != nil {
		return 0, err
	}
	keys, times := res[0], res[1]
	var stale []string
	for i := range keys.Length() {
		v := times.Index(i)
		if v.Type() != js.TypeNumber || now.Sub(time.UnixMilli(int64(v.Float()))) > 2*core.PendingTTL {
			stale = append(stale, keys.Index(i).String())
		}
	}
	if len(stale) == 0 {
		return 0, nil
	}
	_, err = s.tx("readwrite", func(st js.Value) []js.Value {
		for _, k := range stale {
			st.Call("delete", k)
		}
		return nil
	})
	return len(stale), err
}

// sessionInfo is the token-free summary of a login that is mirrored to
// localStorage (for storage events) and handed to onChange callbacks.
type sessionInfo struct {
	Key        string    `json:"key"`
	Issuer     string    `json:"issuer"`
	Host       string    `json:"host"`
	AccountID  string    `json:"account_id,omitempty"`
	ClientID   string    `json:"client_id"`
	Resource   string    `json:"resource,omitempty"`
	Scopes     []string  `json:"scopes,omitempty"`
	Expiry     time.Time `json:"expiry,omitzero"`
	ObtainedAt time.Time `json:"obtained_at,omitzero"`
	// Resolved and ClientRegistered are what core.PickClient needs to
	// pick a host's client as the CLI does.
	Resolved         bool `json:"resolved,omitempty"`
	ClientRegistered bool `json:"client_registered,omitempty"`
}

func summarize(key string, e core.Entry) sessionInfo {
	s := core.Summarize(e)
	return sessionInfo{Key: key, Issuer: s.Issuer, Host: s.Host, AccountID: s.AccountID, ClientID: s.ClientID, Resource: e.Resource,
		Scopes: e.Scopes, Expiry: e.Expiry, ObtainedAt: s.ObtainedAt, Resolved: s.Resolved, ClientRegistered: s.ClientRegistered}
}

// login is the summary as core.PickClient takes it.
func (si sessionInfo) login() core.LoginSummary {
	return core.LoginSummary{Host: si.Host, AccountID: si.AccountID, Issuer: si.Issuer, ClientID: si.ClientID, ObtainedAt: si.ObtainedAt,
		Resolved: si.Resolved, ClientRegistered: si.ClientRegistered}
}

// js renders the summary for session() and onChange callbacks; a nil
// summary of key is a logout. Its strings came from servers (the issuer,
// a client ID registration gave, the scopes a token endpoint granted) or
// from another tab's mirror: through core.Sanitize, as every message (S37).
func (si *sessionInfo) js(key string) js.Value {
	o := jsGlobal.Get("Object").New()
	o.Set("key", core.Sanitize(key))
	o.Set("signedIn", si != nil)
	if si == nil {
		return o
	}
	o.Set("issuer", core.Sanitize(si.Issuer))
	o.Set("host", core.Sanitize(si.Host))
	o.Set("clientId", core.Sanitize(si.ClientID))
	o.Set("scopes", core.Sanitize(strings.Join(si.Scopes, " ")))
	o.Set("expiry", jsTime(si.Expiry))
	return o
}

func jsTime(t time.Time) js.Value {
	if t.IsZero() {
		return js.Null()
	}
	return js.ValueOf(t.UTC().Format(time.RFC3339))
}

// localStore wraps window.localStorage, turning its exceptions (quota,
// disabled storage) into errors. In the worker mode (w set), which has no
// localStorage, the same records are kept by w.
type localStore struct{ w *workerKV }

// workerKV keeps the worker mode's small records: pending logins in its
// IndexedDB database (they must outlive the worker across the redirect;
// they hold a PKCE verifier, never a token), the token-free summaries of
// logins in memory (they go with the logins).
type workerKV struct {
	db  *idbStore
	mu  sync.Mutex
	mem map[string]string
}

func (w *workerKV) get(k string) (string, bool) {
	if strings.HasPrefix(k, pendingPrefix) {
		return w.db.getRaw(k)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.mem[k]
	return v, ok
}

func (w *workerKV) set(k, v string) error {
	if strings.HasPrefix(k, pendingPrefix) {
		return w.db.putRaw(k, v)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mem[k] = v
	return nil
}

func (w *workerKV) remove(k string) {
	if strings.HasPrefix(k, pendingPrefix) {
		w.db.deleteRaw(k)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.mem, k)
}

func (w *workerKV) keys(prefix string) []string {
	if strings.HasPrefix(prefix, pendingPrefix) {
		return w.db.keysWith(prefix)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for k := range w.mem {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

func (localStore) ls() js.Value { return jsGlobal.Get("localStorage") }

func (l localStore) get(k string) (string, bool) {
	if l.w != nil {
		return l.w.get(k)
	}
	v, err := call(func() js.Value { return l.ls().Call("getItem", k) })
	if err != nil || v.Type() != js.TypeString {
		return "", false
	}
	return v.String(), true
}

func (l localStore) set(k, v string) error {
	if l.w != nil {
		return l.w.set(k, v)
	}
	if _, err := call(func() js.Value { return l.ls().Call("setItem", k, v) }); err != nil {
		return fmt.Errorf("%w: %v", errStorage, err)
	}
	return nil
}

func (l localStore) remove(k string) {
	if l.w != nil {
		l.w.remove(k)
		return
	}
	call(func() js.Value { return l.ls().Call("removeItem", k) })
}

func (l localStore) keys(prefix string) []string {
	if l.w != nil {
		return l.w.keys(prefix)
	}
	var out []string
	call(func() js.Value {
		ls := l.ls()
		for i := range ls.Get("length").Int() {
			k := ls.Call("key", i)
			if k.Type() == js.TypeString && strings.HasPrefix(k.String(), prefix) {
				out = append(out, k.String())
			}
		}
		return js.Undefined()
	})
	return out
}

// sessions are the token-free summaries of the logins mirrored here (the
// worker mode keeps them in memory), leaving out any that cannot be read.
func (l localStore) sessions() []sessionInfo {
	var out []sessionInfo
	for _, k := range l.keys(sessionPrefix) {
		raw, ok := l.get(k)
		var si sessionInfo
		if ok && json.Unmarshal([]byte(raw), &si) == nil {
			out = append(out, si)
		}
	}
	return out
}

// pendingKey names the pending login of a state without spelling the state
// out in the key list.
func pendingKey(state string) string {
	sum := sha256.Sum256([]byte(state))
	return pendingPrefix + hex.EncodeToString(sum[:16])
}

// savePending keeps a started login across the redirect.
func (l localStore) savePending(p core.Pending) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return l.set(pendingKey(p.State), string(b))
}

// takePending removes and returns the pending login of state: a callback
// can use it once (S29). A second call finds nothing.
func (l localStore) takePending(state string) (*core.Pending, bool) {
	k := pendingKey(state)
	v, ok := l.get(k)
	if !ok {
		return nil, false
	}
	l.remove(k)
	var p core.Pending
	if json.Unmarshal([]byte(v), &p) != nil {
		return nil, false
	}
	return &p, true
}

// dropPendingOf removes the pending logins of client at target (a logout
// of a damaged login) and returns the DPoP keys they held.
func (l localStore) dropPendingOf(t core.Target, clientID string) (dpopKeys []string) {
	keys := core.IssuerKeys(t, clientID)
	for k, p := range l.pendings() {
		if p.ClientID != clientID {
			continue
		}
		if p.Target.Host != t.Host && !slices.Contains(keys, core.Key(p.Metadata.Issuer, clientID)) {
			continue
		}
		if p.Key != nil {
			dpopKeys = append(dpopKeys, p.Key.Key)
		}
		l.remove(k)
	}
	return dpopKeys
}

// pendings are the pending logins stored here that can be read, by their
// keys (dropStalePending removes the others).
func (l localStore) pendings() map[string]core.Pending {
	out := map[string]core.Pending{}
	for _, k := range l.keys(pendingPrefix) {
		v, _ := l.get(k)
		var p core.Pending
		if json.Unmarshal([]byte(v), &p) == nil {
			out[k] = p
		}
	}
	return out
}

// dropStalePending removes pending logins that can no longer complete
// (older than core.PendingTTL, or unreadable), so abandoned logins do not
// pile up verifiers in storage (S27). It returns the DPoP keys they held,
// which no login uses: the caller deletes them from the key store.
func (l localStore) dropStalePending(now time.Time) (dpopKeys []string) {
	for _, k := range l.keys(pendingPrefix) {
		v, _ := l.get(k)
		var p core.Pending
		err := json.Unmarshal([]byte(v), &p)
		if err == nil && !p.Expired(now) && !p.CreatedAt.After(now.Add(core.PendingTTL)) {
			continue
		}
		if err == nil && p.Key != nil {
			dpopKeys = append(dpopKeys, p.Key.Key) // made for it, used by no login
		}
		l.remove(k)
	}
	return dpopKeys
}
