//go:build amd64 && !purego

#include "textflag.h"

// The 6×16 micro-kernel on AVX-512: a row of the tile is one zmm. A k
// step is one load of the B row, six broadcasts of the A column and six
// FMAs; steps alternate between two sets of accumulators (Z4..Z9 and
// Z10..Z15), summed at the end, so that twelve FMAs are in flight as in
// the AVX2 kernel's twelve ymm accumulators, at twice the width.
#define KSTEP(c0, c1, c2, c3, c4, c5) \
	VMOVUPS      (BX), Z0; \
	VBROADCASTSS (AX), Z2; \
	VBROADCASTSS (AX)(R8*1), Z3; \
	VFMADD231PS  Z0, Z2, c0; \
	VFMADD231PS  Z0, Z3, c1; \
	VBROADCASTSS (AX)(R8*2), Z2; \
	VBROADCASTSS (R9), Z3; \
	VFMADD231PS  Z0, Z2, c2; \
	VFMADD231PS  Z0, Z3, c3; \
	VBROADCASTSS (R9)(R8*1), Z2; \
	VBROADCASTSS (R9)(R8*2), Z3; \
	VFMADD231PS  Z0, Z2, c4; \
	VFMADD231PS  Z0, Z3, c5; \
	ADDQ         R10, AX; \
	ADDQ         R10, R9; \
	ADDQ         R11, BX

#define KSTEPA KSTEP(Z4, Z5, Z6, Z7, Z8, Z9)
#define KSTEPB KSTEP(Z10, Z11, Z12, Z13, Z14, Z15)

// Epilogues for one zmm of C; Z0 = alpha, Z1 = beta.
#define ZST0(acc, m) VMULPS Z0, acc, acc; VMOVUPS acc, m
#define ZST1(acc, m) VFMADD213PS m, Z0, acc; VMOVUPS acc, m
#define ZST2(acc, m) VMULPS Z0, acc, acc; VFMADD231PS m, Z1, acc; VMOVUPS acc, m

#define ZTILE(ST) \
	ST(Z4, (DI)); \
	ST(Z5, (DI)(SI*1)); \
	ST(Z6, (DI)(SI*2)); \
	ST(Z7, (R12)); \
	ST(Z8, (R12)(SI*1)); \
	ST(Z9, (R12)(SI*2))

// func kern6x16Z(tiles, k int, a *float32, rsa, csa, pa int, b *float32, rsb int, c *float32, ldc int, alpha, beta float32, mode int, pf *float32, pfBytes int, pfL1 bool)
//
// kern6x16 on AVX-512 (same arguments, same contract).
TEXT ·kern6x16Z(SB), NOSPLIT, $8-113
	MOVQ tiles+0(FP), R13
	MOVQ a+16(FP), AX
	MOVQ AX, apanel-8(SP)
	MOVQ rsa+24(FP), R8
	SHLQ $2, R8
	MOVQ csa+32(FP), R10
	SHLQ $2, R10
	MOVQ rsb+56(FP), R11
	SHLQ $2, R11
	MOVQ c+64(FP), DI
	MOVQ ldc+72(FP), SI
	SHLQ $2, SI
	MOVQ pf+96(FP), R14
	MOVQ pfBytes+104(FP), R15
	ADDQ R14, R15

ztile:
	MOVQ apanel-8(SP), AX
	LEAQ (R8)(R8*2), R9
	ADDQ AX, R9
	MOVQ b+48(FP), BX
	LEAQ (SI)(SI*2), R12
	ADDQ DI, R12
	PREFETCHT0 (DI)
	PREFETCHT0 (DI)(SI*1)
	PREFETCHT0 (DI)(SI*2)
	PREFETCHT0 (R12)
	PREFETCHT0 (R12)(SI*1)
	PREFETCHT0 (R12)(SI*2)
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15

	MOVQ  k+8(FP), CX
	MOVQ  CX, DX
	SHRQ  $2, DX
	ANDQ  $3, CX
	TESTQ DX, DX
	JEQ   zrem

zloop4:
	KSTEPA
	KSTEPB
	KSTEPA
	KSTEPB
	CMPQ R14, R15
	JAE  znopf
	CMPB pfL1+112(FP), $0
	JEQ  zpft1
	PREFETCHT0 (R14)
	JMP  zpfnext

zpft1:
	PREFETCHT1 (R14)

zpfnext:
	ADDQ $64, R14

znopf:
	DECQ DX
	JNE  zloop4

zrem:
	TESTQ CX, CX
	JEQ   zepilogue

zloop1:
	KSTEPA
	DECQ CX
	JNE  zloop1

zepilogue:
	VADDPS Z10, Z4, Z4
	VADDPS Z11, Z5, Z5
	VADDPS Z12, Z6, Z6
	VADDPS Z13, Z7, Z7
	VADDPS Z14, Z8, Z8
	VADDPS Z15, Z9, Z9
	VBROADCASTSS alpha+80(FP), Z0
	VBROADCASTSS beta+84(FP), Z1
	MOVQ mode+88(FP), DX
	CMPQ DX, $1
	JEQ  zaddc
	JGT  zgeneral
	ZTILE(ZST0)
	JMP  znext

zaddc:
	ZTILE(ZST1)
	JMP znext

zgeneral:
	ZTILE(ZST2)

znext:
	LEAQ (R12)(SI*2), DI
	ADDQ SI, DI
	MOVQ pa+40(FP), DX
	SHLQ $2, DX
	ADDQ DX, apanel-8(SP)
	DECQ R13
	JNE  ztile
	VZEROUPPER
	RET

// func fmaLoopZ(n int)
// n iterations of 12 independent 16-wide FMAs (384 FLOP per iteration).
TEXT ·fmaLoopZ(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	TESTQ CX, CX
	JEQ   zfdone

zfloop:
	VFMADD231PS Z12, Z13, Z0
	VFMADD231PS Z12, Z13, Z1
	VFMADD231PS Z12, Z13, Z2
	VFMADD231PS Z12, Z13, Z3
	VFMADD231PS Z12, Z13, Z4
	VFMADD231PS Z12, Z13, Z5
	VFMADD231PS Z12, Z13, Z6
	VFMADD231PS Z12, Z13, Z7
	VFMADD231PS Z12, Z13, Z8
	VFMADD231PS Z12, Z13, Z9
	VFMADD231PS Z12, Z13, Z10
	VFMADD231PS Z12, Z13, Z11
	DECQ CX
	JNE  zfloop

zfdone:
	VZEROUPPER
	RET
