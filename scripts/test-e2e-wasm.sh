#!/usr/bin/env bash
# End-to-end tests of the browser target: the dev console (built wasm + JS
# API) in Debian's headless Chromium against a real OpenID provider
# (internal/testidp; oidc-provider with DPoP for web/e2e/dpop.test.mjs), all on
# 127.0.0.1. Reports with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "test-e2e-wasm: chromium is missing (bash scripts/ensure-tools.sh)" >&2; exit 1; }
[ -d node_modules/playwright-core ] || { echo "test-e2e-wasm: node_modules missing (bash scripts/ensure-tools.sh)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash scripts/build-web.sh "$work/web"
CGO_ENABLED=0 go build -o "$work/serve" ./web/serve
CGO_ENABLED=0 go build -o "$work/testidp" ./internal/testidp/cmd/testidp
CGO_ENABLED=0 go build -o "$work/dpopapi" ./internal/dpopapi/cmd/dpopapi

DUALAUTH_WEB_DIR="$work/web" DUALAUTH_SERVE="$work/serve" DUALAUTH_TESTIDP="$work/testidp" DUALAUTH_DPOPAPI="$work/dpopapi" \
	node --test --test-concurrency=1 --test-reporter=spec web/e2e/
