package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// RecordKind tells which dataset format a record came in.
type RecordKind int

// Record kinds (SPEC.md §A.8).
const (
	KindPromptCompletion RecordKind = iota + 1 // {"prompt","completion"}
	KindConversation                           // bedrock-conversation-2024 or {"system","messages"}
	KindText                                   // {"input"} JSONL or a plain .txt file
)

// Message is one conversation turn.
type Message struct {
	Role    string // "user" or "assistant"
	Content string
}

// Record is one parsed training record.
type Record struct {
	Kind       RecordKind
	Prompt     string    // KindPromptCompletion
	Completion string    // KindPromptCompletion
	System     string    // KindConversation, may be empty
	Messages   []Message // KindConversation
	Text       string    // KindText
	File       string    // base name of the source file
	Line       int       // 1-based line (0 for a .txt file)
}

// MaxLineBytes bounds one JSONL line.
const MaxLineBytes = 64 << 20

// ParseRecord decodes one JSONL line. cpt selects continued pre-training,
// where only {"input": "..."} records are valid.
func ParseRecord(line []byte, cpt bool) (Record, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return Record{}, fmt.Errorf("not a JSON object: %w", err)
	}
	str := func(k string) (string, bool, error) {
		v, ok := raw[k]
		if !ok {
			return "", false, nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", true, fmt.Errorf("field %q must be a string", k)
		}
		return s, true, nil
	}
	if cpt {
		s, ok, err := str("input")
		switch {
		case err != nil:
			return Record{}, err
		case !ok:
			return Record{}, errors.New(`continued pre-training records need an "input" field`)
		case strings.TrimSpace(s) == "":
			return Record{}, errors.New(`"input" is empty`)
		}
		return Record{Kind: KindText, Text: s}, nil
	}
	if _, ok := raw["messages"]; ok {
		return parseConversation(raw)
	}
	p, okp, err := str("prompt")
	if err != nil {
		return Record{}, err
	}
	c, okc, err := str("completion")
	if err != nil {
		return Record{}, err
	}
	if !okp || !okc {
		return Record{}, errors.New(`record needs "prompt" and "completion", or "messages"`)
	}
	if strings.TrimSpace(c) == "" {
		return Record{}, errors.New(`"completion" is empty`)
	}
	return Record{Kind: KindPromptCompletion, Prompt: p, Completion: c}, nil
}

// content decodes a message content or system field: a string, or a list
// of {"text": ...} blocks (Converse shape). Other blocks are rejected.
func content(v json.RawMessage, field string) (string, error) {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, nil
	}
	var blocks []map[string]json.RawMessage
	if err := json.Unmarshal(v, &blocks); err != nil {
		return "", fmt.Errorf("%s must be a string or a list of content blocks", field)
	}
	var b strings.Builder
	for _, bl := range blocks {
		for k := range bl {
			if k != "text" {
				return "", fmt.Errorf("%s: %q content blocks are not supported, only text", field, k)
			}
		}
		t, ok := bl["text"]
		if !ok {
			return "", fmt.Errorf("%s: empty content block", field)
		}
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return "", fmt.Errorf("%s: text block must be a string", field)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

func parseConversation(raw map[string]json.RawMessage) (Record, error) {
	r := Record{Kind: KindConversation}
	if v, ok := raw["system"]; ok {
		s, err := content(v, "system")
		if err != nil {
			return Record{}, err
		}
		r.System = s
	}
	var msgs []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(raw["messages"], &msgs); err != nil {
		return Record{}, errors.New(`"messages" must be a list of {"role", "content"}`)
	}
	if len(msgs) < 2 {
		return Record{}, fmt.Errorf(`"messages" has %d turns, need at least a user and an assistant turn`, len(msgs))
	}
	for i, m := range msgs {
		want := "user"
		if i%2 == 1 {
			want = "assistant"
		}
		if m.Role != want {
			return Record{}, fmt.Errorf("message %d has role %q, want %q (turns alternate, starting with user)", i, m.Role, want)
		}
		c, err := content(m.Content, fmt.Sprintf("message %d content", i))
		if err != nil {
			return Record{}, err
		}
		r.Messages = append(r.Messages, Message{Role: m.Role, Content: c})
	}
	if msgs[len(msgs)-1].Role != "assistant" {
		return Record{}, errors.New("the last message must be from the assistant")
	}
	return r, nil
}

// RecordError is one record that was skipped, with where and why.
type RecordError struct {
	File   string
	Line   int
	Reason string
}

// String formats the error as "file line N: reason".
func (e RecordError) String() string { return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Reason) }

// ReadFile reads the records of one dataset file: JSONL (one record per
// line, blank lines ignored) or, for continued pre-training, a .txt file
// that is one document. Invalid lines are returned as RecordErrors, not as
// an error; the error is for I/O failures only.
func ReadFile(path string, cpt bool) ([]Record, []RecordError, error) {
	base := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("train: read dataset: %w", err)
	}
	defer f.Close()
	if cpt && strings.EqualFold(filepath.Ext(path), ".txt") {
		b, err := io.ReadAll(io.LimitReader(f, 1<<34))
		if err != nil {
			return nil, nil, fmt.Errorf("train: read dataset %s: %w", base, err)
		}
		if !utf8.Valid(b) {
			return nil, []RecordError{{base, 0, "file is not valid UTF-8"}}, nil
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return nil, []RecordError{{base, 0, "file is empty"}}, nil
		}
		return []Record{{Kind: KindText, Text: string(b), File: base}}, nil, nil
	}
	return readJSONL(f, base, cpt)
}

func readJSONL(r io.Reader, base string, cpt bool) ([]Record, []RecordError, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var recs []Record
	var bad []RecordError
	for line := 1; ; line++ {
		b, err := readLine(br)
		if len(b) > 0 || err == nil {
			switch t := bytes.TrimSpace(b); {
			case len(b) > MaxLineBytes:
				bad = append(bad, RecordError{base, line, fmt.Sprintf("line longer than %d bytes", MaxLineBytes)})
			case len(t) == 0:
			case !utf8.Valid(t):
				bad = append(bad, RecordError{base, line, "line is not valid UTF-8"})
			default:
				rec, perr := ParseRecord(t, cpt)
				if perr != nil {
					bad = append(bad, RecordError{base, line, perr.Error()})
				} else {
					rec.File, rec.Line = base, line
					recs = append(recs, rec)
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return recs, bad, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("train: read dataset %s line %d: %w", base, line, err)
		}
	}
}

// readLine returns one line without its newline; lines over MaxLineBytes are
// consumed and returned truncated to MaxLineBytes+1 bytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(out) <= MaxLineBytes {
			out = append(out, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		out = bytes.TrimSuffix(out, []byte{'\n'})
		if len(out) > MaxLineBytes {
			out = out[:MaxLineBytes+1]
		}
		return out, err
	}
}
