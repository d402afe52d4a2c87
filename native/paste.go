package native

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/dualauth/dualauth/core"
)

// Paste turns redirect URLs pasted into a terminal into callbacks of a
// login (paste-the-redirect): for a browser on another machine, which
// cannot reach the loopback listener, the user copies the address it
// landed on. Pass [Paste.Callbacks] as [LoginOptions.Callbacks], so the
// listener keeps running and whichever answer arrives first wins, and call
// [Paste.Start] from [LoginOptions.OnAuthorize].
//
// Each line read is checked with [core.ParsePastedRedirect] (scheme, host,
// port and path of the redirect URI); a bad one is explained on Out and
// another is read. A good one goes to the login machine, which checks
// state, iss and error exactly as for a callback that reached the
// listener: a wrong state is refused and the login keeps waiting.
type Paste struct {
	In  io.Reader
	Out io.Writer

	calls     chan *Incoming
	ended     chan error
	ctx       context.Context
	prompting atomic.Bool
}

// ErrPasteEnded is why [Paste.Ended] fires: the input ended (EOF, or it
// could not be read) before an accepted address was pasted, so no paste
// can finish the login any more.
var ErrPasteEnded = errors.New("stdin ended before an address was pasted")

// NewPaste reads pasted URLs from in and talks to the user on out until
// ctx ends. A read blocked on in (a terminal) is not interrupted by ctx:
// the goroutine ends at the next line or at the end of in.
func NewPaste(ctx context.Context, in io.Reader, out io.Writer) *Paste {
	return &Paste{In: in, Out: out, calls: make(chan *Incoming), ended: make(chan error, 1), ctx: ctx}
}

// Ended receives [ErrPasteEnded] (wrapping the read error, if any) when
// the input ends while the login still waits for a paste: whatever was
// pasted before was refused, and nothing more can come. It never fires
// once the login has ended or been handed an answer it accepted.
func (p *Paste) Ended() <-chan error { return p.ended }

// Callbacks delivers the pasted authorization responses.
func (p *Paste) Callbacks() <-chan *Incoming { return p.calls }

// Start begins reading, for the login whose authorization request is
// authorizeURL (its redirect_uri is what a paste must match).
func (p *Paste) Start(authorizeURL string) {
	redirect := ""
	if u, err := url.Parse(authorizeURL); err == nil {
		redirect = u.Query().Get("redirect_uri")
	}
	go p.read(redirect)
}

const pastePrompt = "Paste the address here and press Enter: "

// Prompting reports whether the prompt is shown and no line has been
// entered after it: a caller that ends the login meanwhile (the listener
// won) starts its next message on a new line.
func (p *Paste) Prompting() bool { return p.prompting.Load() }

func (p *Paste) read(redirect string) {
	defer p.prompting.Store(false)
	fmt.Fprintf(p.Out, "After you sign in, the browser is sent to %s?code=…, which does not\nload when the browser runs on another machine: copy that whole address from\nits address bar.\n%s", redirect, pastePrompt)
	p.prompting.Store(true)
	sc := bufio.NewScanner(p.In)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		p.prompting.Store(false)
		if p.ctx.Err() != nil {
			return
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			fmt.Fprint(p.Out, pastePrompt)
			p.prompting.Store(true)
			continue
		}
		q, err := core.ParsePastedRedirect(line, redirect)
		if err != nil {
			fmt.Fprintf(p.Out, "Not accepted: %s.\n%s", core.Sanitize(strings.TrimSuffix(err.Error(), ".")), pastePrompt)
			p.prompting.Store(true)
			continue
		}
		reply := make(chan Page, 1)
		select {
		case p.calls <- NewIncoming(q, reply):
		case <-p.ctx.Done():
			return
		}
		var page Page
		select {
		case page = <-reply:
		case <-p.ctx.Done():
			return
		}
		if page.Status == http.StatusBadRequest && page.Title == rejectTitle {
			// Refused by the login (wrong state): it is still waiting.
			fmt.Fprintf(p.Out, "Not accepted: %s\n%s", core.Sanitize(page.Message), pastePrompt)
			p.prompting.Store(true)
			continue
		}
		return // the login ended, for better or worse: its caller reports it
	}
	if p.ctx.Err() != nil {
		return
	}
	err := ErrPasteEnded
	if rerr := sc.Err(); rerr != nil {
		err = fmt.Errorf("%w: %v", ErrPasteEnded, rerr)
	}
	p.ended <- err
}
