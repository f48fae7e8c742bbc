package tokenizer

import (
	"sort"
	"unicode"
	"unicode/utf8"
)

// AddedToken is an entry of tokenizer.json's added_tokens.
type AddedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// trie finds added tokens with leftmost-longest semantics, like the
// aho-corasick automaton HF builds.
type trie struct {
	root  [256]int32 // child of the root per byte, 0 if none
	nodes []trieNode
}

type trieNode struct {
	edges []trieEdge
	term  int32 // index into the token list, -1 if none
}

type trieEdge struct {
	b    byte
	node int32
}

func newTrie(pats []string) *trie {
	t := &trie{nodes: []trieNode{{term: -1}}}
	for pi, p := range pats {
		if p == "" {
			continue
		}
		cur := int32(0)
		for i := 0; i < len(p); i++ {
			cur = t.child(cur, p[i], true)
		}
		if t.nodes[cur].term < 0 {
			t.nodes[cur].term = int32(pi)
		}
	}
	return t
}

func (t *trie) child(n int32, b byte, create bool) int32 {
	if n == 0 {
		if c := t.root[b]; c != 0 || !create {
			return c
		}
		t.nodes = append(t.nodes, trieNode{term: -1})
		t.root[b] = int32(len(t.nodes) - 1)
		return t.root[b]
	}
	e := t.nodes[n].edges
	k := sort.Search(len(e), func(i int) bool { return e[i].b >= b })
	if k < len(e) && e[k].b == b {
		return e[k].node
	}
	if !create {
		return 0
	}
	t.nodes = append(t.nodes, trieNode{term: -1})
	id := int32(len(t.nodes) - 1)
	e = append(e, trieEdge{})
	copy(e[k+1:], e[k:])
	e[k] = trieEdge{b, id}
	t.nodes[n].edges = e
	return id
}

// longestAt returns the token index and end of the longest match at i.
func (t *trie) longestAt(s string, i int) (int32, int) {
	best, end := int32(-1), -1
	cur := int32(0)
	for j := i; j < len(s); j++ {
		cur = t.child(cur, s[j], false)
		if cur == 0 {
			break
		}
		if tm := t.nodes[cur].term; tm >= 0 {
			best, end = tm, j+1
		}
	}
	return best, end
}

// addedVocab holds the added tokens and their matchers.
type addedVocab struct {
	tokens    []AddedToken
	byContent map[string]int32
	byID      map[int32]int // index into tokens
	raw       *trie         // tokens matched on the raw input
	rawIdx    []int
	norm      *trie // tokens matched on normalized text (content normalized)
	normIdx   []int
	any       bool
}

func newAddedVocab(toks []AddedToken, nz normalizer) (*addedVocab, error) {
	av := &addedVocab{byContent: map[string]int32{}, byID: map[int32]int{}}
	var rawPats, normPats []string
	for _, t := range toks {
		if t.Content == "" {
			continue
		}
		av.tokens = append(av.tokens, t)
		i := len(av.tokens) - 1
		av.byContent[t.Content] = t.ID
		av.byID[t.ID] = i
		if t.Normalized {
			c := t.Content
			if nz != nil {
				n, err := nz.normalize(nstr{s: c})
				if err != nil {
					return nil, err
				}
				c = n.s
			}
			normPats = append(normPats, c)
			av.normIdx = append(av.normIdx, i)
		} else {
			rawPats = append(rawPats, t.Content)
			av.rawIdx = append(av.rawIdx, i)
		}
	}
	av.any = len(av.tokens) > 0
	if len(rawPats) > 0 {
		av.raw = newTrie(rawPats)
	}
	if len(normPats) > 0 {
		av.norm = newTrie(normPats)
	}
	return av, nil
}

// seg is a piece of a sentence: either plain text or an added token.
type seg struct {
	a, b int
	id   int32 // -1 for text
}

// findMatches splits s into text and added-token segments, following HF's
// AddedVocabulary::find_matches (single_word, lstrip and rstrip included).
func (av *addedVocab) findMatches(s string, t *trie, idx []int, out []seg) []seg {
	if t == nil || s == "" {
		return append(out, seg{0, len(s), -1})
	}
	start := 0
	for i := 0; i < len(s); {
		if t.root[s[i]] == 0 {
			i++
			continue
		}
		pi, e := t.longestAt(s, i)
		if pi < 0 {
			i++
			continue
		}
		tok := &av.tokens[idx[pi]]
		ms, me := i, e
		next := e
		if tok.SingleWord {
			startOK := ms == 0 || !endsWithWord(s[:ms])
			stopOK := me == len(s) || !startsWithWord(s[me:])
			if !startOK || !stopOK {
				i = e // aho-corasick resumes after the discarded match
				continue
			}
		}
		if tok.LStrip {
			ms = max(leftmostSpaceAtEnd(s[:ms]), start)
		}
		if tok.RStrip {
			me += rightmostSpaceAtStart(s[me:])
		}
		if start < ms {
			out = append(out, seg{start, ms, -1})
		}
		ms = max(ms, start) // an rstrip of the previous token overlapped
		me = max(me, ms)
		out = append(out, seg{ms, me, tok.ID})
		start = me
		i = max(next, start)
	}
	if start != len(s) {
		out = append(out, seg{start, len(s), -1})
	}
	return out
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.Is(unicode.M, r) || unicode.Is(unicode.Nd, r) ||
		unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Pc, r) || r == 0x200C || r == 0x200D
}

func endsWithWord(s string) bool {
	r, n := utf8.DecodeLastRuneInString(s)
	return n > 0 && isWordRune(r)
}

func startsWithWord(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	return n > 0 && isWordRune(r)
}

func leftmostSpaceAtEnd(s string) int {
	i := len(s)
	for i > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:i])
		if !unicode.IsSpace(r) {
			break
		}
		i -= n
	}
	return i
}

func rightmostSpaceAtStart(s string) int {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return i
}
