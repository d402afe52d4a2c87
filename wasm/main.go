//go:build js && wasm

package main

import "syscall/js"

// readyHook is the global function web/dualauth.js installs before it starts
// the program; main hands it the API object.
const readyHook = "__dualauthReady"

func main() {
	d := newBrowserDriver()
	onStorage := js.FuncOf(func(_ js.Value, args []js.Value) any {
		d.onStorage(arg0(args))
		return nil
	})
	jsGlobal.Call("addEventListener", "storage", onStorage)
	api := d.api()
	if hook := jsGlobal.Get(readyHook); hook.Type() == js.TypeFunction {
		hook.Invoke(api)
	} else {
		jsGlobal.Set("dualauthWasm", api)
	}
	select {} // serve calls from JavaScript until the page goes away
}
