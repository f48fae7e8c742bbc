package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// tokModel is the tokenization model (BPE or Unigram).
type tokModel interface {
	// tokenize appends the ids of word to ids and, if lens is non-nil, the
	// byte length each token covers in word.
	tokenize(word string, ids, lens []int32) ([]int32, []int32)
	vocabMap() map[string]int32
	idTokens() []string
}

func (m *bpeModel) vocabMap() map[string]int32 { return m.vocab }
func (m *bpeModel) idTokens() []string         { return m.idToTok }

// unigramModel is HF's Unigram model (SentencePiece unigram LM): the
// segmentation maximizing the sum of piece log-probabilities, found by
// Viterbi exactly as HF's encode_optimized does.
type unigramModel struct {
	vocab        map[string]int32
	idToTok      []string
	scores       []float64
	trie         *trie
	pieceIDs     []int32 // trie pattern index -> id
	unk          int32
	minScore     float64
	byteFallback bool
	fallbackIDs  [256]int32
	cache        *wordCache
}

const unkPenalty = 10.0

func (m *unigramModel) vocabMap() map[string]int32 { return m.vocab }
func (m *unigramModel) idTokens() []string         { return m.idToTok }

func parseUnigram(r json.RawMessage) (*unigramModel, error) {
	var v struct {
		UnkID        *int              `json:"unk_id"`
		Vocab        []json.RawMessage `json:"vocab"`
		ByteFallback bool              `json:"byte_fallback"`
	}
	if err := json.Unmarshal(r, &v); err != nil {
		return nil, fmt.Errorf("model Unigram: %w", err)
	}
	if len(v.Vocab) == 0 {
		return nil, errors.New("model Unigram: empty vocab")
	}
	if len(v.Vocab) >= 1<<28 {
		return nil, errors.New("model Unigram: vocab too large")
	}
	m := &unigramModel{vocab: make(map[string]int32, len(v.Vocab)), unk: -1, minScore: math.Inf(1),
		byteFallback: v.ByteFallback, cache: newWordCache()}
	m.idToTok = make([]string, len(v.Vocab))
	m.scores = make([]float64, len(v.Vocab))
	pats := make([]string, len(v.Vocab))
	for i, raw := range v.Vocab {
		var pair []json.RawMessage
		if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("model Unigram: vocab[%d]: want [piece, score]", i)
		}
		var piece string
		var score float64
		if err := json.Unmarshal(pair[0], &piece); err != nil {
			return nil, fmt.Errorf("model Unigram: vocab[%d] piece: %w", i, err)
		}
		if err := json.Unmarshal(pair[1], &score); err != nil {
			return nil, fmt.Errorf("model Unigram: vocab[%d] score: %w", i, err)
		}
		m.idToTok[i], m.scores[i], pats[i] = piece, score, piece
		m.vocab[piece] = int32(i)
		m.minScore = math.Min(m.minScore, score)
	}
	if v.UnkID != nil {
		if *v.UnkID < 0 || *v.UnkID >= len(v.Vocab) {
			return nil, fmt.Errorf("model Unigram: unk_id %d out of range", *v.UnkID)
		}
		m.unk = int32(*v.UnkID)
	}
	m.trie = newTrie(pats)
	m.pieceIDs = make([]int32, len(pats))
	for i, p := range pats {
		m.pieceIDs[i] = m.vocab[p]
	}
	for b := range 256 {
		m.fallbackIDs[b] = -1
		if id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.fallbackIDs[b] = id
		}
	}
	return m, nil
}

type uniNode struct {
	id       int32
	score    float64
	startsAt int // -1: unset
}

func (m *unigramModel) tokenize(word string, ids, lens []int32) ([]int32, []int32) {
	if word == "" {
		return ids, lens
	}
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
	var e cacheEntry
	for _, p := range m.viterbi(word) {
		piece := word[p[0]:p[1]]
		id, ok := m.vocab[piece]
		if !ok && m.byteFallback {
			all := true
			for i := 0; i < len(piece); i++ {
				if m.fallbackIDs[piece[i]] < 0 {
					all = false
					break
				}
			}
			if all {
				for i := 0; i < len(piece); i++ {
					e.ids = append(e.ids, m.fallbackIDs[piece[i]])
					// Like HF, every byte token gets the whole piece's
					// range: -len means "this range, do not advance".
					if i < len(piece)-1 {
						e.lens = append(e.lens, -int32(len(piece)))
					} else {
						e.lens = append(e.lens, int32(len(piece)))
					}
				}
				continue
			}
		}
		if !ok {
			if m.unk < 0 {
				continue // HF fails with MissingUnkId; drop like BPE without unk
			}
			id = m.unk
		}
		e.ids = append(e.ids, id)
		e.lens = append(e.lens, int32(len(piece)))
	}
	if cacheable {
		m.cache.put(word, e)
	}
	ids = append(ids, e.ids...)
	if lens != nil {
		lens = append(lens, e.lens...)
	}
	return ids, lens
}

// viterbi returns the best segmentation as byte ranges, with runs of
// unknown characters fused.
func (m *unigramModel) viterbi(s string) [][2]int {
	n := len(s)
	best := make([]uniNode, n+1)
	for i := range best {
		best[i].startsAt = -1
	}
	unkScore := m.minScore - unkPenalty
	for start := 0; start < n; {
		base := best[start].score
		_, mblen := utf8.DecodeRuneInString(s[start:])
		single := false
		cur := int32(0)
		for j := start; j < n; j++ {
			cur = m.trie.child(cur, s[j], false)
			if cur == 0 {
				break
			}
			pi := m.trie.nodes[cur].term
			if pi < 0 {
				continue
			}
			id := m.pieceIDs[pi]
			end := j + 1
			cand := m.scores[id] + base
			if t := &best[end]; t.startsAt < 0 || cand > t.score {
				t.score, t.startsAt, t.id = cand, start, id
			}
			if end-start == mblen {
				single = true
			}
		}
		if !single {
			cand := unkScore + base
			if t := &best[start+mblen]; t.startsAt < 0 || cand > t.score {
				t.score, t.startsAt, t.id = cand, start, m.unk
			}
		}
		start += mblen
	}
	var out [][2]int
	unkEnd := -1
	for end := n; end > 0; {
		nd := best[end]
		st := nd.startsAt
		if st < 0 { // unreachable (no unk id): skip one rune
			_, k := utf8.DecodeLastRuneInString(s[:end])
			st = end - k
		}
		if m.unk >= 0 && nd.id == m.unk {
			if unkEnd < 0 {
				unkEnd = end
			}
		} else {
			if unkEnd >= 0 {
				out = append(out, [2]int{end, unkEnd})
				unkEnd = -1
			}
			out = append(out, [2]int{st, end})
		}
		end = st
	}
	if unkEnd >= 0 {
		out = append(out, [2]int{0, unkEnd})
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
