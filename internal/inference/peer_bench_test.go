package inference

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/strata-ml/strata/engine/compute"
	"github.com/strata-ml/strata/engine/oracle"
)

// BenchmarkDecodeVsLlamaCpp: batch-1 greedy decode of the benchmark model,
// float32 and bfloat16, against llama.cpp (the prebuilt CPU build of
// node-llama-cpp, its default F16 KV cache, the same number of threads) on
// the same weights converted to GGUF, the same 16-token prompt and 64 new
// tokens. The two run in alternate rounds and each keeps its best decode
// rate (tokens/s after the first token).
func BenchmarkDecodeVsLlamaCpp(b *testing.B) {
	const promptLen, tokens = 16, 64
	peerBench(b, func(b *testing.B, e *Engine, p llamaCpp) {
		var ours, theirs float64
		for b.Loop() {
			for range 3 { // alternate rounds, best of each
				_, r, _ := runStreams(b, e, 1, promptLen, tokens, nil)
				ours = max(ours, r)
				ids, _ := json.Marshal(prompt(promptLen, 0))
				theirs = max(theirs, p.run(b, "decode.mjs", string(ids), strconv.Itoa(tokens), "1", strconv.Itoa(compute.Threads())))
			}
		}
		b.ReportMetric(ours, "strata_tok/s")
		b.ReportMetric(theirs, "llamacpp_tok/s")
		b.ReportMetric(ours/theirs, "x_vs_llamacpp")
	})
}

// BenchmarkAggregateVsLlamaCpp: aggregate generated tokens/s of 32
// concurrent streams (16-token prompts, 32 new tokens each, prefill
// included), Strata's continuous batching against llama.cpp running the
// same 32 sequences in one context (node-llama-cpp batches their tokens
// into shared evaluations), on the same weights and threads; alternate
// rounds, best of each.
func BenchmarkAggregateVsLlamaCpp(b *testing.B) {
	const streams, promptLen, tokens = 32, 16, 32
	peerBench(b, func(b *testing.B, e *Engine, p llamaCpp) {
		var ours, theirs float64
		for b.Loop() {
			for range 2 {
				r, _, _ := runStreams(b, e, streams, promptLen, tokens, nil)
				ours = max(ours, r)
				theirs = max(theirs, p.run(b, "aggregate.mjs", strconv.Itoa(streams), strconv.Itoa(tokens), strconv.Itoa(promptLen), strconv.Itoa(compute.Threads())))
			}
		}
		b.ReportMetric(ours, "strata_tok/s")
		b.ReportMetric(theirs, "llamacpp_tok/s")
		b.ReportMetric(ours/theirs, "x_vs_llamacpp")
	})
}

// llamaCpp runs the node-llama-cpp scripts of tools/llamacpp on one GGUF.
type llamaCpp struct {
	node, oracle, gguf string
}

// run runs script with the model and args and returns its "tok_s".
func (p llamaCpp) run(b *testing.B, script string, args ...string) float64 {
	b.Helper()
	cmd := exec.Command(p.node, append([]string{"../../tools/llamacpp/" + script, p.gguf}, args...)...)
	cmd.Env = append(os.Environ(), "STRATA_ORACLE_DIR="+p.oracle)
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("llama.cpp %s: %v\n%s", script, err, out)
	}
	var res struct {
		TokS float64 `json:"tok_s"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		b.Fatalf("llama.cpp %s output %q: %v", script, out, err)
	}
	return res.TokS
}

// peerBench runs f for each benchmark dtype with an engine of up to 32
// sequences over the benchmark model and the same weights converted to GGUF
// (tools/llamacpp/hf_to_gguf.py). It skips without the oracles
// scripts/deps.sh installs (node-llama-cpp, gguf-py, numpy).
func peerBench(b *testing.B, f func(*testing.B, *Engine, llamaCpp)) {
	od, lcpp, py := oracle.Dir(), oracle.LlamaCppDir(), oracle.Python()
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("node not on PATH")
	}
	for _, p := range []string{filepath.Join(od, "node_modules", "node-llama-cpp", "dist", "index.js"), filepath.Join(lcpp, "gguf-py", "gguf")} {
		if _, err := os.Stat(p); err != nil {
			b.Skipf("oracle missing: %v", err)
		}
	}
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
			e := NewEngine(m, EngineConfig{Capacity: Capacity{MaxSeqs: 32, MaxQueue: 128}, PrefillChunk: 256, ContextLen: 2048})
			b.Cleanup(e.Close)
			runStreams(b, e, 2, 8, 4, nil) // warm up
			f(b, e, llamaCpp{node: node, oracle: od, gguf: gg})
		})
	}
}
