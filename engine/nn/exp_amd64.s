//go:build !purego

#include "textflag.h"

// Constants, each broadcast from memory.
DATA expc<>+0(SB)/4, $0x3fb8aa3b   // log2(e)
DATA expc<>+4(SB)/4, $0x3f317200   // ln2 hi (0.693145751953125)
DATA expc<>+8(SB)/4, $0x35bfbe8e   // ln2 lo (1.428606765330187e-06)
DATA expc<>+12(SB)/4, $0x39500d01  // 1/5040
DATA expc<>+16(SB)/4, $0x3ab60b61  // 1/720
DATA expc<>+20(SB)/4, $0x3c088889  // 1/120
DATA expc<>+24(SB)/4, $0x3d2aaaab  // 1/24
DATA expc<>+28(SB)/4, $0x3e2aaaab  // 1/6
DATA expc<>+32(SB)/4, $0x3f000000  // 0.5
DATA expc<>+36(SB)/4, $0x3f800000  // 1
DATA expc<>+40(SB)/4, $0xc2aea8f6  // -87.33 (lower limit; below gives 0)
DATA expc<>+44(SB)/4, $0x42b00000  // 88 (upper clamp)
DATA expc<>+48(SB)/4, $127         // exponent bias (int)
DATA expc<>+52(SB)/4, $0x80000000  // sign bit
GLOBL expc<>(SB), RODATA|NOPTR, $56

// EXP8 computes Y0 = exp(Y0) for 8 lanes (0 where Y0 < -87.33 or NaN).
// Clobbers Y1-Y5.
#define EXP8 \
	VBROADCASTSS expc<>+40(SB), Y5 \
	VCMPPS $0x1d, Y5, Y0, Y4 \
	VMAXPS Y5, Y0, Y0 \
	VBROADCASTSS expc<>+44(SB), Y5 \
	VMINPS Y5, Y0, Y0 \
	VBROADCASTSS expc<>+0(SB), Y5 \
	VMULPS Y5, Y0, Y1 \
	VROUNDPS $0, Y1, Y1 \
	VBROADCASTSS expc<>+4(SB), Y5 \
	VFNMADD231PS Y5, Y1, Y0 \
	VBROADCASTSS expc<>+8(SB), Y5 \
	VFNMADD231PS Y5, Y1, Y0 \
	VBROADCASTSS expc<>+12(SB), Y2 \
	VBROADCASTSS expc<>+16(SB), Y5 \
	VFMADD213PS Y5, Y0, Y2 \
	VBROADCASTSS expc<>+20(SB), Y5 \
	VFMADD213PS Y5, Y0, Y2 \
	VBROADCASTSS expc<>+24(SB), Y5 \
	VFMADD213PS Y5, Y0, Y2 \
	VBROADCASTSS expc<>+28(SB), Y5 \
	VFMADD213PS Y5, Y0, Y2 \
	VBROADCASTSS expc<>+32(SB), Y5 \
	VFMADD213PS Y5, Y0, Y2 \
	VBROADCASTSS expc<>+36(SB), Y5 \
	VFMADD213PS Y5, Y0, Y2 \
	VFMADD213PS Y5, Y0, Y2 \
	VCVTPS2DQ Y1, Y1 \
	VPBROADCASTD expc<>+48(SB), Y5 \
	VPADDD Y5, Y1, Y1 \
	VPSLLD $23, Y1, Y1 \
	VMULPS Y1, Y2, Y0 \
	VANDPS Y4, Y0, Y0

// func expSubSumAVX2(dst, src *float32, n int, sub float32) float32
// dst[i] = exp(src[i] - sub) for i < n (n a multiple of 8); returns the sum.
TEXT ·expSubSumAVX2(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS sub+24(FP), Y7
	VXORPS Y6, Y6, Y6
	SHRQ $3, CX
	JZ done
loop:
	VMOVUPS (SI), Y0
	VSUBPS Y7, Y0, Y0
	EXP8
	VMOVUPS Y0, (DI)
	VADDPS Y0, Y6, Y6
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ loop
done:
	VEXTRACTF128 $1, Y6, X1
	VADDPS X1, X6, X6
	VHADDPS X6, X6, X6
	VHADDPS X6, X6, X6
	VZEROUPPER
	MOVSS X6, ret+32(FP)
	RET

// func sigmoidAVX2(dst, src *float32, n int)
// dst[i] = 1/(1+exp(-src[i])) for i < n (n a multiple of 8).
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS expc<>+52(SB), Y7
	VBROADCASTSS expc<>+36(SB), Y6
	SHRQ $3, CX
	JZ sdone
sloop:
	VMOVUPS (SI), Y0
	VXORPS Y7, Y0, Y0
	EXP8
	VADDPS Y6, Y0, Y0
	VDIVPS Y0, Y6, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ sloop
sdone:
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) float32
//
// The largest of x[0..n) for n a positive multiple of 32, as the loop
// `if v > m { m = v }` from −Inf finds it: VMAXPS keeps its second source
// when the first is NaN, so NaNs are skipped.
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	SHRQ         $5, CX
	MOVL         $0xff800000, AX
	MOVL         AX, X0
	VPBROADCASTD X0, Y0
	VMOVAPS      Y0, Y1
	VMOVAPS      Y0, Y2
	VMOVAPS      Y0, Y3

maxloop:
	VMOVUPS (SI), Y4
	VMAXPS  Y0, Y4, Y0
	VMOVUPS 32(SI), Y5
	VMAXPS  Y1, Y5, Y1
	VMOVUPS 64(SI), Y6
	VMAXPS  Y2, Y6, Y2
	VMOVUPS 96(SI), Y7
	VMAXPS  Y3, Y7, Y3
	ADDQ    $128, SI
	DECQ    CX
	JNE     maxloop

	VMAXPS       Y1, Y0, Y0
	VMAXPS       Y3, Y2, Y2
	VMAXPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	VZEROUPPER
	MOVSS        X0, ret+16(FP)
	RET
