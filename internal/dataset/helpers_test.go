package dataset

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// wordTokenizer is a test tokenizer: one token per whitespace-separated
// word and per <|special|> marker.
type wordTokenizer struct{}

func (wordTokenizer) EncodeOffsets(s string) ([]int32, [][2]int, error) {
	ids := make([]int32, 0, len(s)/5+4)
	offs := make([][2]int, 0, len(s)/5+4)
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "<|") {
			if j := strings.Index(s[i:], "|>"); j > 0 {
				ids = append(ids, 2)
				offs = append(offs, [2]int{i, i + j + 2})
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
		offs = append(offs, [2]int{i, j})
		i = j
	}
	return ids, offs, nil
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// headerTemplate renders Llama-3-style headers; assistant content and its
// <|eot_id|> are learned.
type headerTemplate struct{}

func (headerTemplate) RenderTraining(system string, msgs []Message) (string, [][2]int, error) {
	var b strings.Builder
	n := len(system) + 128
	for _, m := range msgs {
		n += len(m.Text) + 64
	}
	b.Grow(n)
	var spans [][2]int
	b.WriteString("<|begin_of_text|>")
	if system != "" {
		b.WriteString("<|start_header_id|>system<|end_header_id|>\n\n" + system + "<|eot_id|>")
	}
	for _, m := range msgs {
		b.WriteString("<|start_header_id|>" + m.Role + "<|end_header_id|>\n\n")
		start := b.Len()
		b.WriteString(m.Text + "<|eot_id|>")
		if m.Role == RoleAssistant {
			spans = append(spans, [2]int{start, b.Len()})
		}
	}
	if len(msgs) > 0 && msgs[len(msgs)-1].Role == RoleUser {
		b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
	}
	return b.String(), spans, nil
}

func testEncoder() *Encoder {
	return &Encoder{Tokenizer: wordTokenizer{}, Template: headerTemplate{}, BOS: 1, EOS: 2, BOSText: "<|begin_of_text|>", EOSText: "<|end_of_text|>"}
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
