package native

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/cli/browser"
)

// Opener sends the user's browser to a URL.
type Opener struct {
	// Command, when set, is run as `Command URL` (split on spaces; from
	// --browser or $BROWSER). It is started, not waited on: a command
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
		f := strings.Fields(o.Command)
		cmd := exec.Command(f[0], append(f[1:], url)...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			errc <- fmt.Errorf("could not run the browser command %q: %v", f[0], err)
			break
		}
		go func() {
			if err := cmd.Wait(); err != nil {
				errc <- fmt.Errorf("the browser command %q failed: %v", f[0], err)
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

type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }

var errBrowserDisabled = fmt.Errorf("browser disabled")
