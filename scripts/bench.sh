#!/usr/bin/env bash
# `make bench`: the native target's numbers.
#  - `auth token` on a valid cached token: process wall time and peak RSS,
#    median of N runs, next to a baseline measured in the same run (a minimal
#    static Go program that reads the cache file and prints the token);
#    target ≤ 1.5× the baseline; the valid path must make no HTTP request;
#  - HTTP requests per refresh (target 1);
#  - 16 `auth token` processes at once on an expired token: wall time and
#    refresh requests (target 1);
#  - the Go benchmarks of package native.
# A real provider (internal/testidp) runs on 127.0.0.1 and is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0
N=${BENCH_RUNS:-41}

work=$(mktemp -d)
idp_pid=
cleanup() {
	exec 3>&- 2>/dev/null || true
	if [ -n "$idp_pid" ]; then kill "$idp_pid" 2>/dev/null || true; wait "$idp_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -trimpath -ldflags='-s -w' -o "$work/auth" ./native/cmd/auth
go build -trimpath -ldflags='-s -w' -o "$work/baseline" scripts/bench/baseline.go
go build -o "$work/measure" scripts/bench/measure.go
go build -trimpath -o "$work/testidp" ./internal/testidp/cmd/testidp
for b in auth baseline; do
	if file "$work/$b" 2>/dev/null | grep -q dynamically; then echo "bench: $b is not static" >&2; exit 1; fi
done

mkfifo "$work/idp.in"
"$work/testidp" -client bench=http://127.0.0.1/callback -client databricks-cli=http://127.0.0.1/callback <"$work/idp.in" >"$work/idp.out" 2>/dev/null &
idp_pid=$!
exec 3>"$work/idp.in"
for _ in $(seq 100); do [ -s "$work/idp.out" ] && break; sleep 0.05; done
issuer=$(sed -n 's/.*"issuer":"\([^"]*\)".*/\1/p' "$work/idp.out")
[ -n "$issuer" ] || { echo "bench: the provider did not start" >&2; exit 1; }
stats() { "$work/measure" get "$issuer/_test/stats"; }
count() { stats | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }

export DUALAUTH_CACHE_DIR="$work/cache" DUALAUTH_STORAGE=file
cache="$DUALAUTH_CACHE_DIR/token-cache.json"
BROWSER="$work/testidp -login" "$work/auth" login "$issuer" --client-id bench >/dev/null 2>&1
"$work/auth" token "$issuer" >/dev/null

echo "== auth token on a valid cached token ($N runs each, interleaved with the baseline)"
before=$(count requests)
res=$("$work/measure" runs "$N" -- "$work/auth" token "$issuer" --- "$work/baseline" "$cache" "$issuer bench")
after=$(count requests)
field() { echo "$res" | sed -n "s/.*\"$1\":{[^}]*\"$2\":\([0-9.]*\).*/\1/p"; }
a_ms=$(field a median_ms); b_ms=$(field b median_ms); a_rss=$(field a rss_kb); b_rss=$(field b rss_kb)
printf '   %-10s median %7s ms   p90 %7s ms   peak RSS %6s KiB\n' "auth" "$a_ms" "$(field a p90_ms)" "$a_rss" "baseline" "$b_ms" "$(field b p90_ms)" "$b_rss"
ratio=$(awk -v a="$a_ms" -v b="$b_ms" 'BEGIN{printf "%.2f", a/b}')
rss_ratio=$(awk -v a="$a_rss" -v b="$b_rss" 'BEGIN{printf "%.2f", a/b}')
verdict=$(awk -v r="$ratio" 'BEGIN{print (r <= 1.5) ? "ok" : "OVER TARGET"}')
echo "   ratio wall time ${ratio}× (target ≤ 1.5×: $verdict), peak RSS ${rss_ratio}×"
echo "   HTTP requests during the valid-token runs: $((after - before)) (target 0)"
echo "   binary sizes: auth $(stat -c %s "$work/auth") bytes, baseline $(stat -c %s "$work/baseline") bytes"

# ---- tokens for other tools (issue 13): kubectl's exec plugin and git's
# credential helper take the same valid-token path as `auth token`, against
# the same baseline: target ≤ 1.5×, no HTTP request. ----
printf 'protocol=https\nhost=git.example.com\n\n' >"$work/git-get.in"
for tool in exec-credential git-credential; do
	if [ "$tool" = exec-credential ]; then
		echo "== auth token -o exec-credential on a valid cached token ($N runs each, with the baseline)"
		argv=(-- "$work/auth" token "$issuer" -o exec-credential)
	else
		echo "== auth git-credential get on a valid cached token ($N runs each, with the baseline)"
		argv=(-stdin "$work/git-get.in" -- "$work/auth" git-credential "$issuer" get)
	fi
	before=$(count requests)
	res=$(KUBERNETES_EXEC_INFO='{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}' \
		"$work/measure" runs "$N" "${argv[@]}" --- "$work/baseline" "$cache" "$issuer bench")
	after=$(count requests)
	a_ms=$(field a median_ms); b_ms=$(field b median_ms)
	printf '   %-10s median %7s ms   p90 %7s ms   peak RSS %6s KiB\n' "auth" "$a_ms" "$(field a p90_ms)" "$(field a rss_kb)" "baseline" "$b_ms" "$(field b p90_ms)" "$(field b rss_kb)"
	ratio=$(awk -v a="$a_ms" -v b="$b_ms" 'BEGIN{printf "%.2f", a/b}')
	echo "   ratio wall time ${ratio}× (target ≤ 1.5×: $(awk -v r="$ratio" 'BEGIN{print (r <= 1.5) ? "ok" : "OVER TARGET"}')); HTTP requests: $((after - before)) (target 0)"
done

# ---- the Databricks SDKs' token source (issue 20): `auth auth token`
# (DATABRICKS_CLI_PATH=auth) and `databricks auth token` (a link) by --host,
# and by --profile of a ~/.databrickscfg, on a valid token: the `auth token`
# path, against the same kind of baseline (its own cache: a login of client
# databricks-cli); target ≤ 1.5×, no HTTP request. Then 16 SDK-style calls
# (--profile … --force-refresh) at once on an expired token: 1 refresh. ----
ln -s auth "$work/databricks"
mkdir -p "$work/dbx-home"
printf '[ws]\nhost = %s\nauth_type = databricks-cli\n' "$issuer" >"$work/dbx-home/.databrickscfg"
dbx_cache="$work/dbx-cache/token-cache.json"
DUALAUTH_CACHE_DIR="$work/dbx-cache" BROWSER="$work/testidp -login" "$work/auth" login "$issuer" --client-id databricks-cli --flow browser >/dev/null 2>&1
for form in "auth auth token --host" "databricks auth token --host" "databricks auth token --profile"; do
	echo "== $form on a valid cached token ($N runs each, with the baseline)"
	case "$form" in
	"auth auth token --host") argv=(-- "$work/auth" auth token --host "$issuer") ;;
	"databricks auth token --host") argv=(-- "$work/databricks" auth token --host "$issuer") ;;
	*) argv=(-- "$work/databricks" auth token --profile ws) ;;
	esac
	before=$(count requests)
	res=$(HOME="$work/dbx-home" DUALAUTH_CACHE_DIR="$work/dbx-cache" "$work/measure" runs "$N" "${argv[@]}" --- "$work/baseline" "$dbx_cache" "$issuer databricks-cli")
	after=$(count requests)
	a_ms=$(field a median_ms); b_ms=$(field b median_ms)
	printf '   %-10s median %7s ms   p90 %7s ms   peak RSS %6s KiB\n' "auth" "$a_ms" "$(field a p90_ms)" "$(field a rss_kb)" "baseline" "$b_ms" "$(field b p90_ms)" "$(field b rss_kb)"
	ratio=$(awk -v a="$a_ms" -v b="$b_ms" 'BEGIN{printf "%.2f", a/b}')
	echo "   ratio wall time ${ratio}× (target ≤ 1.5×: $(awk -v r="$ratio" 'BEGIN{print (r <= 1.5) ? "ok" : "OVER TARGET"}')); HTTP requests: $((after - before)) (target 0)"
done
echo "== 16 databricks auth token --profile ws --force-refresh at once on an expired token"
rbefore=$(count refresh_token)
"$work/measure" expire "$dbx_cache"
par=$(HOME="$work/dbx-home" DUALAUTH_CACHE_DIR="$work/dbx-cache" "$work/measure" parallel 16 -- "$work/databricks" auth token --profile ws --force-refresh)
echo "   wall time $(echo "$par" | sed -n 's/.*"wall_ms":\([0-9.]*\).*/\1/p') ms, failed $(echo "$par" | sed -n 's/.*"failed":\([0-9]*\).*/\1/p'), refresh requests $(( $(count refresh_token) - rbefore )) (target 1)"

echo "== one refresh"
before=$(count requests); rbefore=$(count refresh_token)
"$work/measure" expire "$cache"
"$work/auth" token "$issuer" >/dev/null
echo "   HTTP requests per refresh: $(( $(count requests) - before )) (target 1; refresh_token grants: $(( $(count refresh_token) - rbefore )))"

echo "== 16 auth token processes at once on an expired token"
rbefore=$(count refresh_token)
"$work/measure" expire "$cache"
par=$("$work/measure" parallel 16 -- "$work/auth" token "$issuer" -o text)
echo "   wall time $(echo "$par" | sed -n 's/.*"wall_ms":\([0-9.]*\).*/\1/p') ms, failed $(echo "$par" | sed -n 's/.*"failed":\([0-9]*\).*/\1/p'), refresh requests $(( $(count refresh_token) - rbefore )) (target 1)"

echo "== go test -bench ./native/"
go test -run '^$' -bench . -benchmem -benchtime 2000x ./native/ | grep -E '^(Benchmark|ok|FAIL)' || true


# ---- keyring storage (issue 7): the same valid-token run with the refresh
# token in a real Secret Service (gnome-keyring in a private session, stopped
# by PID). The valid-token path must not touch the keyring: target ≤ 1.5× the
# baseline, as above. ----
echo "== auth token on a valid cached token, refresh token in the OS keyring ($N runs each, with the baseline)"
if command -v gnome-keyring-daemon >/dev/null && command -v dbus-run-session >/dev/null; then
	mkdir -m 0700 "$work/kr-home" "$work/kr-run"
	res=$(HOME="$work/kr-home" XDG_RUNTIME_DIR="$work/kr-run" W="$work" ISSUER="$issuer" N="$N" \
		DUALAUTH_CACHE_DIR="$work/kr-cache" DUALAUTH_STORAGE=keyring dbus-run-session -- sh -c '
		printf bench | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 &
		gk=$!
		trap "kill $gk 2>/dev/null; wait $gk 2>/dev/null" EXIT
		i=0
		until dbus-send --session --dest=org.freedesktop.DBus --type=method_call --print-reply /org/freedesktop/DBus \
			org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true"; do
			i=$((i + 1)); [ "$i" -le 200 ] || exit 1; sleep 0.05
		done
		BROWSER="$W/testidp -login" "$W/auth" login "$ISSUER" --client-id bench >/dev/null 2>&1 || exit 1
		grep -q "\"refresh_token_in\": \"keyring\"" "$DUALAUTH_CACHE_DIR/token-cache.json" || exit 1
		"$W/measure" runs "$N" -- "$W/auth" token "$ISSUER" --- "$W/baseline" "$DUALAUTH_CACHE_DIR/token-cache.json" "$ISSUER bench"
	') || { echo "bench: the keyring run failed" >&2; exit 1; }
	a_ms=$(field a median_ms); b_ms=$(field b median_ms)
	printf '   %-10s median %7s ms   p90 %7s ms   peak RSS %6s KiB\n' "auth" "$a_ms" "$(field a p90_ms)" "$(field a rss_kb)" "baseline" "$b_ms" "$(field b p90_ms)" "$(field b rss_kb)"
	ratio=$(awk -v a="$a_ms" -v b="$b_ms" 'BEGIN{printf "%.2f", a/b}')
	echo "   ratio wall time ${ratio}× (target ≤ 1.5×: $(awk -v r="$ratio" 'BEGIN{print (r <= 1.5) ? "ok" : "OVER TARGET"}'))"
else
	echo "   not measured: gnome-keyring is missing (bash scripts/ensure-tools.sh)"
fi

# ---- profiles (issue 4): `auth profiles` with 20 profiles, offline (it reads
# the cache only and never touches the network). Target: well under 1 s. ----
echo "== auth profiles with 20 profiles, offline ($N runs, with the baseline)"
cfg="$work/profiles.ini"
: >"$cfg"
for i in $(seq 20); do printf '[p%02d]\nhost = https://h%02d.example.invalid\nclient_id = c%02d\n\n' "$i" "$i" "$i" >>"$cfg"; done
printf '[p21]\nhost = %s\nclient_id = bench\n' "$issuer" >>"$cfg"
before=$(count requests)
res=$(DUALAUTH_CONFIG_FILE="$cfg" "$work/measure" runs "$N" -- "$work/auth" profiles --- "$work/baseline" "$cache" "$issuer bench")
echo "   auth profiles median $(field a median_ms) ms (p90 $(field a p90_ms) ms; baseline $(field b median_ms) ms; target < 1000 ms); requests to the provider: $(( $(count requests) - before ))"

# ---- hook, keep it last: the browser target's numbers (written by the wasm side) ----
if [ -f scripts/bench-wasm.sh ]; then bash scripts/bench-wasm.sh; fi
