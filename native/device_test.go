package native

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/internal/deviceop"
	"github.com/matryer/is"
	"rsc.io/qr"
)

func deviceServer(t *testing.T, o deviceop.Options) *deviceop.Server {
	t.Helper()
	s, err := deviceop.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		if t.Failed() {
			t.Logf("device-op stderr:\n%s", s.Stderr())
		}
	})
	return s
}

func deviceOptions(s *deviceop.Server, cache *FileCache) Options {
	return Options{
		Target:      core.Target{Host: s.Issuer},
		ClientID:    s.ClientID,
		Store:       cache,
		HTTPOptions: HTTPOptions{Timeout: 3 * time.Second},
		LockTimeout: 3 * time.Second,
		Warn:        func(string) {},
	}
}

// TestDeviceLogin_ApprovedElsewhereSavesAnEntryTokenAndRefreshUse runs the
// device grant against oidc-provider: the user approves on "another
// device" (a scripted client following verification_uri_complete), the
// entry is saved as a browser login's is, Token serves it without a
// request, and a forced refresh rotates the refresh token. The public
// client sends client_id only: no secret, no Authorization header.
func TestDeviceLogin_ApprovedElsewhereSavesAnEntryTokenAndRefreshUse(t *testing.T) {
	is := is.New(t)
	s := deviceServer(t, deviceop.Options{Interval: time.Second})
	cache := &FileCache{Dir: t.TempDir()}
	var shown []core.ShowCode
	approved := make(chan error, 1)
	start := time.Now()
	e, err := DeviceLogin(context.Background(), DeviceOptions{
		Options: deviceOptions(s, cache),
		Timeout: 30 * time.Second,
		ShowCode: func(c core.ShowCode) {
			shown = append(shown, c)
			go func() { approved <- s.Approve(context.Background(), c.VerificationURIComplete) }()
		},
	})
	is.NoErr(err)
	is.NoErr(<-approved)
	t.Logf("device login approved and saved in %v", time.Since(start).Round(time.Millisecond))
	is.Equal(len(shown), 1)
	is.Equal(shown[0].VerificationURI, s.Issuer+"/device")
	is.True(strings.HasPrefix(shown[0].VerificationURIComplete, s.Issuer+"/device?user_code="))
	is.True(shown[0].UserCode != "")
	is.True(shown[0].ExpiresAt.After(time.Now()))

	// The entry a browser login would have saved: same key, metadata
	// for refresh without discovery, a refresh token.
	is.Equal(e.Key(), core.Key(s.Issuer, s.ClientID))
	is.Equal(e.Host, s.Issuer)
	is.Equal(e.Metadata.Issuer, s.Issuer)
	is.Equal(e.Metadata.TokenEndpoint, s.Issuer+"/token")
	is.True(e.RefreshToken != "")
	is.True(e.Expiry.After(time.Now()))
	_, saved, err := cache.Load([]string{e.Key()})
	is.NoErr(err)
	is.Equal(saved.AccessToken, e.AccessToken)

	before := len(s.Requests())
	got, err := Token(context.Background(), TokenOptions{Options: deviceOptions(s, cache)})
	is.NoErr(err)
	is.Equal(got.AccessToken, e.AccessToken)
	is.Equal(len(s.Requests()), before) // valid token: no request

	got, err = Token(context.Background(), TokenOptions{Options: deviceOptions(s, cache), Force: true})
	is.NoErr(err)
	is.True(got.AccessToken != e.AccessToken)
	is.True(got.RefreshToken != e.RefreshToken) // rotated, and saved
	_, saved, _ = cache.Load([]string{e.Key()})
	is.Equal(saved.RefreshToken, got.RefreshToken)
	is.Equal(s.Count("refresh_token"), 1)

	for _, r := range s.Requests() {
		is.True(!r.Authorization) // a public client: no client authentication header
		is.True(!slices.Contains(r.Params, "client_secret"))
		is.True(slices.Contains(r.Params, "client_id"))
		switch {
		case r.Path == "/device/auth":
			is.Equal(r.Params, []string{"client_id", "scope"})
		case r.GrantType == core.DeviceGrantType:
			is.Equal(r.Params, []string{"client_id", "device_code", "grant_type"})
		}
	}
	is.True(s.Count(core.DeviceGrantType) >= 1)
}

// TestDeviceLogin_TimeoutEndsPollingAndReleasesEverything: nobody
// approves; the login ends with the timeout at once (not at the next
// poll), saves nothing and leaves the cache lock free.
func TestDeviceLogin_TimeoutEndsPollingAndReleasesEverything(t *testing.T) {
	is := is.New(t)
	s := deviceServer(t, deviceop.Options{}) // no interval: 5 s polls
	cache := &FileCache{Dir: t.TempDir()}
	start := time.Now()
	_, err := DeviceLogin(context.Background(), DeviceOptions{
		Options:  deviceOptions(s, cache),
		Timeout:  1500 * time.Millisecond,
		ShowCode: func(core.ShowCode) {},
	})
	took := time.Since(start)
	is.True(errors.Is(err, ErrTimeout))
	is.True(strings.Contains(err.Error(), "no login completed within 1.5s"))
	is.True(took < 3*time.Second)
	is.Equal(s.Count(core.DeviceGrantType), 0) // the 5 s wait was cut short
	_, en, err := cache.Load([]string{core.Key(s.Issuer, s.ClientID)})
	is.NoErr(err)
	is.True(en == nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	unlock, err := cache.Lock(ctx, core.Key(s.Issuer, s.ClientID))
	is.NoErr(err) // not left held
	unlock()
}

func TestDriver_WaitAnswersWaitedWithTheClockOrAbortedOnCancel(t *testing.T) {
	is := is.New(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := &Driver{Now: func() time.Time { return at }}
	ev := d.perform(context.Background(), core.Wait{For: 10 * time.Millisecond})
	is.Equal(ev, core.Waited{Now: at})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	ev = d.perform(ctx, core.Wait{For: time.Hour})
	_, aborted := ev.(core.Aborted)
	is.True(aborted)
	is.True(time.Since(start) < time.Second)
}

func TestDriver_ShowCodeGoesToTheHookAndNeedsNoAnswer(t *testing.T) {
	is := is.New(t)
	var got []core.ShowCode
	d := &Driver{ShowCode: func(c core.ShowCode) { got = append(got, c) }}
	c := core.ShowCode{UserCode: "WDJB-MJHT", VerificationURI: "https://idp.example/device"}
	is.Equal(d.perform(context.Background(), c), nil)
	is.Equal(got, []core.ShowCode{c})
}

func TestWriteCode_ShowsTheURLTheCodeAndTheCompleteURL(t *testing.T) {
	is := is.New(t)
	var b bytes.Buffer
	WriteCode(&b, core.ShowCode{UserCode: "WDJB-MJHT", VerificationURI: "https://idp.example/device",
		VerificationURIComplete: "https://idp.example/device?user_code=WDJB-MJHT", ExpiresAt: time.Now().Add(time.Minute)})
	out := b.String()
	is.True(strings.Contains(out, "\n  https://idp.example/device\n"))
	is.True(strings.Contains(out, "\n  WDJB-MJHT\n"))
	is.True(strings.Contains(out, "\n  https://idp.example/device?user_code=WDJB-MJHT\n"))
	is.True(strings.Contains(out, "The code expires in ") && strings.Contains(out, "s (at "))

	b.Reset()
	WriteCode(&b, core.ShowCode{UserCode: "WDJB-MJHT", VerificationURI: "https://idp.example/device"})
	is.True(!strings.Contains(b.String(), "already contains the code")) // no complete URL given
}

// TestWriteQR_DrawsEveryModuleOfTheCode reads the half blocks back into
// modules and compares them with the encoder's bitmap, quiet zone
// included.
func TestWriteQR_DrawsEveryModuleOfTheCode(t *testing.T) {
	is := is.New(t)
	const text = "http://127.0.0.1:41234/device?user_code=WDJB-MJHT"
	var b bytes.Buffer
	is.NoErr(WriteQR(&b, text))
	want, err := qr.Encode(text, qr.L)
	is.NoErr(err)
	n := want.Size + 2*qrQuiet
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	is.Equal(len(lines), (n+1)/2)
	// Each cell: is its top module dark, is its bottom module dark.
	halves := map[rune][2]bool{' ': {true, true}, '▄': {true, false}, '▀': {false, true}, '█': {false, false}}
	dark := map[[2]int]bool{}
	for row, line := range lines {
		cells := []rune(line)
		is.Equal(len(cells), n)
		for x, c := range cells {
			h, ok := halves[c]
			is.True(ok) // only half blocks and blanks
			dark[[2]int{x, 2 * row}], dark[[2]int{x, 2*row + 1}] = h[0], h[1]
		}
	}
	for y := range n {
		for x := range n {
			in := x >= qrQuiet && y >= qrQuiet && x < qrQuiet+want.Size && y < qrQuiet+want.Size
			if dark[[2]int{x, y}] != (in && want.Black(x-qrQuiet, y-qrQuiet)) {
				t.Fatalf("module (%d,%d) drawn wrong", x, y)
			}
		}
	}
	is.True(WriteQR(&b, strings.Repeat("x", 4000)) != nil) // too long: an error, not a panic
}

func TestBrowserEnv_CanOpenFollowsTheDocumentedRule(t *testing.T) {
	for _, tc := range []struct {
		name    string
		goos    string
		env     map[string]string
		path    []string
		command string
		want    bool
	}{
		{"a browser command", "linux", nil, nil, "firefox", true},
		{"macOS", "darwin", nil, nil, "", true},
		{"Windows", "windows", nil, nil, "", true},
		{"X11 with xdg-open", "linux", map[string]string{"DISPLAY": ":0"}, []string{"xdg-open"}, "", true},
		{"Wayland with xdg-open", "freebsd", map[string]string{"WAYLAND_DISPLAY": "wayland-0"}, []string{"xdg-open"}, "", true},
		{"display without xdg-open", "linux", map[string]string{"DISPLAY": ":0"}, nil, "", false},
		{"SSH session without display", "linux", map[string]string{"SSH_CONNECTION": "1 2 3 4"}, []string{"xdg-open"}, "", false},
		{"WSL with wslview", "linux", map[string]string{"WSL_DISTRO_NAME": "Debian"}, []string{"wslview"}, "", true},
		{"WSL without wslview", "linux", map[string]string{"WSL_INTEROP": "/run/WSL/1", "DISPLAY": ":0"}, []string{"xdg-open"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			env := BrowserEnv{
				GOOS:   tc.goos,
				Getenv: func(k string) string { return tc.env[k] },
				LookPath: func(name string) (string, error) {
					if slices.Contains(tc.path, name) {
						return "/usr/bin/" + name, nil
					}
					return "", errors.New("not found")
				},
			}
			ok, why := env.CanOpen(tc.command)
			is.Equal(ok, tc.want)
			is.True(why != "")
		})
	}
}
