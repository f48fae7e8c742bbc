package llama

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-ml/strata/engine/model"
)

// oracleMissing fails under CI=true (an oracle must be installed there) and
// skips otherwise.
func oracleMissing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("oracle missing (CI=true): "+format, args...)
	}
	t.Skipf("oracle missing: "+format, args...)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// TestLlamaCppParity checks our forward pass against llama.cpp, an
// independent implementation: a tiny random Llama (GQA, untied, rope_theta
// 5e5) saved as an HF directory, converted to an F32 GGUF with gguf-py
// (tools/llamacpp/hf_to_gguf.py, q/k permuted as convert_hf_to_gguf does),
// evaluated by the prebuilt llama.cpp through node-llama-cpp with an F32 KV
// cache (tools/llamacpp/logits.mjs). Tolerance: max |logit diff| ≤ 1e-4 over
// all positions and the whole vocabulary.
func TestLlamaCppParity(t *testing.T) {
	home, _ := os.UserHomeDir()
	cache := envOr("STRATA_CACHE", filepath.Join(home, ".cache", "strata"))
	oracle := envOr("STRATA_ORACLE_DIR", filepath.Join(cache, "oracle"))
	lcpp := envOr("STRATA_LLAMACPP_DIR", filepath.Join(cache, "llama.cpp"))
	py := envOr("STRATA_TORCH_PYTHON", "/usr/bin/python3")
	node, err := exec.LookPath("node")
	if err != nil {
		oracleMissing(t, "node not on PATH")
	}
	if _, err := os.Stat(filepath.Join(oracle, "node_modules", "node-llama-cpp", "dist", "index.js")); err != nil {
		oracleMissing(t, "node-llama-cpp in %s: %v", oracle, err)
	}
	if _, err := os.Stat(filepath.Join(lcpp, "gguf-py", "gguf")); err != nil {
		oracleMissing(t, "gguf-py in %s: %v", lcpp, err)
	}
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		oracleMissing(t, "%s with numpy: %v", py, err)
	}

	cfg := &model.Config{Architectures: []string{"LlamaForCausalLM"}, HiddenSize: 64, IntermediateSize: 128,
		NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2, VocabSize: 512, RMSNormEps: 1e-5,
		RopeTheta: 500000, MaxPositionEmbeddings: 256}
	m, err := New(cfg, 1234, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Larger weights than HF's init so logits spread out (std 1 embedding, 0.2 linears).
	rng := rand.New(rand.NewPCG(1, 2))
	for _, w := range m.Weights() {
		switch {
		case w == m.Embed:
			scaleBy(w.F32, 50)
		case strings.HasSuffix(w.Name, "norm.weight"):
			for i := range w.F32 {
				w.F32[i] = 1 + float32(rng.NormFloat64()*0.1)
			}
		default:
			scaleBy(w.F32, 10)
		}
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	gg := filepath.Join(dir, "tiny.gguf")
	conv := exec.Command(py, "../../../tools/llamacpp/hf_to_gguf.py", dir, gg, filepath.Join(lcpp, "models", "ggml-vocab-llama-bpe.gguf"))
	conv.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join(lcpp, "gguf-py"))
	if out, err := conv.CombinedOutput(); err != nil {
		t.Fatalf("hf_to_gguf: %v\n%s", err, out)
	}
	ids := []int32{1, 300, 11, 17, 0, 511, 42, 42, 42, 256, 100, 7, 399, 64, 2, 5, 480, 33, 19, 250}
	idsJSON, _ := json.Marshal(ids)
	outBin := filepath.Join(dir, "logits.bin")
	run := exec.Command(node, "../../../tools/llamacpp/logits.mjs", gg, string(idsJSON), outBin)
	run.Env = append(os.Environ(), "STRATA_ORACLE_DIR="+oracle)
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("llama.cpp: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(outBin)
	if err != nil {
		t.Fatal(err)
	}
	v := cfg.VocabSize
	if len(raw) != 4*len(ids)*v {
		t.Fatalf("llama.cpp wrote %d bytes, want %d (T=%d × V=%d × 4)", len(raw), 4*len(ids)*v, len(ids), v)
	}
	want := make([]float32, len(ids)*v)
	for i := range want {
		want[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	got, err := m.Logits(&model.Batch{B: 1, T: len(ids), Tokens: ids})
	if err != nil {
		t.Fatal(err)
	}
	d, s := maxAbsDiff(got, want)
	argOK := 0
	for p := range ids {
		if argmax(got[p*v:(p+1)*v]) == argmax(want[p*v:(p+1)*v]) {
			argOK++
		}
	}
	t.Logf("llama.cpp vs strata: max|logit diff| %.3g (max|logit| %.3g), argmax agrees at %d/%d positions", d, s, argOK, len(ids))
	if d > 1e-4 {
		t.Errorf("max|logit diff| %.3g > 1e-4", d)
	}
}

func scaleBy(v []float32, s float32) {
	for i := range v {
		v[i] *= s
	}
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
