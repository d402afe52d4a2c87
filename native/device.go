package native

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dualauth/dualauth/core"
)

// DeviceOptions configure [DeviceLogin].
type DeviceOptions struct {
	Options
	// Scopes; nil means core.LoginScopes: the resolution's, else DefaultScopes.
	Scopes []string
	// Timeout bounds the whole login, the user's approval included; 0
	// means DefaultLoginTimeout. The device code's own lifetime also ends
	// it.
	Timeout time.Duration
	// ShowCode tells the user where to go and what to enter; nil writes
	// it to stderr with [WriteCode].
	ShowCode func(core.ShowCode)
	// Resolution, from [Resolve], skips discovery and is saved with the
	// login. With it, an empty ClientID means: use the client registered
	// at the issuer for the device grant, or register one (RFC 7591).
	Resolution *core.Resolution
}

// DeviceLogin runs the device authorization grant (RFC 8628): discovery,
// the device authorization request, the code shown to the user, polling
// the token endpoint, and the save under the lock — the same cache entry
// as [Login] writes, so [Token] cannot tell the two apart. A public client
// sends its client_id only.
func DeviceLogin(ctx context.Context, o DeviceOptions) (*core.Entry, error) {
	s, ctx, cancel, err := o.beginLogin(ctx, o.Timeout, o.Resolution != nil)
	if err != nil {
		return nil, err
	}
	defer cancel()
	scopes := core.LoginScopes(o.Scopes, o.Resolution, o.Target)
	d := o.driver(s)
	d.ShowCode = o.ShowCode
	done := d.Run(ctx, core.NewDevice(core.DeviceConfig{
		Target:     o.Target,
		Client:     core.Client{ID: o.ClientID},
		Scopes:     scopes,
		Resolution: o.Resolution,
		DPoP:       o.DPoP,
	}))
	if done.Err != nil {
		return nil, done.Err
	}
	return done.Entry, nil
}

// WriteCode writes what the user needs to approve a device login: the
// verification URI and the user code, the complete URI (which carries the
// code) when the server gives one, and when the code expires. The user
// code is meant to be seen; the device code is never shown.
func WriteCode(w io.Writer, c core.ShowCode) {
	// All three come from the server (S37).
	c.VerificationURI, c.UserCode = core.Sanitize(c.VerificationURI), core.Sanitize(c.UserCode)
	c.VerificationURIComplete = core.Sanitize(c.VerificationURIComplete)
	fmt.Fprintf(w, "To log in, open this URL in a browser on any device:\n\n  %s\n\nand enter the code:\n\n  %s\n\n", c.VerificationURI, c.UserCode)
	if c.VerificationURIComplete != "" && c.VerificationURIComplete != c.VerificationURI {
		fmt.Fprintf(w, "Or open this URL, which already contains the code:\n\n  %s\n\n", c.VerificationURIComplete)
	}
	if !c.ExpiresAt.IsZero() {
		left := time.Until(c.ExpiresAt).Round(time.Second)
		fmt.Fprintf(w, "The code expires in %s (at %s).\n", left, c.ExpiresAt.Local().Format("15:04:05"))
	}
}

func (d *Driver) showCode(c core.ShowCode) {
	if d.ShowCode != nil {
		d.ShowCode(c)
		return
	}
	WriteCode(os.Stderr, c)
}

// wait lets a polling interval pass, or ends it early with Aborted when
// ctx ends (timeout, Ctrl-C).
func (d *Driver) wait(ctx context.Context, e core.Wait) core.Event {
	t := time.NewTimer(e.For)
	defer t.Stop()
	select {
	case <-t.C:
		return core.Waited{Now: d.now()}
	case <-ctx.Done():
		return core.Aborted{Err: abortReason(ctx)}
	}
}

// StorageFileHint ends the warning of an auto storage that fell back to
// the file: how to choose the file up front, which silences it.
const StorageFileHint = " (--storage file or DUALAUTH_STORAGE=file picks the file without this warning)"

// settleStorage decides where the refresh token goes before the user is
// asked to do anything: an unavailable keyring in keyring mode fails here,
// and auto mode says when it falls back to the file.
func settleStorage(s Store) error {
	ks, ok := s.(*KeyringStore)
	if !ok {
		return nil
	}
	info, err := ks.Resolve()
	if err != nil {
		return err
	}
	if info.Requested == StorageAuto && info.InUse == StorageFile {
		ks.warn(fmt.Sprintf("%s; tokens stored in %s%s", info.Reason, info.File, StorageFileHint))
	}
	return nil
}
