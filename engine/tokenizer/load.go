package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
	"golang.org/x/text/unicode/norm"
)

// regexTimeout bounds one regex search so a pathological pattern in an
// untrusted tokenizer.json cannot hang encoding; on timeout the piece is
// left unsplit.
const regexTimeout = 10 * time.Second

// ErrUnsupported is wrapped by load errors for components this package does
// not implement.
var ErrUnsupported = errors.New("unsupported")

type fileJSON struct {
	AddedTokens   []AddedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	Model         json.RawMessage `json:"model"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
}

func isNull(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) == 0 || bytes.Equal(r, []byte("null"))
}

type typed struct {
	Type string `json:"type"`
}

func typeOf(r json.RawMessage) (string, error) {
	var t typed
	if err := json.Unmarshal(r, &t); err != nil {
		return "", err
	}
	if t.Type == "" {
		return "", errors.New("missing \"type\"")
	}
	return t.Type, nil
}

type patternJSON struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

func parsePattern(p patternJSON) (pattern, error) {
	switch {
	case p.String != nil:
		return stringPattern(*p.String), nil
	case p.Regex != nil:
		if sc, ok := knownScanner(*p.Regex); ok {
			return sc, nil
		}
		re, err := regexp2.Compile(*p.Regex, regexp2.None)
		if err != nil {
			return nil, fmt.Errorf("compile regex %q: %w", *p.Regex, err)
		}
		re.MatchTimeout = regexTimeout
		return regexPattern{re}, nil
	}
	return nil, errors.New("pattern needs \"String\" or \"Regex\"")
}

func parseNormalizer(r json.RawMessage) (normalizer, error) {
	typ, err := typeOf(r)
	if err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	switch typ {
	case "NFC":
		return unicodeNorm{norm.NFC}, nil
	case "NFD":
		return unicodeNorm{norm.NFD}, nil
	case "NFKC":
		return unicodeNorm{norm.NFKC}, nil
	case "NFKD":
		return unicodeNorm{norm.NFKD}, nil
	case "Lowercase":
		return lowercase{}, nil
	case "StripAccents":
		return stripAccents{}, nil
	case "Strip":
		var v struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, fmt.Errorf("normalizer Strip: %w", err)
		}
		return strip{v.Left, v.Right}, nil
	case "Prepend":
		var v struct {
			Prepend string `json:"prepend"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, fmt.Errorf("normalizer Prepend: %w", err)
		}
		return prepend{v.Prepend}, nil
	case "Replace":
		var v struct {
			Pattern patternJSON `json:"pattern"`
			Content string      `json:"content"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, fmt.Errorf("normalizer Replace: %w", err)
		}
		p, err := parsePattern(v.Pattern)
		if err != nil {
			return nil, fmt.Errorf("normalizer Replace: %w", err)
		}
		if sc, ok := p.(scanPattern); ok { // keep regex semantics, not split scanners
			re, err := regexp2.Compile(sc.src, regexp2.None)
			if err != nil {
				return nil, fmt.Errorf("normalizer Replace: %w", err)
			}
			p = regexPattern{re}
		}
		return replace{p, v.Content}, nil
	case "Sequence":
		var v struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, fmt.Errorf("normalizer Sequence: %w", err)
		}
		var q normSeq
		for i, x := range v.Normalizers {
			n, err := parseNormalizer(x)
			if err != nil {
				return nil, fmt.Errorf("normalizer Sequence[%d]: %w", i, err)
			}
			q = append(q, n)
		}
		return q, nil
	}
	return nil, fmt.Errorf("normalizer %q: %w", typ, ErrUnsupported)
}

func parseBehavior(s string) (splitBehavior, error) {
	switch s {
	case "Removed":
		return behRemoved, nil
	case "Isolated":
		return behIsolated, nil
	case "MergedWithPrevious":
		return behMergedWithPrevious, nil
	case "MergedWithNext":
		return behMergedWithNext, nil
	case "Contiguous":
		return behContiguous, nil
	}
	return 0, fmt.Errorf("unknown split behavior %q", s)
}

// parsePreTokenizer also reports whether the pipeline ends in ByteLevel
// (which switches the model to raw-byte mode).
func parsePreTokenizer(r json.RawMessage) (p preTokenizer, byteLevel bool, err error) {
	typ, err := typeOf(r)
	if err != nil {
		return nil, false, fmt.Errorf("pre_tokenizer: %w", err)
	}
	switch typ {
	case "ByteLevel":
		v := struct {
			AddPrefixSpace bool  `json:"add_prefix_space"`
			UseRegex       *bool `json:"use_regex"`
		}{}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, false, fmt.Errorf("pre_tokenizer ByteLevel: %w", err)
		}
		useRegex := v.UseRegex == nil || *v.UseRegex
		return byteLevelPre{addPrefixSpace: v.AddPrefixSpace, useRegex: useRegex}, true, nil
	case "Split":
		var v struct {
			Pattern  patternJSON `json:"pattern"`
			Behavior string      `json:"behavior"`
			Invert   bool        `json:"invert"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, false, fmt.Errorf("pre_tokenizer Split: %w", err)
		}
		pat, err := parsePattern(v.Pattern)
		if err != nil {
			return nil, false, fmt.Errorf("pre_tokenizer Split: %w", err)
		}
		beh, err := parseBehavior(v.Behavior)
		if err != nil {
			return nil, false, fmt.Errorf("pre_tokenizer Split: %w", err)
		}
		return splitPre{pat, beh, v.Invert}, false, nil
	case "Metaspace":
		v := struct {
			Replacement    string `json:"replacement"`
			PrependScheme  string `json:"prepend_scheme"`
			AddPrefixSpace *bool  `json:"add_prefix_space"`
			Split          *bool  `json:"split"`
		}{}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, false, fmt.Errorf("pre_tokenizer Metaspace: %w", err)
		}
		if utf8.RuneCountInString(v.Replacement) != 1 {
			return nil, false, fmt.Errorf("pre_tokenizer Metaspace: replacement %q must be one character", v.Replacement)
		}
		sch := v.PrependScheme
		if sch == "" {
			sch = "always"
			if v.AddPrefixSpace != nil && !*v.AddPrefixSpace {
				sch = "never"
			}
		}
		if sch != "always" && sch != "first" && sch != "never" {
			return nil, false, fmt.Errorf("pre_tokenizer Metaspace: unknown prepend_scheme %q", sch)
		}
		return metaspacePre{v.Replacement, sch, v.Split == nil || *v.Split}, false, nil
	case "Digits":
		var v struct {
			Individual bool `json:"individual_digits"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, false, fmt.Errorf("pre_tokenizer Digits: %w", err)
		}
		return digitsPre{v.Individual}, false, nil
	case "Whitespace":
		// HF: Split(Invert(`\w+|[^\w\s]+`), Removed) with Oniguruma's
		// Unicode \w (Alphabetic, marks, decimal digits, connectors, joiners).
		const w = `\p{L}\p{Nl}\p{M}\p{Nd}\p{Pc}\u200c\u200d`
		re := regexp2.MustCompile(`[`+w+`]+|[^`+w+`\s]+`, regexp2.None)
		return splitPre{regexPattern{re}, behRemoved, true}, false, nil
	case "Punctuation":
		v := struct {
			Behavior string `json:"behavior"`
		}{Behavior: "Isolated"}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, false, fmt.Errorf("pre_tokenizer Punctuation: %w", err)
		}
		beh, err := parseBehavior(v.Behavior)
		if err != nil {
			return nil, false, fmt.Errorf("pre_tokenizer Punctuation: %w", err)
		}
		return splitPre{runeClassPattern(isPunctuation), beh, false}, false, nil
	case "WhitespaceSplit":
		return splitPre{runeClassPattern(isS), behRemoved, false}, false, nil
	case "Sequence":
		var v struct {
			Pre []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, false, fmt.Errorf("pre_tokenizer Sequence: %w", err)
		}
		var q preSeq
		for i, x := range v.Pre {
			p, bl, err := parsePreTokenizer(x)
			if err != nil {
				return nil, false, fmt.Errorf("pre_tokenizer Sequence[%d]: %w", i, err)
			}
			byteLevel = bl
			q = append(q, p)
		}
		// Only a trailing ByteLevel can be folded into the model; earlier
		// ones map the text themselves.
		for i, p := range q[:max(len(q)-1, 0)] {
			switch bp := p.(type) {
			case byteLevelPre:
				bp.materialize = true
				q[i] = bp
			case preSeq:
				return nil, false, fmt.Errorf("pre_tokenizer Sequence[%d]: nested Sequence: %w", i, ErrUnsupported)
			}
		}
		return q, byteLevel, nil
	}
	return nil, false, fmt.Errorf("pre_tokenizer %q: %w", typ, ErrUnsupported)
}

func parseDecoder(r json.RawMessage) (decoder, error) {
	typ, err := typeOf(r)
	if err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	switch typ {
	case "ByteLevel":
		return byteLevelDec{}, nil
	case "ByteFallback":
		return byteFallbackDec{}, nil
	case "Fuse":
		return fuseDec{}, nil
	case "Replace":
		var v struct {
			Pattern patternJSON `json:"pattern"`
			Content string      `json:"content"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, fmt.Errorf("decoder Replace: %w", err)
		}
		p, err := parsePattern(v.Pattern)
		if err != nil {
			return nil, fmt.Errorf("decoder Replace: %w", err)
		}
		return replaceDec{p, v.Content}, nil
	case "Strip":
		var v struct {
			Content string `json:"content"`
			Start   int    `json:"start"`
			Stop    int    `json:"stop"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, fmt.Errorf("decoder Strip: %w", err)
		}
		rs := []rune(v.Content)
		if len(rs) != 1 || v.Start < 0 || v.Stop < 0 {
			return nil, fmt.Errorf("decoder Strip: content %q must be one character and start/stop non-negative", v.Content)
		}
		return stripDec{rs[0], v.Start, v.Stop}, nil
	case "Metaspace":
		v := struct {
			Replacement    string `json:"replacement"`
			PrependScheme  string `json:"prepend_scheme"`
			AddPrefixSpace *bool  `json:"add_prefix_space"`
		}{}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, fmt.Errorf("decoder Metaspace: %w", err)
		}
		rs := []rune(v.Replacement)
		if len(rs) != 1 {
			return nil, fmt.Errorf("decoder Metaspace: replacement %q must be one character", v.Replacement)
		}
		pre := v.PrependScheme != "never"
		if v.PrependScheme == "" && v.AddPrefixSpace != nil {
			pre = *v.AddPrefixSpace
		}
		return metaspaceDec{rs[0], pre}, nil
	case "Sequence":
		var v struct {
			Decoders []json.RawMessage `json:"decoders"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, fmt.Errorf("decoder Sequence: %w", err)
		}
		var q decSeq
		for i, x := range v.Decoders {
			d, err := parseDecoder(x)
			if err != nil {
				return nil, fmt.Errorf("decoder Sequence[%d]: %w", i, err)
			}
			q = append(q, d)
		}
		return q, nil
	}
	return nil, fmt.Errorf("decoder %q: %w", typ, ErrUnsupported)
}

type tplPiece struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

func parsePostProcessor(r json.RawMessage) (postProcessor, error) {
	typ, err := typeOf(r)
	if err != nil {
		return nil, fmt.Errorf("post_processor: %w", err)
	}
	switch typ {
	case "ByteLevel":
		return templateProc{}, nil
	case "TemplateProcessing":
		var v struct {
			Single  []tplPiece `json:"single"`
			Special map[string]struct {
				IDs []int32 `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, fmt.Errorf("post_processor TemplateProcessing: %w", err)
		}
		var tp templateProc
		seen := false
		for _, p := range v.Single {
			switch {
			case p.Sequence != nil:
				if seen {
					return nil, errors.New("post_processor TemplateProcessing: two sequences in single template")
				}
				seen = true
			case p.SpecialToken != nil:
				st, ok := v.Special[p.SpecialToken.ID]
				if !ok {
					return nil, fmt.Errorf("post_processor TemplateProcessing: special token %q not in special_tokens", p.SpecialToken.ID)
				}
				if seen {
					tp.post = append(tp.post, st.IDs...)
				} else {
					tp.pre = append(tp.pre, st.IDs...)
				}
			default:
				return nil, errors.New("post_processor TemplateProcessing: template piece is neither SpecialToken nor Sequence")
			}
		}
		if !seen {
			return nil, errors.New("post_processor TemplateProcessing: single template has no sequence")
		}
		return tp, nil
	case "BertProcessing", "RobertaProcessing":
		var v struct {
			Sep []any `json:"sep"`
			Cls []any `json:"cls"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, fmt.Errorf("post_processor %s: %w", typ, err)
		}
		if len(v.Sep) != 2 || len(v.Cls) != 2 {
			return nil, fmt.Errorf("post_processor %s: cls and sep must be [token, id]", typ)
		}
		cls, ok1 := v.Cls[1].(float64)
		sep, ok2 := v.Sep[1].(float64)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("post_processor %s: cls and sep ids must be numbers", typ)
		}
		return templateProc{pre: []int32{int32(cls)}, post: []int32{int32(sep)}}, nil
	case "Sequence":
		var v struct {
			Processors []json.RawMessage `json:"processors"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, fmt.Errorf("post_processor Sequence: %w", err)
		}
		var q procSeq
		for i, x := range v.Processors {
			p, err := parsePostProcessor(x)
			if err != nil {
				return nil, fmt.Errorf("post_processor Sequence[%d]: %w", i, err)
			}
			q = append(q, p)
		}
		return q, nil
	}
	return nil, fmt.Errorf("post_processor %q: %w", typ, ErrUnsupported)
}

type bpeJSON struct {
	Type                    string           `json:"type"`
	Dropout                 *float64         `json:"dropout"`
	UnkToken                *string          `json:"unk_token"`
	ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
	FuseUnk                 bool             `json:"fuse_unk"`
	ByteFallback            bool             `json:"byte_fallback"`
	IgnoreMerges            bool             `json:"ignore_merges"`
	Vocab                   map[string]int32 `json:"vocab"`
	Merges                  json.RawMessage  `json:"merges"`
}

func parseMerges(r json.RawMessage) ([][2]string, error) {
	if isNull(r) {
		return nil, nil
	}
	var strs []string
	if isStringArray(r) {
		if err := json.Unmarshal(r, &strs); err != nil {
			return nil, fmt.Errorf("merges: %w", err)
		}
		out := make([][2]string, len(strs))
		for i, s := range strs {
			a, b, ok := cutSpace(s)
			if !ok {
				return nil, fmt.Errorf("merge %d %q: want two tokens separated by one space", i, s)
			}
			out[i] = [2]string{a, b}
		}
		return out, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(r, &pairs); err != nil {
		return nil, fmt.Errorf("merges: want strings or [a, b] pairs: %w", err)
	}
	out := make([][2]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("merge %d: want 2 tokens, got %d", i, len(p))
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}

// isStringArray reports whether r is a JSON array whose first element is a
// string (or which is empty).
func isStringArray(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || r[0] != '[' {
		return false
	}
	r = bytes.TrimSpace(r[1:])
	return len(r) > 0 && (r[0] == '"' || r[0] == ']')
}

// cutSpace splits "a b" into a and b; HF requires exactly two parts.
func cutSpace(s string) (string, string, bool) {
	k := -1
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			if k >= 0 {
				return "", "", false
			}
			k = i
		}
	}
	if k < 0 {
		return "", "", false
	}
	return s[:k], s[k+1:], true
}

func parseModel(r json.RawMessage, raw bool) (tokModel, error) {
	if isNull(r) {
		return nil, errors.New("model: missing")
	}
	var ty typed
	if json.Unmarshal(r, &ty) == nil && ty.Type == "Unigram" {
		if raw {
			return nil, fmt.Errorf("model Unigram after a ByteLevel pre-tokenizer: %w", ErrUnsupported)
		}
		return parseUnigram(r)
	}
	var v bpeJSON
	if err := json.Unmarshal(r, &v); err != nil {
		var ty typed
		if json.Unmarshal(r, &ty) == nil && ty.Type != "" && ty.Type != "BPE" {
			return nil, fmt.Errorf("model %q: %w", ty.Type, ErrUnsupported)
		}
		return nil, fmt.Errorf("model BPE: %w", err)
	}
	if v.Type != "" && v.Type != "BPE" {
		return nil, fmt.Errorf("model %q: %w", v.Type, ErrUnsupported)
	}
	if v.Vocab == nil {
		return nil, errors.New("model BPE: missing vocab")
	}
	if v.Dropout != nil && *v.Dropout != 0 {
		return nil, fmt.Errorf("model BPE: dropout %v: %w", *v.Dropout, ErrUnsupported)
	}
	if (v.ContinuingSubwordPrefix != nil && *v.ContinuingSubwordPrefix != "") ||
		(v.EndOfWordSuffix != nil && *v.EndOfWordSuffix != "") {
		return nil, fmt.Errorf("model BPE: continuing_subword_prefix/end_of_word_suffix: %w", ErrUnsupported)
	}
	merges, err := parseMerges(v.Merges)
	if err != nil {
		return nil, fmt.Errorf("model BPE: %w", err)
	}
	m, err := newBPE(v.Vocab, merges, raw)
	if err != nil {
		return nil, fmt.Errorf("model %w", err)
	}
	if v.UnkToken != nil {
		id, ok := v.Vocab[*v.UnkToken]
		if !ok {
			return nil, fmt.Errorf("model BPE: unk_token %q not in vocab", *v.UnkToken)
		}
		m.unk = id
	}
	m.fuseUnk, m.byteFallback, m.ignoreMerges = v.FuseUnk, v.ByteFallback, v.IgnoreMerges
	return m, nil
}
