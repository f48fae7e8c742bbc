package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Tokenizer encodes text to token ids and decodes ids to text. It is safe
// for concurrent use.
type Tokenizer struct {
	norm  normalizer
	pre   preTokenizer
	model tokModel
	post  postProcessor
	dec   decoder
	added *addedVocab

	// scan, when non-nil, is the whole pre-tokenizer: split words with it.
	scan func(s string, i int) int
	// byteDecode, when true, means the decoder is exactly ByteLevel.
	byteDecode bool
	idBytes    [][]byte // byteDecode: raw bytes per id

	vocabSize int
	special   []int32
	cfg       Config
	bos, eos  int32
	pad       int32
}

// Offset is the byte range [Start, End) of the input text a token came from.
// Tokens added by the post-processor have the zero Offset.
type Offset struct {
	Start, End int
}

// Load reads a tokenizer.json file.
func Load(path string) (*Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := FromJSON(b)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: load %s: %w", path, err)
	}
	return t, nil
}

// FromJSON parses the contents of a tokenizer.json file.
func FromJSON(data []byte) (t *Tokenizer, err error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("tokenizer: parse json: %w", err)
	}
	t = &Tokenizer{bos: -1, eos: -1, pad: -1}
	if !isNull(f.Normalizer) {
		if t.norm, err = parseNormalizer(f.Normalizer); err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
	}
	raw := false
	if !isNull(f.PreTokenizer) {
		if t.pre, raw, err = parsePreTokenizer(f.PreTokenizer); err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
	}
	if t.model, err = parseModel(f.Model, raw); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	for i, a := range f.AddedTokens {
		if a.ID < 0 || a.ID >= 1<<28 {
			return nil, fmt.Errorf("tokenizer: added_tokens[%d] %q: bad id %d", i, a.Content, a.ID)
		}
	}
	if t.added, err = newAddedVocab(f.AddedTokens, t.norm); err != nil {
		return nil, fmt.Errorf("tokenizer: added tokens: %w", err)
	}
	if !isNull(f.PostProcessor) {
		if t.post, err = parsePostProcessor(f.PostProcessor); err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
	}
	if !isNull(f.Decoder) {
		if t.dec, err = parseDecoder(f.Decoder); err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
	}
	t.finish()
	return t, nil
}

// finish computes derived fields after the components are set.
func (t *Tokenizer) finish() {
	t.vocabSize = len(t.model.idTokens())
	for _, a := range t.added.tokens {
		t.vocabSize = max(t.vocabSize, int(a.ID)+1)
		if a.Special {
			t.special = append(t.special, a.ID)
		}
	}
	sort.Slice(t.special, func(i, j int) bool { return t.special[i] < t.special[j] })
	t.scan = nil
	switch p := t.pre.(type) {
	case preSeq:
		if len(p) == 2 {
			sp, ok1 := p[0].(splitPre)
			bl, ok2 := p[1].(byteLevelPre)
			if sc, ok := sp.pat.(scanPattern); ok1 && ok2 && ok && sp.beh == behIsolated && !sp.invert && !bl.addPrefixSpace && !bl.useRegex {
				t.scan = sc.fn
			}
		}
	case byteLevelPre:
		if !p.addPrefixSpace && p.useRegex {
			t.scan = scanGPT2
		}
	}
	_, t.byteDecode = t.dec.(byteLevelDec)
	if t.byteDecode {
		t.idBytes = make([][]byte, t.vocabSize)
		for id := range t.idBytes {
			tok, _, ok := t.idToken(int32(id))
			if !ok {
				continue
			}
			if b, ok := byteLevelDecode(tok); ok {
				t.idBytes[id] = b
			} else {
				t.idBytes[id] = []byte(tok)
			}
		}
	}
	if t.bos < 0 {
		if tp, ok := t.post.(templateProc); ok && len(tp.pre) == 1 {
			t.bos = tp.pre[0]
		}
		if q, ok := t.post.(procSeq); ok {
			if pre, _ := q.process(); len(pre) == 1 {
				t.bos = pre[0]
			}
		}
	}
}

// VocabSize returns one more than the largest token id, counting added tokens.
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// TokenToID returns the id of a token string (added tokens first, then the
// model vocabulary).
func (t *Tokenizer) TokenToID(tok string) (int32, bool) {
	if id, ok := t.added.byContent[tok]; ok {
		return id, true
	}
	id, ok := t.model.vocabMap()[tok]
	return id, ok
}

// IDToToken returns the token string of an id.
func (t *Tokenizer) IDToToken(id int32) (string, bool) {
	s, _, ok := t.idToken(id)
	return s, ok
}

func (t *Tokenizer) idToken(id int32) (tok string, special, ok bool) {
	if i, ok := t.added.byID[id]; ok {
		a := &t.added.tokens[i]
		return a.Content, a.Special, true
	}
	toks := t.model.idTokens()
	if id < 0 || int(id) >= len(toks) {
		return "", false, false
	}
	s := toks[id]
	if s == "" {
		if v, ok := t.model.vocabMap()[""]; !ok || v != id {
			return "", false, false
		}
	}
	_, isSpecial := t.added.byContent[s]
	if isSpecial {
		isSpecial = t.added.tokens[t.added.byID[t.added.byContent[s]]].Special
	}
	return s, isSpecial, true
}

// SpecialIDs returns the ids of the added tokens marked special, ascending.
func (t *Tokenizer) SpecialIDs() []int32 { return append([]int32(nil), t.special...) }

// IsSpecial reports whether id is a special added token.
func (t *Tokenizer) IsSpecial(id int32) bool {
	_, sp, _ := t.idToken(id)
	return sp
}

// AddedTokens returns the added tokens in file order.
func (t *Tokenizer) AddedTokens() []AddedToken { return append([]AddedToken(nil), t.added.tokens...) }

// BOS returns the beginning-of-sequence id, or -1 if unknown. It comes from
// tokenizer_config.json (LoadDir) or else from the post-processor template.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS returns the end-of-sequence id from tokenizer_config.json, or -1.
func (t *Tokenizer) EOS() int32 { return t.eos }

// Pad returns the padding id from tokenizer_config.json, or -1.
func (t *Tokenizer) Pad() int32 { return t.pad }

// Config returns the tokenizer_config.json settings read by LoadDir (the
// zero Config for Load and FromJSON).
func (t *Tokenizer) Config() Config { return t.cfg }

// Encode tokenizes text. With addSpecial the post-processor's special tokens
// (for example BOS) are added, as HF's add_special_tokens=True does.
// Invalid UTF-8 in text is replaced by U+FFFD first.
func (t *Tokenizer) Encode(text string, addSpecial bool) []int32 {
	ids, _ := t.encode(text, addSpecial, false)
	return ids
}

// EncodeWithOffsets is Encode that also returns, per token, the byte range
// of text it came from (rounded out to whole UTF-8 characters).
func (t *Tokenizer) EncodeWithOffsets(text string, addSpecial bool) ([]int32, []Offset) {
	return t.encode(text, addSpecial, true)
}

// EncodeBatch encodes texts in parallel on all CPUs.
func (t *Tokenizer) EncodeBatch(texts []string, addSpecial bool) [][]int32 {
	out := make([][]int32, len(texts))
	workers := min(runtime.GOMAXPROCS(0), len(texts))
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(texts) {
					return
				}
				out[i] = t.Encode(texts[i], addSpecial)
			}
		})
	}
	wg.Wait()
	return out
}

type encState struct {
	text string
	ids  []int32
	lens []int32
	offs []Offset
	want bool
	ws   []nstr
}

func (t *Tokenizer) encode(text string, addSpecial, wantOffsets bool) ([]int32, []Offset) {
	if !utf8.ValidString(text) {
		text = utf8Lossy([]byte(text))
	}
	st := &encState{text: text, want: wantOffsets, ids: make([]int32, 0, len(text)/4+4)}
	var pre, post []int32
	if addSpecial && t.post != nil {
		pre, post = t.post.process()
		st.ids = append(st.ids, pre...)
		if wantOffsets {
			st.offs = append(st.offs, make([]Offset, len(pre))...)
		}
	}
	var segs []seg
	if t.added.raw != nil {
		segs = t.added.findMatches(text, t.added.raw, t.added.rawIdx, nil)
	} else {
		segs = []seg{{0, len(text), -1}}
	}
	for _, sg := range segs {
		if sg.id >= 0 {
			st.ids = append(st.ids, sg.id)
			if wantOffsets {
				st.offs = append(st.offs, Offset{sg.a, sg.b})
			}
			continue
		}
		n := nstr{s: text[sg.a:sg.b], base: sg.a, fast: !wantOffsets}
		if t.norm != nil {
			var err error
			if n, err = t.norm.normalize(n); err != nil {
				// Only regex timeouts can fail here; keep the text as is.
				n = nstr{s: text[sg.a:sg.b], base: sg.a, fast: !wantOffsets}
			}
		}
		if t.added.norm == nil {
			t.encodeText(st, n)
			continue
		}
		for _, s2 := range t.added.findMatches(n.s, t.added.norm, t.added.normIdx, nil) {
			if s2.id >= 0 {
				st.ids = append(st.ids, s2.id)
				if wantOffsets {
					sp := n.spanOf(s2.a, s2.b)
					st.offs = append(st.offs, Offset{int(sp.start), int(sp.end)})
				}
				continue
			}
			t.encodeText(st, n.slice(s2.a, s2.b))
		}
	}
	if len(post) > 0 {
		st.ids = append(st.ids, post...)
		if wantOffsets {
			st.offs = append(st.offs, make([]Offset, len(post))...)
		}
	}
	return st.ids, st.offs
}

// encodeText pre-tokenizes a normalized piece and runs the model on each word.
func (t *Tokenizer) encodeText(st *encState, n nstr) {
	if n.s == "" {
		return
	}
	if t.scan != nil {
		s := n.s
		for i := 0; i < len(s); {
			e := t.scan(s, i)
			if e <= i {
				_, k := utf8.DecodeRuneInString(s[i:])
				e = i + k
			}
			t.encodeWord(st, n, i, e)
			i = e
		}
		return
	}
	if t.pre == nil {
		t.encodeWord(st, n, 0, len(n.s))
		return
	}
	words, err := t.pre.split(st.ws[:0], n)
	if err != nil {
		// Only a regex search that exceeded regexTimeout fails; the piece
		// is then encoded unsplit.
		words = append(words[:0], n)
	}
	for _, w := range words {
		t.encodeWord(st, w, 0, len(w.s))
	}
	st.ws = words[:0]
}

func (t *Tokenizer) encodeWord(st *encState, n nstr, a, b int) {
	if !st.want {
		st.ids, _ = t.model.tokenize(n.s[a:b], st.ids, nil)
		return
	}
	k := len(st.ids)
	if st.lens == nil {
		st.lens = make([]int32, 0, 16) // tokenize fills lens only when non-nil
	}
	st.ids, st.lens = t.model.tokenize(n.s[a:b], st.ids, st.lens[:0])
	p := a
	for i := range st.ids[k:] {
		l := int(st.lens[i])
		advance := l
		if l < 0 { // a group of tokens sharing one range (Unigram byte fallback)
			l, advance = -l, 0
		}
		sp := n.spanOf(p, p+l)
		s, e := int(sp.start), int(sp.end)
		for s > 0 && s < len(st.text) && !utf8.RuneStart(st.text[s]) {
			s--
		}
		for e < len(st.text) && e > 0 && !utf8.RuneStart(st.text[e]) {
			e++
		}
		st.offs = append(st.offs, Offset{s, e})
		p += advance
	}
}

// Decode turns ids back into text as HF's decode does: unknown ids are
// dropped, and with skipSpecial so are special added tokens.
func (t *Tokenizer) Decode(ids []int32, skipSpecial bool) string {
	if t.byteDecode {
		var b []byte
		for _, id := range ids {
			if id < 0 || int(id) >= len(t.idBytes) || t.idBytes[id] == nil {
				if _, _, ok := t.idToken(id); !ok {
					continue
				}
			}
			if skipSpecial && t.IsSpecial(id) {
				continue
			}
			b = append(b, t.idBytes[id]...)
		}
		return utf8Lossy(b)
	}
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		s, sp, ok := t.idToken(id)
		if !ok || (skipSpecial && sp) {
			continue
		}
		toks = append(toks, s)
	}
	if t.dec == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(t.dec.decodeChain(toks), "")
}
