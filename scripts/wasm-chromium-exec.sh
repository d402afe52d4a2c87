#!/usr/bin/env bash
# go test -exec for GOOS=js GOARCH=wasm: runs the test binary in Debian's
# headless Chromium through wasmbrowsertest (chromedp). wasmbrowsertest
# takes no browser flags, but chromedp looks for `headless_shell` on PATH
# before `chromium`: a temporary one here starts Chromium with the flags
# every browser of this project gets (no network beyond loopback), under a
# temporary HOME. chromedp adds its own temporary profile and kills the
# browser (by its PID) when the test ends.
#   GOOS=js GOARCH=wasm go test -exec="$PWD/scripts/wasm-chromium-exec.sh" ./wasm/...
set -euo pipefail
chromium=$(command -v chromium) || { echo "wasm-chromium-exec: chromium is not installed (bash scripts/ensure-tools.sh)" >&2; exit 1; }
wbt=$(command -v wasmbrowsertest || true)
[ -n "$wbt" ] || wbt="$(go env GOPATH)/bin/wasmbrowsertest"
[ -x "$wbt" ] || { echo "wasm-chromium-exec: wasmbrowsertest is not installed (bash scripts/ensure-tools.sh)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
cat >"$tmp/bin/headless_shell" <<SH
#!/bin/sh
exec "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \\
	--disable-background-networking --disable-component-update --disable-sync \\
	"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost" "\$@"
SH
chmod +x "$tmp/bin/headless_shell"
status=0
HOME="$tmp" XDG_CONFIG_HOME="$tmp" XDG_CACHE_HOME="$tmp" PATH="$tmp/bin:$PATH" "$wbt" "$@" || status=$?
exit "$status"
