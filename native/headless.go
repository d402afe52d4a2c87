package native

import (
	"os"
	"os/exec"
	"runtime"
)

// BrowserEnv is what decides whether a login can open a browser here (the
// automatic flow choice of `auth login`). Its fields are the process's
// own in [SystemBrowserEnv]; tests set them.
type BrowserEnv struct {
	GOOS     string
	Getenv   func(string) string
	LookPath func(string) (string, error)
}

// SystemBrowserEnv is this machine's environment, read through getenv
// (nil means os.Getenv).
func SystemBrowserEnv(getenv func(string) string) BrowserEnv {
	if getenv == nil {
		getenv = os.Getenv
	}
	return BrowserEnv{GOOS: runtime.GOOS, Getenv: getenv, LookPath: exec.LookPath}
}

// CanOpen reports whether a browser can be opened for a login on this
// machine, and why, in a few words for the user. command is the browser
// command configured (--browser, $BROWSER), if any. The rule:
//   - a configured command: yes;
//   - macOS and Windows: yes (they always have a default browser opener);
//   - WSL (WSL_DISTRO_NAME or WSL_INTEROP set): when wslview is on PATH;
//   - other Unix systems: when a graphical session is there (DISPLAY or
//     WAYLAND_DISPLAY set) and xdg-open is on PATH;
//   - otherwise (an SSH session, a container, a CI runner): no.
//
// Looking is cheap: no process is started.
func (e BrowserEnv) CanOpen(command string) (bool, string) {
	if command != "" {
		return true, "a browser command is set"
	}
	switch e.GOOS {
	case "darwin", "windows":
		return true, "the system browser"
	}
	has := func(name string) bool {
		_, err := e.LookPath(name)
		return err == nil
	}
	if e.Getenv("WSL_DISTRO_NAME") != "" || e.Getenv("WSL_INTEROP") != "" {
		if has("wslview") {
			return true, "WSL with wslview"
		}
		return false, "WSL without wslview"
	}
	if e.Getenv("DISPLAY") == "" && e.Getenv("WAYLAND_DISPLAY") == "" {
		return false, "no graphical display (DISPLAY and WAYLAND_DISPLAY unset) and no BROWSER"
	}
	if !has("xdg-open") {
		return false, "no xdg-open to open a browser with"
	}
	return true, "a graphical display with xdg-open"
}
