package llama

import (
	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
)

// fused is the weights of projections that read the same input (q, k, v;
// gate, up) laid out one after the other in one matrix, so that a step
// multiplies them by their input in one product: one pass over the input,
// one parallel region, instead of one per projection.
type fused struct {
	mods []lora.Module
	f32  []float32 // (Σ out, in), or nil
	bf16 []uint16  // (Σ out, in), or nil
	bias []float32 // (Σ out), or nil when no part has a bias
	out  int       // Σ out
}

// FuseProjections lays each layer's q, k, v and gate, up weights out as
// one matrix each (the weights become views into it), for serving: Step
// then runs each group as one product. Weights of mixed dtypes are left
// apart. Replacing a fused weight's data later (not a view any more) makes
// Step fall back to the separate products.
func (m *Model) FuseProjections() {
	for _, L := range m.Layers {
		L.qkv = fuseWeights(m.cfg, L, lora.QProj, lora.KProj, lora.VProj)
		L.gateUp = fuseWeights(m.cfg, L, lora.GateProj, lora.UpProj)
	}
}

func fuseWeights(cfg *model.Config, L *Layer, mods ...lora.Module) *fused {
	f := &fused{mods: mods}
	isF32, isBF16, hasBias := true, true, false
	for _, mod := range mods {
		w := L.Proj[mod]
		isF32 = isF32 && w.F32 != nil
		isBF16 = isBF16 && w.F32 == nil && w.BF16 != nil
		hasBias = hasBias || L.Bias[mod] != nil
		_, out := projShape(cfg, mod)
		f.out += out
	}
	in, _ := projShape(cfg, mods[0])
	switch {
	case isF32:
		f.f32 = concatViews(f.out*in, L, mods, func(w *Weight) *[]float32 { return &w.F32 })
	case isBF16:
		f.bf16 = concatViews(f.out*in, L, mods, func(w *Weight) *[]uint16 { return &w.BF16 })
	default:
		return nil
	}
	if hasBias {
		f.bias = make([]float32, f.out)
		o := 0
		for _, mod := range mods {
			_, out := projShape(cfg, mod)
			if b := L.Bias[mod]; b != nil {
				copy(f.bias[o:o+out], b.F32)
				b.F32 = f.bias[o : o+out : o+out]
			}
			o += out
		}
	}
	return f
}

// concatViews copies the data of the mods' weights (the slice field(w)
// points at) one after the other into one new slice of n elements, and
// makes each weight's data a view into it.
func concatViews[T float32 | uint16](n int, L *Layer, mods []lora.Module, field func(*Weight) *[]T) []T {
	all := make([]T, 0, n)
	for _, mod := range mods {
		d := field(L.Proj[mod])
		o := len(all)
		all = append(all, *d...)
		*d = all[o:len(all):len(all)]
	}
	return all
}

// live reports whether L's weights are still views into f (nobody has
// replaced their data since FuseProjections).
func (f *fused) live(cfg *model.Config, L *Layer) bool {
	if f == nil {
		return false
	}
	o := 0
	for _, mod := range f.mods {
		in, out := projShape(cfg, mod)
		w := L.Proj[mod]
		switch {
		case f.f32 != nil:
			if len(w.F32) != out*in || &w.F32[0] != &f.f32[o*in] {
				return false
			}
		default:
			if w.F32 != nil || len(w.BF16) != out*in || &w.BF16[0] != &f.bf16[o*in] {
				return false
			}
		}
		if b := L.Bias[mod]; b != nil && (f.bias == nil || len(b.F32) != out || &b.F32[0] != &f.bias[o]) {
			return false
		}
		o += out
	}
	return true
}
