#!/usr/bin/env bash
# `make demo`: build `auth`, start a real OpenID Connect provider on
# loopback (internal/testidp), log in with `auth login`, then print a token
# with `auth token`. With a display, your browser opens (sign in as
# test-user@127.0.0.1 / verysecure); without one, the URL is printed and the
# login is completed by testidp's scripted browser. Everything runs in a temp
# dir and is stopped by PID at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0

work=$(mktemp -d)
idp_pid=
cleanup() {
	exec 3>&- 2>/dev/null || true # EOF on testidp's stdin
	if [ -n "$idp_pid" ]; then kill "$idp_pid" 2>/dev/null || true; wait "$idp_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "== building bin/auth and the test provider" >&2
go build -trimpath -ldflags='-s -w' -o bin/auth ./native/cmd/auth
go build -trimpath -o "$work/testidp" ./internal/testidp/cmd/testidp

echo "== starting a local OpenID Connect provider on 127.0.0.1" >&2
mkfifo "$work/idp.in"
"$work/testidp" -client dualauth-demo=http://127.0.0.1/callback <"$work/idp.in" >"$work/idp.out" 2>"$work/idp.err" &
idp_pid=$!
exec 3>"$work/idp.in" # holding the write end keeps the provider alive
for _ in $(seq 100); do [ -s "$work/idp.out" ] && break; sleep 0.05; done
issuer=$(sed -n 's/.*"issuer":"\([^"]*\)".*/\1/p' "$work/idp.out")
[ -n "$issuer" ] || { echo "demo: the provider did not start:" >&2; cat "$work/idp.err" >&2; exit 1; }
echo "   issuer: $issuer" >&2

export DUALAUTH_CACHE_DIR="$work/cache"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ "$(uname)" = Darwin ]; then
	echo "== auth login (your browser opens: sign in as test-user@127.0.0.1 / verysecure)" >&2
	unset BROWSER
else
	echo "== auth login (no display: the URL is shown and a scripted browser signs in)" >&2
	cat >"$work/browser" <<EOB
#!/bin/sh
echo "   [demo browser] would open: \$1" >&2
echo "   [demo browser] signing in as test-user@127.0.0.1 and following the redirect" >&2
exec "$work/testidp" -login "\$1"
EOB
	chmod +x "$work/browser"
	export BROWSER="$work/browser"
fi
bin/auth login "$issuer" --client-id dualauth-demo --timeout 5m

echo "== auth token $issuer" >&2
bin/auth token "$issuer"

echo "== auth token (second call: straight from the cache, no network)" >&2
time bin/auth token "$issuer" -o text >/dev/null

echo "== cache: $DUALAUTH_CACHE_DIR (removed at exit)" >&2
ls -l "$DUALAUTH_CACHE_DIR" >&2
