//go:build ignore

// Command gen_dpbf16 writes dpbf16_amd64.s: the AVX512-BF16 kernels of
// SgemmBF16BF16. The Go assembler has no mnemonics for VDPBF16PS and
// VCVTNEPS2BF16, so this program encodes them (EVEX, register operands
// only) as BYTE directives, each with the instruction in a comment.
//
// Run: go generate ./engine/compute
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

// evex encodes an EVEX register-register instruction of map 0F38 with
// W0: reg is ModRM.reg (the destination), vvvv the first source (0 when
// unused), rm the last source; pp selects the implied prefix (2 = F3);
// ll is the vector length (2 = 512 bits).
func evex(op byte, pp, ll, reg, vvvv, rm int) []byte {
	inv := func(v, bit int) byte { return byte((^v >> bit) & 1) }
	p0 := inv(reg, 3)<<7 | inv(rm, 4)<<6 | inv(rm, 3)<<5 | inv(reg, 4)<<4 | 0x2
	p1 := byte((^vvvv)&0xF)<<3 | 1<<2 | byte(pp)
	p2 := byte(ll)<<5 | inv(vvvv, 4)<<3
	modrm := 0xC0 | byte(reg&7)<<3 | byte(rm&7)
	return []byte{0x62, p0, p1, p2, op, modrm}
}

func emit(b []byte, comment string) {
	var s bytes.Buffer
	for i, x := range b {
		if i > 0 {
			s.WriteString("; ")
		}
		fmt.Fprintf(&s, "BYTE $0x%02x", x)
	}
	p("\t%s // %s", s.String(), comment)
}

// dp emits VDPBF16PS: Z[acc] += pairwise products of Z[a] and Z[b].
func dp(acc, a, b int) {
	emit(evex(0x52, 2, 2, acc, a, b), fmt.Sprintf("VDPBF16PS Z%d, Z%d, Z%d", b, a, acc))
}

// cvt emits VCVTNEPS2BF16: Y[dst] = bfloat16(Z[src]), rounding to nearest even.
func cvt(dst, src int) {
	emit(evex(0x72, 2, 2, dst, 0, src), fmt.Sprintf("VCVTNEPS2BF16 Z%d, Y%d", src, dst))
}

const (
	rows = 4 // rows of A per tile
	cols = 6 // rows of W per tile
	regA = 24
	regW = 28
)

// Addresses of the W rows: SI = row 0, R8 = row 3, DI = the row stride.
var wAddr = [cols]string{"(SI)", "(SI)(DI*1)", "(SI)(DI*2)", "(R8)", "(R8)(DI*1)", "(R8)(DI*2)"}

// Addresses of the A rows: AX = row 0, BX = the row stride, R13 = 3 strides.
var aAddr = [rows]string{"(AX)", "(AX)(BX*1)", "(AX)(BX*2)", "(AX)(R13*1)"}

// step emits one 32-element step of every product of the tile; masked
// loads W under K1, zeroing the rest.
func step(masked bool) {
	for r := range rows {
		p("\tVMOVDQU16 %s, Z%d", aAddr[r], regA+r)
	}
	for c := range cols {
		w := regW + c%2
		if masked {
			p("\tVMOVDQU16.Z %s, K1, Z%d", wAddr[c], w)
		} else {
			p("\tVMOVDQU16 %s, Z%d", wAddr[c], w)
		}
		for r := range rows {
			dp(r*cols+c, regA+r, w)
		}
	}
}

// dots emits dpbf16Dots<d32>: 16 dot products of a bfloat16 vector with 16
// rows at a time, reduced by a shuffle tree.
func dots(d32 int) {
	name := fmt.Sprintf("dpbf16Dots%d", d32)
	p("// func %s(s *float32, alpha float32, a *uint16, lda int, x *uint16, n16 int)", name)
	p("//")
	p("// s[r] = alpha·Σ_c a[r·lda+c]·x[c] over %d elements (bfloat16 a and x,", 32*d32)
	p("// products exact, sums float32) for 16·n16 rows: each row's products")
	p("// go into one register (VDPBF16PS), and the 16 registers of a block of")
	p("// rows are summed across by unpacking and adding in pairs, so that a")
	p("// block costs three shuffles a row besides its products.")
	p("TEXT ·%s(SB), NOSPLIT, $0-48", name)
	p("\tMOVQ s+0(FP), DI")
	p("\tMOVQ a+16(FP), AX")
	p("\tMOVQ lda+24(FP), BX")
	p("\tSHLQ $1, BX")
	p("\tMOVQ x+32(FP), SI")
	for c := range d32 {
		p("\tVMOVDQU16 %d(SI), Z%d", 64*c, 16+c)
	}
	p("\tVBROADCASTSS alpha+8(FP), Z31")
	p("\tMOVQ n16+40(FP), CX")
	p("")
	p("dots%dblock:", d32)
	p("\tMOVQ AX, SI")
	for r := range 16 {
		p("\tVPXORD Z%d, Z%d, Z%d", r, r, r)
		for c := range d32 {
			p("\tVMOVDQU16 %d(SI), Z%d", 64*c, 20+c)
			dp(r, 16+c, 20+c)
		}
		p("\tADDQ BX, SI")
	}
	// Pairs of rows: Zi holds rows 2i (dwords 0, 2 of each lane) and
	// 2i+1 (1, 3); then quads: Zj holds rows 4j..4j+3, one a dword of
	// each lane; then across lanes.
	for i := range 8 {
		p("\tVUNPCKLPS Z%d, Z%d, Z24", 2*i+1, 2*i)
		p("\tVUNPCKHPS Z%d, Z%d, Z25", 2*i+1, 2*i)
		p("\tVADDPS Z25, Z24, Z%d", i)
	}
	for j := range 4 {
		p("\tVUNPCKLPD Z%d, Z%d, Z24", 2*j+1, 2*j)
		p("\tVUNPCKHPD Z%d, Z%d, Z25", 2*j+1, 2*j)
		p("\tVADDPS Z25, Z24, Z%d", j)
	}
	for h := range 2 {
		p("\tVSHUFF32X4 $0x88, Z%d, Z%d, Z24", 2*h+1, 2*h)
		p("\tVSHUFF32X4 $0xdd, Z%d, Z%d, Z25", 2*h+1, 2*h)
		p("\tVADDPS Z25, Z24, Z%d", h)
	}
	p("\tVSHUFF32X4 $0x88, Z1, Z0, Z24")
	p("\tVSHUFF32X4 $0xdd, Z1, Z0, Z25")
	p("\tVADDPS Z25, Z24, Z0")
	p("\tVMULPS Z31, Z0, Z0")
	p("\tVMOVUPS Z0, (DI)")
	p("\tADDQ $64, DI")
	p("\tMOVQ SI, AX")
	p("\tDECQ CX")
	p("\tJNE dots%dblock", d32)
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

// axpy emits dpbf16Pairs<d32>: a weighted sum of bfloat16 rows, two rows
// a step.
func axpy(d32 int) {
	name := fmt.Sprintf("dpbf16Pairs%d", d32)
	p("// func %s(y *float32, a *uint16, lda int, x *uint16, n2 int)", name)
	p("//")
	p("// y[c] = Σ_i x[i]·a[i·lda+c] for the %d columns c (bfloat16 a and x,", 32*d32)
	p("// products exact, sums float32) over 2·n2 rows: rows i and i+1 are")
	p("// interleaved into bfloat16 pairs (VPUNPCKLWD, VPUNPCKHWD) and")
	p("// multiplied by the pair x[i], x[i+1] (VDPBF16PS); the accumulators'")
	p("// columns, so permuted within each lane, are put back in order at the")
	p("// end.")
	p("TEXT ·%s(SB), NOSPLIT, $0-40", name)
	p("\tMOVQ a+8(FP), SI")
	p("\tMOVQ lda+16(FP), BX")
	p("\tSHLQ $1, BX")
	p("\tMOVQ x+24(FP), R10")
	p("\tMOVQ n2+32(FP), CX")
	for c := range 2 * d32 {
		p("\tVPXORD Z%d, Z%d, Z%d", c, c, c)
	}
	p("")
	p("pairs%dloop:", d32)
	p("\tVPBROADCASTD (R10), Z31")
	for c := range d32 {
		p("\tVMOVDQU16 %d(SI), Z20", 64*c)
		p("\tVMOVDQU16 %d(SI)(BX*1), Z21", 64*c)
		p("\tVPUNPCKLWD Z21, Z20, Z22")
		p("\tVPUNPCKHWD Z21, Z20, Z23")
		dp(2*c, 22, 31)
		dp(2*c+1, 23, 31)
	}
	p("\tLEAQ (SI)(BX*2), SI")
	p("\tADDQ $4, R10")
	p("\tDECQ CX")
	p("\tJNE pairs%dloop", d32)
	// Z2c holds columns 8L..8L+3 of lane L of chunk c, Z2c+1 columns
	// 8L+4..8L+7.
	p("\tMOVQ y+0(FP), DI")
	for c := range d32 {
		lo, hi := 2*c, 2*c+1
		p("\tVSHUFF32X4 $0x44, Z%d, Z%d, Z24", hi, lo)
		p("\tVSHUFF32X4 $0xd8, Z24, Z24, Z24")
		p("\tVMOVUPS Z24, %d(DI)", 128*c)
		p("\tVSHUFF32X4 $0xee, Z%d, Z%d, Z25", hi, lo)
		p("\tVSHUFF32X4 $0xd8, Z25, Z25, Z25")
		p("\tVMOVUPS Z25, %d(DI)", 128*c+64)
	}
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

func main() {
	dst := flag.String("o", "dpbf16_amd64.s", "output file")
	flag.Parse()
	p("// Code generated by gen_dpbf16.go; DO NOT EDIT.")
	p("")
	p("//go:build amd64 && !purego")
	p("")
	p(`#include "textflag.h"`)
	p("")
	p("// func dpbf16Tiles(strips, groups, k32 int, a *uint16, lda int, w *uint16, ldw int, out *float32, ldo int, tail uint32, pf *uint16, pfBytes, pfStrip int, pfL1 bool)")
	p("//")
	p("// For each of strips tiles of %d rows of W (bfloat16, row stride ldw), one", cols)
	p("// below the other, and each of groups groups of %d rows of A (bfloat16,", rows)
	p("// row stride lda elements, zero past the end of each row up to a multiple")
	p("// of 32), the %d×%d dot products over k32 steps of 32 elements and, when", rows, cols)
	p("// tail is not 0, one more step that reads the elements of W under the")
	p("// mask tail. out receives the %d×%d float32 results of each group, row", rows, cols)
	p("// stride ldo, groups one below the other, strips side by side.")
	p("// Each step also prefetches the next line of the next tile of W (the")
	p("// pfStrip bytes after this one; after the last, the pfBytes at pf),")
	p("// until they are all asked for: into L1 (T0) if pfL1, else into L2 (T1).")
	p("// One line a step spreads the tile over the groups; two lines a step")
	p("// into L2 streamed 768-wide W 10%% slower, no prefetching 25%%.")
	p("TEXT ·dpbf16Tiles(SB), NOSPLIT, $16-105")
	p("\tMOVQ strips+0(FP), AX")
	p("\tMOVQ AX, left-8(SP)")
	p("\tMOVQ out+56(FP), AX")
	p("\tMOVQ AX, obase-16(SP)")
	p("\tMOVQ lda+32(FP), BX")
	p("\tSHLQ $1, BX")
	p("\tLEAQ (BX)(BX*2), R13")
	p("\tMOVQ w+40(FP), R11")
	p("\tMOVQ ldw+48(FP), DI")
	p("\tSHLQ $1, DI")
	p("\tMOVL tail+72(FP), R9")
	p("\tKMOVD R9, K1")
	p("")
	p("strip:")
	p("\tMOVQ groups+8(FP), R10")
	p("\tMOVQ a+24(FP), R12")
	p("\tMOVQ obase-16(SP), DX")
	p("\tCMPQ left-8(SP), $1")
	p("\tJEQ lastpf")
	p("\tLEAQ (R11)(DI*4), R9")
	p("\tLEAQ (R9)(DI*2), R9")
	p("\tMOVQ pfStrip+96(FP), R14")
	p("\tADDQ R9, R14")
	p("\tJMP group")
	p("")
	p("lastpf:")
	p("\tMOVQ pf+80(FP), R9")
	p("\tMOVQ pfBytes+88(FP), R14")
	p("\tADDQ R9, R14")
	p("")
	p("group:")
	for i := range rows * cols {
		p("\tVPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	p("\tMOVQ R12, AX")
	p("\tMOVQ R11, SI")
	p("\tLEAQ (R11)(DI*2), R8")
	p("\tADDQ DI, R8")
	p("\tMOVQ k32+16(FP), CX")
	p("\tTESTQ CX, CX")
	p("\tJEQ tail")
	p("")
	p("loop:")
	step(false)
	p("\tADDQ $64, AX")
	p("\tADDQ $64, SI")
	p("\tADDQ $64, R8")
	p("\tCMPQ R9, R14")
	p("\tJAE noprefetch")
	p("\tCMPB pfL1+104(FP), $0")
	p("\tJEQ pft1")
	p("\tPREFETCHT0 (R9)")
	p("\tJMP pfdone")
	p("")
	p("pft1:")
	p("\tPREFETCHT1 (R9)")
	p("")
	p("pfdone:")
	p("\tADDQ $64, R9")
	p("")
	p("noprefetch:")
	p("\tDECQ CX")
	p("\tJNE loop")
	p("")
	p("tail:")
	p("\tMOVL tail+72(FP), AX")
	p("\tTESTL AX, AX")
	p("\tJEQ reduce")
	p("\tMOVQ R12, AX")
	p("\tMOVQ k32+16(FP), CX")
	p("\tSHLQ $6, CX")
	p("\tADDQ CX, AX")
	step(true)
	p("")
	p("reduce:")
	// Each accumulator to 8 lanes, then each row's 6 sums by horizontal
	// adds in Y0–Y5 (VHADDPS has no EVEX form, so no Y16–Y31).
	for i := range rows * cols {
		p("\tVEXTRACTF64X4 $1, Z%d, Y30", i)
		p("\tVADDPS Y30, Y%d, Y%d", i, i)
	}
	p("\tMOVQ ldo+64(FP), CX")
	p("\tSHLQ $2, CX")
	for r := range rows {
		if r > 0 {
			for c := range cols {
				p("\tVMOVAPS Y%d, Y%d", r*cols+c, c)
			}
		}
		p("\tVHADDPS Y1, Y0, Y0")
		p("\tVHADDPS Y3, Y2, Y2")
		p("\tVHADDPS Y5, Y4, Y4")
		p("\tVHADDPS Y2, Y0, Y0")
		p("\tVHADDPS Y4, Y4, Y4")
		p("\tVEXTRACTF128 $1, Y0, X1")
		p("\tVADDPS X1, X0, X0")
		p("\tVEXTRACTF128 $1, Y4, X5")
		p("\tVADDPS X5, X4, X4")
		p("\tVMOVUPS X0, (DX)")
		p("\tVMOVQ X4, 16(DX)")
		p("\tADDQ CX, DX")
	}
	p("\tLEAQ (R12)(BX*4), R12")
	p("\tDECQ R10")
	p("\tJNE group")
	p("\tLEAQ (R11)(DI*4), R11")
	p("\tLEAQ (R11)(DI*2), R11")
	p("\tADDQ $%d, obase-16(SP)", 4*cols)
	p("\tDECQ left-8(SP)")
	p("\tJNE strip")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
	p("// func cvtBF16(dst *uint16, src *float32, n int)")
	p("//")
	p("// dst[i] = bfloat16(src[i]), rounded to nearest even, for n a multiple")
	p("// of 16.")
	p("TEXT ·cvtBF16(SB), NOSPLIT, $0-24")
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ src+8(FP), SI")
	p("\tMOVQ n+16(FP), CX")
	p("\tSHRQ $4, CX")
	p("\tJEQ cvtdone")
	p("")
	p("cvtloop:")
	p("\tVMOVUPS (SI), Z0")
	cvt(1, 0)
	p("\tVMOVDQU Y1, (DI)")
	p("\tADDQ $64, SI")
	p("\tADDQ $32, DI")
	p("\tDECQ CX")
	p("\tJNE cvtloop")
	p("")
	p("cvtdone:")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
	p("// func dpbf16Loop(n int)")
	p("//")
	p("// n iterations of 12 independent VDPBF16PS (768 FLOP each): the probe")
	p("// of PeakBF16GFLOPS.")
	p("TEXT ·dpbf16Loop(SB), NOSPLIT, $0-8")
	p("\tMOVQ n+0(FP), CX")
	for i := range 14 {
		p("\tVPXORD Z%d, Z%d, Z%d", i, i, i)
	}
	p("")
	p("peakloop:")
	for i := range 12 {
		dp(i, 12, 13)
	}
	p("\tDECQ CX")
	p("\tJNE peakloop")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
	for d32 := 1; d32 <= 4; d32++ {
		dots(d32)
		axpy(d32)
	}
	if err := os.WriteFile(*dst, out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
