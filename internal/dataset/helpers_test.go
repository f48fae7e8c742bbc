package dataset

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// wordTokenizer is a test tokenizer: one token per whitespace-separated
// word and per <|special|> marker, plus BOS (id 1) when addSpecial.
type wordTokenizer struct{}

func (wordTokenizer) Encode(s string, addSpecial bool) []int {
	var ids []int
	if addSpecial {
		ids = append(ids, 1)
	}
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "<|") {
			if j := strings.Index(s[i:], "|>"); j > 0 {
				ids = append(ids, 2)
				i += j + 2
				continue
			}
		}
		if isSpaceByte(s[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && !isSpaceByte(s[j]) && !strings.HasPrefix(s[j:], "<|") {
			j++
		}
		ids = append(ids, 3)
		i = j
	}
	return ids
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// headerTemplate renders Llama-3-style headers.
type headerTemplate struct{}

func (headerTemplate) RenderSegments(system string, msgs []Message) ([]Segment, error) {
	var segs []Segment
	emit := func(text string, loss bool) {
		if n := len(segs); n > 0 && segs[n-1].Loss == loss {
			segs[n-1].Text += text
			return
		}
		segs = append(segs, Segment{Text: text, Loss: loss})
	}
	emit("<|begin_of_text|>", false)
	if system != "" {
		emit("<|start_header_id|>system<|end_header_id|>\n\n"+system+"<|eot_id|>", false)
	}
	for _, m := range msgs {
		emit("<|start_header_id|>"+m.Role+"<|end_header_id|>\n\n", false)
		emit(m.Text+"<|eot_id|>", m.Role == RoleAssistant)
	}
	if len(msgs) > 0 && msgs[len(msgs)-1].Role == RoleUser {
		emit("<|start_header_id|>assistant<|end_header_id|>\n\n", false)
	}
	return segs, nil
}

func testEncoder() *Encoder {
	return &Encoder{Tokenizer: wordTokenizer{}, Template: headerTemplate{}, EOS: "<|end_of_text|>"}
}

func bytesSource(name string, b []byte) Source {
	return Source{Name: name, Size: int64(len(b)), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

func mustValidate(t testing.TB, cfg Config, train Source, val ...Source) *Report {
	t.Helper()
	if cfg.Encoder == nil {
		cfg.Encoder = testEncoder()
	}
	if cfg.Family == "" {
		cfg.Family = FamilyOpen
	}
	if cfg.Type == "" {
		cfg.Type = FineTuning
	}
	r, err := Validate(context.Background(), cfg, train, val...)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func allIssues(t testing.TB, r *Report) []Issue {
	t.Helper()
	var out []Issue
	for is, err := range r.Issues() {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, is)
	}
	return out
}
