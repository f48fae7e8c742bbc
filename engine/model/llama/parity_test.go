package llama

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/engine/safetensors"
)

// Parity against PyTorch: testdata/<arch>/ holds a tiny random model and
// fixture.safetensors written by tools/torch/gen_fixtures.py, which computes
// in float64 with an HF-semantics reference (tools/torch/llama_ref.py). We
// compute in float32, so tolerances are:
//
//	logits, Step logits   max|diff| ≤ 2e-5·(1 + max|logit|)
//	loss                  |diff| ≤ 1e-5·loss
//	every gradient        max|diff| ≤ 2e-5·max|grad| + 1e-8 per tensor
//	10 AdamW steps        |diff| ≤ 2e-5·loss at each step

var parityArchs = []string{"llama", "mistral", "qwen2"}

type fixture struct {
	dir  string
	t    map[string]*safetensors.Tensor
	meta map[string]string
}

func loadFixture(t *testing.T, arch string) *fixture {
	t.Helper()
	dir := filepath.Join("testdata", arch)
	p := filepath.Join(dir, "fixture.safetensors")
	if _, err := os.Stat(p); os.IsNotExist(err) {
		regenerateFixtures(t)
	}
	ts, h, err := safetensors.ReadFile(p, safetensors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{dir: dir, t: ts, meta: h.Metadata}
}

// regenerateFixtures runs the PyTorch script when fixtures are missing.
func regenerateFixtures(t *testing.T) {
	py := os.Getenv("STRATA_TORCH_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	cmd := exec.Command(py, "../../../tools/torch/gen_fixtures.py", "testdata")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fixtures missing and regeneration failed: %v\n%s", err, out)
	}
}

func (f *fixture) ints(name string) []int32 {
	t := f.t[name]
	if t == nil {
		return nil
	}
	out := make([]int32, len(t.I64))
	for i, v := range t.I64 {
		out[i] = int32(v)
	}
	return out
}

func (f *fixture) batch() *model.Batch {
	tok := f.t["tokens"]
	return &model.Batch{B: tok.Shape[0], T: tok.Shape[1], Tokens: f.ints("tokens"), Targets: f.ints("targets"),
		Pos: f.ints("pos"), Seg: f.ints("seg")}
}

func (f *fixture) metaFloat(t *testing.T, k string) float64 {
	v, err := strconv.ParseFloat(f.meta[k], 64)
	if err != nil {
		t.Fatalf("fixture metadata %s: %v", k, err)
	}
	return v
}

func (f *fixture) adapter(t *testing.T, m *Model) *lora.Adapter {
	cfg := lora.Config{Rank: int(f.metaFloat(t, "lora_rank")), Alpha: f.metaFloat(t, "lora_alpha"),
		RSLoRA: f.meta["lora_rslora"] == "true", TargetModules: strings.Split(f.meta["lora_targets"], ",")}
	a, err := lora.New(cfg, len(m.Layers), func(mod lora.Module) (int, int) { return projShape(m.cfg, mod) }, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range a.Tensors() {
		src := f.t["lora."+n.Name]
		if src == nil {
			t.Fatalf("fixture lacks lora.%s", n.Name)
		}
		copy(n.Data, src.F32)
	}
	return a
}

func maxAbsDiff(a, b []float32) (diff, scale float64) {
	for i := range a {
		diff = max(diff, math.Abs(float64(a[i])-float64(b[i])))
		scale = max(scale, math.Abs(float64(b[i])))
	}
	return diff, scale
}

func loadParityModel(t *testing.T, f *fixture) *Model {
	t.Helper()
	mm, err := model.Load(f.dir, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return mm.(*Model)
}

func TestParityTorchForward(t *testing.T) {
	for _, arch := range parityArchs {
		t.Run(arch, func(t *testing.T) {
			f := loadFixture(t, arch)
			m := loadParityModel(t, f)
			b := f.batch()
			logits, err := m.Logits(b)
			if err != nil {
				t.Fatal(err)
			}
			d, s := maxAbsDiff(logits, f.t["logits"].F32)
			t.Logf("logits max|diff| %.3g (max|logit| %.3g)", d, s)
			if d > 2e-5*(1+s) {
				t.Errorf("logits max|diff| %.3g > %.3g", d, 2e-5*(1+s))
			}
			loss, n, err := m.Forward(b)
			if err != nil {
				t.Fatal(err)
			}
			want := float64(f.t["loss"].F32[0])
			t.Logf("loss %.8f want %.8f (%d targets)", loss, want, n)
			if math.Abs(loss-want) > 1e-5*want {
				t.Errorf("loss %v, want %v", loss, want)
			}
			if b.Seg != nil {
				return // Step serves unpacked sequences only
			}
			// Step: each row as its own sequence, prefill 5 tokens, then
			// one token at a time, all rows batched in each step.
			v := m.cfg.VocabSize
			seqs := make([]model.Seq, b.B)
			for r := range b.B {
				seqs[r] = model.Seq{Tokens: b.Tokens[r*b.T : r*b.T+5], Cache: m.NewCache(), AllLogits: true}
			}
			got := make([][]float32, b.B)
			for p := 5; p <= b.T; p++ {
				out, err := m.Step(seqs)
				if err != nil {
					t.Fatal(err)
				}
				for r := range b.B {
					got[r] = append(got[r], out[r]...)
					if p < b.T {
						seqs[r].Tokens = b.Tokens[r*b.T+p : r*b.T+p+1]
					}
				}
				if p == b.T {
					break
				}
			}
			for r := range b.B {
				d, s := maxAbsDiff(got[r], f.t["logits"].F32[r*b.T*v:(r+1)*b.T*v])
				if d > 2e-5*(1+s) {
					t.Errorf("row %d Step logits max|diff| %.3g", r, d)
				}
			}
		})
	}
}

func checkGrad(t *testing.T, name string, got, want []float32) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d grads, want %d", name, len(got), len(want))
	}
	d, s := maxAbsDiff(got, want)
	if d > 2e-5*s+1e-8 {
		t.Errorf("%s: grad max|diff| %.3g (max|grad| %.3g)", name, d, s)
	}
	return d / max(s, 1e-30)
}

func TestParityTorchGradients(t *testing.T) {
	for _, arch := range parityArchs {
		t.Run(arch, func(t *testing.T) {
			f := loadFixture(t, arch)
			for _, recompute := range []bool{false, true} {
				m := loadParityModel(t, f)
				m.opt.Recompute = recompute
				loss, _, err := m.ForwardBackward(f.batch())
				if err != nil {
					t.Fatal(err)
				}
				if want := float64(f.t["loss"].F32[0]); math.Abs(loss-want) > 1e-5*want {
					t.Errorf("loss %v, want %v", loss, want)
				}
				worst := 0.0
				ps := m.Params()
				if len(ps) == 0 {
					t.Fatal("no params")
				}
				for _, p := range ps {
					w := f.t["grad."+p.Name]
					if w == nil {
						t.Fatalf("fixture has no gradient for %s", p.Name)
					}
					worst = max(worst, checkGrad(t, p.Name, p.Grad, w.F32))
				}
				t.Logf("recompute=%v: %d params, worst relative grad diff %.3g", recompute, len(ps), worst)
			}
			// LoRA, with and without recomputation
			for _, recompute := range []bool{false, true} {
				m := loadParityModel(t, f)
				m.opt.Recompute = recompute
				a := f.adapter(t, m)
				if err := m.AttachLoRA(a); err != nil {
					t.Fatal(err)
				}
				for _, w := range m.Weights() {
					if w.Grad != nil {
						t.Fatalf("%s has a gradient buffer in LoRA mode", w.Name)
					}
				}
				loss, _, err := m.ForwardBackward(f.batch())
				if err != nil {
					t.Fatal(err)
				}
				if want := float64(f.t["lora_loss"].F32[0]); math.Abs(loss-want) > 1e-5*want {
					t.Errorf("lora loss %v, want %v", loss, want)
				}
				worst := 0.0
				for _, p := range m.Params() {
					worst = max(worst, checkGrad(t, p.Name, p.Grad, f.t["lora_grad."+p.Name].F32))
				}
				t.Logf("lora recompute=%v: %d params, worst relative grad diff %.3g", recompute, len(m.Params()), worst)
			}
		})
	}
}

// adamW is a minimal test-local torch.optim.AdamW (float64 moments).
type adamW struct {
	lr, b1, b2, eps, wd float64
	step                int
	m, v                map[string][]float64
}

func (o *adamW) update(ps []*model.Param) {
	o.step++
	bc1 := 1 - math.Pow(o.b1, float64(o.step))
	bc2 := 1 - math.Pow(o.b2, float64(o.step))
	for _, p := range ps {
		if o.m[p.Name] == nil {
			o.m[p.Name] = make([]float64, len(p.Data))
			o.v[p.Name] = make([]float64, len(p.Data))
		}
		m, v := o.m[p.Name], o.v[p.Name]
		for i, g32 := range p.Grad {
			g := float64(g32)
			w := float64(p.Data[i]) * (1 - o.lr*o.wd)
			m[i] = o.b1*m[i] + (1-o.b1)*g
			v[i] = o.b2*v[i] + (1-o.b2)*g*g
			w -= o.lr / bc1 * m[i] / (math.Sqrt(v[i])/math.Sqrt(bc2) + o.eps)
			p.Data[i] = float32(w)
		}
	}
}

func TestParityTorchAdamW(t *testing.T) {
	for _, arch := range parityArchs {
		for _, mode := range []string{"full", "lora"} {
			t.Run(arch+"/"+mode, func(t *testing.T) {
				f := loadFixture(t, arch)
				m := loadParityModel(t, f)
				key := "adamw_losses"
				if mode == "lora" {
					key = "lora_adamw_losses"
					if err := m.AttachLoRA(f.adapter(t, m)); err != nil {
						t.Fatal(err)
					}
				}
				o := &adamW{lr: f.metaFloat(t, "adamw_lr"), b1: f.metaFloat(t, "adamw_beta1"), b2: f.metaFloat(t, "adamw_beta2"),
					eps: f.metaFloat(t, "adamw_eps"), wd: f.metaFloat(t, "adamw_weight_decay"), m: map[string][]float64{}, v: map[string][]float64{}}
				want := f.t[key].F32
				worst := 0.0
				for i, w := range want {
					m.ZeroGrad()
					loss, _, err := m.ForwardBackward(f.batch())
					if err != nil {
						t.Fatal(err)
					}
					d := math.Abs(loss - float64(w))
					worst = max(worst, d/float64(w))
					if d > 2e-5*float64(w) {
						t.Errorf("step %d: loss %.7f, want %.7f", i, loss, w)
					}
					o.update(m.Params())
				}
				t.Logf("%d steps, loss %.5f → %.5f, worst relative diff %.3g", len(want), want[0], want[len(want)-1], worst)
			})
		}
	}
}
