//go:build ignore

// The benchmark's baseline: an empty Go program for GOOS=js that only tells
// the loader it is ready, so the page pays for wasm_exec.js, the Go
// runtime's start-up and a wasm download, but for nothing of dualauth.
package main

import (
	"syscall"
	"syscall/js"
)

func main() {
	// The hook web/dualauth.js names for this load (see wasm/main.go);
	// syscall, not os, which would add 300 kB to the baseline.
	hook, _ := syscall.Getenv("DUALAUTH_READY_HOOK")
	js.Global().Call(hook, js.Global().Get("Object").New())
	select {}
}
