package native

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

func TestBrowserArgv_FollowsTheBROWSERConvention(t *testing.T) {
	const url = "http://127.0.0.1:8020/callback?x=1"
	installed := map[string]bool{"firefox": true, "w3m": true, "open": true, "/mnt/c/Program Files/Chrome/chrome.exe": true}
	lookPath := func(name string) (string, error) {
		if installed[name] {
			return name, nil
		}
		return "", errors.New("not found")
	}
	for _, tc := range []struct {
		spec string
		want []string
		err  string
	}{
		{spec: "firefox", want: []string{"firefox", url}},
		{spec: "  firefox --new-window ", want: []string{"firefox", "--new-window", url}},
		{spec: "open -a Safari %s", want: []string{"open", "-a", "Safari", url}},
		{spec: "w3m --url=%s --title=100%%", want: []string{"w3m", "--url=" + url, "--title=100%"}},
		{spec: "w3m 100%% %x", want: []string{"w3m", "100%", "%x", url}}, // no %s: the URL is appended
		{spec: "lynx:links:w3m:firefox", want: []string{"w3m", url}},     // the first one installed
		{spec: "/mnt/c/Program Files/Chrome/chrome.exe", want: []string{"/mnt/c/Program Files/Chrome/chrome.exe", url}},
		{spec: "lynx:links", err: "lynx, links not found"},
		{spec: " : ", err: "empty"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			is := is.New(t)
			got, err := browserArgv(tc.spec, url, lookPath)
			if tc.err != "" {
				is.True(err != nil)
				is.True(strings.Contains(err.Error(), tc.err))
				return
			}
			is.NoErr(err)
			is.Equal(got, tc.want)
		})
	}
}

// A real process: the first entry of a $BROWSER list that exists is run
// with the URL in place of %s.
func TestOpener_RunsTheFirstInstalledCommandOfAList(t *testing.T) {
	is := is.New(t)
	dir := t.TempDir()
	got := filepath.Join(dir, "got")
	script := filepath.Join(dir, "fake-browser")
	is.NoErr(os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s\\n' \"$@\" > \""+got+"\"\n"), 0o755))
	const url = "http://127.0.0.1:1/cb?a=b&c=d"
	errc := Opener{Command: "dualauth-no-such-browser:" + script + " --flag %s"}.Open(url)
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(got)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			is.Equal(string(b), "--flag\n"+url+"\n")
			break
		}
		select {
		case err := <-errc:
			t.Fatalf("opener failed: %v", err)
		default:
		}
		is.True(time.Now().Before(deadline)) // the fake browser never ran
		time.Sleep(10 * time.Millisecond)
	}
}
