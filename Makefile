# Strata. The two commands that matter:
#   make run    build and run `strata server` with embedded defaults
#   make test   install test dependencies (cached) and run every test
GO ?= go

.PHONY: build run test vet fmt bench deps

build:
	$(GO) build -o bin/strata ./cmd/strata

run: build
	./bin/strata server

test:
	bash scripts/test.sh

deps:
	bash scripts/deps.sh

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w .

bench:
	bash scripts/bench.sh
