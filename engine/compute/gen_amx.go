//go:build ignore

// Command gen_amx writes amx_amd64.s: the AMX kernels of SgemmBF16BF16.
// The Go assembler has no mnemonics for the AMX instructions, so this
// program encodes them (VEX, map 0F38) as BYTE directives, each with the
// instruction in a comment.
//
// Run: go generate ./engine/compute
//
// (Not a package doc: gen_dpbf16.go has the doc of this directory's
// ignored package main.)

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

// General-purpose register numbers as the encodings use them.
var regs = map[string]int{
	"AX": 0, "CX": 1, "DX": 2, "BX": 3, "SP": 4, "BP": 5, "SI": 6, "DI": 7,
	"R8": 8, "R9": 9, "R10": 10, "R11": 11, "R12": 12, "R13": 13, "R14": 14, "R15": 15,
}

// vex encodes the three-byte VEX prefix of a map 0F38, W0, 128-bit
// instruction: x and b extend the SIB index and the base (or ModRM.rm),
// vvvv is the extra register operand (0 when unused), pp the implied
// prefix (0 none, 1 66, 2 F3, 3 F2).
func vex(x, b, vvvv, pp int) []byte {
	inv := func(v int) byte { return byte(^v & 1) }
	return []byte{0xC4, 1<<7 | inv(x)<<6 | inv(b)<<5 | 0x02, byte((^vvvv)&0xF)<<3 | byte(pp)}
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

// sib encodes the ModRM and SIB bytes of (base)(index*1) with ModRM.reg
// set to reg, plus the VEX x and b bits they need.
func sib(reg int, base, index string) (x, b int, tail []byte) {
	bn, in := regs[base], regs[index]
	if in&7 == 4 && in < 8 {
		log.Fatalf("SP cannot be an index")
	}
	mod, disp := 0, []byte(nil)
	if bn&7 == 5 { // BP and R13 as a base need a displacement
		mod, disp = 1, []byte{0}
	}
	modrm := byte(mod<<6 | (reg&7)<<3 | 4)
	s := byte((in&7)<<3 | bn&7)
	return in >> 3, bn >> 3, append([]byte{modrm, s}, disp...)
}

// ldtilecfg emits LDTILECFG (AX).
func ldtilecfg() {
	emit(append(vex(0, 0, 0, 0), 0x49, 0x00), "LDTILECFG (AX)")
}

func tilerelease() { emit(append(vex(0, 0, 0, 0), 0x49, 0xC0), "TILERELEASE") }

func tilezero(t int) {
	emit(append(vex(0, 0, 0, 3), 0x49, byte(0xC0|t<<3)), fmt.Sprintf("TILEZERO T%d", t))
}

// tileload emits TILELOADD (base)(index*1), T[t]: 16 rows of 64 bytes,
// index bytes apart.
func tileload(t int, base, index string) {
	x, b, tail := sib(t, base, index)
	emit(append(append(vex(x, b, 0, 3), 0x4B), tail...), fmt.Sprintf("TILELOADD (%s)(%s*1), T%d", base, index, t))
}

// tilestore emits TILESTORED T[t], (base)(index*1).
func tilestore(t int, base, index string) {
	x, b, tail := sib(t, base, index)
	emit(append(append(vex(x, b, 0, 2), 0x4B), tail...), fmt.Sprintf("TILESTORED T%d, (%s)(%s*1)", t, base, index))
}

// dp emits TDPBF16PS: T[acc] += T[a]·T[b], a's rows by b's columns, in
// bfloat16 pairs.
func dp(acc, a, b int) {
	emit(append(vex(0, 0, b, 2), 0x5C, byte(0xC0|acc<<3|a)), fmt.Sprintf("TDPBF16PS T%d, T%d, T%d", b, a, acc))
}

// Tiles: accumulators T0..T3, W rows T4 and T5, X columns T6 and T7.
const (
	tileA = 4
	tileB = 6
)

// kernel emits amxTiles<mb>: 32 rows of W by mb blocks of 16 columns of
// X per group.
func kernel(mb int) {
	name := fmt.Sprintf("amxTiles%d", mb)
	p("// func %s(cfg *byte, groups, k32 int, w *uint16, ldw int, xp *uint16, xblk int, out *float32, pf *uint16)", name)
	p("//")
	p("// For each of groups groups of %d×16 columns of X, packed in bfloat16", mb)
	p("// pairs (xp: per block of 16 columns, k32 tiles of 16 rows by 64 bytes,")
	p("// xblk bytes from one block to the next, the group's blocks side by")
	p("// side), the products of 32 rows of W (bfloat16, ldw bytes apart, k32·32")
	p("// elements each) with the group's columns, summed in float32: %d tiles of", 2*mb)
	p("// 16×16 results (rows of W by columns of X), W's first 16 rows first, one")
	p("// after the other at out, 64-byte rows; the groups follow each other.")
	p("// cfg is the tile configuration (all eight tiles 16 rows of 64 bytes).")
	p("// Each step also prefetches into L2 the same 64 bytes of the 32 rows at")
	p("// pf (the next rows of W), so that the next call finds them there.")
	p("TEXT ·%s(SB), NOSPLIT, $0-72", name)
	p("\tMOVQ cfg+0(FP), AX")
	ldtilecfg()
	p("\tMOVQ ldw+32(FP), DX")
	p("\tLEAQ (DX)(DX*2), R13")
	p("\tMOVQ $64, R10")
	p("\tMOVQ out+56(FP), R11")
	p("\tMOVQ xp+40(FP), R14")
	p("\tMOVQ groups+8(FP), R8")
	p("")
	p("group:")
	for t := range 2 * mb {
		tilezero(t)
	}
	p("\tMOVQ w+24(FP), SI")
	p("\tMOVQ DX, DI")
	p("\tSHLQ $4, DI")
	p("\tADDQ SI, DI")
	p("\tMOVQ pf+64(FP), R12")
	p("\tMOVQ R14, BX")
	if mb == 2 {
		p("\tMOVQ R14, CX")
		p("\tADDQ xblk+48(FP), CX")
	}
	p("\tMOVQ k32+16(FP), R9")
	p("")
	p("step:")
	tileload(tileA, "SI", "DX")
	tileload(tileA+1, "DI", "DX")
	tileload(tileB, "BX", "R10")
	if mb == 2 {
		tileload(tileB+1, "CX", "R10")
	}
	for nb := range 2 {
		for j := range mb {
			dp(nb*mb+j, tileA+nb, tileB+j)
		}
	}
	// Prefetching the next rows a 64-byte column at a time, spread over
	// the steps, kept the 32-stream decode as fast as none or a linear
	// sweep of the next rows (within noise, session 6).
	p("\tMOVQ R12, AX")
	for g := range 8 {
		p("\tPREFETCHT1 (AX)")
		p("\tPREFETCHT1 (AX)(DX*1)")
		p("\tPREFETCHT1 (AX)(DX*2)")
		p("\tPREFETCHT1 (AX)(R13*1)")
		if g < 7 {
			p("\tLEAQ (AX)(DX*4), AX")
		}
	}
	p("\tADDQ $64, R12")
	p("\tADDQ $64, SI")
	p("\tADDQ $64, DI")
	p("\tADDQ $1024, BX")
	if mb == 2 {
		p("\tADDQ $1024, CX")
	}
	p("\tDECQ R9")
	p("\tJNZ step")
	p("")
	for t := range 2 * mb {
		tilestore(t, "R11", "R10")
		p("\tADDQ $1024, R11")
	}
	p("\tMOVQ xblk+48(FP), AX")
	if mb == 2 {
		p("\tLEAQ (R14)(AX*2), R14")
	} else {
		p("\tADDQ AX, R14")
	}
	p("\tDECQ R8")
	p("\tJNZ group")
	tilerelease()
	p("\tRET")
	p("")
}

// transpose emits transpose16, which the kernels' callers use to pack X
// into tiles and to write the tiles of results into C.
func transpose() {
	p("// func transpose16(dst *uint32, ldd int, src *uint32, lds int, rows int)")
	p("//")
	p("// Sets rows 0..rows-1 of dst (ldd bytes apart) to columns 0..rows-1 of")
	p("// the 16×16 block of 32-bit values at src (16 rows, lds bytes apart):")
	p("// dst[c][r] = src[r][c]. Four rounds of shuffles (32-bit and 64-bit")
	p("// elements, then twice 128-bit lanes); after them Zc holds column c.")
	p("TEXT ·transpose16(SB), NOSPLIT, $0-40")
	p("\tMOVQ src+16(FP), SI")
	p("\tMOVQ lds+24(FP), BX")
	p("\tLEAQ (BX)(BX*2), CX")
	for g := range 4 {
		p("\tVMOVUPS (SI), Z%d", 4*g)
		p("\tVMOVUPS (SI)(BX*1), Z%d", 4*g+1)
		p("\tVMOVUPS (SI)(BX*2), Z%d", 4*g+2)
		p("\tVMOVUPS (SI)(CX*1), Z%d", 4*g+3)
		if g < 3 {
			p("\tLEAQ (SI)(BX*4), SI")
		}
	}
	// Rows 2i and 2i+1 interleaved: Z16+2i holds elements 0,1 of each
	// 128-bit lane, Z17+2i elements 2,3.
	for i := range 8 {
		p("\tVUNPCKLPS Z%d, Z%d, Z%d", 2*i+1, 2*i, 16+2*i)
		p("\tVUNPCKHPS Z%d, Z%d, Z%d", 2*i+1, 2*i, 16+2*i+1)
	}
	// Z4j+q: lane L holds column 4L+q of rows 4j..4j+3.
	for j := range 4 {
		t := 16 + 4*j
		p("\tVUNPCKLPD Z%d, Z%d, Z%d", t+2, t, 4*j)
		p("\tVUNPCKHPD Z%d, Z%d, Z%d", t+2, t, 4*j+1)
		p("\tVUNPCKLPD Z%d, Z%d, Z%d", t+3, t+1, 4*j+2)
		p("\tVUNPCKHPD Z%d, Z%d, Z%d", t+3, t+1, 4*j+3)
	}
	// Z16+8h+q: columns q and q+8 of rows 8h..8h+7; Z20+8h+q: q+4, q+12.
	for h := range 2 {
		for q := range 4 {
			a, b := 8*h+q, 8*h+4+q
			p("\tVSHUFF32X4 $0x88, Z%d, Z%d, Z%d", b, a, 16+8*h+q)
			p("\tVSHUFF32X4 $0xdd, Z%d, Z%d, Z%d", b, a, 16+8*h+4+q)
		}
	}
	for i := range 8 {
		p("\tVSHUFF32X4 $0x88, Z%d, Z%d, Z%d", 24+i, 16+i, i)
		p("\tVSHUFF32X4 $0xdd, Z%d, Z%d, Z%d", 24+i, 16+i, 8+i)
	}
	p("\tMOVQ dst+0(FP), DI")
	p("\tMOVQ ldd+8(FP), DX")
	p("\tMOVQ rows+32(FP), CX")
	for c := range 16 {
		p("\tVMOVUPS Z%d, (DI)", c)
		if c < 15 {
			p("\tDECQ CX")
			p("\tJZ done")
			p("\tADDQ DX, DI")
		}
	}
	p("")
	p("done:")
	p("\tVZEROUPPER")
	p("\tRET")
}

// pairs emits packPairs32, which lays a bfloat16 matrix out as the tiles'
// pairs for the products whose weights are k×n (SgemmBF16BF16NN).
func pairs() {
	p("// func packPairs32(dst0, dst1 *uint16, src *uint16, lds int, n int, idx *uint16)")
	p("//")
	p("// For n pairs of rows of src (bfloat16, lds bytes apart), 32 columns")
	p("// each: interleaves the pair's two rows word by word (VPERMI2W with the")
	p("// 64 indices at idx) and stores columns 0..15 as 64 bytes at dst0,")
	p("// columns 16..31 at dst1, one pair after the other.")
	p("TEXT ·packPairs32(SB), NOSPLIT, $0-48")
	p("\tMOVQ dst0+0(FP), DI")
	p("\tMOVQ dst1+8(FP), DX")
	p("\tMOVQ src+16(FP), SI")
	p("\tMOVQ lds+24(FP), BX")
	p("\tMOVQ n+32(FP), CX")
	p("\tMOVQ idx+40(FP), AX")
	p("\tVMOVDQU16 (AX), Z4")
	p("\tVMOVDQU16 64(AX), Z5")
	p("")
	p("pairsloop:")
	p("\tVMOVDQU16 (SI), Z0")
	p("\tVMOVDQU16 (SI)(BX*1), Z1")
	p("\tVMOVDQA64 Z4, Z2")
	p("\tVPERMI2W Z1, Z0, Z2")
	p("\tVMOVDQA64 Z5, Z3")
	p("\tVPERMI2W Z1, Z0, Z3")
	p("\tVMOVDQU16 Z2, (DI)")
	p("\tVMOVDQU16 Z3, (DX)")
	p("\tLEAQ (SI)(BX*2), SI")
	p("\tADDQ $64, DI")
	p("\tADDQ $64, DX")
	p("\tDECQ CX")
	p("\tJNE pairsloop")
	p("\tVZEROUPPER")
	p("\tRET")
	p("")
}

func main() {
	dst := flag.String("o", "amx_amd64.s", "output file")
	flag.Parse()
	p("// Code generated by gen_amx.go; DO NOT EDIT.")
	p("")
	p("//go:build amd64 && !purego")
	p("")
	p(`#include "textflag.h"`)
	p("")
	p("// The AMX tile registers live only within one call: each kernel loads")
	p("// the tile configuration first and releases the tiles before it returns,")
	p("// so the goroutine may move to another thread between calls (Go does not")
	p("// preempt assembly asynchronously, so it cannot move during one).")
	p("")
	kernel(2)
	kernel(1)
	transpose()
	p("")
	pairs()
	if err := os.WriteFile(*dst, out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
