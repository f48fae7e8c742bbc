package compute

// kernelGo is the portable micro-kernel: it computes the mr×nr tile
// acc = A·B over depth k, where A element (i, p) is a[i*rsa+p*csa] and B
// element (p, j) is b[p*rsb+j], and merges alpha*acc into C per mode.
func kernelGo(k int, a []float32, rsa, csa int, b []float32, rsb int, c []float32, ldc int, alpha, beta float32, mode int) {
	var acc [mr][nr]float32
	for p := range k {
		bp := (*[nr]float32)(b[p*rsb : p*rsb+nr])
		for i := range mr {
			av := a[i*rsa+p*csa]
			row := &acc[i]
			for j := range nr {
				row[j] += av * bp[j]
			}
		}
	}
	for i := range mr {
		row := (*[nr]float32)(c[i*ldc : i*ldc+nr])
		switch mode {
		case betaZero:
			for j := range nr {
				row[j] = alpha * acc[i][j]
			}
		case betaOne:
			for j := range nr {
				row[j] += alpha * acc[i][j]
			}
		default:
			for j := range nr {
				row[j] = alpha*acc[i][j] + beta*row[j]
			}
		}
	}
}

// kernelsGo runs kernelGo on tiles tiles down a column of C: tile t uses the
// A panel at a[t*pa:] and the C rows from t*mr.
func kernelsGo(tiles, k int, a []float32, rsa, csa, pa int, b []float32, rsb int, c []float32, ldc int, alpha, beta float32, mode int) {
	for t := range tiles {
		kernelGo(k, a[t*pa:], rsa, csa, b, rsb, c[t*mr*ldc:], ldc, alpha, beta, mode)
	}
}
