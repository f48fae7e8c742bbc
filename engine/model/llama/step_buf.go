package llama

import (
	"github.com/strata-ml/strata/engine/compute"
	"github.com/strata-ml/strata/engine/nn"
)

// Decode batches of more than swapMinRows and at most swapMaxRows rows run
// their linear layers as Yᵀ = W·Xᵀ: the weight matrix is then read in place,
// six rows at a time, instead of being repacked (transposed) on every step,
// which at these sizes costs about as much as the product itself. Below
// swapMinRows compute.Sgemm already avoids packing the weights; above
// swapMaxRows (prefill) the packing is amortised over enough rows.
const (
	swapMinRows = 16
	swapMaxRows = 64
)

// stepBuf holds the activation buffers of one Step, kept between steps so
// that decoding does not allocate them on every token.
type stepBuf struct {
	x, h, q, k, v, att, gate, up []float32
	yt                           []float32 // transposed product (linear)
	fz                           []float32 // fused projections' product
	lora                         []loraBuf // one per adapter group
	hs                           []float32 // final hidden rows
	off, off2                    []int
	tokens, pos                  []int32
	rows                         []int
}

// loraBuf is one adapter group's scratch: its gathered input rows, their
// low-rank projection and the delta to add.
type loraBuf struct {
	xg, lu, dg []float32
}

func (m *Model) getStepBuf() *stepBuf {
	if b, ok := m.stepPool.Get().(*stepBuf); ok {
		return b
	}
	return &stepBuf{}
}

// linearW is linear for a model weight, which may be kept in bfloat16.
func (sb *stepBuf) linearW(y, x []float32, w *Weight, bias []float32, n, in, out int) {
	sb.linearData(y, x, w.F32, w.BF16, bias, n, in, out)
}

// linearData is linear for a weight given as float32 (f32 not nil) or as
// bfloat16 bits. A bfloat16 product is compute.SgemmBF16BF16: the weight
// is read as it is (two bytes per weight, never widened all at once) and
// the input rows are rounded to bfloat16, as a bfloat16 matmul does in
// PyTorch and in llama.cpp; products are exact and sums float32. That
// runs at twice the float32 rate where the CPU has AVX512-BF16.
func (sb *stepBuf) linearData(y, x, f32 []float32, bf16 []uint16, bias []float32, n, in, out int) {
	if f32 != nil {
		sb.linear(y, x, f32, bias, n, in, out)
		return
	}
	compute.SgemmBF16BF16(n, out, in, 1, x, in, bf16, in, 0, y, out)
	if bias != nil {
		addBias(y, bias, n, out)
	}
}

// linear computes y = x·Wᵀ + b for n rows (nn.Linear), through the
// transposed product for decode-sized batches (see swapMinRows).
func (sb *stepBuf) linear(y, x, w, bias []float32, n, in, out int) {
	if n <= swapMinRows || n > swapMaxRows {
		nn.Linear(y, x, w, bias, n, in, out)
		return
	}
	sb.yt = grow(sb.yt, n*out)
	yt := sb.yt
	compute.Sgemm(false, true, out, n, in, 1, w, in, x, in, 0, yt, n)
	compute.Transpose(out, n, yt, n, y, out)
	if bias != nil {
		addBias(y, bias, n, out)
	}
}

// addBias adds bias to each of the n rows of y (n×out).
func addBias(y, bias []float32, n, out int) {
	for i := range n {
		row := y[i*out : (i+1)*out]
		for j, b := range bias[:out] {
			row[j] += b
		}
	}
}
