package native

import (
	"errors"
	"os"
	"syscall"
)

// allocate gives f n bytes of disk space now, so that writing up to n
// bytes into it later cannot fail for want of space: fallocate(2), or
// writing the bytes where the file system has no fallocate.
func allocate(f *os.File, n int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, 0, n)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return writeOut(f, n)
	}
	return err
}
