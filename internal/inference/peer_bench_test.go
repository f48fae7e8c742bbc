package inference

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/strata-ml/strata/engine/compute"
)

// BenchmarkDecodeVsLlamaCpp: batch-1 greedy decode of the benchmark model,
// float32 and bfloat16, against llama.cpp (the prebuilt CPU build of
// node-llama-cpp, its default F16 KV cache, the same number of threads) on
// the same weights converted to GGUF (tools/llamacpp/hf_to_gguf.py), the
// same 16-token prompt and 64 new tokens. The two run in alternate rounds
// and each keeps its best decode rate (tokens/s after the first token).
// It needs the oracles scripts/deps.sh installs (node-llama-cpp, gguf-py,
// numpy) and skips without them.
func BenchmarkDecodeVsLlamaCpp(b *testing.B) {
	home, _ := os.UserHomeDir()
	cache := envOr("STRATA_CACHE", filepath.Join(home, ".cache", "strata"))
	oracle := envOr("STRATA_ORACLE_DIR", filepath.Join(cache, "oracle"))
	lcpp := envOr("STRATA_LLAMACPP_DIR", filepath.Join(cache, "llama.cpp"))
	py := envOr("STRATA_TORCH_PYTHON", "/usr/bin/python3")
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("node not on PATH")
	}
	for _, p := range []string{filepath.Join(oracle, "node_modules", "node-llama-cpp", "dist", "index.js"), filepath.Join(lcpp, "gguf-py", "gguf")} {
		if _, err := os.Stat(p); err != nil {
			b.Skipf("oracle missing: %v", err)
		}
	}
	const promptLen, tokens = 16, 64
	ids, _ := json.Marshal(prompt(promptLen, 0))
	for _, dt := range dtypes {
		b.Run(dt.name, func(b *testing.B) {
			m := dt.model(b)
			dir := b.TempDir()
			if err := m.Save(dir); err != nil {
				b.Fatal(err)
			}
			gg := filepath.Join(dir, "model.gguf")
			conv := exec.Command(py, "../../tools/llamacpp/hf_to_gguf.py", dir, gg, filepath.Join(lcpp, "models", "ggml-vocab-llama-bpe.gguf"), dt.name)
			conv.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join(lcpp, "gguf-py"))
			if out, err := conv.CombinedOutput(); err != nil {
				b.Fatalf("hf_to_gguf: %v\n%s", err, out)
			}
			e := NewEngine(m, EngineConfig{Capacity: Capacity{MaxSeqs: 1}, ContextLen: 2048})
			b.Cleanup(e.Close)
			runStreams(b, e, 1, 8, 4, nil) // warm up
			var ours, theirs float64
			for b.Loop() {
				for range 3 { // alternate rounds, best of each
					_, r, _ := runStreams(b, e, 1, promptLen, tokens, nil)
					ours = max(ours, r)
					run := exec.Command(node, "../../tools/llamacpp/decode.mjs", gg, string(ids), strconv.Itoa(tokens), "1", strconv.Itoa(compute.Threads()))
					run.Env = append(os.Environ(), "STRATA_ORACLE_DIR="+oracle)
					out, err := run.Output()
					if err != nil {
						b.Fatalf("llama.cpp: %v\n%s", err, out)
					}
					var res struct {
						TokS float64 `json:"tok_s"`
					}
					if err := json.Unmarshal(out, &res); err != nil {
						b.Fatalf("llama.cpp output %q: %v", out, err)
					}
					theirs = max(theirs, res.TokS)
				}
			}
			b.ReportMetric(ours, "strata_tok/s")
			b.ReportMetric(theirs, "llamacpp_tok/s")
			b.ReportMetric(ours/theirs, "x_vs_llamacpp")
		})
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
