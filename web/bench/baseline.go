//go:build ignore

// The benchmark's baseline: an empty Go program for GOOS=js that only tells
// the loader it is ready, so the page pays for wasm_exec.js, the Go
// runtime's start-up and a wasm download, but for nothing of dualauth.
package main

import (
	"os"
	"syscall/js"
)

func main() {
	js.Global().Call(os.Getenv("DUALAUTH_READY_HOOK"), js.Global().Get("Object").New())
	select {}
}
