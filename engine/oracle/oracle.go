// Package oracle locates the reference implementations that tests and
// benchmarks compare the engine against, where scripts/deps.sh installs
// them: HF's tokenizers and node-llama-cpp (npm, under Dir), llama.cpp's
// gguf-py and vocab files (LlamaCppDir) and Debian's PyTorch (Python).
// Each location can be overridden by its environment variable, as
// scripts/test.sh sets them.
package oracle

import (
	"os"
	"path/filepath"
)

// Cache is the directory the project's installs are cached in:
// $STRATA_CACHE, else ~/.cache/strata.
func Cache() string {
	home, _ := os.UserHomeDir()
	return env("STRATA_CACHE", filepath.Join(home, ".cache", "strata"))
}

// Dir is the npm oracle directory: $STRATA_ORACLE_DIR, else Cache()/oracle.
func Dir() string { return env("STRATA_ORACLE_DIR", filepath.Join(Cache(), "oracle")) }

// LlamaCppDir is the llama.cpp source checkout (gguf-py, models):
// $STRATA_LLAMACPP_DIR, else Cache()/llama.cpp.
func LlamaCppDir() string { return env("STRATA_LLAMACPP_DIR", filepath.Join(Cache(), "llama.cpp")) }

// Python is the Python with PyTorch and numpy: $STRATA_TORCH_PYTHON, else
// /usr/bin/python3.
func Python() string { return env("STRATA_TORCH_PYTHON", "/usr/bin/python3") }

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
