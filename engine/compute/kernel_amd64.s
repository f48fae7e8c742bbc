//go:build amd64 && !purego

#include "textflag.h"

// One k step of the 6×16 micro-kernel: two ymm loads of the B row, six
// broadcasts of the A column (rows at AX, AX+R8, AX+2·R8, R9, R9+R8,
// R9+2·R8), twelve FMAs into Y4..Y15, then advance A by R10 and B by R11.
#define KSTEP \
	VMOVUPS      (BX), Y0; \
	VMOVUPS      32(BX), Y1; \
	VBROADCASTSS (AX), Y2; \
	VBROADCASTSS (AX)(R8*1), Y3; \
	VFMADD231PS  Y0, Y2, Y4; \
	VFMADD231PS  Y1, Y2, Y5; \
	VFMADD231PS  Y0, Y3, Y6; \
	VFMADD231PS  Y1, Y3, Y7; \
	VBROADCASTSS (AX)(R8*2), Y2; \
	VBROADCASTSS (R9), Y3; \
	VFMADD231PS  Y0, Y2, Y8; \
	VFMADD231PS  Y1, Y2, Y9; \
	VFMADD231PS  Y0, Y3, Y10; \
	VFMADD231PS  Y1, Y3, Y11; \
	VBROADCASTSS (R9)(R8*1), Y2; \
	VBROADCASTSS (R9)(R8*2), Y3; \
	VFMADD231PS  Y0, Y2, Y12; \
	VFMADD231PS  Y1, Y2, Y13; \
	VFMADD231PS  Y0, Y3, Y14; \
	VFMADD231PS  Y1, Y3, Y15; \
	ADDQ         R10, AX; \
	ADDQ         R10, R9; \
	ADDQ         R11, BX

// Epilogues for one ymm of C; Y0 = alpha, Y1 = beta.
#define ST0(acc, m) VMULPS Y0, acc, acc; VMOVUPS acc, m
#define ST1(acc, m) VFMADD213PS m, Y0, acc; VMOVUPS acc, m
#define ST2(acc, m) VMULPS Y0, acc, acc; VFMADD231PS m, Y1, acc; VMOVUPS acc, m

// Apply epilogue ST to the whole tile: rows at DI, DI+SI, DI+2·SI, R12,
// R12+SI, R12+2·SI.
#define TILE(ST) \
	ST(Y4, (DI)); \
	ST(Y5, 32(DI)); \
	ST(Y6, (DI)(SI*1)); \
	ST(Y7, 32(DI)(SI*1)); \
	ST(Y8, (DI)(SI*2)); \
	ST(Y9, 32(DI)(SI*2)); \
	ST(Y10, (R12)); \
	ST(Y11, 32(R12)); \
	ST(Y12, (R12)(SI*1)); \
	ST(Y13, 32(R12)(SI*1)); \
	ST(Y14, (R12)(SI*2)); \
	ST(Y15, 32(R12)(SI*2))

// func kern6x16(k int, a *float32, rsa, csa int, b *float32, rsb int, c *float32, ldc int, alpha, beta float32, mode int)
TEXT ·kern6x16(SB), NOSPLIT, $0-80
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ rsa+16(FP), R8
	SHLQ $2, R8
	MOVQ csa+24(FP), R10
	SHLQ $2, R10
	MOVQ b+32(FP), BX
	MOVQ rsb+40(FP), R11
	SHLQ $2, R11
	MOVQ c+48(FP), DI
	MOVQ ldc+56(FP), SI
	SHLQ $2, SI
	LEAQ (R8)(R8*2), R9
	ADDQ AX, R9
	LEAQ (SI)(SI*2), R12
	ADDQ DI, R12

	// Touch the C tile so its lines are on their way during the k loop.
	PREFETCHT0 (DI)
	PREFETCHT0 60(DI)
	PREFETCHT0 (DI)(SI*1)
	PREFETCHT0 60(DI)(SI*1)
	PREFETCHT0 (DI)(SI*2)
	PREFETCHT0 60(DI)(SI*2)
	PREFETCHT0 (R12)
	PREFETCHT0 60(R12)
	PREFETCHT0 (R12)(SI*1)
	PREFETCHT0 60(R12)(SI*1)
	PREFETCHT0 (R12)(SI*2)
	PREFETCHT0 60(R12)(SI*2)

	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	MOVQ CX, DX
	SHRQ $2, DX
	ANDQ $3, CX
	TESTQ DX, DX
	JEQ  rem

loop4:
	KSTEP
	KSTEP
	KSTEP
	KSTEP
	DECQ DX
	JNE  loop4

rem:
	TESTQ CX, CX
	JEQ   epilogue

loop1:
	KSTEP
	DECQ CX
	JNE  loop1

epilogue:
	VBROADCASTSS alpha+64(FP), Y0
	VBROADCASTSS beta+68(FP), Y1
	MOVQ mode+72(FP), DX
	CMPQ DX, $1
	JEQ  addc
	JGT  general
	TILE(ST0)
	VZEROUPPER
	RET

addc:
	TILE(ST1)
	VZEROUPPER
	RET

general:
	TILE(ST2)
	VZEROUPPER
	RET

// func fmaLoop(n int)
// n iterations of 12 independent 8-wide FMAs (192 FLOP per iteration).
TEXT ·fmaLoop(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	TESTQ CX, CX
	JEQ   fdone

floop:
	VFMADD231PS Y12, Y13, Y0
	VFMADD231PS Y12, Y13, Y1
	VFMADD231PS Y12, Y13, Y2
	VFMADD231PS Y12, Y13, Y3
	VFMADD231PS Y12, Y13, Y4
	VFMADD231PS Y12, Y13, Y5
	VFMADD231PS Y12, Y13, Y6
	VFMADD231PS Y12, Y13, Y7
	VFMADD231PS Y12, Y13, Y8
	VFMADD231PS Y12, Y13, Y9
	VFMADD231PS Y12, Y13, Y10
	VFMADD231PS Y12, Y13, Y11
	DECQ CX
	JNE  floop

fdone:
	VZEROUPPER
	RET
