//go:build js && wasm

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/dualauth/dualauth/core"
)

// errRedirected ends a login machine once the browser is on its way to the
// authorization server: the rest of the login happens on the next page
// load (handleRedirect), not in this program.
var errRedirected = errors.New("redirected to the authorization server")

// redirectTo is errRedirected with the authorization request's URL, which
// login sends the page to: itself, or (in a worker) through dualauth.js.
type redirectTo struct{ url string }

func (r *redirectTo) Error() string { return errRedirected.Error() }
func (r *redirectTo) Is(target error) bool {
	return target == errRedirected || target == core.ErrPendingKept // the pending login, stored, names its DPoP key
}

// driver performs core effects with browser APIs. Its fields are the seams
// the tests replace: the network (fetch), the address bar (navigate) and
// the clock (now; nil means time.Now). Storage and locks are always the
// real browser ones.
type driver struct {
	fetch    func(core.Request) core.Fetched
	navigate func(url string)
	now      func() time.Time
	tokens   *idbStore
	local    localStore
	changes  *listeners
	// lines hears every console line the driver writes (onConsole): the
	// worker mode passes them on to its pages, whose consoles users read.
	lines *listeners
	// worker: the program runs in a SharedWorker (load({ worker: true })):
	// logins live in its memory only, and the page that called does the
	// navigation (dualauth.js).
	worker bool
}

func newBrowserDriver() *driver {
	return &driver{
		fetch:    browserFetch,
		navigate: func(u string) { jsGlobal.Get("location").Call("assign", u) },
		tokens:   &idbStore{name: dbName},
		changes:  &listeners{},
		now:      time.Now,
	}
}

// newWorkerDriver is the driver of the worker mode: cache entries (refresh
// tokens among them) in this program's memory only, never in storage; what
// must outlive the worker across the redirect to the authorization server
// (the pending login, its DPoP key, the callback claims) in an IndexedDB
// database of its own; the token-free summaries in memory too, told to
// every tab through the worker's ports (onChange).
func newWorkerDriver() *driver {
	tokens := &idbStore{name: workerDBName, mem: &memEntries{m: map[string]string{}}}
	return &driver{
		fetch:   browserFetch,
		tokens:  tokens,
		local:   localStore{w: &workerKV{db: tokens, mem: map[string]string{}}},
		changes: &listeners{},
		lines:   &listeners{},
		now:     time.Now,
		worker:  true,
	}
}

// clock is the driver's time: what every event it sends the core says.
func (d *driver) clock() time.Time {
	if d.now != nil {
		return d.now()
	}
	return time.Now()
}

// run drives m from first to Done on the calling goroutine (never a
// js.FuncOf callback: the effects wait for the browser). A lock the machine
// still holds when it ends is released, whatever the machine said.
func (d *driver) run(m core.Machine, first core.Event) core.Done {
	return d.runWith(m, first, nil)
}

// runWith is run with resource, which performs core.FetchResource for a
// core.ResourceCall.
func (d *driver) runWith(m core.Machine, first core.Event, resource func(core.FetchResource) core.Event) core.Done {
	var release func()
	var netErr error
	var redirected string // the last request answered with a redirect
	defer func() {
		if release != nil {
			release()
		}
	}()
	done := core.Drive(m, first, func(e core.Effect) core.Event {
		switch e := e.(type) {
		case core.Fetch:
			f := d.fetch(e.Request)
			redirected = ""
			if f.Err != nil {
				netErr = f.Err
			} else if s := f.Response.Status; s >= 300 && s < 400 {
				redirected = e.Request.URL
			}
			return f
		case core.FetchResource:
			if resource == nil {
				return core.Aborted{Err: errors.New("no resource to send the request to")}
			}
			return resource(e)
		case core.Load:
			return d.tokens.load(e.Keys)
		case core.Lock:
			r, err := acquireLock(lockPrefix+e.Key, lockTimeout)
			release = r
			// Waiting may have taken a while: the core judges the token
			// it re-reads at the time the lock was granted.
			return core.Locked{Err: err, Now: d.clock()}
		case core.Unlock:
			if release != nil {
				release()
				release = nil
			}
		case core.Save:
			if err := d.tokens.save(e.Key, e.Entry); err != nil {
				return core.Saved{Err: err}
			}
			if e.Entry.Registration != nil {
				return core.Saved{} // a registered client, not a login: nothing for onChange
			}
			si := summarize(e.Key, e.Entry)
			d.mirror(e.Key, &si)
			return core.Saved{}
		case core.Delete:
			if err := d.tokens.delete(e.Key); err != nil {
				return core.Saved{Err: err}
			}
			if !strings.HasPrefix(e.Key, core.RegistrationKey("")) {
				d.mirror(e.Key, nil)
			}
			return core.Saved{}
		case core.Reserve:
			// IndexedDB has no space to allocate ahead; writing the entry
			// back as it stands proves, before the refresh token is spent,
			// that the store takes writes (S38).
			return core.Saved{Err: d.tokens.reserve(e.Key)}
		case core.SavePending:
			return core.Saved{Err: d.local.savePending(e.Pending)}
		case core.Authorize:
			return core.Aborted{Err: &redirectTo{url: e.URL}} // login() goes there
		case core.Reject:
			// A page has one callback: a refused one ends the login.
			return core.Aborted{Err: e.Err}
		case core.Warn:
			d.say("warn", "dualauth: "+core.Sanitize(e.Message)) // server text, as native prints it
		case core.ClientChosen:
			d.say("info", "dualauth: client "+core.Sanitize(e.ClientID)+", "+core.Sanitize(e.From))
		case core.Listen:
			// The page's URL is its redirect URI (MovableRedirect is unset).
			return core.Listening{Err: errors.New("a page receives the login at its own URL only")}
		case core.CreateKey:
			return d.createKey(e)
		case core.DropKey:
			d.dropKey(e.Key)
		case core.Sign:
			if strings.HasPrefix(e.Key, dpopKeyPrefix) {
				return d.sign(e)
			}
			return core.Aborted{Err: fmt.Errorf("%w: a login without a person cannot be used in the browser", errBadArgument)}
		case core.ReadSubjectToken:
			// Only a login without a person asks for these, and the
			// browser API makes none.
			return core.Aborted{Err: fmt.Errorf("%w: a login without a person cannot be used in the browser", errBadArgument)}
		}
		return nil
	})
	// The core words a failed fetch, or a redirect where a token was
	// expected, as text; give them their codes.
	if done.Err != nil && errorCode(done.Err) == "internal_error" {
		switch {
		case netErr != nil:
			done.Err = &codedError{err: done.Err, is: errNetwork}
		case redirected != "":
			// Not the core's "HTTP 302": the browser does not say which
			// redirect it was (see opaqueRedirectStatus).
			msg := fmt.Errorf("%s answered with a redirect, which dualauth does not follow: the request was sent nowhere else", redirected)
			done.Err = &codedError{err: msg, is: errRedirect, cause: done.Err}
		}
	}
	return done
}

// codedError keeps an error's message and makes it match another sentinel.
// cause, when set, is the error it replaces, still reachable by errors.Is
// and errors.As.
type codedError struct {
	err   error
	is    error
	cause error
}

func (e *codedError) Error() string        { return e.err.Error() }
func (e *codedError) Is(target error) bool { return target == e.is }
func (e *codedError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.err}
	}
	return []error{e.err, e.cause}
}

// mirror publishes the token-free summary of the entry under key (nil: the
// login is gone) to localStorage, where every other tab of the origin gets
// a storage event, and tells this tab's own listeners.
func (d *driver) mirror(key string, si *sessionInfo) {
	if si == nil {
		d.local.remove(sessionPrefix + key)
	} else {
		b, _ := json.Marshal(si)
		if err := d.local.set(sessionPrefix+key, string(b)); err != nil {
			d.say("warn", "dualauth: other tabs will not hear of this change: "+err.Error())
		}
	}
	d.changes.emit(si.js(key))
}

// say writes line to the console at level ("warn" or "info"), and tells
// the onConsole listeners (in the worker mode, dualauth-worker.js, which
// passes it on to every page: the worker's own console is not the one a
// user reads).
func (d *driver) say(level, line string) {
	jsGlobal.Get("console").Call(level, line)
	if d.lines != nil {
		o := jsGlobal.Get("Object").New()
		o.Set("level", level)
		o.Set("text", line)
		d.lines.emit(o)
	}
}

// listeners are the page's onChange callbacks.
type listeners struct {
	mu   sync.Mutex
	next int
	cbs  map[int]js.Value
}

func (l *listeners) add(cb js.Value) (remove func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cbs == nil {
		l.cbs = map[int]js.Value{}
	}
	id := l.next
	l.next++
	l.cbs[id] = cb
	return func() {
		l.mu.Lock()
		delete(l.cbs, id)
		l.mu.Unlock()
	}
}

func (l *listeners) emit(info js.Value) {
	l.mu.Lock()
	cbs := make([]js.Value, 0, len(l.cbs))
	for _, cb := range l.cbs {
		cbs = append(cbs, cb)
	}
	l.mu.Unlock()
	for _, cb := range cbs {
		notifyLater(cb, info)
	}
}

// onStorage turns another tab's change of a mirrored login into a change
// event here (S30: a logout there is a logout here). localStorage.clear()
// (key null) counts as a logout of everything.
func (d *driver) onStorage(ev js.Value) {
	k := ev.Get("key")
	if k.Type() != js.TypeString {
		d.changes.emit((*sessionInfo)(nil).js(""))
		return
	}
	name := k.String()
	if len(name) <= len(sessionPrefix) || name[:len(sessionPrefix)] != sessionPrefix {
		return
	}
	key := name[len(sessionPrefix):]
	nv := ev.Get("newValue")
	if nv.Type() != js.TypeString {
		d.changes.emit((*sessionInfo)(nil).js(key))
		return
	}
	var si sessionInfo
	if json.Unmarshal([]byte(nv.String()), &si) != nil {
		return
	}
	d.changes.emit(si.js(key))
}
