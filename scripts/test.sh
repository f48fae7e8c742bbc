#!/usr/bin/env bash
# test.sh runs the whole test suite: installs (or reuses) the test
# dependencies, checks formatting and vet, then runs unit and integration tests,
# plus the pure-Go fallback of the compute kernels.
set -euo pipefail
cd "$(dirname "$0")/.."
export STRATA_CACHE=${STRATA_CACHE:-$HOME/.cache/strata}
bash scripts/deps.sh >/dev/null
export STRATA_ORACLE_DIR="$STRATA_CACHE/oracle"
export STRATA_LLAMACPP_DIR="$STRATA_CACHE/llama.cpp"
export STRATA_MINIO_BIN="$STRATA_CACHE/bin/minio"
export STRATA_TORCH_PYTHON=/usr/bin/python3

echo "== gofmt"
bad=$(gofmt -l . | grep -v '^shared/' || true)
if [ -n "$bad" ]; then echo "gofmt needed:"; echo "$bad"; exit 1; fi
echo "== go vet"
go vet ./...
echo "== go test (pure-Go fallback kernels)"
go test -count=1 -tags purego ./engine/compute/...
echo "== go test (bfloat16 products without AMX tiles, float32 ones on the AVX2 kernel, where the CPU has better)"
STRATA_AMX=off go test -count=1 -run 'BF16' ./engine/compute/ ./engine/model/llama/ ./engine/nn/
STRATA_AVX512=off go test -count=1 ./engine/compute/
echo "== go test"
go test -count=1 -timeout 40m -tags integration ./...
