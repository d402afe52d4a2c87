# dualauth — see README.md. `make demo` and `make test` are the two commands
# that matter; everything else is a building block.
SHELL := /bin/bash
GO ?= go
GOROOT := $(shell $(GO) env GOROOT)
WASM_EXEC := $(GOROOT)/lib/wasm/go_js_wasm_exec
export CGO_ENABLED := 0

.PHONY: all build build-native build-wasm test test-go test-databricks-sdk test-core-wasm test-wasm test-e2e tools demo bench fuzz lint cover web clean

all: build

build: build-native build-wasm

# The `auth` binary, static (CGO_ENABLED=0 above), with its version.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
build-native:
	$(GO) build -trimpath -ldflags='-s -w -X main.version=$(VERSION)' -o bin/auth ./native/cmd/auth

# The browser target: web/dualauth.wasm and Go's wasm_exec.js (copied from
# this toolchain at every build, never committed).
build-wasm:
	bash scripts/build-web.sh web

tools:
	bash scripts/ensure-tools.sh

# All tests: Go (native + integration against a real OIDC provider), the
# core compiled to wasm under Node, and the browser tests in Chromium.
test: tools lint test-go test-databricks-sdk test-core-wasm test-wasm test-e2e

test-go:
	$(GO) test -count=1 ./...

# auth as the token source of the real Databricks Go SDK: a module of its
# own (internal/databrickssdk/go.mod), so the product's go.mod does not
# carry the SDK. As root: it maps a workspace name to 127.0.0.1 in a mount
# namespace of its own.
test-databricks-sdk:
	cd internal/databrickssdk && $(GO) vet ./... && $(GO) test -count=1 ./...

test-core-wasm:
	GOOS=js GOARCH=wasm $(GO) test -count=1 -exec="$(WASM_EXEC)" ./core/...

# The wasm driver's storage/lock/fetch glue, in headless Chromium.
test-wasm:
	GOOS=js GOARCH=wasm $(GO) test -count=1 -exec="$(CURDIR)/scripts/wasm-chromium-exec.sh" ./wasm/...

test-e2e:
	@for s in scripts/test-e2e-*.sh; do [ -e "$$s" ] || continue; echo "== $$s"; bash "$$s" || exit 1; done

cover:
	$(GO) test -count=1 -cover ./core/...

FUZZTIME ?= 10s
fuzz:
	@for f in $$($(GO) test -list '^Fuzz' ./core/ | grep ^Fuzz); do \
		echo "== $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./core/ || exit 1; done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./core/... ./wasm/...

demo:
	bash scripts/demo.sh

# Like test, it installs what it needs first (bench-wasm.sh drives Chromium
# through playwright-core).
bench: tools
	bash scripts/bench.sh

# The dev console on http://127.0.0.1:$${PORT:-8765}/
web: build-wasm
	$(GO) run ./web/serve -dir web

clean:
	rm -rf bin web/dualauth.wasm web/wasm_exec.js
