package llama

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/engine/safetensors"
)

// copyFixtureDir copies testdata/llama's config and weights into a temp dir.
func copyFixtureDir(t *testing.T, arch string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join("testdata", arch, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// rewrite applies edit to the tensors of dir/model.safetensors.
func rewrite(t *testing.T, dir string, edit func(map[string]*safetensors.Tensor)) {
	t.Helper()
	p := filepath.Join(dir, "model.safetensors")
	ts, _, err := safetensors.ReadFile(p, safetensors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	edit(ts)
	var list []*safetensors.Tensor
	for _, v := range ts {
		list = append(list, v)
	}
	if err := safetensors.WriteFile(p, list, nil); err != nil {
		t.Fatal(err)
	}
}

// mustLoad loads the model directory dir with opt.
func mustLoad(t *testing.T, dir string, opt model.Options) *Model {
	t.Helper()
	m, err := model.Load(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	return m.(*Model)
}

func TestLoadErrors(t *testing.T) {
	const q = "model.layers.1.self_attn.q_proj.weight"
	tests := []struct {
		name    string
		edit    func(t *testing.T, dir string)
		wantErr string
		tensor  string
	}{
		{"missing tensor", func(t *testing.T, d string) {
			rewrite(t, d, func(m map[string]*safetensors.Tensor) { delete(m, q) })
		}, "missing", q},
		{"extra tensor", func(t *testing.T, d string) {
			rewrite(t, d, func(m map[string]*safetensors.Tensor) {
				m["model.layers.0.mlp.extra.weight"] = &safetensors.Tensor{Name: "model.layers.0.mlp.extra.weight", DType: safetensors.F32, Shape: []int{1}, F32: []float32{1}}
			})
		}, "unexpected tensor", "model.layers.0.mlp.extra.weight"},
		{"shape mismatch", func(t *testing.T, d string) {
			rewrite(t, d, func(m map[string]*safetensors.Tensor) { m[q].Shape = []int{m[q].Shape[1], m[q].Shape[0]} })
		}, "shape", q},
		{"dtype mismatch", func(t *testing.T, d string) {
			rewrite(t, d, func(m map[string]*safetensors.Tensor) {
				n := m[q].NumElements()
				m[q] = &safetensors.Tensor{Name: q, DType: safetensors.I32, Shape: m[q].Shape, I64: make([]int64, n)}
			})
		}, "dtype I32", q},
		{"nan", func(t *testing.T, d string) {
			rewrite(t, d, func(m map[string]*safetensors.Tensor) { m[q].F32[5] = float32(math.NaN()) })
		}, "non-finite", q},
		{"inf bf16", func(t *testing.T, d string) {
			rewrite(t, d, func(m map[string]*safetensors.Tensor) {
				m[q].DType = safetensors.BF16
				m[q].F32[0] = float32(math.Inf(-1))
			})
		}, "non-finite", q},
		{"truncated file", func(t *testing.T, d string) {
			p := filepath.Join(d, "model.safetensors")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-100], 0o644)
		}, "outside the data section", ""},
		{"bad header length", func(t *testing.T, d string) {
			p := filepath.Join(d, "model.safetensors")
			b, _ := os.ReadFile(p)
			b[7] = 0x7f
			os.WriteFile(p, b, 0o644)
		}, "header length", ""},
		{"unsupported architecture", func(t *testing.T, d string) {
			p := filepath.Join(d, "config.json")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), "LlamaForCausalLM", "FalconForCausalLM", 1)), 0o644)
		}, "FalconForCausalLM", ""},
		{"unsupported rope scaling", func(t *testing.T, d string) {
			p := filepath.Join(d, "config.json")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), `"llama3"`, `"dynamic"`, 1)), 0o644)
		}, "dynamic", ""},
		{"no weights", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "model.safetensors")) }, "model.safetensors", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyFixtureDir(t, "llama")
			tt.edit(t, dir)
			_, err := model.Load(dir, model.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Load: err = %v, want containing %q", err, tt.wantErr)
			}
			if tt.tensor != "" {
				var we *WeightError
				if !errors.As(err, &we) || we.Tensor != tt.tensor || we.Dir != dir {
					t.Errorf("err = %v, want *WeightError naming %q in %s", err, tt.tensor, dir)
				}
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the directory", err)
			}
		})
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, arch := range parityArchs {
		f := loadFixture(t, arch)
		m := loadParityModel(t, f)
		dir := t.TempDir()
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
		m2 := mustLoad(t, dir, model.Options{})
		a, _ := m.Logits(f.batch())
		b, _ := m2.Logits(f.batch())
		if d, _ := maxAbsDiff(a, b); d != 0 {
			t.Errorf("%s: reloaded logits differ by %g", arch, d)
		}
		if m2.Config().TieWordEmbeddings != m.cfg.TieWordEmbeddings || m2.Config().Window() != m.cfg.Window() {
			t.Errorf("%s: config changed on round trip", arch)
		}
		if c := m2.Config(); c.ModelType != arch || c.TorchDType != "float32" {
			t.Errorf("%s: config.json model_type %q torch_dtype %q", arch, c.ModelType, c.TorchDType)
		}
	}
}

// bf16FixtureDir copies the arch fixture with every tensor stored as BF16.
func bf16FixtureDir(t *testing.T, arch string) string {
	t.Helper()
	dir := copyFixtureDir(t, arch)
	rewrite(t, dir, func(m map[string]*safetensors.Tensor) {
		for _, v := range m {
			v.DType = safetensors.BF16
		}
	})
	return dir
}

// TestKeepBF16 loads BF16 weights kept as BF16 (LoRA over a frozen base) and
// compares with the same weights widened to float32: identical results.
func TestKeepBF16(t *testing.T) {
	dir := bf16FixtureDir(t, "llama")
	f := loadFixture(t, "llama")
	mk, m32 := mustLoad(t, dir, model.Options{KeepBF16: true}), mustLoad(t, dir, model.Options{})
	if mk.Layers[0].Proj[lora.QProj].BF16 == nil || mk.Layers[0].Proj[lora.QProj].F32 != nil {
		t.Fatal("q_proj not kept as BF16")
	}
	for _, m := range []*Model{mk, m32} {
		if _, err := m.EnableLoRA(lora.Config{Rank: 2, Alpha: 4}, 9); err != nil {
			t.Fatal(err)
		}
	}
	l1, _, err := mk.ForwardBackward(f.batch())
	if err != nil {
		t.Fatal(err)
	}
	l2, _, _ := m32.ForwardBackward(f.batch())
	if l1 != l2 {
		t.Errorf("bf16-kept loss %v != widened %v", l1, l2)
	}
	p1, p2 := mk.Params(), m32.Params()
	for i := range p1 {
		if d, _ := maxAbsDiff(p1[i].Grad, p2[i].Grad); d != 0 {
			t.Errorf("%s: grads differ by %g", p1[i].Name, d)
		}
	}
	// Saving keeps BF16.
	out := t.TempDir()
	if err := mk.Save(out); err != nil {
		t.Fatal(err)
	}
	ts, _, err := safetensors.ReadFile(filepath.Join(out, "model.safetensors"), safetensors.Options{KeepBF16: true})
	if err != nil {
		t.Fatal(err)
	}
	if ts["model.layers.0.mlp.up_proj.weight"].DType != safetensors.BF16 {
		t.Error("saved weights not BF16")
	}
}
