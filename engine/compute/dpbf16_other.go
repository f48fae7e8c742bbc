//go:build !amd64 || purego

package compute

// haveDPBF16 is false without the assembly: SgemmBF16BF16 rounds X and
// runs SgemmBF16.
const haveDPBF16 = false

const (
	dotRows = 4
	dotCols = 6
)

func dotKernel(strips, groups, k32 int, a []uint16, lda int, w []uint16, ldw, k int, out []float32, ldo int, mask uint32, next []uint16) {
	panic("compute: no VDPBF16PS kernel")
}

func roundRow(dst []uint16, src []float32) {
	for i, v := range src {
		dst[i] = toBF16(v)
	}
}

// peakLoopBF16 is the FMA probe, which SgemmBF16BF16 runs on here.
func peakLoopBF16(n int) float64 { return peakLoop(n) }

func gemvBF16BF16(y []float32, alpha float32, a []uint16, lda int, x []uint16) int { return 0 }

func gemvTBF16BF16(y []float32, a []uint16, lda int, x []uint16) int { return 0 }
