package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// span is a half-open byte range [start, end) in the original input.
type span struct{ start, end int32 }

// nstr is a (possibly normalized) piece of text together with its alignment
// to the original input. When al is nil the alignment is the identity shifted
// by base: byte i of s is byte base+i of the input.
type nstr struct {
	s    string
	al   []span
	base int
	// fast marks text whose alignment is not needed (Encode without
	// offsets): transformations then skip building al.
	fast bool
}

// orig returns the original byte range of s[a:b] (a < b).
func (n *nstr) orig(a, b int) (int, int) {
	if n.al == nil {
		return n.base + a, n.base + b
	}
	return int(n.al[a].start), int(n.al[b-1].end)
}

// origStart is the original offset of the start of the piece.
func (n *nstr) origStart() int {
	if n.al == nil || len(n.al) == 0 {
		return n.base
	}
	return int(n.al[0].start)
}

// slice returns s[a:b] with its alignment.
func (n *nstr) slice(a, b int) nstr {
	if n.al == nil {
		return nstr{s: n.s[a:b], base: n.base + a, fast: n.fast}
	}
	return nstr{s: n.s[a:b], al: n.al[a:b], fast: n.fast}
}

// spanOf returns the original range covered by s[a:b], or for an empty range
// the position just before a.
func (n *nstr) spanOf(a, b int) span {
	if b <= a {
		if n.al == nil {
			return span{int32(n.base + a), int32(n.base + a)}
		}
		if a < len(n.al) {
			return span{n.al[a].start, n.al[a].start}
		}
		if len(n.al) > 0 {
			e := n.al[len(n.al)-1].end
			return span{e, e}
		}
		return span{int32(n.base), int32(n.base)}
	}
	s, e := n.orig(a, b)
	return span{int32(s), int32(e)}
}

// nbuilder accumulates a transformed nstr.
type nbuilder struct {
	sb      strings.Builder
	al      []span
	fast    bool
	base    int // fast mode: original offset of the first byte
	baseSet bool
}

func (b *nbuilder) add(s string, sp span) {
	b.sb.WriteString(s)
	if b.fast {
		if !b.baseSet {
			b.base, b.baseSet = int(sp.start), true
		}
		return
	}
	for range len(s) {
		b.al = append(b.al, sp)
	}
}

// copyFrom appends n.s[a:b] unchanged with its alignment.
func (b *nbuilder) copyFrom(n *nstr, a, c int) {
	b.sb.WriteString(n.s[a:c])
	if b.fast {
		if !b.baseSet && c > a {
			b.base, b.baseSet = int(n.spanOf(a, a+1).start), true
		}
		return
	}
	if n.al == nil {
		for i := a; i < c; i++ {
			b.al = append(b.al, span{int32(n.base + i), int32(n.base + i + 1)})
		}
		return
	}
	b.al = append(b.al, n.al[a:c]...)
}

func (b *nbuilder) done() nstr {
	if b.fast {
		return nstr{s: b.sb.String(), base: b.base, fast: true}
	}
	return nstr{s: b.sb.String(), al: b.al}
}

// firstRuneLen is the byte length of the first rune of s (0 if empty).
func firstRuneLen(s string) int {
	if s == "" {
		return 0
	}
	_, n := utf8.DecodeRuneInString(s)
	return n
}
