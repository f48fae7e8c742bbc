//go:build amd64 && !purego

package compute

//go:noescape
func gemv8AVX(y *float32, alpha float32, a *float32, lda int, x *float32, n int)

//go:noescape
func gemvT64AVX(y *float32, a *float32, lda int, x *float32, n int)

//go:noescape
func gemvT32AVX(y *float32, a *float32, lda int, x *float32, n int)

func gemv(y []float32, alpha float32, a []float32, lda int, x []float32) {
	n := len(x)
	n8 := n &^ 7
	if !haveFMA || n8 == 0 {
		gemvGo(y, alpha, a, lda, x)
		return
	}
	rows := func(r int) {
		_ = a[(r+7)*lda+n-1] // the assembly reads eight rows of n8 ≤ n
		gemv8AVX(&y[r], alpha, &a[r*lda], lda, &x[0], n8)
		if n8 < n {
			for i := range 8 {
				y[r+i] += alpha * sdotGo(x[n8:], a[(r+i)*lda+n8:(r+i)*lda+n])
			}
		}
	}
	if len(y) < 8 {
		for i := range y {
			y[i] = alpha * sdot(x, a[i*lda:i*lda+n])
		}
		return
	}
	byEight(len(y), rows)
}

// byEight calls rows(r) for each block of eight of n ≥ 8 rows, and for the
// last rows short of eight calls it again on them with the rows before
// them: each row's sum is the eight-row kernel's whichever eight it is
// reduced with.
func byEight(n int, rows func(r int)) {
	r := 0
	for ; r+8 <= n; r += 8 {
		rows(r)
	}
	if r < n {
		rows(n - 8)
	}
}

func gemvT(y, a []float32, lda int, x []float32) {
	d := len(y)
	c := 0
	if haveFMA && len(x) > 0 {
		_ = a[(len(x)-1)*lda+d-1]
		for ; c+64 <= d; c += 64 {
			gemvT64AVX(&y[c], &a[c], lda, &x[0], len(x))
		}
		for ; c+32 <= d; c += 32 {
			gemvT32AVX(&y[c], &a[c], lda, &x[0], len(x))
		}
	}
	if c < d {
		gemvTGo(y[c:], a[c:], lda, x)
	}
}

//go:noescape
func gemv8BF16AVX(y *float32, alpha float32, a *uint16, lda int, x *float32, n int)

//go:noescape
func gemvT64BF16AVX(y *float32, a *uint16, lda int, x *float32, n int)

// gemvBF16 is gemv over bfloat16 rows: the same eight-row kernel, each
// chunk of a row widened as it is loaded.
func gemvBF16(y []float32, alpha float32, a []uint16, lda int, x []float32) {
	n := len(x)
	n8 := n &^ 7
	if !haveFMA || n8 == 0 || len(y) < 8 {
		gemvBF16Go(y, alpha, a, lda, x)
		return
	}
	rows := func(r int) {
		_ = a[(r+7)*lda+n-1]
		gemv8BF16AVX(&y[r], alpha, &a[r*lda], lda, &x[0], n8)
		for i := range 8 {
			var s float32
			for c := n8; c < n; c++ {
				s += bf16ToF32(a[(r+i)*lda+c]) * x[c]
			}
			y[r+i] += alpha * s
		}
	}
	byEight(len(y), rows)
}

// gemvTBF16 is gemvT over bfloat16 rows, 64 columns a pass.
func gemvTBF16(y []float32, a []uint16, lda int, x []float32) {
	d := len(y)
	c := 0
	if haveFMA {
		_ = a[(len(x)-1)*lda+d-1]
		for ; c+64 <= d; c += 64 {
			gemvT64BF16AVX(&y[c], &a[c], lda, &x[0], len(x))
		}
	}
	if c < d {
		gemvTBF16Go(y[c:], a[c:], lda, x)
	}
}
