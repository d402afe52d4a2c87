package native

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/dualauth/dualauth/core"
)

// Driver performs the effects of a core machine (see the contract at the
// top of core/effects.go). One Driver runs one machine at a time.
type Driver struct {
	Store Store
	// HTTP sends the token-endpoint and discovery requests; nil builds
	// one from HTTPOptions at the first request, so a run that needs no
	// network does no TLS setup.
	HTTP        *http.Client
	HTTPOptions HTTPOptions
	// Callbacks delivers authorization responses during a login (the
	// listener's, possibly merged with other sources).
	Callbacks <-chan *Incoming
	// Authorize sends the user to the authorization URL. It must not wait
	// for the login to finish.
	Authorize func(url string)
	// ShowCode shows the user the code of a device login (RFC 8628); nil
	// writes it to stderr with [WriteCode].
	ShowCode func(core.ShowCode)
	// Warn shows a message that does not stop the flow; nil writes it to
	// stderr.
	Warn func(string)
	// Listen moves the login's loopback listener to a client's registered
	// redirect URI (core.Listen); nil answers that it cannot.
	Listen func(redirectURI string) error
	// ClientChosen tells the user which client dualauth registered for
	// the login, before the browser opens; nil writes "Client: ID, FROM"
	// to stderr.
	ClientChosen func(id, from string)
	// LockTimeout bounds the wait for the cache lock; 0 means
	// DefaultLockTimeout.
	LockTimeout time.Duration
	// Now and Rand are the clock and entropy fed to the machine; nil means
	// time.Now and crypto/rand.
	Now  func() time.Time
	Rand io.Reader
	// Getenv reads the environment for subject token sources (env:VAR,
	// github-actions); nil means os.Getenv.
	Getenv func(string) string

	unlocks map[string]func() // the login locks held, by key
	waiting *Incoming         // the accepted callback whose page shows the outcome
	// fetchResource performs core.FetchResource (see CallResource).
	fetchResource func(context.Context, core.FetchResource) core.Event

	// keyWarned: a --client-key file others may read was warned about.
	keyWarned bool
}

var osGetenv = os.Getenv

func (d *Driver) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Driver) warn(msg string) {
	if d.Warn != nil {
		d.Warn(msg)
		return
	}
	fmt.Fprintln(os.Stderr, "warning:", core.Sanitize(msg))
}

// Run drives m from Start until Done. Cancelling ctx (timeout, Ctrl-C)
// ends a wait with Aborted, so the machine releases what it holds.
func (d *Driver) Run(ctx context.Context, m core.Machine) core.Done {
	r := d.Rand
	if r == nil {
		r = rand.Reader
	}
	defer d.release("")
	done := core.Drive(m, core.Start{Now: d.now(), Rand: r}, func(e core.Effect) core.Event {
		return d.perform(ctx, e)
	})
	if d.waiting != nil {
		d.waiting.Reply(pageFor(done))
		d.waiting = nil
	}
	return done
}

// release lets go of the lock of key, or of every lock held for "".
func (d *Driver) release(key string) {
	for k, unlock := range d.unlocks {
		if key == "" || k == key {
			unlock()
			delete(d.unlocks, k)
		}
	}
}

func (d *Driver) perform(ctx context.Context, e core.Effect) core.Event {
	switch e := e.(type) {
	case core.Fetch:
		if err := ctx.Err(); err != nil {
			return core.Aborted{Err: abortReason(ctx)}
		}
		c, err := d.httpClient()
		if err != nil {
			return core.Fetched{Err: err, Now: d.now()}
		}
		resp, err := Do(ctx, c, e.Request)
		if err != nil && ctx.Err() != nil {
			err = abortReason(ctx)
		}
		return core.Fetched{Response: resp, Err: err, Now: d.now()}
	case core.FetchResource:
		if err := ctx.Err(); err != nil {
			return core.Aborted{Err: abortReason(ctx)}
		}
		if d.fetchResource == nil {
			return core.Aborted{Err: errors.New("driver: no resource to send the request to")}
		}
		return d.fetchResource(ctx, e)
	case core.Load:
		k, entry, err := d.Store.Load(e.Keys)
		return core.Loaded{Key: k, Entry: entry, Err: err}
	case core.Lock:
		if d.unlocks[e.Key] != nil {
			return core.Locked{Now: d.now()} // already held
		}
		timeout := d.LockTimeout
		if timeout <= 0 {
			timeout = DefaultLockTimeout
		}
		lctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		unlock, err := d.Store.Lock(lctx, e.Key)
		if err != nil {
			return core.Locked{Err: err}
		}
		if d.unlocks == nil {
			d.unlocks = map[string]func(){}
		}
		d.unlocks[e.Key] = unlock
		return core.Locked{Now: d.now()}
	case core.Unlock:
		d.release(e.Key)
		return nil
	case core.Save:
		return core.Saved{Err: d.Store.Save(e.Key, e.Entry)}
	case core.Reserve:
		if r, ok := d.Store.(Reserver); ok {
			return core.Saved{Err: r.Reserve(e.Key)}
		}
		return core.Saved{}
	case core.Delete:
		return core.Saved{Err: d.Store.Delete(e.Key)}
	case core.DropKey:
		d.dropDPoPKey(e.Key)
		return nil
	case core.SavePending:
		// A native login keeps its pending state in memory: the process
		// that started it receives the callback.
		return core.Saved{}
	case core.Authorize:
		if d.Callbacks == nil {
			return core.Aborted{Err: errors.New("no way to receive the authorization response")}
		}
		if d.Authorize != nil {
			d.Authorize(e.URL)
		}
		return d.nextCallback(ctx)
	case core.Reject:
		if d.waiting != nil {
			d.waiting.Reply(rejectPage(e.Err))
			d.waiting = nil
		}
		return d.nextCallback(ctx)
	case core.Warn:
		d.warn(e.Message)
		return nil
	case core.ClientChosen:
		if d.ClientChosen != nil {
			d.ClientChosen(e.ClientID, e.From)
		} else {
			fmt.Fprintf(os.Stderr, "Client: %s, %s\n", core.Sanitize(e.ClientID), core.Sanitize(e.From))
		}
		return nil
	case core.Listen:
		if d.Listen == nil {
			return core.Listening{Err: errors.New("this login's redirect URI cannot move")}
		}
		return core.Listening{Err: d.Listen(e.RedirectURI)}
	case core.ShowCode:
		d.showCode(e)
		return nil
	case core.Wait:
		return d.wait(ctx, e)
	case core.Sign:
		sig, err := d.sign(e)
		return core.Signed{Signature: sig, Err: err}
	case core.CreateKey:
		return d.createDPoPKey(e)
	case core.ReadSubjectToken:
		tok, err := d.readSubjectToken(ctx, e.Source)
		return core.SubjectTokenRead{Token: tok, Err: err}
	}
	return core.Aborted{Err: fmt.Errorf("driver: unknown effect %T", e)}
}

func (d *Driver) nextCallback(ctx context.Context) core.Event {
	select {
	case in := <-d.Callbacks:
		d.waiting = in
		return core.Callback{Query: in.Query, Now: d.now()}
	case <-ctx.Done():
		return core.Aborted{Err: abortReason(ctx)}
	}
}

// ErrTimeout is the cause of a context that ran out of time waiting for
// the user (auth login --timeout).
var ErrTimeout = errors.New("timed out")

func abortReason(ctx context.Context) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) && !errors.Is(c, context.DeadlineExceeded) {
		return c
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrTimeout
	}
	return errors.New("canceled")
}
