#!/usr/bin/env bash
# Builds the dev console into a directory: the page files of web/, the wasm
# (stripped, no net/http client) and Go's wasm_exec.js of this toolchain.
#   scripts/build-web.sh OUTDIR
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: build-web.sh OUTDIR}
mkdir -p "$out"
GOOS=js GOARCH=wasm go build -trimpath -ldflags='-s -w' -o "$out/dualauth.wasm" ./wasm
cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" "$out/wasm_exec.js"
if [ "$(cd "$out" && pwd)" != "$(cd web && pwd)" ]; then
	cp web/index.html web/app.js web/style.css web/dualauth.js web/dualauth-worker.js web/dualauth.d.ts "$out/"
fi
