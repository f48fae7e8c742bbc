package llama

import (
	"math"
	"testing"

	"github.com/strata-ml/strata/engine/nn"
)

// TestStepLinearSwap: the transposed product Step uses for decode-sized
// batches equals nn.Linear (with and without bias) on both sides of the
// thresholds. Tolerance 1e-5·(1 + |y|): the two orders of the product sum
// the same terms in float32, possibly regrouped.
func TestStepLinearSwap(t *testing.T) {
	const in, out = 67, 45
	w := make([]float32, out*in)
	bias := make([]float32, out)
	for i := range w {
		w[i] = float32(math.Sin(float64(i) * 0.37))
	}
	for i := range bias {
		bias[i] = float32(i) * 0.1
	}
	var sb stepBuf
	for _, n := range []int{1, swapMinRows, swapMinRows + 1, 32, swapMaxRows, swapMaxRows + 1} {
		x := make([]float32, n*in)
		for i := range x {
			x[i] = float32(math.Cos(float64(i) * 0.11))
		}
		for _, b := range [][]float32{nil, bias} {
			want := make([]float32, n*out)
			got := make([]float32, n*out)
			for i := range got {
				got[i] = float32(math.NaN()) // every element must be written
			}
			nn.Linear(want, x, w, b, n, in, out)
			sb.linear(got, x, w, b, n, in, out)
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); !(d <= 1e-5*(1+math.Abs(float64(want[i])))) {
					t.Fatalf("n=%d bias=%v: y[%d] = %v, want %v", n, b != nil, i, got[i], want[i])
				}
			}
		}
	}
}
