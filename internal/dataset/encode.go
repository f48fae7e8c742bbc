package dataset

import (
	"errors"
	"fmt"
	"hash/maphash"
)

// Tokenizer is the base model's tokenizer, as the validator needs it: the
// same method the trainer uses (engine/train.Encoder), so one adapter
// serves both. EncodeOffsets tokenizes text without adding special tokens
// (added tokens written in the text, such as "<|eot_id|>", are recognised)
// and returns each token's byte span [start, end) in text. It must be safe
// for concurrent use.
type Tokenizer interface {
	EncodeOffsets(text string) (ids []int32, offsets [][2]int, err error)
}

// idEncoder is an optional Tokenizer capability: ids without offsets,
// which is all plain layouts need.
type idEncoder interface {
	EncodeIDs(text string) ([]int32, error)
}

// specialTeller is an optional Tokenizer capability: whether an id is a
// special token (end-of-turn markers are).
type specialTeller interface {
	IsSpecial(id int32) bool
}

// ChatTemplate renders a conversation with the base model's chat template,
// as training does (engine/train.ChatRenderer): the full text and the byte
// spans [start, end) the model learns to produce, each assistant turn's
// content and end-of-turn marker. Safe for concurrent use.
type ChatTemplate interface {
	RenderTraining(system string, msgs []Message) (text string, learn [][2]int, err error)
}

// Segment is a run of a rendered record's tokens with the same loss flag.
type Segment struct {
	Text string `json:"text"`
	// Loss is true for tokens the model is trained to produce.
	Loss bool `json:"loss"`
	// Tokens is the segment's token count.
	Tokens int `json:"tokens"`
}

// Counts are one record's token counts. Input tokens carry no loss (the
// prompt, system text and template markup); Output tokens do (the
// completion or assistant turns with their end-of-turn token, or a whole
// pre-training document).
type Counts struct {
	Input, Output, Total int
}

// Encoder lays records out as the trainer does (engine/train) and counts
// their tokens: prompt-completion as BOS + prompt + completion + EOS,
// learning completion and EOS; input and text records as BOS + text + EOS,
// learning all; conversations through the chat template, learning the
// assistant spans. Safe for concurrent use when Tokenizer and Template are.
type Encoder struct {
	Tokenizer Tokenizer
	// Template renders conversation formats; nil means the model has no
	// chat template and conversation records are errors.
	Template ChatTemplate
	// BOS and EOS are the ids the trainer adds (-1: none); BOSText and
	// EOSText their token strings, for previews.
	BOS, EOS         int32
	BOSText, EOSText string
}

// ErrNoTemplate is returned for conversation records when the base model
// has no chat template.
var ErrNoTemplate = errors.New("the base model has no chat template; use prompt-completion records")

// Count tokenizes ex; segs, when non-nil, receives the rendered segments.
func (e *Encoder) Count(ex *Example, segs *[]Segment) (Counts, error) {
	var c Counts
	bos, eos := 0, 0
	if e.BOS >= 0 {
		bos = 1
	}
	if e.EOS >= 0 {
		eos = 1
	}
	enc := func(s string) (int, error) {
		if ie, ok := e.Tokenizer.(idEncoder); ok {
			ids, err := ie.EncodeIDs(s)
			if err != nil {
				return 0, fmt.Errorf("tokenize: %w", err)
			}
			return len(ids), nil
		}
		ids, _, err := e.Tokenizer.EncodeOffsets(s)
		if err != nil {
			return 0, fmt.Errorf("tokenize: %w", err)
		}
		return len(ids), nil
	}
	switch ex.Format {
	case FormatPromptCompletion:
		p, err := enc(ex.Messages[0].Text)
		if err != nil {
			return c, err
		}
		q, err := enc(ex.Messages[1].Text)
		if err != nil {
			return c, err
		}
		c = Counts{Input: bos + p, Output: q + eos}
		if segs != nil {
			*segs = []Segment{{Text: e.bosText() + ex.Messages[0].Text, Tokens: c.Input}, {Text: ex.Messages[1].Text + e.eosText(), Loss: true, Tokens: c.Output}}
		}
	case FormatInput, FormatText:
		n, err := enc(ex.Text)
		if err != nil {
			return c, err
		}
		if ex.Format == FormatText {
			// One line of a .txt file, which training reads as a single
			// document: BOS and EOS come once per file, not per line.
			bos, eos = 0, 0
		}
		c = Counts{Output: bos + n + eos}
		if segs != nil {
			t := ex.Text
			if bos+eos > 0 {
				t = e.bosText() + t + e.eosText()
			}
			*segs = []Segment{{Text: t, Loss: true, Tokens: c.Output}}
		}
	case FormatPrompt:
		if e.Template == nil {
			n, err := enc(ex.Messages[0].Text)
			if err != nil {
				return c, err
			}
			c = Counts{Input: bos + n}
			if segs != nil {
				*segs = []Segment{{Text: e.bosText() + ex.Messages[0].Text, Tokens: c.Input}}
			}
			break
		}
		fallthrough
	default:
		if e.Template == nil {
			return c, ErrNoTemplate
		}
		text, spans, err := e.Template.RenderTraining(ex.System, ex.Messages)
		if err != nil {
			return c, fmt.Errorf("chat template: %w", err)
		}
		ids, offs, err := e.Tokenizer.EncodeOffsets(text)
		if err != nil {
			return c, fmt.Errorf("tokenize: %w", err)
		}
		var prevEnd int
		for i := range ids {
			o := offs[i]
			loss := learned(o, spans) && i > 0
			if loss {
				c.Output++
			} else {
				c.Input++
			}
			if segs != nil {
				// Text between tokens (spaces the tokenizer dropped) stays
				// with the segment before it.
				if n := len(*segs); n > 0 && o[0] > prevEnd {
					(*segs)[n-1].Text += text[prevEnd:o[0]]
					prevEnd = o[0]
				}
				end := max(o[1], prevEnd)
				if n := len(*segs); n > 0 && (*segs)[n-1].Loss == loss {
					(*segs)[n-1].Text += text[prevEnd:end]
					(*segs)[n-1].Tokens++
				} else {
					*segs = append(*segs, Segment{Text: text[prevEnd:end], Loss: loss, Tokens: 1})
				}
				prevEnd = end
			}
		}
		if segs != nil && prevEnd < len(text) && len(*segs) > 0 {
			(*segs)[len(*segs)-1].Text += text[prevEnd:]
		}
	}
	c.Total = c.Input + c.Output
	return c, nil
}

// LearnsStop reports whether training on ex teaches the model to stop: a
// plain layout ends with EOS; a conversation's learned tokens include a
// special token (the template's end-of-turn marker). known is false when
// the tokenizer cannot tell special tokens apart.
func (e *Encoder) LearnsStop(ex *Example) (stops, known bool, err error) {
	switch ex.Format {
	case FormatPromptCompletion, FormatInput, FormatText:
		return e.EOS >= 0, true, nil
	case FormatPrompt:
		return false, false, nil
	}
	st, ok := e.Tokenizer.(specialTeller)
	if !ok || e.Template == nil {
		return false, false, nil
	}
	text, spans, err := e.Template.RenderTraining(ex.System, ex.Messages)
	if err != nil {
		return false, false, err
	}
	ids, offs, err := e.Tokenizer.EncodeOffsets(text)
	if err != nil {
		return false, false, err
	}
	for i, id := range ids {
		if i > 0 && learned(offs[i], spans) && st.IsSpecial(id) {
			return true, true, nil
		}
	}
	return false, true, nil
}

// learned applies the trainer's rule: a token is learned when it starts
// inside a span (a token straddling a span's start belongs to the prompt);
// an empty token at the span's end belongs to it.
func learned(o [2]int, spans [][2]int) bool {
	for _, s := range spans {
		if o[0] >= s[0] && o[0] < s[1] && o[1] > o[0] || o[0] == o[1] && o[0] > s[0] && o[0] <= s[1] {
			return true
		}
	}
	return false
}

func (e *Encoder) bosText() string {
	if e.BOS < 0 {
		return ""
	}
	return e.BOSText
}

func (e *Encoder) eosText() string {
	if e.EOS < 0 {
		return ""
	}
	return e.EOSText
}

// recordHash hashes a record's content with whitespace runs collapsed, so
// records that differ only in spacing count as duplicates.
func recordHash(seed maphash.Seed, ex *Example) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(string(ex.Format))
	h.WriteByte(0)
	writeNorm(&h, ex.System)
	h.WriteByte(0)
	writeNorm(&h, ex.Text)
	for _, m := range ex.Messages {
		h.WriteByte(1)
		h.WriteString(m.Role)
		h.WriteByte(0)
		writeNorm(&h, m.Text)
	}
	return h.Sum64()
}

func writeNorm(h *maphash.Hash, s string) {
	first := true
	for i := 0; i < len(s); {
		for i < len(s) && isSpaceASCII(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !isSpaceASCII(s[j]) {
			j++
		}
		if j > i {
			if !first {
				h.WriteByte(' ')
			}
			h.WriteString(s[i:j])
			first = false
		}
		i = j
	}
}

func isSpaceASCII(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// hashSet is an open-addressing set of record hashes with the line each was
// first seen on, capped at maxSlots so memory stays bounded (12 bytes a
// slot). Past 3/4 of the cap it stops taking new hashes.
type hashSet struct {
	keys     []uint64
	lines    []uint32
	n        int
	maxSlots int
	full     bool
}

func newHashSet(maxSlots int) *hashSet {
	return &hashSet{keys: make([]uint64, 1024), lines: make([]uint32, 1024), maxSlots: maxSlots}
}

// find returns the line of h, or 0.
func (s *hashSet) find(h uint64) int64 {
	if h == 0 {
		h = 1
	}
	mask := uint64(len(s.keys) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.keys[i] {
		case 0:
			return 0
		case h:
			return int64(s.lines[i])
		}
	}
}

// add inserts h for line unless present; it returns the earlier line or 0.
func (s *hashSet) add(h uint64, line int64) int64 {
	if h == 0 {
		h = 1
	}
	if prev := s.find(h); prev != 0 {
		return prev
	}
	if (s.n+1)*4 > len(s.keys)*3 {
		if len(s.keys)*2 > s.maxSlots {
			s.full = true
			return 0
		}
		s.grow()
	}
	mask := uint64(len(s.keys) - 1)
	i := h & mask
	for s.keys[i] != 0 {
		i = (i + 1) & mask
	}
	s.keys[i], s.lines[i] = h, uint32(line)
	s.n++
	return 0
}

func (s *hashSet) grow() {
	old, oldLines := s.keys, s.lines
	s.keys = make([]uint64, len(old)*2)
	s.lines = make([]uint32, len(old)*2)
	mask := uint64(len(s.keys) - 1)
	for j, k := range old {
		if k == 0 {
			continue
		}
		i := k & mask
		for s.keys[i] != 0 {
			i = (i + 1) & mask
		}
		s.keys[i], s.lines[i] = k, oldLines[j]
	}
}
