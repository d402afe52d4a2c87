package core

import (
	"io"
	"net/url"
	"time"
)

// An Effect is an instruction from a machine to its driver: plain data that
// the driver performs, in order, before it feeds the next [Event] back.
//
// Ordering contract (as etcd-io/raft documents Ready):
//   - A step returns zero or more effects that need no answer ([Unlock],
//     [Warn]), then exactly one effect that the machine waits on, or [Done].
//   - The driver performs effects in the order given and answers the waiting
//     one with its event: Fetch and FetchResource → [Fetched], Load → [Loaded], Lock → [Locked],
//     Save, Reserve, Delete and SavePending → [Saved], Listen → [Listening],
//     Authorize and Reject → the next [Callback] (a rejected callback leaves
//     the login waiting). [ClientChosen], [Warn] and [DropKey] need no
//     answer.
//   - A driver that ends a login at Authorize on purpose, keeping its
//     Pending for a later run (a browser leaving the page), answers with
//     [Aborted] whose Err matches [ErrPendingKept]: the login's DPoP key
//     stays. Every other failed login drops the key it made ([DropKey]).
//   - A driver that gives up (timeout, cancel) sends [Aborted] instead; the
//     machine answers with Unlock when it holds the lock, then Done.
//   - SavePending always comes before Authorize, so a browser can resume the
//     login after the page unloads. Save is only emitted while the lock is
//     held, and is always followed by Unlock.
type Effect interface{ effect() }

// An Event is what a driver feeds into a machine: the outcome of the effect
// the machine waits on, or the [Start] that begins it.
type Event interface{ event() }

// Fetch asks the driver to send an HTTP request and answer with [Fetched].
type Fetch struct{ Request Request }

// Load asks for the first cache entry present under one of Keys, tried in
// order; the driver answers with [Loaded].
type Load struct{ Keys []string }

// Lock asks for the cross-process (native) or cross-tab (browser) lock that
// guards the entry under Key; the driver answers with [Locked].
type Lock struct{ Key string }

// Unlock releases the lock taken by [Lock].
type Unlock struct{ Key string }

// Save asks the driver to store Entry under Key, atomically, and answer with
// [Saved].
type Save struct {
	Key   string
	Entry Entry
}

// Reserve asks the driver, holding the lock, to make sure that an entry for
// Key can be saved (the disk space for the new cache file is allocated)
// before a refresh token is spent on a new one; it answers with [Saved]. An
// error means the refresh must not be sent (S38).
type Reserve struct{ Key string }

// Delete asks the driver to remove the entry under Key and answer with
// [Saved].
type Delete struct{ Key string }

// SavePending asks the driver to keep the pending login until the callback
// arrives (a browser stores it across the redirect) and answer with [Saved].
type SavePending struct{ Pending Pending }

// Authorize asks the driver to send the user's browser to URL and to feed
// every callback that reaches the redirect URI back as a [Callback].
type Authorize struct{ URL string }

// Reject tells the driver that a callback was refused (wrong or missing
// state). The login is still waiting: a native listener shows Err on the
// page and answers with the next [Callback].
type Reject struct{ Err error }

// Warn is a message for the user that does not stop the flow.
type Warn struct{ Message string }

// Listen asks a driver whose loopback listener can move (see
// [LoginConfig.MovableRedirect]) to receive the callback at RedirectURI
// instead: the exact redirect URI a client dualauth registered was
// registered with, port included, as servers that compare redirect URIs
// exactly demand. The driver answers with [Listening].
type Listen struct{ RedirectURI string }

// ClientChosen tells the user, before the browser opens, which client the
// login uses when dualauth registered it: From says where and when
// ("registered at URL just now" only in the login that registered it).
type ClientChosen struct{ ClientID, From string }

// Done ends a machine: Token on success, otherwise Err. Entry is the saved
// cache entry, when there is one. Response is the final answer of a
// [ResourceCall], whose body the driver holds.
type Done struct {
	Token    *Token
	Entry    *Entry
	Err      error
	Response *Response
}

func (Fetch) effect()        {}
func (Load) effect()         {}
func (Lock) effect()         {}
func (Unlock) effect()       {}
func (Save) effect()         {}
func (Delete) effect()       {}
func (Reserve) effect()      {}
func (SavePending) effect()  {}
func (Authorize) effect()    {}
func (Reject) effect()       {}
func (Warn) effect()         {}
func (Listen) effect()       {}
func (ClientChosen) effect() {}
func (Done) effect()         {}

// Start begins a machine. Now is the driver's clock; Rand is the entropy a
// login draws its state, verifier and nonce from (crypto/rand in drivers).
type Start struct {
	Now  time.Time
	Rand io.Reader
}

// Fetched answers [Fetch]: the response, or Err when none arrived. Now is
// when it arrived.
type Fetched struct {
	Response Response
	Err      error
	Now      time.Time
}

// Loaded answers [Load]: the entry found and its key, or a nil Entry.
type Loaded struct {
	Key   string
	Entry *Entry
	Err   error
}

// Locked answers [Lock]. Now is when the lock was granted: waiting for it
// may have taken a while.
type Locked struct {
	Err error
	Now time.Time
}

// Saved answers [Save] and [SavePending].
type Saved struct{ Err error }

// Callback carries the query of a request that reached the redirect URI.
type Callback struct {
	Query url.Values
	Now   time.Time
}

// Listening answers [Listen]: Err when the listener cannot move there
// (the port is taken).
type Listening struct{ Err error }

// Aborted tells a machine that the driver gave up waiting (timeout, user
// cancel): it ends with Err, releasing the lock when it holds it.
type Aborted struct{ Err error }

func (Start) event()     {}
func (Aborted) event()   {}
func (Fetched) event()   {}
func (Loaded) event()    {}
func (Locked) event()    {}
func (Saved) event()     {}
func (Callback) event()  {}
func (Listening) event() {}

// A Machine is a deterministic flow: each event yields the effects that
// follow from it.
type Machine interface {
	Step(Event) []Effect
}

// Drive runs m from first until it is Done, performing each effect with
// perform, which returns the event that answers a waiting effect and nil for
// the others. Drivers that need no concurrency of their own use it as is.
func Drive(m Machine, first Event, perform func(Effect) Event) Done {
	ev := first
	for {
		for _, e := range m.Step(ev) {
			if d, ok := e.(Done); ok {
				return d
			}
			ev = perform(e)
		}
	}
}
