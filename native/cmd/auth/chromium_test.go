package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/matryer/is"
)

// chromiumResult is what native/testdata/chromium-login.mjs saw.
type chromiumResult struct {
	URL     string `json:"url"`
	HadCode bool   `json:"hadCode"`
	Title   string `json:"title"`
	Text    string `json:"text"`
	Error   string `json:"error"`
}

// requireChromium fails (never skips) when the browser test tools are
// missing: `make tools` installs them.
func requireChromium(t *testing.T) (chromium, node string) {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run `bash scripts/ensure-tools.sh` (make tools)")
	}
	node, err = exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "node_modules", "playwright-core")); err != nil {
		t.Fatal("node_modules/playwright-core is missing: run `bash scripts/ensure-tools.sh` (make tools)")
	}
	return chromium, node
}

// TestCLI_LoginInRealHeadlessChromiumThroughBROWSER: BROWSER hands the
// authorize URL to a Playwright driver; Chromium loads the provider's
// login page, signs in, follows the redirect to auth's loopback listener
// and shows its page.
func TestCLI_LoginInRealHeadlessChromiumThroughBROWSER(t *testing.T) {
	chromium, node := requireChromium(t)
	is := is.New(t)
	e := newEnv(t)
	// Short: Chromium's singleton socket path must fit in sun_path.
	dir, err := os.MkdirTemp("", "da-")
	is.NoErr(err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	resultFile, pidFile := filepath.Join(dir, "result.json"), filepath.Join(dir, "pid")
	script := filepath.Join(repoRoot, "native", "testdata", "chromium-login.mjs")
	wrapper := filepath.Join(dir, "open-in-chromium")
	is.NoErr(os.WriteFile(wrapper, []byte("#!/bin/sh\nexec \""+node+"\" \""+script+"\" \"$1\"\n"), 0o755))
	t.Cleanup(func() { killPIDFile(t, pidFile) })

	r := e.auth([]string{
		"BROWSER=" + wrapper,
		"CHROMIUM_PATH=" + chromium,
		"DUALAUTH_TEST_RESULT=" + resultFile,
		"DUALAUTH_TEST_PIDFILE=" + pidFile,
		"TMPDIR=" + dir,
	}, "login", e.srv.Issuer, "--client-id", clientID, "--timeout", "40s")
	if r.code != 0 {
		b, _ := os.ReadFile(resultFile)
		t.Fatalf("login in Chromium failed (exit %d): %s\ndriver: %s", r.code, r.stderr, b)
	}
	is.True(strings.Contains(r.stderr, "Logged in to "+e.srv.Issuer))

	// auth did not wait for the browser; wait for the driver to report
	// and to close Chromium.
	res := waitResult(t, resultFile, pidFile)
	is.Equal(res.Error, "")
	is.True(strings.HasPrefix(res.URL, "http://127.0.0.1:"))
	is.True(strings.HasSuffix(res.URL, "/callback"))
	is.True(res.HadCode)
	is.Equal(res.Title, "Logged in — dualauth")
	is.True(strings.Contains(res.Text, "You are logged in"))

	r = e.auth(nil, "token", e.srv.Issuer, "-o", "text")
	is.Equal(r.code, 0)
	is.Equal(r.stdout, e.entry().AccessToken+"\n")
	is.Equal(e.srv.Requests("authorization_code"), 1)
}

func waitResult(t *testing.T, resultFile, pidFile string) chromiumResult {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	var res chromiumResult
	for {
		b, err := os.ReadFile(resultFile)
		if err == nil && json.Unmarshal(b, &res) == nil && !running(pidFile) {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Chromium driver did not finish (result so far: %q)", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// running reports whether the process in pidFile is alive.
func running(pidFile string) bool {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return false
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil || pid <= 1 {
		return false
	}
	return syscall.Kill(pid, 0) == nil
}
