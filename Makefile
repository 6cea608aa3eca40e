# slackbot: `make dev` runs the bot locally, `make test` tests everything.
SHELL := /bin/bash
# Lambda architecture: arm64 (Graviton) by default, or x86_64.
ARCH ?= arm64
ADDR ?= 127.0.0.1:3000

.PHONY: dev test build lint bench fuzz load preview up slack-app tools clean

## dev: run the bot on $(ADDR) with no AWS and no Slack account needed
dev:
	go run ./functions/devserver -addr $(ADDR)

## test: the whole suite (unit, fuzz seeds, moto, Lambda emulator, Pulumi mocks)
test: tools
	go test -count=1 -timeout 30m ./...

## tools: fail loudly, with the install command, when a test tool is missing
tools:
	@command -v moto_server >/dev/null || { echo "moto_server not found: install it with: pip install 'moto[server]'" >&2; exit 1; }
	@python3 -c 'import moto.server, werkzeug.serving' 2>/dev/null || { echo "python3 cannot import moto's server, which internal/testenv/motoserial.py runs one request at a time: install it with: pip install 'moto[server]'" >&2; exit 1; }
	@command -v go >/dev/null || { echo "go not found: install Go 1.26 from https://go.dev/dl/" >&2; exit 1; }

## build: each function's reproducible zip, as `pulumi up` ships it (ARCH=arm64 or x86_64)
build:
	go run ./infra/build -arch $(ARCH)

## lint: gofmt, go vet, actionlint on the workflows
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet ./...
	go tool actionlint

## bench: the headline figures beside their targets and a baseline measured in the same run
bench:
	go run ./cmd/benchreport

## fuzz: each fuzz target for FUZZTIME (default 20s)
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$(go list ./...); do \
		for t in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$t"; go test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

## load: signed Events API load on the dev server with a fake Slack, bounded; fails on 5xx, duplicates, forgeries accepted
LOAD_FLAGS ?= -rate 300 -duration 10s
load:
	go run ./cmd/load $(LOAD_FLAGS)

## slack-app: create the Slack app from the stack, or update it (needs the pulumi CLI and SLACK_CONFIG_TOKEN)
SLACK_APP_FLAGS ?=
slack-app:
	go run ./cmd/slackapp $(SLACK_APP_FLAGS)

## preview, up: Pulumi (needs the pulumi CLI and AWS credentials)
preview:
	pulumi preview --diff
up:
	pulumi up

clean:
	rm -rf .build
