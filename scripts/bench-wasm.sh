#!/usr/bin/env bash
# Benchmarks the browser target (called by scripts/bench.sh):
#  - size of the wasm, raw and gzip -9 (target ≤ 1.5 MB gzip), next to an
#    empty Go wasm built the same way;
#  - time from navigation to handleRedirect() resolving with no callback in
#    headless Chromium, median of N loads (target ≤ 150 ms), next to the
#    same loader with the empty Go wasm and a blank page, loaded in turn.
# Everything is served on 127.0.0.1 by web/serve and stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_WASM_LOADS:-15}
command -v chromium >/dev/null || { echo "bench-wasm: chromium is missing (bash scripts/ensure-tools.sh)" >&2; exit 1; }

work=$(mktemp -d)
serve_pid=
cleanup() {
	if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

bash scripts/build-web.sh "$work/web"
GOOS=js GOARCH=wasm go build -trimpath -ldflags='-s -w' -o "$work/web/baseline.wasm" web/bench/baseline.go
cp web/bench/baseline.html web/bench/baseline.js web/bench/blank.html web/bench/blank.js "$work/web/"
CGO_ENABLED=0 go build -o "$work/serve" ./web/serve

size() {
	local raw gz
	raw=$(stat -c %s "$1")
	gz=$(gzip -9 -c "$1" | wc -c)
	printf '%s raw %d B (%.2f MB), gzip -9 %d B (%.2f MB)\n' "$2" "$raw" "$(echo "$raw/1000000" | bc -l)" "$gz" "$(echo "$gz/1000000" | bc -l)"
	echo "$gz" >"$work/$3.gz"
}
size "$work/web/dualauth.wasm" "wasm: dualauth.wasm" main
size "$work/web/baseline.wasm" "wasm: empty Go wasm (baseline)" base
gz=$(cat "$work/main.gz")
base=$(cat "$work/base.gz")
verdict=OK
[ "$gz" -le 1500000 ] || verdict=OVER
printf 'wasm: gzip -9 size %.2f MB vs target 1.50 MB: %s; %.2fx the empty Go wasm\n' "$(echo "$gz/1000000" | bc -l)" "$verdict" "$(echo "$gz/$base" | bc -l)"

coproc SERVE { exec "$work/serve" -addr 127.0.0.1:0 -dir "$work/web" -stdin-eof 2>/dev/null; }
serve_pid=$SERVE_PID
read -r line <&"${SERVE[0]}"
url=$(printf '%s' "$line" | sed -E 's/.*"url":"([^"]+)".*/\1/')
echo "wasm: machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (timings scale with it; compare the ratios)"
node web/bench/bench.mjs "$url" "$N"
