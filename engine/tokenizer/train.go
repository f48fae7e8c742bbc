package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"sort"
	"sync"
)

// TrainOptions configures TrainBPE.
type TrainOptions struct {
	// VocabSize is the target vocabulary size, special tokens and the 256
	// byte tokens included.
	VocabSize int
	// SpecialTokens get ids 0..len-1 and are never split or merged; text
	// equal to them in the corpus is excluded from training.
	SpecialTokens []string
	// MinFrequency stops training when the best pair occurs fewer times
	// (default 2).
	MinFrequency int
	// BOS, when set, must be one of SpecialTokens; encoding with
	// addSpecial then prepends it (a TemplateProcessing post-processor).
	BOS string
	// Pattern is the Split pre-tokenizer regex; "" means Llama 3's.
	Pattern string
}

// TrainBPE trains a byte-level BPE tokenizer on texts and returns a standard
// tokenizer.json (Split with the Llama 3 regex, ByteLevel, BPE over the 256
// byte tokens plus merges) that both this package and Hugging Face's
// tokenizers load and encode identically. Training is deterministic: the
// same texts and options give the same bytes. Ties between equally frequent
// pairs go to the pair with the smaller ids.
func TrainBPE(texts iter.Seq[string], opts TrainOptions) ([]byte, error) {
	if opts.MinFrequency <= 0 {
		opts.MinFrequency = 2
	}
	pat := opts.Pattern
	if pat == "" {
		pat = llama3Pattern
	}
	if opts.VocabSize < 256+len(opts.SpecialTokens) {
		return nil, fmt.Errorf("tokenizer: train: vocab size %d is less than 256 bytes + %d special tokens", opts.VocabSize, len(opts.SpecialTokens))
	}
	seen := map[string]bool{}
	for _, s := range opts.SpecialTokens {
		if s == "" || seen[s] {
			return nil, fmt.Errorf("tokenizer: train: special token %q is empty or repeated", s)
		}
		seen[s] = true
	}
	if opts.BOS != "" && !seen[opts.BOS] {
		return nil, fmt.Errorf("tokenizer: train: BOS %q is not among the special tokens", opts.BOS)
	}
	p, err := parsePattern(patternJSON{Regex: &pat})
	if err != nil {
		return nil, fmt.Errorf("tokenizer: train: pattern: %w", err)
	}
	counts, err := countWords(texts, p, opts.SpecialTokens)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: train: %w", err)
	}
	tr := newTrainer(counts, len(opts.SpecialTokens))
	tr.run(opts.VocabSize, opts.MinFrequency)
	return tr.json(opts, pat)
}

// countWords pre-tokenizes texts in parallel and counts the words.
func countWords(texts iter.Seq[string], p pattern, special []string) (map[string]int64, error) {
	var av *addedVocab
	if len(special) > 0 {
		toks := make([]AddedToken, len(special))
		for i, s := range special {
			toks[i] = AddedToken{ID: int32(i), Content: s, Special: true}
		}
		var err error
		if av, err = newAddedVocab(toks, nil); err != nil {
			return nil, err
		}
	}
	workers := max(1, runtime.GOMAXPROCS(0))
	jobs := make(chan []string, workers)
	results := make([]map[string]int64, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		results[w] = map[string]int64{}
		wg.Go(func() {
			m := results[w]
			for batch := range jobs {
				for _, text := range batch {
					if errs[w] != nil {
						continue
					}
					errs[w] = countText(m, text, p, av)
				}
			}
		})
	}
	var batch []string
	size := 0
	for t := range texts {
		batch = append(batch, t)
		size += len(t)
		if size >= 1<<20 {
			jobs <- batch
			batch, size = nil, 0
		}
	}
	if len(batch) > 0 {
		jobs <- batch
	}
	close(jobs)
	wg.Wait()
	total := results[0]
	for w := 1; w < workers; w++ {
		for k, v := range results[w] {
			total[k] += v
		}
	}
	return total, errors.Join(errs...)
}

func countText(m map[string]int64, text string, p pattern, av *addedVocab) error {
	segs := []seg{{0, len(text), -1}}
	if av != nil {
		segs = av.findMatches(text, av.raw, av.rawIdx, nil)
	}
	for _, sg := range segs {
		if sg.id >= 0 {
			continue
		}
		s := text[sg.a:sg.b]
		if sc, ok := p.(scanPattern); ok {
			for i := 0; i < len(s); {
				e := sc.fn(s, i)
				if e <= i {
					e = i + max(1, firstRuneLen(s[i:]))
				}
				m[s[i:e]]++
				i = e
			}
			continue
		}
		ms, err := p.find(s)
		if err != nil {
			return err
		}
		prev := 0
		for _, r := range ms {
			if r[0] > prev {
				m[s[prev:r[0]]]++
			}
			if r[1] > r[0] {
				m[s[r[0]:r[1]]]++
			}
			prev = r[1]
		}
		if prev < len(s) {
			m[s[prev:]]++
		}
	}
	return nil
}

type trainWord struct {
	syms  []int32
	count int64
}

type pairStat struct {
	count int64
	where map[int32]struct{} // word indices that may contain the pair
}

type trainer struct {
	words  []trainWord
	pairs  map[uint64]*pairStat
	tokens [][]byte // id -> bytes (special tokens: nil)
	byStr  map[string]int32
	merges [][2]int32
	nSpec  int
}

func newTrainer(counts map[string]int64, nSpecial int) *trainer {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tr := &trainer{pairs: map[uint64]*pairStat{}, byStr: map[string]int32{}, nSpec: nSpecial}
	tr.tokens = make([][]byte, nSpecial, nSpecial+256)
	for b := range 256 {
		tr.byStr[string([]byte{byte(b)})] = int32(len(tr.tokens))
		tr.tokens = append(tr.tokens, []byte{byte(b)})
	}
	tr.words = make([]trainWord, len(keys))
	for wi, k := range keys {
		syms := make([]int32, len(k))
		for i := 0; i < len(k); i++ {
			syms[i] = int32(nSpecial) + int32(k[i])
		}
		tr.words[wi] = trainWord{syms, counts[k]}
		for i := 0; i+1 < len(syms); i++ {
			tr.addPair(syms[i], syms[i+1], counts[k], int32(wi))
		}
	}
	return tr
}

func (tr *trainer) addPair(a, b int32, n int64, w int32) {
	k := pairKey(a, b)
	ps := tr.pairs[k]
	if ps == nil {
		ps = &pairStat{where: map[int32]struct{}{}}
		tr.pairs[k] = ps
	}
	ps.count += n
	if n > 0 {
		ps.where[w] = struct{}{}
	}
}

// pairHeap orders pairs by count (desc) then key (asc).
type pairEntry struct {
	count int64
	key   uint64
}

type pairHeap []pairEntry

func (h pairHeap) better(i, j int) bool {
	if h[i].count != h[j].count {
		return h[i].count > h[j].count
	}
	return h[i].key < h[j].key
}

func (h *pairHeap) push(e pairEntry) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.better(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *pairHeap) pop() pairEntry {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && s.better(r, l) {
			c = r
		}
		if !s.better(c, i) {
			break
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
	*h = s
	return top
}

func (tr *trainer) run(vocabSize, minFreq int) {
	h := make(pairHeap, 0, len(tr.pairs))
	for k, ps := range tr.pairs {
		if ps.count > 0 {
			h = append(h, pairEntry{ps.count, k})
		}
	}
	// Heapify deterministically: sort first so map order cannot matter.
	slices.SortFunc(h, func(x, y pairEntry) int {
		switch {
		case x.count != y.count:
			if x.count > y.count {
				return -1
			}
			return 1
		case x.key < y.key:
			return -1
		case x.key > y.key:
			return 1
		}
		return 0
	})
	var changed []uint64
	for len(tr.tokens) < vocabSize && len(h) > 0 {
		top := h.pop()
		ps := tr.pairs[top.key]
		if ps == nil || ps.count != top.count {
			if ps != nil && ps.count > 0 {
				h.push(pairEntry{ps.count, top.key})
			}
			continue
		}
		if ps.count < int64(minFreq) {
			break
		}
		a, b := int32(top.key>>32), int32(uint32(top.key))
		nb := append(append([]byte(nil), tr.tokens[a]...), tr.tokens[b]...)
		id, ok := tr.byStr[string(nb)]
		if !ok {
			id = int32(len(tr.tokens))
			tr.tokens = append(tr.tokens, nb)
			tr.byStr[string(nb)] = id
		}
		tr.merges = append(tr.merges, [2]int32{a, b})
		ws := make([]int32, 0, len(ps.where))
		for w := range ps.where {
			ws = append(ws, w)
		}
		slices.Sort(ws)
		changed = changed[:0]
		for _, w := range ws {
			changed = tr.mergeWord(w, a, b, id, changed)
		}
		delete(tr.pairs, top.key)
		slices.Sort(changed)
		changed = slices.Compact(changed)
		for _, k := range changed {
			if ps := tr.pairs[k]; ps != nil && ps.count > 0 {
				h.push(pairEntry{ps.count, k})
			}
		}
	}
}

// mergeWord replaces pair (a, b) by id in word w, moves the word's pair
// counts from the old symbols to the new ones, and appends the keys of
// pairs that gained counts.
func (tr *trainer) mergeWord(w, a, b, id int32, changed []uint64) []uint64 {
	word := &tr.words[w]
	syms, n := word.syms, word.count
	found := false
	for i := 0; i+1 < len(syms); i++ {
		if syms[i] == a && syms[i+1] == b {
			found = true
			break
		}
	}
	if !found {
		return changed
	}
	for i := 0; i+1 < len(syms); i++ {
		tr.addPair(syms[i], syms[i+1], -n, w)
	}
	out := make([]int32, 0, len(syms))
	for i := 0; i < len(syms); {
		if i+1 < len(syms) && syms[i] == a && syms[i+1] == b {
			out = append(out, id)
			i += 2
			continue
		}
		out = append(out, syms[i])
		i++
	}
	for i := 0; i+1 < len(out); i++ {
		tr.addPair(out[i], out[i+1], n, w)
		changed = append(changed, pairKey(out[i], out[i+1]))
	}
	word.syms = out
	return changed
}

// json writes the trained tokenizer.json.
func (tr *trainer) json(opts TrainOptions, pat string) ([]byte, error) {
	str := func(id int32) string {
		if int(id) < tr.nSpec {
			return opts.SpecialTokens[id]
		}
		return byteLevelEncode(tr.tokens[id])
	}
	var buf bytes.Buffer
	enc := func(v any) {
		b, _ := json.Marshal(v)
		b = bytes.ReplaceAll(b, []byte(`\u003c`), []byte("<"))
		b = bytes.ReplaceAll(b, []byte(`\u003e`), []byte(">"))
		b = bytes.ReplaceAll(b, []byte(`\u0026`), []byte("&"))
		buf.Write(b)
	}
	buf.WriteString(`{"version":"1.0","truncation":null,"padding":null,"added_tokens":[`)
	for i, s := range opts.SpecialTokens {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"id":%d,"content":`, i)
		enc(s)
		buf.WriteString(`,"single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}`)
	}
	buf.WriteString(`],"normalizer":null,"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":`)
	enc(pat)
	buf.WriteString(`},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]},`)
	if opts.BOS != "" {
		buf.WriteString(`"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":`)
		enc(opts.BOS)
		buf.WriteString(`,"type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[{"SpecialToken":{"id":`)
		enc(opts.BOS)
		buf.WriteString(`,"type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":`)
		enc(opts.BOS)
		buf.WriteString(`,"type_id":1}},{"Sequence":{"id":"B","type_id":1}}],"special_tokens":{`)
		enc(opts.BOS)
		buf.WriteString(`:{"id":`)
		enc(opts.BOS)
		bos := slices.Index(opts.SpecialTokens, opts.BOS)
		fmt.Fprintf(&buf, `,"ids":[%d],"tokens":[`, bos)
		enc(opts.BOS)
		buf.WriteString(`]}}},`)
	} else {
		buf.WriteString(`"post_processor":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false},`)
	}
	buf.WriteString(`"decoder":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false},`)
	buf.WriteString(`"model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"ignore_merges":false,"vocab":{`)
	for id := range tr.tokens {
		if id > 0 {
			buf.WriteString(",\n")
		}
		enc(str(int32(id)))
		fmt.Fprintf(&buf, ":%d", id)
	}
	buf.WriteString("},\"merges\":[")
	for i, m := range tr.merges {
		if i > 0 {
			buf.WriteString(",\n")
		}
		buf.WriteByte('[')
		enc(str(m[0]))
		buf.WriteByte(',')
		enc(str(m[1]))
		buf.WriteByte(']')
	}
	buf.WriteString("]}}\n")
	return buf.Bytes(), nil
}
