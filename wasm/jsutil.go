//go:build js && wasm

package main

import (
	"errors"
	"fmt"
	"syscall/js"

	"github.com/dualauth/dualauth/core"
)

// jsGlobal is the page's global object, read once.
var jsGlobal = js.Global()

// errJS is an exception thrown or a rejection raised by a browser API. Its
// message is the JavaScript error's name and message, which browser APIs
// fill without request data.
type errJS struct{ msg string }

func (e *errJS) Error() string { return e.msg }

func jsErrorOf(v js.Value) error {
	if v.Type() == js.TypeObject {
		name, msg := v.Get("name"), v.Get("message")
		if name.Type() == js.TypeString && msg.Type() == js.TypeString {
			return &errJS{msg: name.String() + ": " + msg.String()}
		}
	}
	if v.Type() == js.TypeString {
		return &errJS{msg: v.String()}
	}
	return &errJS{msg: "JavaScript error"}
}

// await waits, on the calling goroutine, for a JavaScript promise. It must
// never run inside a js.FuncOf callback: that would stop the event loop the
// promise needs.
func await(p js.Value) (js.Value, error) {
	type outcome struct {
		v   js.Value
		err error
	}
	ch := make(chan outcome, 1)
	onOK := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- outcome{v: arg0(args)}
		return nil
	})
	onErr := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- outcome{err: jsErrorOf(arg0(args))}
		return nil
	})
	defer onOK.Release()
	defer onErr.Release()
	p.Call("then", onOK, onErr)
	o := <-ch
	return o.v, o.err
}

func arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// call invokes fn and turns a JavaScript exception into an error instead
// of a Go panic.
func call(fn func() js.Value) (v js.Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			if je, ok := r.(js.Error); ok {
				err = jsErrorOf(je.Value)
				return
			}
			err = fmt.Errorf("browser call failed: %v", r)
		}
	}()
	return fn(), nil
}

// asyncFunc wraps work as a JavaScript function that returns a Promise.
// Both parse (reading the arguments) and work run on a new goroutine, never
// in the callback itself: besides blocking, a panic unwound through a
// js.FuncOf frame kills the Go program ("unknown caller pc"). (A property
// getter that throws cannot be survived at all: syscall/js does not catch
// exceptions in Value.Get. dualauth.js therefore hands over plain copies of
// the options.) An error becomes a rejection with an Error that has a
// stable code (see errorCode).
func asyncFunc[A any](parse func(args []js.Value) (A, error), work func(A) (any, error)) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) any {
		args = append([]js.Value(nil), args...)
		var executor js.Func
		executor = js.FuncOf(func(_ js.Value, pargs []js.Value) any {
			resolve, reject := pargs[0], pargs[1]
			executor.Release() // runs once, synchronously, inside new Promise
			go func() {
				v, err := safely(func() (any, error) {
					a, err := parseSafely(parse, args)
					if err != nil {
						return nil, err
					}
					return work(a)
				})
				if err != nil {
					reject.Invoke(toJSError(err))
					return
				}
				resolve.Invoke(v)
			}()
			return nil
		})
		return jsGlobal.Get("Promise").New(executor)
	})
}

// parseSafely turns a panic while reading odd arguments (a getter that
// throws, say) into an invalid_argument rejection instead of a crash.
func parseSafely[A any](parse func([]js.Value) (A, error), args []js.Value) (a A, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: unreadable options", errBadArgument)
		}
	}()
	return parse(args)
}

// safely turns a panic inside work into an error, so a bug rejects one
// promise instead of killing the whole program for the page.
func safely(work func() (any, error)) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error in dualauth: %v", r)
		}
	}()
	return work()
}

// toJSError builds the Error object the JS API rejects with.
func toJSError(err error) js.Value {
	msg := err.Error()
	var lr *core.LoginRequiredError
	if errors.As(err, &lr) {
		// The core words it for the CLI ("run `auth login`"); a page has
		// its own login button.
		msg = "not logged in to " + lr.Host
		if lr.Cause != nil {
			msg = fmt.Sprintf("the login to %s is no longer valid (%v); log in again", lr.Host, lr.Cause)
		}
	}
	// Server text in the message (an error_description, a claim, an
	// endpoint) goes through the CLI's sanitiser (S37).
	e := jsGlobal.Get("Error").New(core.Sanitize(msg))
	e.Set("code", errorCode(err))
	var oe *core.OAuthError
	if errors.As(err, &oe) && oe.Description != "" {
		e.Set("description", core.Sanitize(oe.Description))
	}
	return e
}

// notifyLater runs cb(arg) from a fresh microtask, so an exception thrown by
// a page's callback is reported by the browser and never unwinds into Go.
func notifyLater(cb js.Value, arg any) {
	jsGlobal.Call("queueMicrotask", cb.Call("bind", js.Null(), arg))
}

// webCrypto reads the browser's CSPRNG, crypto.getRandomValues, for the
// login's state, nonce and PKCE verifier. It is what crypto/rand does for
// js/wasm, without the 100 kB of FIPS DRBG code crypto/rand links in.
type webCrypto struct{}

// maxRandomValues is getRandomValues' limit per call (Web Crypto, 10.1.1).
const maxRandomValues = 65536

func (webCrypto) Read(b []byte) (n int, err error) {
	c := jsGlobal.Get("crypto")
	if c.Type() != js.TypeObject {
		return 0, errors.New("this browser has no crypto.getRandomValues")
	}
	defer func() {
		if r := recover(); r != nil { // a js.Error thrown by getRandomValues
			n, err = 0, fmt.Errorf("crypto.getRandomValues failed: %v", r)
		}
	}()
	buf := jsGlobal.Get("Uint8Array").New(min(len(b), maxRandomValues))
	for n < len(b) {
		chunk := min(len(b)-n, maxRandomValues)
		view := buf
		if chunk < buf.Length() {
			view = buf.Call("subarray", 0, chunk)
		}
		c.Call("getRandomValues", view)
		n += js.CopyBytesToGo(b[n:n+chunk], view)
	}
	return n, nil
}
