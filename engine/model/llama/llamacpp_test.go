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

	"github.com/strata-ml/strata/engine/compute"
	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/engine/oracle"
	"github.com/strata-ml/strata/engine/safetensors"
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

// TestLlamaCppParity checks our forward pass against llama.cpp, an
// independent implementation: a tiny random Llama (GQA, untied, rope_theta
// 5e5) saved as an HF directory, converted to an F32 GGUF with gguf-py
// (tools/llamacpp/hf_to_gguf.py, q/k permuted as convert_hf_to_gguf does),
// evaluated by the prebuilt llama.cpp through node-llama-cpp with an F32 KV
// cache (tools/llamacpp/logits.mjs). Tolerance: max |logit diff| ≤ 1e-4 over
// all positions and the whole vocabulary.
func TestLlamaCppParity(t *testing.T) {
	m, cfg := parityModel(t, false)
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	want := llamaCppLogits(t, dir, parityIDs, "", "F32")
	got, err := m.Logits(&model.Batch{B: 1, T: len(parityIDs), Tokens: parityIDs})
	if err != nil {
		t.Fatal(err)
	}
	d, s := maxAbsDiff(got, want)
	v := cfg.VocabSize
	argOK := 0
	for p := range parityIDs {
		if argmax(got[p*v:(p+1)*v]) == argmax(want[p*v:(p+1)*v]) {
			argOK++
		}
	}
	t.Logf("llama.cpp vs strata: max|logit diff| %.3g (max|logit| %.3g), argmax agrees at %d/%d positions", d, s, argOK, len(parityIDs))
	if d > 1e-4 {
		t.Errorf("max|logit diff| %.3g > 1e-4", d)
	}
}

// TestLlamaCppParityBF16 checks bfloat16 serving against llama.cpp on the
// same bfloat16 weights (a BF16 GGUF): both round the input rows of every
// bfloat16 product to bfloat16 and sum in float32 (llama.cpp's
// vec_dot_type for BF16 is BF16). Step serves the weights kept in bfloat16
// (model.Options.KeepBF16): one token per step for every position (the
// rounded dot products), then the whole prompt at once (AMX or VDPBF16PS
// tiles where the CPU has them). Two KV caches, each against llama.cpp
// with the same: float32 (Options.KVFloat32), and bfloat16, the default
// for such a model, where llama.cpp also rounds the query and the softmax
// probabilities to bfloat16 for its two attention products, as
// nn.AttentionCachedBF16 does. Tolerance: at least half the positions
// within max |logit diff| ≤ 2e-5·(1 + max|logit|) (the sums' order
// differs; seen: 4.8e-7 at every position with max|logit| 6.7), none
// beyond a quarter of the difference of the other semantics (the weights
// served in float32 without rounding, 0.04–0.06; the other cache, 0.075),
// for a value that rounds across a bfloat16 tie (see check), so the test
// tells the semantics apart.
func TestLlamaCppParityBF16(t *testing.T) {
	m, cfg := parityModel(t, true)
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	rewrite(t, dir, func(ts map[string]*safetensors.Tensor) {
		for _, v := range ts {
			v.DType = safetensors.BF16 // the values are bfloat16 already
		}
	})
	want := llamaCppLogits(t, dir, parityIDs, "bf16", "F32")
	want16 := llamaCppLogits(t, dir, parityIDs, "bf16", "BF16")
	v := cfg.VocabSize
	steps := func(opt model.Options) (perToken, prompt []float32) {
		mm := mustLoad(t, dir, opt)
		c := mm.NewCache()
		if c.BF16() == (opt.KVFloat32 || !opt.KeepBF16) {
			t.Fatalf("options %+v: NewCache bfloat16 = %v", opt, c.BF16())
		}
		for _, id := range parityIDs {
			out, err := mm.Step([]model.Seq{{Tokens: []int32{id}, Cache: c}})
			if err != nil {
				t.Fatal(err)
			}
			perToken = append(perToken, out[0]...)
		}
		out, err := mm.Step([]model.Seq{{Tokens: parityIDs, Cache: mm.NewCache()}})
		if err != nil {
			t.Fatal(err)
		}
		return perToken, out[0]
	}
	kept, keptPrompt := steps(model.Options{KeepBF16: true, KVFloat32: true})
	if len(kept) != len(want) || len(want16) != len(want) {
		t.Fatalf("strata gave %d logits, llama.cpp %d and %d", len(kept), len(want), len(want16))
	}
	kept16, kept16Prompt := steps(model.Options{KeepBF16: true})
	wide, widePrompt := steps(model.Options{})
	last, last16 := want[(len(parityIDs)-1)*v:], want16[(len(parityIDs)-1)*v:]
	// Rounding flips: every bfloat16 product rounds its input rows (and,
	// with a BF16 cache, the softmax probabilities) to bfloat16, and a
	// value within a float32 rounding of a bfloat16 tie rounds one way in
	// one order of sums and the other way in another (the orders differ
	// between AMX tiles, VDPBF16PS tiles, the pure-Go fallback and
	// llama.cpp's dot products); one such flip moves the logits after it
	// by up to about 1e-2 here (seen: 2.6e-3 on one prompt on VDPBF16PS,
	// 1.0e-2 at 2 of 20 positions in the pure-Go build). So most positions
	// must match within the tolerance, and none may differ by more than a
	// quarter of the other semantics' difference.
	check := func(name string, got, gotPrompt, want, last, other, otherPrompt []float32, otherName string) {
		dk, s := maxAbsDiff(got, want)
		dp, _ := maxAbsDiff(gotPrompt, last)
		do, _ := maxAbsDiff(other, want)
		dop, _ := maxAbsDiff(otherPrompt, last)
		tol := 2e-5 * (1 + s)
		within := 0
		for i := range parityIDs {
			if d, _ := maxAbsDiff(got[i*v:(i+1)*v], want[i*v:(i+1)*v]); d <= tol {
				within++
			}
		}
		t.Logf("%s: max|logit diff| %.3g per token (%d/%d positions within %.3g), %.3g prompt (max|logit| %.3g); %s: %.3g, %.3g",
			name, dk, within, len(parityIDs), tol, dp, s, otherName, do, dop)
		if within < len(parityIDs)/2 || dk > do/4 || dp > dop/4 {
			t.Errorf("%s: %d/%d positions within %.3g, max|logit diff| %.3g per token, %.3g prompt (a quarter of %s's: %.3g, %.3g)",
				name, within, len(parityIDs), tol, dk, dp, otherName, do/4, dop/4)
		}
	}
	check("llama.cpp BF16, F32 KV vs strata, float32 cache", kept, keptPrompt, want, last, wide, widePrompt, "float32 serving without rounding")
	check("llama.cpp BF16, BF16 KV vs strata, bfloat16 cache", kept16, kept16Prompt, want16, last16, kept, keptPrompt, "strata's float32 cache")
}

// parityIDs are the prompt both parity tests evaluate.
var parityIDs = []int32{1, 300, 11, 17, 0, 511, 42, 42, 42, 256, 100, 7, 399, 64, 2, 5, 480, 33, 19, 250}

// parityModel returns the parity tests' tiny random Llama, its weights
// rounded to bfloat16 values when bf16 is set.
func parityModel(t *testing.T, bf16 bool) (*Model, *model.Config) {
	t.Helper()
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
		if bf16 {
			for i, x := range w.F32 {
				w.F32[i] = compute.RoundBF16(x)
			}
		}
	}
	return m, cfg
}

// llamaCppLogits converts the HF directory dir to a GGUF (dtype "" for
// F32, "bf16" for BF16 matrices) and returns llama.cpp's logits at every
// position of ids (T × V), or skips (fails under CI=true) when the oracle
// is not installed.
func llamaCppLogits(t *testing.T, dir string, ids []int32, dtype, kv string) []float32 {
	t.Helper()
	od, lcpp, py := oracle.Dir(), oracle.LlamaCppDir(), oracle.Python()
	node, err := exec.LookPath("node")
	if err != nil {
		oracleMissing(t, "node not on PATH")
	}
	if _, err := os.Stat(filepath.Join(od, "node_modules", "node-llama-cpp", "dist", "index.js")); err != nil {
		oracleMissing(t, "node-llama-cpp in %s: %v", od, err)
	}
	if _, err := os.Stat(filepath.Join(lcpp, "gguf-py", "gguf")); err != nil {
		oracleMissing(t, "gguf-py in %s: %v", lcpp, err)
	}
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		oracleMissing(t, "%s with numpy: %v", py, err)
	}
	gg := filepath.Join(t.TempDir(), "tiny.gguf")
	args := []string{"../../../tools/llamacpp/hf_to_gguf.py", dir, gg, filepath.Join(lcpp, "models", "ggml-vocab-llama-bpe.gguf")}
	if dtype != "" {
		args = append(args, dtype)
	}
	conv := exec.Command(py, args...)
	conv.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join(lcpp, "gguf-py"))
	if out, err := conv.CombinedOutput(); err != nil {
		t.Fatalf("hf_to_gguf: %v\n%s", err, out)
	}
	idsJSON, _ := json.Marshal(ids)
	outBin := filepath.Join(t.TempDir(), "logits.bin")
	run := exec.Command(node, "../../../tools/llamacpp/logits.mjs", gg, string(idsJSON), outBin, kv)
	run.Env = append(os.Environ(), "STRATA_ORACLE_DIR="+od)
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("llama.cpp: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(outBin)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		VocabSize int `json:"vocab_size"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(raw) != 4*len(ids)*cfg.VocabSize {
		t.Fatalf("llama.cpp wrote %d bytes, want %d (T=%d × V=%d × 4)", len(raw), 4*len(ids)*cfg.VocabSize, len(ids), cfg.VocabSize)
	}
	want := make([]float32, len(ids)*cfg.VocabSize)
	for i := range want {
		want[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return want
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
