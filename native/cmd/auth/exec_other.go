//go:build !unix

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
)

// runCommand runs the command with auth's stdin, stdout and stderr and
// exits with its status. Ctrl-C reaches every process of the console, the
// command included: auth only keeps it from ending auth first.
func (a *app) runCommand(name string, args, env []string) error {
	c := exec.Command(name, args...)
	c.Env = env
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	signal.Ignore(os.Interrupt)
	if err := c.Start(); err != nil {
		code := 126
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			code = 127
		}
		fmt.Fprintf(a.stderr, "auth: cannot run %s: %s\n", oneLine(name), oneLine(err.Error()))
		return exitError{code}
	}
	err := c.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitError{ee.ExitCode()}
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "auth: %s: %s\n", oneLine(name), oneLine(err.Error()))
		return exitError{exitAuth}
	}
	return nil
}
