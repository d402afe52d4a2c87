#!/usr/bin/env bash
# End-to-end tests of keyring storage (issue 7): the `auth` binary against a
# real Secret Service — gnome-keyring on a private D-Bus session bus, in a
# temporary HOME — and a real OIDC provider on 127.0.0.1. The Go tests
# (native/keyringtest, build tag `keyring`) also start private buses of
# their own for the failure modes (no service, locked keyring, a service that
# hangs). Everything started here is stopped by PID; nothing outlives it.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in dbus-run-session dbus-send dbus-daemon gnome-keyring-daemon secret-tool; do
	command -v "$tool" >/dev/null || { echo "test-e2e-keyring: $tool is missing (bash scripts/ensure-tools.sh)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -m 0700 "$work/home" "$work/run"
CGO_ENABLED=0 go test -c -tags keyring -o "$work/keyring.test" ./native/keyringtest

# Inside the session: start the keyring unlocked (password on stdin), wait
# until org.freedesktop.secrets is on the bus, run the tests, stop the
# daemon by PID whatever happened.
HOME="$work/home" XDG_RUNTIME_DIR="$work/run" KEYRING_TEST="$work/keyring.test" \
	dbus-run-session -- sh -c '
	printf "test-password" | gnome-keyring-daemon --foreground --unlock --components=secrets >"$HOME/gnome-keyring.log" 2>&1 &
	gk=$!
	trap "kill $gk 2>/dev/null; wait $gk 2>/dev/null" EXIT
	i=0
	until dbus-send --session --dest=org.freedesktop.DBus --type=method_call --print-reply \
		/org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null |
		grep -q "boolean true"; do
		i=$((i + 1))
		if [ "$i" -gt 200 ] || ! kill -0 "$gk" 2>/dev/null; then
			echo "test-e2e-keyring: gnome-keyring-daemon did not come up" >&2
			cat "$HOME/gnome-keyring.log" >&2
			exit 1
		fi
		sleep 0.05
	done
	rc=0
	"$KEYRING_TEST" -test.count=1 -test.v "$@" || rc=$?
	exit "$rc"
' sh "$@"
