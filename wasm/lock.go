//go:build js && wasm

package main

import (
	"fmt"
	"strings"
	"syscall/js"
	"time"
)

// lockTimeout bounds the wait for another tab's refresh: long enough for a
// slow token endpoint (whose fetch is itself bounded by fetchTimeout).
const lockTimeout = 45 * time.Second

// acquireLock takes the Web Locks API lock called name, shared by every tab
// and worker of the origin, and returns the function that releases it.
//
// navigator.locks.request holds a lock for as long as the promise returned
// by its callback is pending, while the core asks for Lock and Unlock as
// two effects: the callback returns a promise whose resolve function is
// handed back to Go, and release resolves it. The browser also releases the
// lock when the tab goes away.
func acquireLock(name string, timeout time.Duration) (release func(), err error) {
	locks := jsGlobal.Get("navigator").Get("locks")
	if !locks.Truthy() {
		return nil, fmt.Errorf("%w: this browser has no navigator.locks", errStorage)
	}
	granted := make(chan js.Value, 1)
	failed := make(chan error, 1)
	onGrant := js.FuncOf(func(js.Value, []js.Value) any {
		var executor js.Func
		executor = js.FuncOf(func(_ js.Value, args []js.Value) any {
			executor.Release()
			granted <- args[0]
			return nil
		})
		return jsGlobal.Get("Promise").New(executor)
	})
	// The request's own promise settles when the lock is released (then
	// the functions are no longer needed) or, before any grant, when the
	// wait times out.
	var onSettled, onFail js.Func
	cleanup := func() { onGrant.Release(); onSettled.Release(); onFail.Release() }
	onSettled = js.FuncOf(func(js.Value, []js.Value) any { cleanup(); return nil })
	onFail = js.FuncOf(func(_ js.Value, args []js.Value) any {
		failed <- jsErrorOf(arg0(args))
		cleanup()
		return nil
	})
	opts := js.ValueOf(map[string]any{"mode": "exclusive"})
	if as := jsGlobal.Get("AbortSignal"); as.Truthy() && as.Get("timeout").Truthy() {
		opts.Set("signal", as.Call("timeout", timeout.Milliseconds()))
	}
	p, err := call(func() js.Value { return locks.Call("request", name, opts, onGrant) })
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("%w: %v", errStorage, err)
	}
	p.Call("then", onSettled, onFail)
	select {
	case resolve := <-granted:
		return func() { resolve.Invoke() }, nil
	case err := <-failed:
		if strings.HasPrefix(err.Error(), "TimeoutError") || strings.HasPrefix(err.Error(), "AbortError") {
			return nil, errLockTimeout
		}
		return nil, fmt.Errorf("%w: %v", errStorage, err)
	}
}

// tryLock takes the lock called name in mode ("exclusive" or "shared") if
// it is free now (Web Locks' ifAvailable); ok is false when another holder
// has it. release frees it; a lock never released is held until the tab or
// worker goes away.
func tryLock(name, mode string, ifAvailable bool) (release func(), ok bool, err error) {
	locks := jsGlobal.Get("navigator").Get("locks")
	if !locks.Truthy() {
		return nil, false, fmt.Errorf("%w: this browser has no navigator.locks", errStorage)
	}
	type grant struct {
		resolve js.Value
		held    bool
	}
	granted := make(chan grant, 1)
	onGrant := js.FuncOf(func(_ js.Value, args []js.Value) any {
		held := arg0(args).Truthy() // null: not available
		if !held {
			granted <- grant{}
			return nil
		}
		var executor js.Func
		executor = js.FuncOf(func(_ js.Value, args []js.Value) any {
			executor.Release()
			granted <- grant{resolve: args[0], held: true}
			return nil
		})
		return jsGlobal.Get("Promise").New(executor)
	})
	opts := js.ValueOf(map[string]any{"mode": mode, "ifAvailable": ifAvailable})
	if _, err := call(func() js.Value { return locks.Call("request", name, opts, onGrant) }); err != nil {
		onGrant.Release()
		return nil, false, fmt.Errorf("%w: %v", errStorage, err)
	}
	g := <-granted
	if !g.held {
		onGrant.Release()
		return nil, false, nil
	}
	return func() { g.resolve.Invoke(); onGrant.Release() }, true, nil
}
