package tokenizer

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoder is HF's Decoder::decode_chain.
type decoder interface {
	decodeChain(toks []string) []string
}

type byteLevelDec struct{}

func (byteLevelDec) decodeChain(toks []string) []string {
	var b []byte
	for _, t := range toks {
		if raw, ok := byteLevelDecode(t); ok {
			b = append(b, raw...)
		} else {
			b = append(b, t...)
		}
	}
	return []string{utf8Lossy(b)}
}

type replaceDec struct {
	pat     pattern
	content string
}

func (r replaceDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		n, err := replace(r).normalize(nstr{s: t})
		if err != nil {
			out[i] = t
			continue
		}
		out[i] = n.s
	}
	return out
}

type byteFallbackDec struct{}

func (byteFallbackDec) decodeChain(toks []string) []string {
	out := make([]string, 0, len(toks))
	var pend []byte
	flush := func() {
		if len(pend) == 0 {
			return
		}
		if s := string(pend); utf8.ValidString(s) {
			out = append(out, s)
		} else {
			for range pend {
				out = append(out, "\uFFFD")
			}
		}
		pend = pend[:0]
	}
	for _, t := range toks {
		if len(t) == 6 && strings.HasPrefix(t, "<0x") && t[5] == '>' {
			if v, err := strconv.ParseUint(t[3:5], 16, 8); err == nil {
				pend = append(pend, byte(v))
				continue
			}
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

type fuseDec struct{}

func (fuseDec) decodeChain(toks []string) []string { return []string{strings.Join(toks, "")} }

type stripDec struct {
	content     rune
	start, stop int
}

func (s stripDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rs := []rune(t)
		a := 0
		for k := 0; k < s.start && k < len(rs); k++ {
			if rs[k] != s.content {
				break
			}
			a = k + 1
		}
		e := len(rs)
		for k := 0; k < s.stop; k++ {
			j := len(rs) - k - 1
			if j < 0 || rs[j] != s.content {
				break
			}
			e = j
		}
		if e < a {
			e = a
		}
		out[i] = string(rs[a:e])
	}
	return out
}

type metaspaceDec struct {
	replacement rune
	prepend     bool // prepend_scheme != never
}

func (m metaspaceDec) decodeChain(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		var sb strings.Builder
		for _, r := range t {
			if r == m.replacement {
				if i == 0 && m.prepend {
					continue
				}
				sb.WriteByte(' ')
				continue
			}
			sb.WriteRune(r)
		}
		out[i] = sb.String()
	}
	return out
}

type decSeq []decoder

func (q decSeq) decodeChain(toks []string) []string {
	for _, d := range q {
		toks = d.decodeChain(toks)
	}
	return toks
}
