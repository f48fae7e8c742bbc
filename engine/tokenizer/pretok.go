package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// preTokenizer splits a normalized piece into sub-pieces.
type preTokenizer interface {
	split(dst []nstr, n nstr) ([]nstr, error)
}

// splitBehavior is HF's SplitDelimiterBehavior.
type splitBehavior int

const (
	behRemoved splitBehavior = iota
	behIsolated
	behMergedWithPrevious
	behMergedWithNext
	behContiguous
)

type part struct {
	a, b  int
	match bool
}

// applyBehavior turns a list of matches into the pieces HF's
// NormalizedString::split produces, appending non-empty slices of n to dst.
func applyBehavior(dst []nstr, n nstr, ms [][2]int, beh splitBehavior, invert bool) []nstr {
	if len(ms) == 0 && !invert {
		if n.s == "" {
			return dst
		}
		return append(dst, n)
	}
	parts := make([]part, 0, 2*len(ms)+1)
	prev := 0
	for _, m := range ms {
		if prev != m[0] {
			parts = append(parts, part{prev, m[0], invert})
		}
		parts = append(parts, part{m[0], m[1], !invert})
		prev = m[1]
	}
	if prev != len(n.s) {
		parts = append(parts, part{prev, len(n.s), invert})
	}
	var out []part
	switch beh {
	case behRemoved:
		for _, p := range parts {
			if !p.match {
				out = append(out, p)
			}
		}
	case behIsolated:
		out = parts
	case behMergedWithPrevious:
		prevMatch := false
		for _, p := range parts {
			if p.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].b = p.b
			} else {
				out = append(out, part{p.a, p.b, false})
			}
			prevMatch = p.match
		}
	case behMergedWithNext:
		prevMatch := false
		for i := len(parts) - 1; i >= 0; i-- {
			p := parts[i]
			if p.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].a = p.a
			} else {
				out = append(out, part{p.a, p.b, false})
			}
			prevMatch = p.match
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	case behContiguous:
		prevMatch := false
		for i, p := range parts {
			if i > 0 && p.match == prevMatch {
				out[len(out)-1].b = p.b
			} else {
				out = append(out, part{p.a, p.b, false})
			}
			prevMatch = p.match
		}
	}
	for _, p := range out {
		if p.b > p.a {
			dst = append(dst, n.slice(p.a, p.b))
		}
	}
	return dst
}

// splitPre is HF's Split pre-tokenizer.
type splitPre struct {
	pat    pattern
	beh    splitBehavior
	invert bool
}

func (p splitPre) split(dst []nstr, n nstr) ([]nstr, error) {
	if sc, ok := p.pat.(scanPattern); ok && p.beh == behIsolated && !p.invert {
		// Fast path: the scanner matches everywhere, so each match is a piece.
		for i := 0; i < len(n.s); {
			e := sc.fn(n.s, i)
			if e <= i {
				_, k := utf8.DecodeRuneInString(n.s[i:])
				e = i + k
			}
			dst = append(dst, n.slice(i, e))
			i = e
		}
		return dst, nil
	}
	ms, err := p.pat.find(n.s)
	if err != nil {
		return dst, err
	}
	return applyBehavior(dst, n, ms, p.beh, p.invert), nil
}

// byteLevelPre is the ByteLevel pre-tokenizer. The mapping of bytes to the
// byte-level alphabet is folded into the model (see bpe.rawBytes), so here it
// only adds the prefix space and applies the GPT-2 split.
type byteLevelPre struct {
	addPrefixSpace bool
	useRegex       bool
	// materialize maps the pieces to the byte-level alphabet here (needed
	// when other pre-tokenizers follow ByteLevel; the model then works on
	// the mapped text instead of raw bytes).
	materialize bool
}

func (p byteLevelPre) split(dst []nstr, n nstr) ([]nstr, error) {
	if p.addPrefixSpace && (len(n.s) == 0 || n.s[0] != ' ') {
		b := nbuilder{fast: n.fast}
		b.add(" ", n.spanOf(0, firstRuneLen(n.s)))
		b.copyFrom(&n, 0, len(n.s))
		n = b.done()
	}
	k := len(dst)
	var err error
	if !p.useRegex {
		if n.s != "" {
			dst = append(dst, n)
		}
	} else if dst, err = (splitPre{pat: scanPattern{fn: scanGPT2, src: gpt2Pattern}, beh: behIsolated}).split(dst, n); err != nil {
		return dst, err
	}
	if p.materialize {
		for i := k; i < len(dst); i++ {
			dst[i] = byteLevelMap(dst[i])
		}
	}
	return dst, nil
}

// byteLevelMap maps every byte of n to its byte-level character; the
// characters made from one input character all keep that character's range.
func byteLevelMap(n nstr) nstr {
	b := nbuilder{fast: n.fast}
	for i, r := range n.s {
		sp := n.spanOf(i, i+utf8.RuneLen(r))
		for j := i; j < i+utf8.RuneLen(r); j++ {
			b.add(string(byteToRune[n.s[j]]), sp)
		}
	}
	return b.done()
}

// isPunctuation is HF's is_punc: ASCII punctuation or Unicode P*.
func isPunctuation(r rune) bool {
	if r < utf8.RuneSelf {
		return (r >= '!' && r <= '/') || (r >= ':' && r <= '@') || (r >= '[' && r <= '`') || (r >= '{' && r <= '~')
	}
	return unicode.IsPunct(r)
}

type metaspacePre struct {
	replacement string
	scheme      string // "always", "first", "never"
	splitPieces bool
}

func (p metaspacePre) split(dst []nstr, n nstr) ([]nstr, error) {
	n, _ = replace{pat: stringPattern(" "), content: p.replacement}.normalize(n)
	if n.s != "" && !startsWith(n.s, p.replacement) {
		if p.scheme == "always" || (p.scheme == "first" && n.origStart() == 0) {
			n, _ = prepend{s: p.replacement}.normalize(n)
		}
	}
	if !p.splitPieces {
		if n.s == "" {
			return dst, nil
		}
		return append(dst, n), nil
	}
	ms, _ := stringPattern(p.replacement).find(n.s)
	return applyBehavior(dst, n, ms, behMergedWithNext, false), nil
}

func startsWith(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// runeClassPattern matches every single rune for which fn is true, like a
// Rust char-predicate pattern.
type runeClassPattern func(rune) bool

func (f runeClassPattern) find(s string) ([][2]int, error) {
	var out [][2]int
	for i, r := range s {
		if f(r) {
			out = append(out, [2]int{i, i + utf8.RuneLen(r)})
		}
	}
	return out, nil
}

type digitsPre struct{ individual bool }

func (p digitsPre) split(dst []nstr, n nstr) ([]nstr, error) {
	ms, _ := runeClassPattern(unicode.IsNumber).find(n.s)
	beh := behContiguous
	if p.individual {
		beh = behIsolated
	}
	return applyBehavior(dst, n, ms, beh, false), nil
}

type preSeq []preTokenizer

func (q preSeq) split(dst []nstr, n nstr) ([]nstr, error) {
	cur := []nstr{n}
	var next []nstr
	var err error
	for _, p := range q {
		next = next[:0]
		for _, c := range cur {
			if next, err = p.split(next, c); err != nil {
				return dst, err
			}
		}
		cur, next = next, cur
	}
	return append(dst, cur...), nil
}
