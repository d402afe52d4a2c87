// Package native is the desktop driver of dualauth (DESIGN.md, left half of
// the diagram): it performs the effects of the pure machines in core — a
// loopback listener for the authorization response, a browser opener, a
// JSON file cache guarded by an OS file lock, and net/http for the
// token endpoint — and feeds their outcomes back as events.
//
// [Driver.Run] runs any core machine. [Login], [DeviceLogin], [Token] and
// [Logout] wire a driver for the flows ([Paste] feeds [Login] redirects
// pasted into a terminal); [TokenSource] and [HTTPClient] give Go
// programs a cached login with the same lock-and-refresh behaviour as the
// `auth token` command.
package native
