// Package earlystack grows the main goroutine's stack once, while it is
// still shallow, so that a short-lived `auth` process never copies a deep
// one.
//
// A goroutine starts with 2 KiB of stack. Package initialisation and then
// an `auth token` call outgrow it, and each time Go copies the stack to a
// bigger one, walking every frame on it through the function tables. In a
// process that lives a few milliseconds those tables are still cold:
// measured with a uprobe on runtime.copystack, `auth token` made three
// such copies, deep in package init, cobra, the config code and the cache
// reader, and they mapped some 0.3 MB of the binary's tables that nothing
// else reads. Growing the stack to 32 KiB here costs one copy of a stack
// that is two frames deep, and the whole token path then fits in it.
//
// A garbage collection may shrink an idle stack again; `auth token` on a
// valid token ends before the first one (runtime.MemStats.NumGC is 0).
//
// The package imports nothing: Go initialises packages in import-path
// order as soon as their imports are, so this one runs among the first,
// before the standard library's deep initialisers. Import it first, for
// its side effect only.
package earlystack

func init() { grow(0) }

// grow has a frame of 20 KiB: calling it makes the runtime double the
// stack until the frame fits, to 32 KiB, in one copy.
//
//go:noinline
func grow(i int) byte {
	var frame [20 << 10]byte
	frame[i] = 1
	return frame[len(frame)-1-i]
}
