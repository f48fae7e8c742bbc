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

// func kern6x16(tiles, k int, a *float32, rsa, csa, pa int, b *float32, rsb int, c *float32, ldc int, alpha, beta float32, mode int, pf *float32, pfBytes int, pfL1 bool)
//
// Computes tiles 6×16 tiles down a column of C: tile t uses the A panel at
// a + t·pa (element strides rsa between rows, csa between k steps), the same
// B panel (row stride rsb) and the C tile 6·t rows down. Every four k steps
// it also prefetches the next line of the pfBytes at pf, until all are
// asked for: into L1 (T0) if pfL1, else into L2 (T1).
TEXT ·kern6x16(SB), NOSPLIT, $8-113
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

tile:
	MOVQ apanel-8(SP), AX
	LEAQ (R8)(R8*2), R9
	ADDQ AX, R9
	MOVQ b+48(FP), BX
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

	MOVQ  k+8(FP), CX
	MOVQ  CX, DX
	SHRQ  $2, DX
	ANDQ  $3, CX
	TESTQ DX, DX
	JEQ   rem

loop4:
	KSTEP
	KSTEP
	KSTEP
	KSTEP
	CMPQ R14, R15
	JAE  nopf
	CMPB pfL1+112(FP), $0
	JEQ  pft1
	PREFETCHT0 (R14)
	JMP  pfnext

pft1:
	PREFETCHT1 (R14)

pfnext:
	ADDQ $64, R14

nopf:
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
	VBROADCASTSS alpha+80(FP), Y0
	VBROADCASTSS beta+84(FP), Y1
	MOVQ mode+88(FP), DX
	CMPQ DX, $1
	JEQ  addc
	JGT  general
	TILE(ST0)
	JMP  next

addc:
	TILE(ST1)
	JMP next

general:
	TILE(ST2)

next:
	// Next tile: C six rows down, A one panel on.
	LEAQ (R12)(SI*2), DI
	ADDQ SI, DI
	MOVQ pa+40(FP), DX
	SHLQ $2, DX
	ADDQ DX, apanel-8(SP)
	DECQ R13
	JNE  tile
	VZEROUPPER
	RET

// Transpose one 8×8 block: rows r0..r7 in Y0..Y7 become columns in
// Y0..Y7 (Y8..Y15 scratch).
#define TRANSPOSE8 \
	VUNPCKLPS  Y1, Y0, Y8; \
	VUNPCKHPS  Y1, Y0, Y9; \
	VUNPCKLPS  Y3, Y2, Y10; \
	VUNPCKHPS  Y3, Y2, Y11; \
	VUNPCKLPS  Y5, Y4, Y12; \
	VUNPCKHPS  Y5, Y4, Y13; \
	VUNPCKLPS  Y7, Y6, Y14; \
	VUNPCKHPS  Y7, Y6, Y15; \
	VSHUFPS    $0x44, Y10, Y8, Y0; \
	VSHUFPS    $0xEE, Y10, Y8, Y1; \
	VSHUFPS    $0x44, Y11, Y9, Y2; \
	VSHUFPS    $0xEE, Y11, Y9, Y3; \
	VSHUFPS    $0x44, Y14, Y12, Y4; \
	VSHUFPS    $0xEE, Y14, Y12, Y5; \
	VSHUFPS    $0x44, Y15, Y13, Y6; \
	VSHUFPS    $0xEE, Y15, Y13, Y7; \
	VPERM2F128 $0x20, Y4, Y0, Y8; \
	VPERM2F128 $0x31, Y4, Y0, Y12; \
	VPERM2F128 $0x20, Y5, Y1, Y9; \
	VPERM2F128 $0x31, Y5, Y1, Y13; \
	VPERM2F128 $0x20, Y6, Y2, Y10; \
	VPERM2F128 $0x31, Y6, Y2, Y14; \
	VPERM2F128 $0x20, Y7, Y3, Y11; \
	VPERM2F128 $0x31, Y7, Y3, Y15

// func transpose8(blocks int, src *float32, lds int, dst *float32, ldd int)
//
// For each of blocks 8×8 blocks: reads 8 rows of 8 floats at src (row
// stride lds elements) and writes them transposed as 8 rows of 8 floats at
// dst (row stride ldd elements); then src moves 8 floats right and dst 8 rows
// down.
TEXT ·transpose8(SB), NOSPLIT, $0-40
	MOVQ blocks+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI
	MOVQ ldd+32(FP), R10
	SHLQ $2, R10
	LEAQ (R8)(R8*2), R9
	ADDQ SI, R9           // row 3
	LEAQ (R8)(R8*4), R11
	ADDQ SI, R11          // row 5
	LEAQ (R10)(R10*2), R12 // 3·ldd bytes
	TESTQ CX, CX
	JEQ   tdone

tloop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (R9), Y3
	VMOVUPS (SI)(R8*4), Y4
	VMOVUPS (R11), Y5
	VMOVUPS (R11)(R8*1), Y6
	VMOVUPS (R11)(R8*2), Y7
	TRANSPOSE8
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(R10*1)
	VMOVUPS Y10, (DI)(R10*2)
	VMOVUPS Y11, (DI)(R12*1)
	LEAQ    (DI)(R10*4), DI
	VMOVUPS Y12, (DI)
	VMOVUPS Y13, (DI)(R10*1)
	VMOVUPS Y14, (DI)(R10*2)
	VMOVUPS Y15, (DI)(R12*1)
	LEAQ    (DI)(R10*4), DI
	ADDQ    $32, SI
	ADDQ    $32, R9
	ADDQ    $32, R11
	DECQ    CX
	JNE     tloop

tdone:
	VZEROUPPER
	RET

// func packA6(blocks int, src *float32, lda int, dst *float32)
//
// Packs 6 rows × 8·blocks columns at src (row stride lda elements) k-major:
// dst[p*6+i] = src[i*lda+p]. Each 8-column block is transposed as 8×8 (rows
// 6 and 7 are stale registers whose lanes are overwritten by the next,
// overlapping, column store); the last column is stored as 4+2 floats so
// nothing past dst[48·blocks) is written.
TEXT ·packA6(SB), NOSPLIT, $0-32
	MOVQ  blocks+0(FP), CX
	MOVQ  src+8(FP), SI
	MOVQ  lda+16(FP), R8
	SHLQ  $2, R8
	MOVQ  dst+24(FP), DI
	LEAQ  (R8)(R8*2), R9
	ADDQ  SI, R9 // row 3
	TESTQ CX, CX
	JEQ   pdone

ploop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (R9), Y3
	VMOVUPS (R9)(R8*1), Y4
	VMOVUPS (R9)(R8*2), Y5
	TRANSPOSE8
	VMOVUPS      Y8, (DI)
	VMOVUPS      Y9, 24(DI)
	VMOVUPS      Y10, 48(DI)
	VMOVUPS      Y11, 72(DI)
	VMOVUPS      Y12, 96(DI)
	VMOVUPS      Y13, 120(DI)
	VMOVUPS      Y14, 144(DI)
	VMOVUPS      X15, 168(DI)
	VEXTRACTF128 $1, Y15, X0
	MOVQ         X0, 184(DI)
	ADDQ         $32, SI
	ADDQ         $32, R9
	ADDQ         $192, DI
	DECQ         CX
	JNE          ploop

pdone:
	VZEROUPPER
	RET

// func packB16(rows, panels int, src *float32, lds int, dst *float32, kb int)
//
// Deals rows rows of 16·panels floats at src (row stride lds elements) out
// to panels nr-wide panels: row p's q-th 16 floats go to
// dst[q*kb*16+p*16:][:16].
TEXT ·packB16(SB), NOSPLIT, $0-48
	MOVQ  rows+0(FP), CX
	MOVQ  src+16(FP), SI
	MOVQ  lds+24(FP), R8
	SHLQ  $2, R8
	MOVQ  dst+32(FP), DI
	MOVQ  kb+40(FP), R11
	SHLQ  $6, R11 // panel stride in bytes
	TESTQ CX, CX
	JEQ   bdone

brow:
	MOVQ  panels+8(FP), DX
	MOVQ  SI, R9
	MOVQ  DI, R10

bpanel:
	PREFETCHT0 (R9)(R8*8) // the same columns eight rows on
	VMOVUPS (R9), Y0
	VMOVUPS 32(R9), Y1
	VMOVUPS Y0, (R10)
	VMOVUPS Y1, 32(R10)
	ADDQ    $64, R9
	ADDQ    R11, R10
	DECQ    DX
	JNE     bpanel
	ADDQ    R8, SI
	ADDQ    $64, DI
	DECQ    CX
	JNE     brow

bdone:
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
