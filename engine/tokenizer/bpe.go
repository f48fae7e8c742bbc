package tokenizer

import (
	"fmt"
	"hash/maphash"
	"sync"
	"unicode/utf8"
)

// bpeModel is HF's BPE model. In raw mode (the pre-tokenizer ends with
// ByteLevel) words are raw input bytes and vocabulary entries are looked up
// by the bytes their byte-level strings stand for; this is equivalent to
// mapping the input to the byte-level alphabet first, and faster.
type bpeModel struct {
	vocab        map[string]int32 // token string -> id
	idToTok      []string         // id -> token string ("" for holes)
	raw          bool
	rawVocab     map[string]int32 // raw bytes -> id (raw mode only)
	byteIDs      [256]int32       // raw mode: id of each single byte, -1 if absent
	fallbackIDs  [256]int32       // byte_fallback: id of "<0xXX>", -1 if absent
	merges       map[uint64]uint64
	unk          int32
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	cache        *wordCache
	// Char mode only: the single-rune tokens and every rune pair that occurs
	// inside some token. A boundary between two known runes whose pair occurs
	// in no token can never be merged across, so long words (whole texts when
	// there is no pre-tokenizer) are split there and the pieces cached.
	charTok map[rune]int32
	bigrams map[uint64]struct{}
}

// minSplitLen is the word length from which tokenize looks for safe splits.
const minSplitLen = 64

type bpeMerge struct{ rank, newID int32 }

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func (m *bpeModel) merge(a, b int32) (bpeMerge, bool) {
	v, ok := m.merges[pairKey(a, b)]
	return bpeMerge{int32(v >> 32), int32(uint32(v))}, ok
}

// tokenize appends the ids of word to ids and, if lens is non-nil, the byte
// length each token covers in word.
func (m *bpeModel) tokenize(word string, ids, lens []int32) ([]int32, []int32) {
	if word == "" {
		return ids, lens
	}
	if m.ignoreMerges {
		v := m.vocab
		if m.raw {
			v = m.rawVocab
		}
		if id, ok := v[word]; ok {
			ids = append(ids, id)
			if lens != nil {
				lens = append(lens, int32(len(word)))
			}
			return ids, lens
		}
	}
	if len(word) >= minSplitLen && m.bigrams != nil && !m.ignoreMerges {
		if ids, lens, ok := m.tokenizeSplit(word, ids, lens); ok {
			return ids, lens
		}
	}
	return m.tokenizeWord(word, ids, lens)
}

// tokenizeWord runs BPE on one word, through the cache.
func (m *bpeModel) tokenizeWord(word string, ids, lens []int32) ([]int32, []int32) {
	cacheable := len(word) < 256
	if cacheable {
		if e, ok := m.cache.get(word); ok {
			ids = append(ids, e.ids...)
			if lens != nil {
				lens = append(lens, e.lens...)
			}
			return ids, lens
		}
	}
	w := getWord()
	m.initial(w, word)
	m.mergeAll(w)
	n0 := len(ids)
	var l0 int
	if lens != nil {
		l0 = len(lens)
	}
	for _, s := range w.syms {
		if s.len == 0 {
			continue
		}
		ids = append(ids, s.id)
		if lens != nil {
			lens = append(lens, s.len)
		}
	}
	if cacheable {
		e := cacheEntry{ids: append([]int32(nil), ids[n0:]...)}
		if lens != nil {
			e.lens = append([]int32(nil), lens[l0:]...)
		} else {
			e.lens = make([]int32, 0, len(e.ids))
			for _, s := range w.syms {
				if s.len != 0 {
					e.lens = append(e.lens, s.len)
				}
			}
		}
		m.cache.put(word, e)
	}
	putWord(w)
	return ids, lens
}

// tokenizeSplit tokenizes word piece by piece, splitting at boundaries no
// merge can cross. ok is false when there is no such boundary.
func (m *bpeModel) tokenizeSplit(word string, ids, lens []int32) ([]int32, []int32, bool) {
	start := 0
	prev, prevOK := rune(-1), false
	for i, r := range word {
		_, ok := m.charTok[r]
		if i > 0 && ok && prevOK {
			if _, inside := m.bigrams[uint64(uint32(prev))<<32|uint64(uint32(r))]; !inside {
				ids, lens = m.tokenizeWord(word[start:i], ids, lens)
				start = i
			}
		}
		prev, prevOK = r, ok
	}
	if start == 0 {
		return ids, lens, false
	}
	ids, lens = m.tokenizeWord(word[start:], ids, lens)
	return ids, lens, true
}

type symbol struct {
	id, len    int32
	prev, next int32
}

type heapItem struct{ rank, pos, newID int32 }

type bpeWord struct {
	syms []symbol
	heap []heapItem
}

var wordPool = sync.Pool{New: func() any { return new(bpeWord) }}

func getWord() *bpeWord { return wordPool.Get().(*bpeWord) }
func putWord(w *bpeWord) {
	w.syms, w.heap = w.syms[:0], w.heap[:0]
	wordPool.Put(w)
}

func (w *bpeWord) add(id, n int32) {
	k := int32(len(w.syms))
	w.syms = append(w.syms, symbol{id: id, len: n, prev: k - 1, next: k + 1})
}

// initial splits word into symbols as HF's BPE::merge_word does.
func (m *bpeModel) initial(w *bpeWord, word string) {
	unkID, unkLen := int32(-1), int32(0)
	flushUnk := func() {
		if unkID >= 0 {
			w.add(unkID, unkLen)
			unkID = -1
		}
	}
	for i := 0; i < len(word); {
		var id int32 = -1
		var n int
		var found bool
		if m.raw {
			n = 1
			id = m.byteIDs[word[i]]
			found = id >= 0
		} else {
			_, n = utf8.DecodeRuneInString(word[i:])
			id, found = m.vocab[word[i:i+n]]
		}
		if found {
			flushUnk()
			w.add(id, int32(n))
			i += n
			continue
		}
		if m.byteFallback {
			ok := true
			for k := i; k < i+n; k++ {
				if m.fallbackIDs[word[k]] < 0 {
					ok = false
					break
				}
			}
			if ok {
				for k := i; k < i+n; k++ {
					w.add(m.fallbackIDs[word[k]], 1)
				}
				i += n
				continue
			}
		}
		if m.unk >= 0 {
			switch {
			case unkID >= 0 && m.fuseUnk:
				unkLen += int32(n)
			case unkID >= 0:
				w.add(unkID, unkLen)
				unkLen = int32(n)
			default:
				unkID, unkLen = m.unk, int32(n)
			}
		}
		i += n
	}
	flushUnk()
	if len(w.syms) > 0 {
		w.syms[len(w.syms)-1].next = -1
	}
}

func less(a, b heapItem) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.pos < b.pos
}

func (w *bpeWord) push(it heapItem) {
	h := append(w.heap, it)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !less(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	w.heap = h
}

func (w *bpeWord) pop() heapItem {
	h := w.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		c := l
		if r := l + 1; r < len(h) && less(h[r], h[l]) {
			c = r
		}
		if !less(h[c], h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	w.heap = h
	return top
}

// mergeAll applies merges in rank order exactly as HF's Word::merge_all.
func (m *bpeModel) mergeAll(w *bpeWord) {
	syms := w.syms
	if len(syms) < 2 {
		return
	}
	for i := 0; i+1 < len(syms); i++ {
		if mg, ok := m.merge(syms[i].id, syms[i+1].id); ok {
			w.push(heapItem{mg.rank, int32(i), mg.newID})
		}
	}
	for len(w.heap) > 0 {
		top := w.pop()
		cur := &syms[top.pos]
		if cur.len == 0 || cur.next == -1 {
			continue
		}
		nextPos := cur.next
		right := syms[nextPos]
		if mg, ok := m.merge(cur.id, right.id); !ok || mg.newID != top.newID {
			continue
		}
		cur.id = top.newID
		cur.len += right.len
		cur.next = right.next
		syms[nextPos].len = 0
		if right.next > -1 && int(right.next) < len(syms) {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if mg, ok := m.merge(syms[cur.prev].id, cur.id); ok {
				w.push(heapItem{mg.rank, cur.prev, mg.newID})
			}
		}
		if cur.next >= 0 && int(cur.next) < len(syms) {
			if mg, ok := m.merge(cur.id, syms[cur.next].id); ok {
				w.push(heapItem{mg.rank, top.pos, mg.newID})
			}
		}
	}
}

// wordCache memoizes word tokenizations; it is safe for concurrent use and
// stops growing when full, like HF's cache.
type wordCache struct {
	seed   maphash.Seed
	shards [64]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]cacheEntry
}

type cacheEntry struct{ ids, lens []int32 }

const cacheShardCap = 4096

func newWordCache() *wordCache {
	c := &wordCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cacheEntry)
	}
	return c
}

func (c *wordCache) shard(k string) *cacheShard {
	return &c.shards[maphash.String(c.seed, k)&63]
}

func (c *wordCache) get(k string) (cacheEntry, bool) {
	s := c.shard(k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	return e, ok
}

func (c *wordCache) put(k string, e cacheEntry) {
	s := c.shard(k)
	s.mu.Lock()
	if len(s.m) < cacheShardCap {
		s.m[k] = e
	}
	s.mu.Unlock()
}

// newBPE builds the model from a vocabulary and merges given as token pairs.
func newBPE(vocab map[string]int32, merges [][2]string, raw bool) (*bpeModel, error) {
	m := &bpeModel{vocab: vocab, raw: raw, unk: -1, cache: newWordCache()}
	maxID := int32(-1)
	for _, id := range vocab {
		if id < 0 {
			return nil, fmt.Errorf("bpe: negative token id %d", id)
		}
		maxID = max(maxID, id)
	}
	if maxID >= 1<<28 {
		return nil, fmt.Errorf("bpe: token id %d too large", maxID)
	}
	m.idToTok = make([]string, maxID+1)
	for t, id := range vocab {
		m.idToTok[id] = t
	}
	for i := range m.byteIDs {
		m.byteIDs[i], m.fallbackIDs[i] = -1, -1
	}
	for b := range 256 {
		if id, ok := vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.fallbackIDs[b] = id
		}
	}
	if raw {
		m.rawVocab = make(map[string]int32, len(vocab))
		for t, id := range vocab {
			if b, ok := byteLevelDecode(t); ok && len(b) > 0 {
				if old, dup := m.rawVocab[string(b)]; !dup || id < old {
					m.rawVocab[string(b)] = id
				}
			}
		}
		for b := range 256 {
			if id, ok := m.rawVocab[string([]byte{byte(b)})]; ok {
				m.byteIDs[b] = id
			}
		}
	}
	if !raw {
		m.charTok = map[rune]int32{}
		m.bigrams = map[uint64]struct{}{}
		for t, id := range vocab {
			prev := rune(-1)
			n := 0
			for _, r := range t {
				if prev >= 0 {
					m.bigrams[uint64(uint32(prev))<<32|uint64(uint32(r))] = struct{}{}
				}
				prev = r
				n++
			}
			if n == 1 {
				m.charTok[prev] = id
			}
		}
	}
	m.merges = make(map[uint64]uint64, len(merges))
	for rank, mg := range merges {
		a, okA := vocab[mg[0]]
		b, okB := vocab[mg[1]]
		if !okA || !okB {
			missing := mg[0]
			if okA {
				missing = mg[1]
			}
			return nil, fmt.Errorf("bpe: merge %d %q %q: token %q not in vocab", rank, mg[0], mg[1], missing)
		}
		n, ok := vocab[mg[0]+mg[1]]
		if !ok {
			return nil, fmt.Errorf("bpe: merge %d %q %q: result %q not in vocab", rank, mg[0], mg[1], mg[0]+mg[1])
		}
		m.merges[pairKey(a, b)] = uint64(uint32(rank))<<32 | uint64(uint32(n))
	}
	return m, nil
}
