package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/spf13/cobra"
)

// Login flows (auth login --flow).
const (
	flowAuto    = "auto"
	flowBrowser = "browser"
	flowDevice  = "device"
)

// stdin, when set, replaces os.Stdin as the source of pasted redirect
// URLs. Nil by default: no package init work on `auth token`'s path.
var stdin io.Reader

const flowHelp = `

Flows (--flow; the one chosen is said on stderr). The default is the flow
saved in the profile ("auth login --profile NAME --flow FLOW" saves it, as
flow = FLOW), else auto; --flow, --device, --no-browser and --paste on the
command line beat the saved one, and a $DUALAUTH_FLOW, $DUALAUTH_DEVICE or
$DUALAUTH_PASTE they contradict.
  browser  Authorization code + PKCE: your browser goes to the server's login
           page and comes back to a loopback listener on this machine. With
           --no-browser the URL is printed for you to open. With --paste too,
           for a browser on another machine: after signing in there, copy the
           address it lands on (it fails to load there) and paste it here.
           The listener keeps running: whichever answer arrives first wins.
           Where no browser can be opened here (see auto), --paste is on
           anyway. When stdin ends before a paste (</dev/null, a CI job),
           the login stops at once, saying what to do instead; with
           --timeout it waits for the listener until then instead (a
           browser elsewhere reaching it through ssh -L port forwarding).
  device   The device authorization grant (RFC 8628; also --device): auth shows
           a URL and a code (and, on a terminal, a QR code of the URL with the
           code); approve on any device, a phone or a laptop, and auth polls
           the server until you do. The server must offer it (its metadata has
           a device_authorization_endpoint).
  auto     browser when a browser can be opened here and the loopback listener
           starts; else device when the server offers it; else browser with
           the URL printed and --paste.
           A browser can be opened when --browser or $BROWSER is set, on macOS
           and Windows, on WSL when wslview is installed, and on other systems
           when DISPLAY or WAYLAND_DISPLAY is set and xdg-open is installed
           (so not in a plain SSH session, a container or CI).
           --no-browser or --paste without --flow mean browser.
Every flow stores the tokens the same way: "auth token" works alike after each.
--prompt, --auth-param, --port, --redirect-uri and --browser concern the
browser flow only.`

const flowExamples = `
  # No browser here: approve on another device, or paste from a browser elsewhere:
  auth login https://idp.example.com --client-id my-cli --device
  auth login https://idp.example.com --client-id my-cli --no-browser --paste`

// flowFlags are the login flags that choose how the user signs in.
type flowFlags struct {
	flow          string
	device, paste bool
}

func (fl *flowFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&fl.flow, "flow", "", "how to sign in: browser, device or auto (auth help login-flows; default: the profile's flow, else auto)")
	f.BoolVar(&fl.device, "device", false, "sign in with the device authorization grant (same as --flow device)")
	f.BoolVar(&fl.paste, "paste", false, "browser flow for a browser on another machine: print the URL, then read the address it lands on from stdin")
	cmd.Example += flowExamples
}

func validFlow(flow string) bool {
	return flow == flowAuto || flow == flowBrowser || flow == flowDevice
}

// choice is the flow to run: the one asked for on the command line, else
// saved (a profile's flow, "" for none), else auto. --no-browser and
// --paste, which mean browser, beat a saved flow. name says where a flag's
// value came from (app.flagName).
func (fl *flowFlags) choice(cmd *cobra.Command, noBrowser bool, saved string, name func(flag string) string) (string, error) {
	flow, explicit := fl.flow, cmd.Flags().Changed("flow")
	if !explicit {
		flow = cmp.Or(saved, flowAuto)
	}
	if !validFlow(flow) {
		return "", usagef("%s must be browser, device or auto, not %q", name("flow"), flow)
	}
	if fl.device {
		if explicit && flow != flowDevice {
			return "", usagef("%s and %s %s cannot be used together", name("device"), name("flow"), flow)
		}
		flow, explicit = flowDevice, true
	}
	if fl.paste && explicit && flow == flowDevice {
		return "", usagef("%s belongs to the browser flow, not to the device flow (%s)", name("paste"), name("flow"))
	}
	if !explicit && (noBrowser || fl.paste) {
		flow = flowBrowser
	}
	return flow, nil
}

// loginByFlow runs the login in the flow chosen by choice (see flowHelp),
// saying which on stderr.
func (a *app) loginByFlow(ctx context.Context, flow string, fl *flowFlags, noBrowser bool, lo native.LoginOptions) (*core.Entry, error) {
	say := func(format string, args ...any) { fmt.Fprintf(a.stderr, "Login flow: "+format+"\n", args...) }
	withPaste := ""
	if fl.paste {
		withPaste = ", with paste-the-redirect"
	}
	switch flow {
	case flowBrowser:
		paste := fl.paste
		if !paste {
			if ok, why := native.SystemBrowserEnv(a.getenv).CanOpen(lo.Opener.Command); !ok {
				// The browser can only be on another machine, whose redirect
				// cannot reach the listener: a paste is the way back.
				paste, withPaste = true, ", with paste-the-redirect (no browser can be opened here: "+why+")"
			}
		}
		say("browser%s", withPaste)
		return a.browserLogin(ctx, lo, noBrowser, paste, true)
	case flowDevice:
		say("device authorization grant")
		e, err := a.deviceLogin(ctx, lo)
		switch {
		case errors.Is(err, core.ErrDeviceRequestRefused):
			return nil, fmt.Errorf("%w: this server may not allow the device grant for this client: log in with --flow browser instead (add --paste for a browser on another machine), or ask the server's administrators to enable the device grant for this client", err)
		case errors.Is(err, core.ErrNoDeviceFlow):
			return nil, fmt.Errorf("%w: log in with --flow browser instead (add --paste for a browser on another machine)", err)
		}
		return e, err
	}

	why := a.flagName("no-browser")
	if !noBrowser {
		var ok bool
		ok, why = native.SystemBrowserEnv(a.getenv).CanOpen(lo.Opener.Command)
		if ok {
			// A listener that cannot start makes the browser useless.
			l, err := native.Listen(lo.Listener)
			switch {
			case err == nil:
				l.Close()
				say("browser%s (auto: %s)", withPaste, why)
				return a.browserLogin(ctx, lo, false, fl.paste, true)
			case errors.Is(err, native.ErrPortInUse):
				return nil, err // most likely another login: say so rather than switch
			}
			why = "the loopback listener cannot start: " + err.Error()
		}
	}
	say("device authorization grant (auto: %s)", why)
	warnOnce(lo.Store) // both flows settle the storage: one notice is enough
	e, err := a.deviceLogin(ctx, lo)
	switch {
	case errors.Is(err, core.ErrNoDeviceFlow):
		why = "the server offers no device authorization grant"
	case errors.Is(err, core.ErrDeviceRequestRefused):
		why = "the server refused the device grant for this client: " + oneLine(err.Error())
	default:
		return e, err
	}
	say("browser with paste-the-redirect (auto: %s)", why)
	return a.browserLogin(ctx, lo, true, true, false)
}

// browserLogin is the authorization-code flow; manual prints the URL
// instead of opening a browser, paste also reads the redirect from stdin
// (and implies manual: the browser is elsewhere). When stdin ends before
// an address was pasted, the login ends at once (see pasteEnded);
// deviceNext says whether --device is still worth suggesting then.
func (a *app) browserLogin(ctx context.Context, lo native.LoginOptions, manual, paste, deviceNext bool) (*core.Entry, error) {
	manual = manual || paste
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	st := a.newStatus(lo.Target.Host, manual)
	if paste {
		st.tty, st.spinner = false, false // a spinner line would overwrite what the user pastes
	}
	defer st.stop()
	lo.Opener.Disabled = lo.Opener.Disabled || manual
	lo.OnAuthorize = st.authorize
	var pasted *native.Paste
	if paste {
		in := stdin
		if in == nil {
			in = os.Stdin
		}
		pasted = native.NewPaste(ctx, in, a.stderr)
		lo.Callbacks = pasted.Callbacks()
		lo.OnAuthorize = func(u string, failed <-chan error) {
			st.authorize(u, failed)
			pasted.Start(u)
		}
		go func() {
			select {
			case err := <-pasted.Ended():
				if a.timeoutSet {
					// Asked to wait: the loopback listener can still get
					// the redirect (a browser elsewhere, through ssh -L).
					fmt.Fprintf(a.stderr, "\nstdin ended before an address was pasted; still waiting for the browser's redirect to this machine's listener, until --timeout (%s)\n", lo.Timeout)
					return
				}
				cancel(pasteEnded(err, deviceNext))
			case <-ctx.Done():
			}
		}()
	}
	e, err := native.Login(ctx, lo)
	st.stop()
	if pasted != nil && (pasted.Prompting() || errors.Is(err, native.ErrPasteEnded)) {
		fmt.Fprintln(a.stderr) // the prompt's line was left open
	}
	return e, err
}

// pasteEnded is the error of a login whose stdin ended while it waited
// for a paste, without --timeout: only a browser that reaches this
// machine's loopback listener could still finish it, which a CI job's
// never does, so it ends at once rather than at the end of the default
// --timeout, saying how to keep the listener's way open (a browser
// elsewhere through ssh -L port forwarding) too.
func pasteEnded(err error, deviceNext bool) error {
	ways := "run auth login in a terminal to paste the address, or set BROWSER to a command that opens a browser on this machine"
	if deviceNext {
		ways = "run auth login in a terminal to paste the address, set BROWSER to a command that opens a browser on this machine, or use --device where the server offers it"
	}
	return fmt.Errorf("%w, so the login ends now rather than wait for a browser to reach this machine's loopback listener: %s; "+
		"to finish it in a browser elsewhere through port forwarding (ssh -L), keep stdin open or pass --timeout, and the login waits for the listener that long", err, ways)
}

// deviceLogin is the device authorization grant, with the code (and a QR
// code of the complete URL on a terminal) on stderr.
// deviceMaxWait caps a device login when --timeout is not given.
const deviceMaxWait = 30 * time.Minute

func (a *app) deviceLogin(ctx context.Context, lo native.LoginOptions) (*core.Entry, error) {
	tty := isTerminal(a.stderr)
	timeout := lo.Timeout
	if !a.timeoutSet {
		// Without --timeout the device code's own lifetime (often 10–15
		// minutes, shown to the user) decides; this only caps it.
		timeout = deviceMaxWait
	}
	return native.DeviceLogin(ctx, native.DeviceOptions{
		Options:    lo.Options,
		Scopes:     lo.Scopes,
		Timeout:    timeout,
		Resolution: lo.Resolution,
		ShowCode: func(c core.ShowCode) {
			fmt.Fprintln(a.stderr)
			native.WriteCode(a.stderr, c)
			if tty && c.VerificationURIComplete != "" {
				fmt.Fprintln(a.stderr, "\nOr scan this with your phone:")
				native.WriteQR(a.stderr, c.VerificationURIComplete)
			}
			fmt.Fprintln(a.stderr, "\nWaiting for the login to be approved (Ctrl-C to cancel)…")
		},
	})
}

// warnOnce makes a keyring store show each distinct warning once.
func warnOnce(s native.Store) {
	ks, ok := s.(*native.KeyringStore)
	if !ok || ks.Warn == nil {
		return
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	inner := ks.Warn
	ks.Warn = func(m string) {
		mu.Lock()
		first := !seen[m]
		seen[m] = true
		mu.Unlock()
		if first {
			inner(m)
		}
	}
}
