package llama

import (
	"fmt"
	"math"
	"testing"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
)

// randomAdapter returns an adapter with non-zero A and B.
func randomAdapter(t *testing.T, m *Model, cfg lora.Config, seed uint64) *lora.Adapter {
	t.Helper()
	a, err := lora.New(cfg, len(m.Layers), func(mod lora.Module) (int, int) { return projShape(m.cfg, mod) }, seed)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range a.Tensors() {
		for i := range n.Data {
			n.Data[i] += float32(math.Sin(float64(i)*1.3+float64(seed))) * 0.2
		}
	}
	return a
}

// TestStepAdaptersAndMerge: a batched Step where each sequence has its own
// adapter (or none) equals running each sequence alone, and equals the
// training forward of a model with that adapter merged into its weights.
// Tolerance 2e-5·(1 + max|logit|) (merging reorders float32 sums).
func TestStepAdaptersAndMerge(t *testing.T) {
	f := loadFixture(t, "qwen2")
	m := loadParityModel(t, f)
	b := f.batch()
	// Unprepared adapters use B; prepared ones (as served) use Bᵀ.
	for _, prepared := range []bool{false, true} {
		t.Run(fmt.Sprintf("prepared=%v", prepared), func(t *testing.T) {
			a1 := randomAdapter(t, m, lora.Config{Rank: 3, Alpha: 6}, 1)
			a2 := randomAdapter(t, m, lora.Config{Rank: 2, Alpha: 8, RSLoRA: true, TargetModules: []string{"v_proj", "up_proj"}}, 2)
			if prepared {
				a1.PrepareServing()
				a2.PrepareServing()
			}
			adapters := []*lora.Adapter{a1, nil, a2, a1} // the first and last share an adapter
			rows := [][]int32{b.Tokens[:b.T], b.Tokens[b.T : 2*b.T], b.Tokens[3 : 3+b.T], b.Tokens[5 : 5+b.T]}
			v := m.cfg.VocabSize
			// Batched: prefill 6 tokens each (lengths differ: third prefills 4), then decode.
			seqs := make([]model.Seq, len(rows))
			for i := range seqs {
				n := 6
				if i == 2 {
					n = 4
				}
				seqs[i] = model.Seq{Tokens: rows[i][:n], Cache: m.NewCache(), Adapter: adapters[i], AllLogits: true}
			}
			got := make([][]float32, len(rows))
			done := make([]int, len(rows))
			for {
				active := []int{}
				var batch []model.Seq
				for i := range seqs {
					if done[i] < b.T {
						active = append(active, i)
						batch = append(batch, seqs[i])
					}
				}
				if len(batch) == 0 {
					break
				}
				out, err := m.Step(batch)
				if err != nil {
					t.Fatal(err)
				}
				for k, i := range active {
					got[i] = append(got[i], out[k]...)
					done[i] += len(seqs[i].Tokens)
					if done[i] < b.T {
						seqs[i].Tokens = rows[i][done[i] : done[i]+1]
					}
				}
			}
			for i, a := range adapters {
				mm := loadParityModel(t, f)
				if a != nil {
					if err := MergeInto(mm, a); err != nil {
						t.Fatal(err)
					}
				}
				want, err := mm.Logits(&model.Batch{B: 1, T: b.T, Tokens: rows[i]})
				if err != nil {
					t.Fatal(err)
				}
				d, s := maxAbsDiff(got[i], want)
				t.Logf("seq %d: max|diff| vs merged %.3g", i, d)
				if d > 2e-5*(1+s) || len(got[i]) != b.T*v {
					t.Errorf("seq %d: Step logits differ from merged model by %.3g", i, d)
				}
			}
		})
	}
	a1 := randomAdapter(t, m, lora.Config{Rank: 3, Alpha: 6}, 1)
	// The adapter attached for training gives the same forward as merging.
	mt := loadParityModel(t, f)
	if err := mt.AttachLoRA(a1); err != nil {
		t.Fatal(err)
	}
	l1, _, _ := mt.Forward(b)
	if err := mt.MergeLoRA(); err != nil {
		t.Fatal(err)
	}
	l2, _, _ := mt.Forward(b)
	if math.Abs(l1-l2) > 1e-5*l1 {
		t.Errorf("loss with adapter %v, merged %v", l1, l2)
	}
	if err := mt.MergeLoRA(); err != ErrNoAdapter {
		t.Errorf("second merge: %v", err)
	}
}

func TestStepErrors(t *testing.T) {
	f := loadFixture(t, "llama")
	m := loadParityModel(t, f)
	c := m.NewCache()
	other := model.NewKVCache(1, 4)
	bad := randomAdapter(t, m, lora.Config{Rank: 2, Alpha: 2}, 3)
	bad.Layers[0][lora.QProj].In = 5
	tests := []struct {
		name string
		seqs []model.Seq
	}{
		{"empty", []model.Seq{{Cache: c}}},
		{"no cache", []model.Seq{{Tokens: []int32{1}}}},
		{"foreign cache", []model.Seq{{Tokens: []int32{1}, Cache: other}}},
		{"token range", []model.Seq{{Tokens: []int32{1000}, Cache: c}}},
		{"shared cache", []model.Seq{{Tokens: []int32{1}, Cache: c}, {Tokens: []int32{2}, Cache: c}}},
		{"bad adapter", []model.Seq{{Tokens: []int32{1}, Cache: c, Adapter: bad}}},
	}
	for _, tt := range tests {
		if _, err := m.Step(tt.seqs); err == nil {
			t.Errorf("%s: Step succeeded", tt.name)
		}
		if c.Len != 0 {
			t.Fatalf("%s: cache modified on error", tt.name)
		}
	}
}

// dropoutModel is the llama fixture with a rank-4 LoRA adapter with 30%
// dropout whose B is non-zero, so that dropout matters.
func dropoutModel(t *testing.T) (*fixture, *Model) {
	t.Helper()
	f := loadFixture(t, "llama")
	m := loadParityModel(t, f)
	if _, err := m.EnableLoRA(lora.Config{Rank: 4, Alpha: 8, Dropout: 0.3}, 5); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		for i := range p.Data {
			p.Data[i] += 0.05 * float32(math.Cos(float64(i)))
		}
	}
	return f, m
}

// TestLoRADropoutAndAccumulation: dropout changes the training loss but not
// Forward; LossScale halves gradients; gradients accumulate across calls.
func TestLoRADropoutAndAccumulation(t *testing.T) {
	f, m := dropoutModel(t)
	b := f.batch()
	e1, _, _ := m.Forward(b)
	e2, _, _ := m.Forward(b)
	tr, _, err := m.ForwardBackward(b)
	if err != nil {
		t.Fatal(err)
	}
	if e1 != e2 || tr == e1 {
		t.Errorf("eval %v %v, train %v: dropout must apply only in training", e1, e2, tr)
	}
	m.Adapter().Config.Dropout = 0
	m.ZeroGrad()
	m.ForwardBackward(b)
	g1 := append([]float32(nil), m.Params()[3].Grad...)
	m.ForwardBackward(b)
	bb := *b
	bb.LossScale = -2
	m.ForwardBackward(&bb)
	for i, v := range m.Params()[3].Grad {
		if math.Abs(float64(v)) > 1e-6*(1+math.Abs(float64(g1[i]))) {
			t.Fatalf("grad %d: 1+1-2 accumulations left %v (single %v)", i, v, g1[i])
		}
	}
}

// TestDropoutStateRestore: the dropout masks depend only on the seed and
// DropoutState, which counts ForwardBackward calls (not Forward), so
// restoring it replays a training pass exactly.
func TestDropoutStateRestore(t *testing.T) {
	f, m := dropoutModel(t)
	b := f.batch()
	m.ForwardBackward(b)
	s := m.DropoutState()
	if s != 1 {
		t.Fatalf("DropoutState after one ForwardBackward = %d, want 1", s)
	}
	m.Forward(b)
	if got := m.DropoutState(); got != s {
		t.Fatalf("Forward moved DropoutState from %d to %d", s, got)
	}
	l1, _, _ := m.ForwardBackward(b)
	l2, _, _ := m.ForwardBackward(b)
	if l1 == l2 {
		t.Fatalf("consecutive training passes gave the same loss %v: masks did not change", l1)
	}
	m.SetDropoutState(s)
	if l, _, _ := m.ForwardBackward(b); l != l1 {
		t.Errorf("loss after SetDropoutState(%d) = %v, want %v (bit-exact)", s, l, l1)
	}
}

// TestStepLastRowsOnly: a prefill that wants only each prompt's last
// logits (the last layer then runs past attention on those rows alone)
// gives the same logits as the same batch with all logits, and leaves the
// same caches: the next decode step matches too. Adapters, shared and
// distinct, and a sequence that wants all its logits are in the batch.
// Tolerance 2e-5·(1 + max|logit|): the products of fewer rows may sum
// in another order.
func TestStepLastRowsOnly(t *testing.T) {
	f := loadFixture(t, "qwen2")
	m := loadParityModel(t, f)
	b := f.batch()
	a1 := randomAdapter(t, m, lora.Config{Rank: 3, Alpha: 6}, 1)
	a2 := randomAdapter(t, m, lora.Config{Rank: 2, Alpha: 8, TargetModules: []string{"v_proj", "up_proj", "down_proj", "o_proj"}}, 2)
	a2.PrepareServing()
	adapters := []*lora.Adapter{a1, nil, a2, a1, nil}
	lens := []int{6, 5, 4, 6, 1}
	allOf := []bool{false, false, false, true, false}
	v := m.cfg.VocabSize
	run := func(all bool) (prefill, decode [][]float32) {
		seqs := make([]model.Seq, len(lens))
		for i, n := range lens {
			seqs[i] = model.Seq{Tokens: b.Tokens[i : i+n], Cache: m.NewCache(), Adapter: adapters[i], AllLogits: all || allOf[i]}
		}
		out, err := m.Step(seqs)
		if err != nil {
			t.Fatal(err)
		}
		for i := range seqs {
			if all && !allOf[i] {
				out[i] = out[i][len(out[i])-v:] // the last row's
			}
			seqs[i].Tokens, seqs[i].AllLogits = b.Tokens[i+lens[i]:i+lens[i]+1], false
		}
		next, err := m.Step(seqs)
		if err != nil {
			t.Fatal(err)
		}
		return out, next
	}
	wantP, wantD := run(true)
	gotP, gotD := run(false)
	for i := range lens {
		for _, c := range []struct {
			what      string
			got, want []float32
		}{{"prefill", gotP[i], wantP[i]}, {"decode", gotD[i], wantD[i]}} {
			if len(c.got) != len(c.want) {
				t.Fatalf("seq %d %s: %d logits, want %d", i, c.what, len(c.got), len(c.want))
			}
			d, s := maxAbsDiff(c.got, c.want)
			if d > 2e-5*(1+s) {
				t.Errorf("seq %d %s: logits differ by %.3g (max %.3g)", i, c.what, d, s)
			}
		}
	}
}
