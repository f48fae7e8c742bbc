package dataset

import (
	"errors"
	"fmt"
	"hash/maphash"
)

// Tokenizer is the base model's tokenizer, as the validator needs it.
// Encode must be safe for concurrent use; addSpecial adds what the
// tokenizer's post-processor adds (Llama 3.1: BOS).
type Tokenizer interface {
	Encode(text string, addSpecial bool) []int
}

// ChatTemplate renders a conversation as the base model's chat template
// does, split into segments whose Loss flag marks assistant text (the
// tokens the model is trained to produce). A conversation that ends with a
// user turn is rendered with the generation prompt. Safe for concurrent use.
type ChatTemplate interface {
	RenderSegments(system string, msgs []Message) ([]Segment, error)
}

// Segment is a piece of a rendered record.
type Segment struct {
	Text string `json:"text"`
	// Loss is true for text the model is trained to produce.
	Loss bool `json:"loss"`
	// Tokens is the segment's token count (set by the encoder).
	Tokens int `json:"tokens"`
}

// Counts are one record's token counts. Input tokens carry no loss (the
// prompt, system text and template markup); Output tokens do (the
// completion or assistant turns, with their end-of-turn token).
type Counts struct {
	Input, Output, Total int
}

// Encoder renders records to the token sequences training sees and counts
// them. It is safe for concurrent use when its Tokenizer and Template are.
type Encoder struct {
	Tokenizer Tokenizer
	// Template renders conversation formats; nil means the model has no chat
	// template and only prompt-completion, input and text records encode.
	Template ChatTemplate
	// EOS is the end-of-sequence token text appended to a completion or a
	// pre-training document ("<|end_of_text|>"); "" appends nothing.
	EOS string
}

// ErrNoTemplate is returned for conversation records when the base model
// has no chat template.
var ErrNoTemplate = errors.New("the base model has no chat template")

// Segments renders ex: prompt-completion as prompt then completion+EOS with
// the tokenizer's specials (TRL's "standard" prompt-completion layout, no
// chat template); input and text as one document+EOS trained throughout;
// conversations through the chat template.
func (e *Encoder) Segments(ex *Example) ([]Segment, error) {
	switch ex.Format {
	case FormatPromptCompletion:
		return []Segment{{Text: ex.Messages[0].Text}, {Text: ex.Messages[1].Text + e.EOS, Loss: true}}, nil
	case FormatInput, FormatText:
		return []Segment{{Text: ex.Text + e.EOS, Loss: true}}, nil
	}
	if e.Template == nil {
		return nil, ErrNoTemplate
	}
	segs, err := e.Template.RenderSegments(ex.System, ex.Messages)
	if err != nil {
		return nil, fmt.Errorf("chat template: %w", err)
	}
	return segs, nil
}

// Count renders and tokenizes ex; segs, when non-nil, receives the segments
// with their token counts.
func (e *Encoder) Count(ex *Example, segs *[]Segment) (Counts, error) {
	ss, err := e.Segments(ex)
	if err != nil {
		return Counts{}, err
	}
	var c Counts
	templated := ex.Format == FormatConversation || ex.Format == FormatMessages || ex.Format == FormatPrompt
	for i := range ss {
		// The chat template writes BOS itself; plain layouts get the
		// tokenizer's specials on their first segment.
		n := len(e.Tokenizer.Encode(ss[i].Text, i == 0 && !templated))
		ss[i].Tokens = n
		if ss[i].Loss {
			c.Output += n
		} else {
			c.Input += n
		}
	}
	c.Total = c.Input + c.Output
	if segs != nil {
		*segs = ss
	}
	return c, nil
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
	pending := false // a space run seen after text; written before the next text
	started := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			pending = started
			continue
		}
		if pending {
			h.WriteByte(' ')
			pending = false
		}
		started = true
		h.WriteByte(c)
	}
}

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
