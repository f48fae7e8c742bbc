package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
	"golang.org/x/text/unicode/norm"
)

// normalizer transforms a piece of text, keeping its alignment.
type normalizer interface {
	normalize(n nstr) (nstr, error)
}

type unicodeNorm struct{ form norm.Form }

func (u unicodeNorm) normalize(n nstr) (nstr, error) {
	if u.form.IsNormalString(n.s) {
		return n, nil
	}
	b := nbuilder{fast: n.fast}
	for i := 0; i < len(n.s); {
		k := u.form.NextBoundaryInString(n.s[i:], true)
		if k <= 0 {
			k = len(n.s) - i
		}
		seg := n.s[i : i+k]
		out := u.form.String(seg)
		if out == seg {
			b.copyFrom(&n, i, i+k)
		} else {
			alignSegment(&b, &n, i, seg, out)
		}
		i += k
	}
	return b.done(), nil
}

// alignSegment appends out, the normalization of the input segment seg
// starting at byte i of n, aligned the way HF's unicode-normalization
// alignments are: output characters map one to one onto input characters in
// order (a composition keeps the first input character's range and drops
// the rest), and extra output characters (an expansion) take the range of
// the last input character.
func alignSegment(b *nbuilder, n *nstr, i int, seg, out string) {
	var starts []int
	for j := range seg {
		starts = append(starts, i+j)
	}
	starts = append(starts, i+len(seg))
	k := 0
	for _, r := range out {
		in := min(k, len(starts)-2)
		b.add(string(r), n.spanOf(starts[in], starts[in+1]))
		k++
	}
}

type lowercase struct{}

func (lowercase) normalize(n nstr) (nstr, error) {
	needs := false
	for _, r := range n.s {
		if lowerRune(r) != string(r) {
			needs = true
			break
		}
	}
	if !needs {
		return n, nil
	}
	b := nbuilder{fast: n.fast}
	for i, r := range n.s {
		b.add(lowerRune(r), n.spanOf(i, i+utf8.RuneLen(r)))
	}
	return b.done(), nil
}

// lowerRune lowercases like Rust's char::to_lowercase.
func lowerRune(r rune) string {
	if r == 0x130 { // İ lowercases to i + combining dot above in Rust.
		return "i\u0307"
	}
	return string(unicode.ToLower(r))
}

type prepend struct{ s string }

func (p prepend) normalize(n nstr) (nstr, error) {
	if n.s == "" {
		return n, nil
	}
	b := nbuilder{fast: n.fast}
	b.add(p.s, n.spanOf(0, firstRuneLen(n.s)))
	b.copyFrom(&n, 0, len(n.s))
	return b.done(), nil
}

// pattern finds non-overlapping matches in a string; it backs Replace and
// Split.
type pattern interface {
	// find returns the [start, end) byte ranges of all non-overlapping matches.
	find(s string) ([][2]int, error)
}

type stringPattern string

func (p stringPattern) find(s string) ([][2]int, error) {
	if p == "" {
		return nil, nil
	}
	var out [][2]int
	for i := 0; ; {
		k := strings.Index(s[i:], string(p))
		if k < 0 {
			return out, nil
		}
		out = append(out, [2]int{i + k, i + k + len(p)})
		i += k + len(p)
	}
}

type regexPattern struct{ re *regexp2.Regexp }

func (p regexPattern) find(s string) ([][2]int, error) {
	if s == "" {
		return nil, nil
	}
	// regexp2 reports rune indices; convert them to byte offsets.
	runeOff := make([]int, 0, len(s)+1)
	for i := range s {
		runeOff = append(runeOff, i)
	}
	runeOff = append(runeOff, len(s))
	var out [][2]int
	m, err := p.re.FindStringMatch(s)
	for ; m != nil && err == nil; m, err = p.re.FindNextMatch(m) {
		out = append(out, [2]int{runeOff[m.Index], runeOff[m.Index+m.Length]})
	}
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", p.re.String(), err)
	}
	return out, nil
}

type replace struct {
	pat     pattern
	content string
}

func (r replace) normalize(n nstr) (nstr, error) {
	ms, err := r.pat.find(n.s)
	if err != nil {
		return n, err
	}
	if len(ms) == 0 {
		return n, nil
	}
	b := nbuilder{fast: n.fast}
	prev := 0
	for _, m := range ms {
		b.copyFrom(&n, prev, m[0])
		if m[1] > m[0] {
			b.add(r.content, n.spanOf(m[0], m[1]))
		} else if r.content != "" {
			b.add(r.content, n.spanOf(m[0], m[0]))
		}
		prev = m[1]
	}
	b.copyFrom(&n, prev, len(n.s))
	return b.done(), nil
}

type strip struct{ left, right bool }

func (st strip) normalize(n nstr) (nstr, error) {
	a, e := 0, len(n.s)
	if st.left {
		t := strings.TrimLeftFunc(n.s, unicode.IsSpace)
		a = len(n.s) - len(t)
	}
	if st.right {
		t := strings.TrimRightFunc(n.s[a:], unicode.IsSpace)
		e = a + len(t)
	}
	if a == 0 && e == len(n.s) {
		return n, nil
	}
	return n.slice(a, e), nil
}

type stripAccents struct{}

func (stripAccents) normalize(n nstr) (nstr, error) {
	has := false
	for _, r := range n.s {
		if unicode.Is(unicode.M, r) {
			has = true
			break
		}
	}
	if !has {
		return n, nil
	}
	b := nbuilder{fast: n.fast}
	for i, r := range n.s {
		if !unicode.Is(unicode.M, r) {
			b.copyFrom(&n, i, i+utf8.RuneLen(r))
		}
	}
	return b.done(), nil
}

type normSeq []normalizer

func (q normSeq) normalize(n nstr) (nstr, error) {
	var err error
	for _, x := range q {
		if n, err = x.normalize(n); err != nil {
			return n, err
		}
	}
	return n, nil
}
