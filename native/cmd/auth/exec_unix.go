//go:build unix

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"syscall"
)

// runCommand replaces auth with the command (execve): the command gets
// auth's PID, so every signal meant for auth reaches it, none twice (a
// Ctrl-C goes to the whole foreground process group, and a forwarding
// parent would deliver it a second time), and its exit status is auth's.
// Only on failure does it return.
func (a *app) runCommand(name string, args, env []string) error {
	path, err := exec.LookPath(name)
	if err != nil {
		return a.startFailed(name, err)
	}
	err = syscall.Exec(path, append([]string{name}, args...), env)
	return a.startFailed(name, err)
}

// startFailed says why the command did not start and exits as shells do:
// 127 not found, 126 found but not runnable.
func (a *app) startFailed(name string, err error) error {
	code := 126
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		code = 127
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		err = ee.Err
	}
	fmt.Fprintf(a.stderr, "auth: cannot run %s: %s\n", oneLine(name), oneLine(err.Error()))
	return exitError{code}
}
