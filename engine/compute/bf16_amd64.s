//go:build amd64 && !purego

#include "textflag.h"

// Widen 8 bfloat16 at m into 8 float32 in Y.
#define WIDEN(m, Y) \
	VPMOVZXWD m, Y; \
	VPSLLD    $16, Y, Y

// func sdotBF16AVX(x *float32, w *uint16, n int) float32
// n must be a multiple of 8.
TEXT ·sdotBF16AVX(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   w+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   CX, DX
	SHRQ   $5, DX
	ANDQ   $31, CX
	SHRQ   $3, CX
	TESTQ  DX, DX
	JEQ    bdot8

bdot32:
	WIDEN((DI), Y4)
	WIDEN(16(DI), Y5)
	WIDEN(32(DI), Y6)
	WIDEN(48(DI), Y7)
	VFMADD231PS (SI), Y4, Y0
	VFMADD231PS 32(SI), Y5, Y1
	VFMADD231PS 64(SI), Y6, Y2
	VFMADD231PS 96(SI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $64, DI
	DECQ        DX
	JNE         bdot32

bdot8:
	TESTQ CX, CX
	JEQ   bdotdone

bdot8loop:
	WIDEN((DI), Y4)
	VFMADD231PS (SI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $16, DI
	DECQ        CX
	JNE         bdot8loop

bdotdone:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VADDPS       X1, X0, X0
	VMOVSHDUP    X0, X1
	VADDSS       X1, X0, X0
	MOVSS        X0, ret+24(FP)
	VZEROUPPER
	RET

// func widenBF16AVX(dst *float32, src *uint16, n int)
// n must be a multiple of 32.
TEXT ·widenBF16AVX(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $5, CX
	TESTQ CX, CX
	JEQ  wdone

wloop:
	WIDEN((SI), Y0)
	WIDEN(16(SI), Y1)
	WIDEN(32(SI), Y2)
	WIDEN(48(SI), Y3)
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $64, SI
	ADDQ    $128, DI
	DECQ    CX
	JNE     wloop

wdone:
	VZEROUPPER
	RET
