package native

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/cli/browser"
)

// Opener sends the user's browser to a URL.
type Opener struct {
	// Command, when set, is run as `Command URL` (from --browser or
	// $BROWSER; see browserArgv for lists and %s). It is started, not
	// waited on: a command
	// that fetches the URL itself, or a browser that stays open, must not
	// hold up the login that its callback completes.
	Command string
	// Disabled prints the URL instead of opening anything (--no-browser).
	Disabled bool
	// Output receives the command's own output; never stdout, which
	// belongs to the token. Nil means os.Stderr.
	Output io.Writer
}

// Open starts opening url. It returns at once; a failure, now or when the
// opener exits unsuccessfully, is sent on the returned channel (buffered)
// so the caller can print the URL and keep waiting.
func (o Opener) Open(url string) <-chan error {
	errc := make(chan error, 1)
	var out io.Writer = os.Stderr
	if o.Output != nil {
		out = o.Output
	}
	// Never hand the opener our own file descriptors: a browser that
	// outlives auth would keep a caller's pipe (`auth login 2>&1 | tee`)
	// open. A plain Writer makes os/exec use a pipe that dies with us.
	out = writerOnly{out}
	switch {
	case o.Disabled:
		errc <- errBrowserDisabled
	case strings.TrimSpace(o.Command) != "":
		argv, err := browserArgv(o.Command, url, exec.LookPath)
		if err != nil {
			errc <- err
			break
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			errc <- fmt.Errorf("could not run the browser command %q: %v", argv[0], err)
			break
		}
		go func() {
			if err := cmd.Wait(); err != nil {
				errc <- fmt.Errorf("the browser command %q failed: %v", argv[0], err)
			}
		}()
	default:
		// Its output must not reach stdout either.
		browser.Stdout, browser.Stderr = out, out
		go func() {
			// The library waits for its helper (xdg-open, wslview…),
			// which may be a text browser that never returns: hence the
			// goroutine.
			if err := browser.OpenURL(url); err != nil {
				errc <- fmt.Errorf("could not open a browser: %v", err)
			}
		}()
	}
	return errc
}

// browserArgv turns a --browser / $BROWSER value into the command to run,
// the way $BROWSER is read by xdg-open and Python's webbrowser: a list of
// commands separated by the OS path-list separator (":" on Unix), of
// which the first whose program is found is used; in it "%s" stands for
// the URL and "%%" for "%", and without a "%s" the URL is appended. An
// entry that as a whole names a program is run as is, so a path with
// spaces (WSL's "/mnt/c/Program Files/…/chrome.exe") needs no quoting.
func browserArgv(spec, url string, lookPath func(string) (string, error)) ([]string, error) {
	var tried []string
	for _, entry := range filepath.SplitList(spec) {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if _, err := lookPath(entry); err == nil {
			return []string{entry, url}, nil
		}
		f := strings.Fields(entry)
		if _, err := lookPath(f[0]); err != nil {
			tried = append(tried, f[0])
			continue
		}
		argv, substituted := make([]string, 0, len(f)+1), false
		for _, a := range f {
			a, ok := expandBrowserArg(a, url)
			substituted = substituted || ok
			argv = append(argv, a)
		}
		if !substituted {
			argv = append(argv, url)
		}
		return argv, nil
	}
	if len(tried) == 0 {
		return nil, fmt.Errorf("the browser command is empty")
	}
	return nil, fmt.Errorf("could not run the browser command: %s not found (check --browser or $BROWSER)", strings.Join(tried, ", "))
}

// expandBrowserArg replaces %s with url and %% with %; ok reports a %s.
func expandBrowserArg(a, url string) (out string, ok bool) {
	if !strings.Contains(a, "%") {
		return a, false
	}
	var b strings.Builder
	for i := 0; i < len(a); i++ {
		if a[i] == '%' && i+1 < len(a) {
			switch a[i+1] {
			case 's':
				b.WriteString(url)
				ok = true
				i++
				continue
			case '%':
				b.WriteByte('%')
				i++
				continue
			}
		}
		b.WriteByte(a[i])
	}
	return b.String(), ok
}

type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }

var errBrowserDisabled = fmt.Errorf("browser disabled")
