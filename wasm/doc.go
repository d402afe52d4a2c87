//go:build js && wasm

// Command dualauth is the browser driver of dualauth (the wasm/ box of
// DESIGN.md): compiled with GOOS=js GOARCH=wasm, it performs the effects of
// the pure core with browser APIs and exposes a Promise-based API that
// web/dualauth.js wraps.
//
//   - Fetch      → fetch() (never net/http: its client would double the size)
//   - Authorize  → window.location.assign, after SavePending put the pending
//     login in localStorage
//   - Lock       → navigator.locks.request, held until Unlock
//   - Load/Save  → IndexedDB, the authoritative copy, read and written inside
//     the lock; a token-free summary is mirrored to localStorage so other
//     tabs hear about logins, refreshes and logouts through storage events
//
// It is the only package of the module that imports syscall/js. No call from
// JavaScript ever blocks: every API function returns a Promise settled by a
// goroutine.
package main
