package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// The Split regexes of the common byte-level families, as they appear in
// tokenizer.json. For these the pre-tokenizer uses hand-written scanners that
// implement the same leftmost-first backtracking semantics as Oniguruma
// (checked against regexp2 by TestScannersMatchRegex and FuzzScanners).
const (
	gpt2Pattern   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// scanPattern is a pattern implemented by a scanner: fn(s, i) returns the end
// of the match starting at i, or -1 when no alternative matches at i.
type scanPattern struct {
	fn  func(s string, i int) int
	src string
}

func (p scanPattern) find(s string) ([][2]int, error) {
	var out [][2]int
	for i := 0; i < len(s); {
		if e := p.fn(s, i); e > i {
			out = append(out, [2]int{i, e})
			i = e
			continue
		}
		_, k := utf8.DecodeRuneInString(s[i:])
		i += k
	}
	return out, nil
}

// knownScanner returns the scanner for a known Split regex.
func knownScanner(re string) (scanPattern, bool) {
	switch re {
	case gpt2Pattern:
		return scanPattern{scanGPT2, re}, true
	case llama3Pattern:
		return scanPattern{scanLlama3, re}, true
	case qwen2Pattern:
		return scanPattern{scanQwen2, re}, true
	}
	return scanPattern{}, false
}

func decodeAt(s string, i int) (rune, int) {
	if i >= len(s) {
		return -1, 0
	}
	c := s[i]
	if c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

func isL(r rune) bool {
	if r < utf8.RuneSelf {
		return (r|0x20) >= 'a' && (r|0x20) <= 'z'
	}
	return unicode.IsLetter(r)
}

func isN(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= '0' && r <= '9'
	}
	return unicode.IsNumber(r)
}

func isS(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || (r >= '\t' && r <= '\r')
	}
	return unicode.IsSpace(r)
}

// contraction matches 's|'t|'re|'ve|'m|'ll|'d at i (s[i] == '\”).
// With fold, letters match case-insensitively with Unicode simple case
// folding (so 'ſ' matches 's', as in Oniguruma).
func contraction(s string, i int, fold bool) int {
	r1, n1 := decodeAt(s, i+1)
	if n1 == 0 {
		return -1
	}
	eq := func(r rune, c rune) bool {
		if r == c {
			return true
		}
		if !fold {
			return false
		}
		if r == c-32 {
			return true
		}
		return c == 's' && r == 0x17F
	}
	j := i + 1 + n1
	switch {
	case eq(r1, 's'), eq(r1, 't'), eq(r1, 'm'), eq(r1, 'd'):
		return j
	case eq(r1, 'r'), eq(r1, 'v'):
		if r2, n2 := decodeAt(s, j); n2 > 0 && eq(r2, 'e') {
			return j + n2
		}
	case eq(r1, 'l'):
		if r2, n2 := decodeAt(s, j); n2 > 0 && eq(r2, 'l') {
			return j + n2
		}
	}
	return -1
}

// spaceTail handles the \s alternatives shared by all three patterns at a
// whitespace rune at i. withNewline enables \s*[\r\n]+.
func spaceTail(s string, i int, withNewline bool) int {
	// Maximal whitespace run [i, j), remembering the last \r or \n and the
	// start of the last rune.
	j, lastNL, lastStart, count := i, -1, i, 0
	for j < len(s) {
		r, n := decodeAt(s, j)
		if !isS(r) {
			break
		}
		if r == '\r' || r == '\n' {
			lastNL = j
		}
		lastStart = j
		j += n
		count++
	}
	if withNewline && lastNL >= 0 {
		return lastNL + 1
	}
	// \s+(?!\S)
	if j == len(s) {
		return j
	}
	if count >= 2 {
		return lastStart
	}
	// \s+
	return j
}

func scanLetters(s string, j int) int {
	for j < len(s) {
		r, n := decodeAt(s, j)
		if !isL(r) {
			break
		}
		j += n
	}
	return j
}

// scanGPT2 implements gpt2Pattern.
func scanGPT2(s string, i int) int {
	r, n := decodeAt(s, i)
	if r == '\'' {
		if e := contraction(s, i, false); e > 0 {
			return e
		}
	}
	start, c, cn := i, r, n
	if r == ' ' {
		if r2, n2 := decodeAt(s, i+1); n2 > 0 && !isS(r2) {
			start, c, cn = i+1, r2, n2
		}
	}
	_ = start
	switch {
	case isL(c):
		return scanLetters(s, i+(cnOffset(i, start))+cn)
	case isN(c):
		j := i + cnOffset(i, start) + cn
		for j < len(s) {
			r, n := decodeAt(s, j)
			if !isN(r) {
				break
			}
			j += n
		}
		return j
	case !isS(c):
		j := i + cnOffset(i, start) + cn
		for j < len(s) {
			r, n := decodeAt(s, j)
			if isS(r) || isL(r) || isN(r) {
				break
			}
			j += n
		}
		return j
	}
	return spaceTail(s, i, false)
}

func cnOffset(i, start int) int { return start - i }

// scanLlama3 implements llama3Pattern.
func scanLlama3(s string, i int) int { return scanLlamaQwen(s, i, 3) }

// scanQwen2 implements qwen2Pattern.
func scanQwen2(s string, i int) int { return scanLlamaQwen(s, i, 1) }

func scanLlamaQwen(s string, i int, maxDigits int) int {
	r, n := decodeAt(s, i)
	if r == '\'' {
		if e := contraction(s, i, true); e > 0 {
			return e
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if isL(r) {
		return scanLetters(s, i+n)
	}
	if r != '\r' && r != '\n' && !isN(r) {
		if r2, n2 := decodeAt(s, i+n); n2 > 0 && isL(r2) {
			return scanLetters(s, i+n+n2)
		}
	}
	// \p{N}{1,maxDigits}
	if isN(r) {
		j := i + n
		for k := 1; k < maxDigits && j < len(s); k++ {
			r2, n2 := decodeAt(s, j)
			if !isN(r2) {
				break
			}
			j += n2
		}
		return j
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	j := -1
	if r == ' ' {
		if r2, n2 := decodeAt(s, i+1); n2 > 0 && !isS(r2) && !isL(r2) && !isN(r2) {
			j = i + 1 + n2
		}
	}
	if j < 0 && !isS(r) {
		j = i + n
	}
	if j >= 0 {
		for j < len(s) {
			r2, n2 := decodeAt(s, j)
			if isS(r2) || isL(r2) || isN(r2) {
				break
			}
			j += n2
		}
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	return spaceTail(s, i, true)
}
