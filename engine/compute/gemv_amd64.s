//go:build amd64 && !purego

#include "textflag.h"

// func gemv8AVX(y *float32, alpha float32, a *float32, lda int, x *float32, n int)
//
// y[r] = alpha·Σ_{c<n} a[r·lda+c]·x[c] for the eight rows r < 8 of a; each
// chunk of 8 elements of x is loaded once for the eight rows. n must be a
// positive multiple of 8.
TEXT ·gemv8AVX(SB), NOSPLIT, $0-48
	MOVQ   a+16(FP), AX
	MOVQ   lda+24(FP), R8
	SHLQ   $2, R8
	MOVQ   x+32(FP), SI
	MOVQ   n+40(FP), CX
	SHRQ   $3, CX
	LEAQ   (AX)(R8*2), R9
	ADDQ   R8, R9
	LEAQ   (R9)(R8*2), R10
	ADDQ   R8, R10
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

g8loop:
	VMOVUPS     (SI), Y8
	VFMADD231PS (AX), Y8, Y0
	VFMADD231PS (AX)(R8*1), Y8, Y1
	VFMADD231PS (AX)(R8*2), Y8, Y2
	VFMADD231PS (R9), Y8, Y3
	VFMADD231PS (R9)(R8*1), Y8, Y4
	VFMADD231PS (R9)(R8*2), Y8, Y5
	VFMADD231PS (R10), Y8, Y6
	VFMADD231PS (R10)(R8*1), Y8, Y7
	ADDQ        $32, SI
	ADDQ        $32, AX
	ADDQ        $32, R9
	ADDQ        $32, R10
	DECQ        CX
	JNE         g8loop

	// Reduce the eight accumulators to one vector of eight sums.
	VHADDPS      Y1, Y0, Y0
	VHADDPS      Y3, Y2, Y2
	VHADDPS      Y5, Y4, Y4
	VHADDPS      Y7, Y6, Y6
	VHADDPS      Y2, Y0, Y0
	VHADDPS      Y6, Y4, Y4
	VPERM2F128   $0x20, Y4, Y0, Y1
	VPERM2F128   $0x31, Y4, Y0, Y2
	VADDPS       Y2, Y1, Y1
	VBROADCASTSS alpha+8(FP), Y3
	VMULPS       Y3, Y1, Y1
	MOVQ         y+0(FP), DI
	VMOVUPS      Y1, (DI)
	VZEROUPPER
	RET

// func gemvT32AVX(y *float32, a *float32, lda int, x *float32, n int)
//
// y[c] = Σ_{r<n} x[r]·a[r·lda+c] for the 32 columns c < 32, kept in four
// registers across all n rows. n must be positive.
TEXT ·gemvT32AVX(SB), NOSPLIT, $0-40
	MOVQ   a+8(FP), AX
	MOVQ   lda+16(FP), R8
	SHLQ   $2, R8
	MOVQ   x+24(FP), SI
	MOVQ   n+32(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

gTloop:
	VBROADCASTSS (SI), Y8
	VFMADD231PS  (AX), Y8, Y0
	VFMADD231PS  32(AX), Y8, Y1
	VFMADD231PS  64(AX), Y8, Y2
	VFMADD231PS  96(AX), Y8, Y3
	ADDQ         $4, SI
	ADDQ         R8, AX
	DECQ         CX
	JNE          gTloop

	MOVQ    y+0(FP), DI
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VZEROUPPER
	RET

// func gemvT64AVX(y *float32, a *float32, lda int, x *float32, n int)
//
// y[c] = Σ_{r<n} x[r]·a[r·lda+c] for the 64 columns c < 64, kept in eight
// registers across all n rows: eight independent sums, so a row takes
// one FMA latency for twice the columns of gemvT32AVX. n must be positive.
TEXT ·gemvT64AVX(SB), NOSPLIT, $0-40
	MOVQ   a+8(FP), AX
	MOVQ   lda+16(FP), R8
	SHLQ   $2, R8
	MOVQ   x+24(FP), SI
	MOVQ   n+32(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

gT64loop:
	VBROADCASTSS (SI), Y8
	VFMADD231PS  (AX), Y8, Y0
	VFMADD231PS  32(AX), Y8, Y1
	VFMADD231PS  64(AX), Y8, Y2
	VFMADD231PS  96(AX), Y8, Y3
	VFMADD231PS  128(AX), Y8, Y4
	VFMADD231PS  160(AX), Y8, Y5
	VFMADD231PS  192(AX), Y8, Y6
	VFMADD231PS  224(AX), Y8, Y7
	ADDQ         $4, SI
	ADDQ         R8, AX
	DECQ         CX
	JNE          gT64loop

	MOVQ    y+0(FP), DI
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	VZEROUPPER
	RET

// func gemv8BF16AVX(y *float32, alpha float32, a *uint16, lda int, x *float32, n int)
//
// gemv8AVX over bfloat16 rows (lda in elements): each chunk of 8 elements
// of a row is widened (zero-extended words shifted into the high half) as
// it is loaded. n must be a positive multiple of 8.
TEXT ·gemv8BF16AVX(SB), NOSPLIT, $0-48
	MOVQ   a+16(FP), AX
	MOVQ   lda+24(FP), R8
	SHLQ   $1, R8
	MOVQ   x+32(FP), SI
	MOVQ   n+40(FP), CX
	SHRQ   $3, CX
	LEAQ   (AX)(R8*2), R9
	ADDQ   R8, R9
	LEAQ   (R9)(R8*2), R10
	ADDQ   R8, R10
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

gb8loop:
	VMOVUPS     (SI), Y8
	VPMOVZXWD   (AX), Y9
	VPSLLD      $16, Y9, Y9
	VFMADD231PS Y9, Y8, Y0
	VPMOVZXWD   (AX)(R8*1), Y10
	VPSLLD      $16, Y10, Y10
	VFMADD231PS Y10, Y8, Y1
	VPMOVZXWD   (AX)(R8*2), Y11
	VPSLLD      $16, Y11, Y11
	VFMADD231PS Y11, Y8, Y2
	VPMOVZXWD   (R9), Y12
	VPSLLD      $16, Y12, Y12
	VFMADD231PS Y12, Y8, Y3
	VPMOVZXWD   (R9)(R8*1), Y13
	VPSLLD      $16, Y13, Y13
	VFMADD231PS Y13, Y8, Y4
	VPMOVZXWD   (R9)(R8*2), Y14
	VPSLLD      $16, Y14, Y14
	VFMADD231PS Y14, Y8, Y5
	VPMOVZXWD   (R10), Y15
	VPSLLD      $16, Y15, Y15
	VFMADD231PS Y15, Y8, Y6
	VPMOVZXWD   (R10)(R8*1), Y9
	VPSLLD      $16, Y9, Y9
	VFMADD231PS Y9, Y8, Y7
	ADDQ        $32, SI
	ADDQ        $16, AX
	ADDQ        $16, R9
	ADDQ        $16, R10
	DECQ        CX
	JNE         gb8loop

	VHADDPS      Y1, Y0, Y0
	VHADDPS      Y3, Y2, Y2
	VHADDPS      Y5, Y4, Y4
	VHADDPS      Y7, Y6, Y6
	VHADDPS      Y2, Y0, Y0
	VHADDPS      Y6, Y4, Y4
	VPERM2F128   $0x20, Y4, Y0, Y1
	VPERM2F128   $0x31, Y4, Y0, Y2
	VADDPS       Y2, Y1, Y1
	VBROADCASTSS alpha+8(FP), Y3
	VMULPS       Y3, Y1, Y1
	MOVQ         y+0(FP), DI
	VMOVUPS      Y1, (DI)
	VZEROUPPER
	RET

// func gemvT64BF16AVX(y *float32, a *uint16, lda int, x *float32, n int)
//
// gemvT64AVX over bfloat16 rows (lda in elements), each row's 64 values
// widened as they are loaded. n must be positive.
TEXT ·gemvT64BF16AVX(SB), NOSPLIT, $0-40
	MOVQ   a+8(FP), AX
	MOVQ   lda+16(FP), R8
	SHLQ   $1, R8
	MOVQ   x+24(FP), SI
	MOVQ   n+32(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

gbT64loop:
	VBROADCASTSS (SI), Y8
	VPMOVZXWD    (AX), Y9
	VPSLLD       $16, Y9, Y9
	VFMADD231PS  Y9, Y8, Y0
	VPMOVZXWD    16(AX), Y10
	VPSLLD       $16, Y10, Y10
	VFMADD231PS  Y10, Y8, Y1
	VPMOVZXWD    32(AX), Y11
	VPSLLD       $16, Y11, Y11
	VFMADD231PS  Y11, Y8, Y2
	VPMOVZXWD    48(AX), Y12
	VPSLLD       $16, Y12, Y12
	VFMADD231PS  Y12, Y8, Y3
	VPMOVZXWD    64(AX), Y13
	VPSLLD       $16, Y13, Y13
	VFMADD231PS  Y13, Y8, Y4
	VPMOVZXWD    80(AX), Y14
	VPSLLD       $16, Y14, Y14
	VFMADD231PS  Y14, Y8, Y5
	VPMOVZXWD    96(AX), Y15
	VPSLLD       $16, Y15, Y15
	VFMADD231PS  Y15, Y8, Y6
	VPMOVZXWD    112(AX), Y9
	VPSLLD       $16, Y9, Y9
	VFMADD231PS  Y9, Y8, Y7
	ADDQ         $4, SI
	ADDQ         R8, AX
	DECQ         CX
	JNE          gbT64loop

	MOVQ    y+0(FP), DI
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	VZEROUPPER
	RET
