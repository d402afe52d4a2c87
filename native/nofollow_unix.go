//go:build unix

package native

import "syscall"

// oNoFollow makes an open fail on a symbolic link (the lock files, the
// reservation file): a link planted in the cache directory cannot make
// auth create or touch a file elsewhere.
const oNoFollow = syscall.O_NOFOLLOW
