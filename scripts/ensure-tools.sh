#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: Chromium (Debian's
# package; browser downloads are blocked here), the npm packages of
# package.json (playwright-core; oidc-provider for the device-flow tests;
# @modelcontextprotocol/sdk, whose example MCP server with OAuth the MCP tests run),
# wasmbrowsertest (runs GOOS=js tests in Chromium), gnome-keyring, kubectl
# (kubernetes-client) and git.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
	echo "ensure-tools: installing chromium (apt-get)" >&2
	if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
command -v chromium >/dev/null || { echo "ensure-tools: chromium is still missing" >&2; exit 1; }

if [ -L node_modules ]; then
	# A worktree that links another checkout's packages: npm ci here would
	# empty that checkout's node_modules through the link.
	[ -d node_modules/playwright-core ] && [ -d node_modules/oidc-provider ] && [ -d node_modules/@modelcontextprotocol/sdk ] ||
		{ echo "ensure-tools: node_modules links to $(readlink node_modules), which lacks the packages: run npm ci there" >&2; exit 1; }
elif [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/oidc-provider ] || [ ! -d node_modules/@modelcontextprotocol/sdk ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	echo "ensure-tools: npm ci" >&2
	npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

GOBIN_DIR="$(go env GOPATH)/bin"
if [ ! -x "$GOBIN_DIR/wasmbrowsertest" ]; then
	echo "ensure-tools: go install wasmbrowsertest" >&2
	go install github.com/agnivade/wasmbrowsertest@v0.11.0
fi

# Keyring storage tests (scripts/test-e2e-keyring.sh): a real Secret Service.
# Never dbus-x11: it autostarts daemons that outlive the tests.
if ! command -v gnome-keyring-daemon >/dev/null 2>&1 || ! command -v secret-tool >/dev/null 2>&1; then
	echo "ensure-tools: installing gnome-keyring libsecret-tools (apt-get)" >&2
	if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends gnome-keyring libsecret-tools >/dev/null
fi
for tool in gnome-keyring-daemon secret-tool dbus-run-session dbus-daemon dbus-send; do
	command -v "$tool" >/dev/null || { echo "ensure-tools: $tool is still missing" >&2; exit 1; }
done

# Exec credential tests (auth token -o exec-credential): a real kubectl.
# Debian 12's kubernetes-client is kubectl 1.20 (exec credentials v1beta1
# only; the tests run v1 through the plugin directly then). A kubectl
# already on PATH (a newer one) is used as it is.
if ! command -v kubectl >/dev/null 2>&1; then
	echo "ensure-tools: installing kubernetes-client (apt-get)" >&2
	if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
fi
command -v kubectl >/dev/null || { echo "ensure-tools: kubectl is still missing" >&2; exit 1; }

# Git credential tests: git and its http-backend (Debian's git package).
if ! command -v git >/dev/null 2>&1 || [ ! -x "$(git --exec-path)/git-http-backend" ]; then
	echo "ensure-tools: installing git (apt-get)" >&2
	if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends git >/dev/null
fi
[ -x "$(git --exec-path)/git-http-backend" ] || { echo "ensure-tools: git http-backend is still missing" >&2; exit 1; }
