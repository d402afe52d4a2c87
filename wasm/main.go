//go:build js && wasm

package main

import (
	"syscall"
	"syscall/js"
)

// The global function web/dualauth.js installs before it starts the
// program, named in the program's environment; main hands it the API object.
// Without one, the API is left in globalThis.dualauthWasm.
const readyHookEnv = "DUALAUTH_READY_HOOK"

// The mode, named in the program's environment by web/dualauth-worker.js:
// "worker" runs the worker mode (see newWorkerDriver).
const modeEnv = "DUALAUTH_MODE"

func main() {
	d := newBrowserDriver()
	if mode, _ := syscall.Getenv(modeEnv); mode == "worker" {
		d = newWorkerDriver() // one program for every tab: no storage events to hear
		d.startWorker()       // drops the DPoP keys of the last worker's logins, gone with it
	} else {
		onStorage := js.FuncOf(func(_ js.Value, args []js.Value) any {
			d.onStorage(arg0(args))
			return nil
		})
		jsGlobal.Call("addEventListener", "storage", onStorage)
	}
	api := d.api()
	name, _ := syscall.Getenv(readyHookEnv)
	if hook := jsGlobal.Get(name); name != "" && hook.Type() == js.TypeFunction {
		hook.Invoke(api)
	} else {
		jsGlobal.Set("dualauthWasm", api)
	}
	select {} // serve calls from JavaScript until the page goes away
}
