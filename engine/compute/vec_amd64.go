//go:build amd64 && !purego

package compute

//go:noescape
func sdotAVX(x, y *float32, n int) float32

//go:noescape
func ssumAVX(x *float32, n int) float32

//go:noescape
func saxpyAVX(alpha float32, x, y *float32, n int)

//go:noescape
func sscalAVX(alpha float32, x *float32, n int)

// The vector ops below do the multiple-of-8 head in assembly and the tail
// in Go; callers have checked the lengths.

func sdot(x, y []float32) float32 {
	y = y[:len(x)] // the assembly reads len(x) elements of y
	n8 := len(x) &^ 7
	if !haveFMA || n8 == 0 {
		return sdotGo(x, y)
	}
	return sdotAVX(&x[0], &y[0], n8) + sdotGo(x[n8:], y[n8:])
}

func ssum(x []float32) float32 {
	n8 := len(x) &^ 7
	if !haveFMA || n8 == 0 {
		return ssumGo(x)
	}
	return ssumAVX(&x[0], n8) + ssumGo(x[n8:])
}

func saxpy(alpha float32, x, y []float32) {
	y = y[:len(x)] // the assembly writes len(x) elements of y
	n8 := len(x) &^ 7
	if !haveFMA || n8 == 0 {
		saxpyGo(alpha, x, y)
		return
	}
	saxpyAVX(alpha, &x[0], &y[0], n8)
	saxpyGo(alpha, x[n8:], y[n8:])
}

func sscal(alpha float32, x []float32) {
	n8 := len(x) &^ 7
	if !haveFMA || n8 == 0 {
		sscalGo(alpha, x)
		return
	}
	sscalAVX(alpha, &x[0], n8)
	sscalGo(alpha, x[n8:])
}
