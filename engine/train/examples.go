package train

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/strata-ml/strata/engine/model"
)

// Encoder is what the trainer needs from a tokenizer. engine/tokenizer
// satisfies it through a small adapter in the caller.
type Encoder interface {
	// Encode tokenizes text without adding special tokens (added tokens
	// written in the text are recognised).
	Encode(text string) ([]int32, error)
	// EncodeOffsets is Encode that also returns each token's byte span [start, end) in text.
	EncodeOffsets(text string) (ids []int32, offsets [][2]int, err error)
}

// ChatRenderer renders a conversation with the model's chat template for
// training.
type ChatRenderer interface {
	// RenderTraining returns the full text of the conversation and the byte
	// spans [start, end) of the text the model learns to produce: each
	// assistant turn's content and the template's end-of-turn marker.
	RenderTraining(system string, msgs []Message) (text string, learn [][2]int, err error)
}

// Tokens bundles the tokenizer side of training.
type Tokens struct {
	Encoder Encoder
	Chat    ChatRenderer // nil: conversation records are rejected
	BOS     int32        // prepended to prompt/completion and text records; -1 for none
	EOS     int32        // appended after a completion and after each text document
}

// Example is one tokenized training sequence. Learn[i] says whether the
// model is scored on predicting Tokens[i] from Tokens[:i] (Learn[0] is
// always false). Seg, when not nil, holds packed document ids: attention
// and positions restart where it changes.
type Example struct {
	Tokens []int32
	Learn  []bool
	Seg    []int32
}

// Targets returns how many tokens of e are scored.
func (e *Example) Targets() int {
	n := 0
	for _, l := range e.Learn[1:] {
		if l {
			n++
		}
	}
	return n
}

// DataReport counts what happened to the records while building examples.
type DataReport struct {
	Records   int           // valid records read
	Examples  int           // examples built
	Tokens    int64         // tokens in the examples
	Truncated int           // records cut to MaxSeqLen
	Dropped   int           // records dropped (invalid, too long with truncation=drop, nothing left to learn)
	Errors    []RecordError // why, for the first few dropped records
}

const maxReportedErrors = 20

func (r *DataReport) drop(e RecordError) {
	r.Dropped++
	if len(r.Errors) < maxReportedErrors {
		r.Errors = append(r.Errors, e)
	}
}

// ErrNoData reports a dataset with no usable record.
var ErrNoData = errors.New("train: no usable training records")

// BuildFineTuning turns prompt/completion and conversation records into one
// example each. Prompt/completion: BOS + prompt + completion + EOS, learning
// the completion and EOS. Conversations: the chat template's rendering,
// learning the assistant spans. Records longer than maxLen are cut to
// maxLen ("truncate") or dropped ("drop"); a record left with nothing to
// learn is dropped.
func BuildFineTuning(recs []Record, tok Tokens, maxLen int, truncation string, rep *DataReport) ([]Example, error) {
	var out []Example
	for _, r := range recs {
		var ex Example
		var err error
		switch r.Kind {
		case KindPromptCompletion:
			ex, err = promptCompletion(r, tok)
		case KindConversation:
			ex, err = conversation(r, tok)
		default:
			err = errors.New(`"input" records are for continued pre-training; fine-tuning needs prompt/completion or messages`)
		}
		if err != nil {
			var fatal *fatalError
			if errors.As(err, &fatal) {
				return nil, fatal.err
			}
			rep.drop(RecordError{r.File, r.Line, err.Error()})
			continue
		}
		if len(ex.Tokens) > maxLen {
			if truncation == "drop" {
				rep.drop(RecordError{r.File, r.Line, fmt.Sprintf("%d tokens, over the limit of %d", len(ex.Tokens), maxLen)})
				continue
			}
			ex.Tokens, ex.Learn = ex.Tokens[:maxLen], ex.Learn[:maxLen]
			if ex.Targets() == 0 {
				rep.drop(RecordError{r.File, r.Line, fmt.Sprintf("%d tokens; truncated to %d nothing is left to learn", len(ex.Tokens), maxLen)})
				continue
			}
			rep.Truncated++
		}
		if ex.Targets() == 0 {
			rep.drop(RecordError{r.File, r.Line, "nothing to learn"})
			continue
		}
		rep.Examples++
		rep.Tokens += int64(len(ex.Tokens))
		out = append(out, ex)
	}
	return out, nil
}

// fatalError marks a tokenizer or template failure that is not the record's
// fault; it aborts the build.
type fatalError struct{ err error }

func (f *fatalError) Error() string { return f.err.Error() }

func promptCompletion(r Record, tok Tokens) (Example, error) {
	p, err := tok.Encoder.Encode(r.Prompt)
	if err != nil {
		return Example{}, &fatalError{fmt.Errorf("train: tokenize prompt of %s line %d: %w", r.File, r.Line, err)}
	}
	c, err := tok.Encoder.Encode(r.Completion)
	if err != nil {
		return Example{}, &fatalError{fmt.Errorf("train: tokenize completion of %s line %d: %w", r.File, r.Line, err)}
	}
	var ex Example
	if tok.BOS >= 0 {
		ex.Tokens = append(ex.Tokens, tok.BOS)
		ex.Learn = append(ex.Learn, false)
	}
	for _, t := range p {
		ex.Tokens = append(ex.Tokens, t)
		ex.Learn = append(ex.Learn, false)
	}
	for _, t := range c {
		ex.Tokens = append(ex.Tokens, t)
		ex.Learn = append(ex.Learn, true)
	}
	ex.Tokens = append(ex.Tokens, tok.EOS)
	ex.Learn = append(ex.Learn, true)
	ex.Learn[0] = false
	return ex, nil
}

func conversation(r Record, tok Tokens) (Example, error) {
	if tok.Chat == nil {
		return Example{}, errors.New("the model has no chat template; use prompt/completion records")
	}
	text, spans, err := tok.Chat.RenderTraining(r.System, r.Messages)
	if err != nil {
		return Example{}, fmt.Errorf("chat template: %w", err)
	}
	ids, offs, err := tok.Encoder.EncodeOffsets(text)
	if err != nil {
		return Example{}, &fatalError{fmt.Errorf("train: tokenize conversation of %s line %d: %w", r.File, r.Line, err)}
	}
	ex := Example{Tokens: ids, Learn: make([]bool, len(ids))}
	for i, o := range offs {
		for _, s := range spans {
			// A token is learned when it lies inside an assistant span
			// (a token straddling the span's start belongs to the prompt).
			if o[0] >= s[0] && o[0] < s[1] && o[1] > o[0] || o[0] == o[1] && o[0] > s[0] && o[0] <= s[1] {
				ex.Learn[i] = true
				break
			}
		}
	}
	if len(ex.Learn) > 0 {
		ex.Learn[0] = false
	}
	return ex, nil
}

// BuildPreTraining tokenizes text records as BOS + text + EOS documents and
// packs them into sequences of exactly maxLen tokens (the last may be
// shorter). Several short documents share a sequence, separated by Seg so
// that attention and positions respect document boundaries; a long document
// continues in the next sequence. Every token is learned except a
// document's first.
func BuildPreTraining(recs []Record, tok Tokens, maxLen int, rep *DataReport) ([]Example, error) {
	if maxLen < 2 {
		return nil, fmt.Errorf("train: maxSeqLen %d too small for pre-training", maxLen)
	}
	var out []Example
	cur := Example{}
	var seg int32
	flush := func() {
		if len(cur.Tokens) > 1 && cur.Targets() > 0 {
			out = append(out, cur)
			rep.Examples++
			rep.Tokens += int64(len(cur.Tokens))
		}
		cur = Example{}
		seg = 0
	}
	for _, r := range recs {
		if r.Kind != KindText {
			rep.drop(RecordError{r.File, r.Line, `continued pre-training needs {"input": ...} records or .txt files`})
			continue
		}
		ids, err := tok.Encoder.Encode(r.Text)
		if err != nil {
			return nil, fmt.Errorf("train: tokenize %s line %d: %w", r.File, r.Line, err)
		}
		doc := make([]int32, 0, len(ids)+2)
		if tok.BOS >= 0 {
			doc = append(doc, tok.BOS)
		}
		doc = append(doc, ids...)
		doc = append(doc, tok.EOS)
		// Split the document into pieces that fill the current sequence.
		// Consecutive pieces overlap by one token so that no next-token
		// target is lost at a sequence boundary.
		for len(doc) > 0 {
			room := maxLen - len(cur.Tokens)
			if room < 2 {
				flush()
				continue
			}
			n := min(room, len(doc))
			for i, t := range doc[:n] {
				cur.Tokens = append(cur.Tokens, t)
				cur.Learn = append(cur.Learn, !(i == 0))
				cur.Seg = append(cur.Seg, seg)
			}
			seg++
			if n == len(doc) {
				break
			}
			doc = doc[n-1:]
			flush()
		}
	}
	flush()
	return out, nil
}

// Split holds out pct percent of examples (deterministic in seed) for
// validation.
func Split(ex []Example, pct float64, seed uint64) (train, val []Example) {
	n := int(float64(len(ex)) * pct / 100)
	if pct <= 0 || n == 0 || n >= len(ex) {
		return ex, nil
	}
	perm := rand.New(rand.NewPCG(seed, 0xe7a1)).Perm(len(ex))
	hold := make([]bool, len(ex))
	for _, i := range perm[:n] {
		hold[i] = true
	}
	for i, e := range ex {
		if hold[i] {
			val = append(val, e)
		} else {
			train = append(train, e)
		}
	}
	return train, val
}

// Batches lays examples out as model batches of at most maxTokens tokens
// each (at least one example per batch). Rows are padded to the longest
// example of their batch with token pad and ignored targets. The returned
// counts are the scored targets of each batch.
func Batches(ex []Example, maxTokens int, pad int32) ([]*model.Batch, []int) {
	var out []*model.Batch
	var counts []int
	for i := 0; i < len(ex); {
		t := len(ex[i].Tokens)
		j := i + 1
		for j < len(ex) {
			nt := max(t, len(ex[j].Tokens))
			if nt*(j-i+1) > maxTokens {
				break
			}
			t = nt
			j++
		}
		b, n := layout(ex[i:j], t, pad)
		out = append(out, b)
		counts = append(counts, n)
		i = j
	}
	return out, counts
}

// layout builds one batch of len(rows) rows of T tokens.
func layout(rows []Example, T int, pad int32) (*model.Batch, int) {
	B := len(rows)
	b := &model.Batch{B: B, T: T,
		Tokens:  make([]int32, B*T),
		Targets: make([]int32, B*T),
	}
	packed := slices.ContainsFunc(rows, func(e Example) bool { return e.Seg != nil })
	if packed {
		b.Pos = make([]int32, B*T)
		b.Seg = make([]int32, B*T)
	}
	n := 0
	for r, e := range rows {
		base := r * T
		var pos int32
		for i := range T {
			k := base + i
			if i >= len(e.Tokens) {
				b.Tokens[k] = pad
				b.Targets[k] = model.IgnoreIndex
				if packed {
					b.Seg[k] = -1
					b.Pos[k] = pos
					pos++
				}
				continue
			}
			b.Tokens[k] = e.Tokens[i]
			b.Targets[k] = model.IgnoreIndex
			same := true
			if e.Seg != nil {
				same = i+1 < len(e.Tokens) && e.Seg[i+1] == e.Seg[i]
				if i > 0 && e.Seg[i] != e.Seg[i-1] {
					pos = 0
				}
				b.Seg[k] = e.Seg[i]
			}
			if packed {
				b.Pos[k] = pos
				pos++
			}
			if i+1 < len(e.Tokens) && e.Learn[i+1] && same {
				b.Targets[k] = e.Tokens[i+1]
				n++
			}
		}
	}
	return b, n
}
