package dataset

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// repeatReader yields prefix, then n bytes of fill, then suffix, without
// holding them in memory.
type repeatReader struct {
	prefix, suffix []byte
	fill           byte
	n              int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if len(r.prefix) > 0 {
		k := copy(p, r.prefix)
		r.prefix = r.prefix[k:]
		return k, nil
	}
	if r.n > 0 {
		k := int64(len(p))
		if k > r.n {
			k = r.n
		}
		for i := range p[:k] {
			p[i] = r.fill
		}
		r.n -= k
		return int(k), nil
	}
	if len(r.suffix) > 0 {
		k := copy(p, r.suffix)
		r.suffix = r.suffix[k:]
		return k, nil
	}
	return 0, io.EOF
}

func streamSource(name string, size int64, mk func() io.Reader) Source {
	return Source{Name: name, Size: size, Open: func() (io.ReadCloser, error) { return io.NopCloser(mk()), nil }}
}

// TestHugeLine feeds a 100 MiB single line and checks the verdict and that
// the line was never buffered.
func TestHugeLine(t *testing.T) {
	const n = 100 << 20
	good := pcLine("What is the capital of France?", "The capital of France is Paris.") + "\n"
	prefix := []byte(good + `{"prompt": "`)
	suffix := []byte(`", "completion": "x"}` + "\n" + good)
	size := int64(len(prefix)) + n + int64(len(suffix))
	src := streamSource("huge.jsonl", size, func() io.Reader {
		return &repeatReader{prefix: append([]byte(nil), prefix...), fill: 'a', n: n, suffix: append([]byte(nil), suffix...)}
	})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := mustValidate(t, Config{Family: FamilyLlama31}, src)
	runtime.ReadMemStats(&after)
	var got []string
	for _, is := range allIssues(t, r) {
		got = append(got, is.String())
	}
	lineLen := n + len(`{"prompt": "`) + len(`", "completion": "x"}`)
	want := []string{
		"huge.jsonl:2: error record_too_large: line is " + itoa(lineLen) + " bytes; the limit is 641536 bytes (16000 tokens × 6 characters per token, JSON-escaped)",
		"huge.jsonl:3: warning duplicate: same record as line 1",
		"huge.jsonl: error too_few_records: 3 training and validation records; Meta Llama 3.1 needs at least 100",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("issues (-want +got):\n%s", diff)
	}
	wantMsg := `Input size exceeded in file huge.jsonl for record starting with {"prompt": "aaaaaaaaaaaaaaaaaaaaaaaaaaaa...`
	if !strings.HasPrefix(r.FailureMessage, wantMsg) {
		t.Errorf("FailureMessage = %q, want prefix %q", r.FailureMessage, wantMsg)
	}
	// Allocation bound: a few batches and read buffers, far below the line.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("allocated %d bytes validating a %d-byte line; the line must not be buffered", alloc, n)
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// TestDeepNesting: a 4 MiB line of '[' is refused at depth 33 without
// recursion, and a line of '{"a":' likewise.
func TestDeepNesting(t *testing.T) {
	t.Parallel()
	for _, open := range []string{"[", `{"a":`} {
		line := strings.Repeat(open, 4<<20/len(open))
		_, issues := ValidateLine(LineRules{File: "deep.jsonl", Family: FamilyOpen, Type: FineTuning}, []byte(line))
		if len(issues) != 1 || issues[0].Code != CodeTooDeep {
			t.Fatalf("ValidateLine(%q×N) = %v, want one too_deep", open, issues)
		}
	}
}

// TestEncodings covers BOMs, CRLF, a last line without newline, UTF-16
// without BOM and a mix of UTF-8 and Latin-1 lines.
func TestEncodings(t *testing.T) {
	t.Parallel()
	good := pcLine("What is the capital of France?", "The capital of France is Paris.")
	good2 := pcLine("What is the capital of Peru?", "The capital of Peru is Lima, caf\u00e9.")
	utf16 := func(s string) []byte {
		var b bytes.Buffer
		for _, r := range s {
			b.WriteByte(byte(r))
			b.WriteByte(0)
		}
		return b.Bytes()
	}
	tests := []struct {
		name string
		data []byte
		want []string
	}{
		{"crlf", []byte(good + "\r\n" + good2 + "\r\n"), nil},
		{"no_final_newline", []byte(good + "\n" + good2), nil},
		{"bom_crlf", []byte("\xef\xbb\xbf" + good + "\r\n" + good2), []string{"x.jsonl: warning utf8_bom: file starts with a UTF-8 byte-order mark; it was ignored"}},
		{"utf16_no_bom", utf16(good + "\n"), []string{
			"x.jsonl:1:2: error utf16_encoding: NUL byte in line: the file is UTF-16 or binary, not UTF-8 JSON Lines",
			"x.jsonl:2:1: error utf16_encoding: NUL byte in line: the file is UTF-16 or binary, not UTF-8 JSON Lines"}},
		{"utf16_be_bom", append([]byte{0xFE, 0xFF}, utf16(good)...), []string{"x.jsonl: error utf16_encoding: file starts with a UTF-16 byte-order mark: datasets must be UTF-8 JSON Lines; convert it (iconv -f UTF-16 -t UTF-8)"}},
		{"mixed_latin1", []byte(good + "\n" + strings.ReplaceAll(good2, "\u00e9", "\xe9") + "\n" + good2 + "\n"), []string{
			"x.jsonl:2:48: error invalid_utf8: invalid UTF-8 at byte 48 (0xE9): datasets must be UTF-8; this line looks like Latin-1 or another single-byte encoding; re-save it as UTF-8"}},
		{"mixed_in_one_line", []byte(`{"prompt": "` + "caf\u00e9" + ` (utf8) and caf` + "\xe9" + ` (latin1)", "completion": "x y z"}`), []string{
			"x.jsonl:1:33: error invalid_utf8: invalid UTF-8 at byte 33 (0xE9): datasets must be UTF-8; this line looks like a mix of UTF-8 and a single-byte encoding such as Latin-1; re-save it as UTF-8"}},
		{"truncated_utf8_at_eof", []byte(good + "\n" + `{"prompt": "caf` + "\xc3"), []string{
			"x.jsonl:2:16: error invalid_utf8: invalid UTF-8 at byte 16 (0xC3): datasets must be UTF-8; this line looks like Latin-1 or another single-byte encoding; re-save it as UTF-8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := mustValidate(t, Config{}, bytesSource("x.jsonl", tt.data))
			var got []string
			for _, is := range allIssues(t, r) {
				got = append(got, is.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("issues (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReaderLines checks line splitting at buffer boundaries.
func TestReaderLines(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", readBufSize*2+17)
	in := "a\r\n\n" + long + "\nlast"
	lr := newLineReader(strings.NewReader(in), readBufSize*3)
	var got []string
	var buf []byte
	for {
		var rl rawLine
		var err error
		buf, err = lr.next(buf[:0], &rl)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(rl.data))
	}
	if diff := cmp.Diff([]string{"a", "", long, "last"}, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	lr = newLineReader(strings.NewReader(long+"\nok\n"), 1000)
	var rl rawLine
	if _, err := lr.next(nil, &rl); err != nil || !rl.tooBig || rl.size != int64(len(long)) || len(rl.head) != 256 {
		t.Errorf("overlong line: tooBig=%v size=%d head=%d err=%v", rl.tooBig, rl.size, len(rl.head), err)
	}
	if _, err := lr.next(nil, &rl); err != nil || string(rl.data) != "ok" || rl.no != 2 {
		t.Errorf("after overlong line: %q line %d err=%v", rl.data, rl.no, err)
	}
}

// FuzzValidateLine: no panic, and every line gets a verdict: a record or
// at least one error.
func FuzzValidateLine(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "kinds", "*"))
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f.Add(append([]byte(nil), sc.Bytes()...), uint8(0))
		}
		fh.Close()
	}
	f.Add([]byte(`{"schemaVersion":"bedrock-conversation-2024","messages":[{"role":"user","content":[{"text":"a"},{"video":{}}]},{"role":"assistant","content":[{}]}]}`), uint8(7))
	f.Add([]byte(`{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":["x"]}],"system":3}`), uint8(10))
	f.Add([]byte(`{"prompt":"\ud800","completion":"\u0000"}`), uint8(2))
	fams := Families()
	types := []CustomizationType{FineTuning, ContinuedPreTraining, Distillation}
	enc := testEncoder()
	f.Fuzz(func(t *testing.T, line []byte, sel uint8) {
		rules := LineRules{File: "f.jsonl", Family: fams[int(sel)%len(fams)], Type: types[int(sel/16)%len(types)], MaxChars: 4096 * 6}
		ex, issues := ValidateLine(rules, line)
		hasErr := false
		for _, is := range issues {
			if is.Severity == SeverityError {
				hasErr = true
			}
			if is.Line != 1 || is.Reason == "" || is.Code == "" || !utf8.ValidString(is.Reason) {
				t.Fatalf("bad issue %+v", is)
			}
		}
		if (ex == nil) != hasErr {
			t.Fatalf("ValidateLine(%q) = %v, %v: want a record xor an error", line, ex, issues)
		}
		if ex != nil {
			if _, err := enc.Count(ex, nil); err != nil {
				t.Fatalf("Count(%+v): %v", ex, err)
			}
		}
	})
}

// FuzzValidateFile runs whole files through Validate: no panic, no error
// (the input is in memory, so nothing but the data can go wrong), and every
// non-blank line gets a verdict: a valid record or an issue on that line.
func FuzzValidateFile(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "kinds", "*.jsonl"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\xef\xbb\xbf{\"prompt\":\"a b c d e\",\"completion\":\"f g h i j\"}\r\n\r\n{\"prompt\":1}"))
	enc := testEncoder()
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Validate(context.Background(), Config{Family: FamilyOpen, Type: FineTuning, Encoder: enc, Workers: 2, MaxSeqLen: 64}, bytesSource("f.jsonl", data))
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		defer r.Close()
		flagged := map[int64]bool{}
		for is, err := range r.Issues() {
			if err != nil {
				t.Fatal(err)
			}
			if is.Severity == SeverityError {
				flagged[is.Line] = true
			}
		}
		st := r.Files[0]
		if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
			if r.Valid {
				t.Fatal("UTF-16 file reported valid")
			}
			return
		}
		bad := int64(0)
		for l := range flagged {
			if l > 0 {
				bad++
			}
		}
		if st.ValidRecords+bad < st.Records {
			t.Fatalf("%d records, %d valid, %d lines with errors: some line got no verdict", st.Records, st.ValidRecords, bad)
		}
		if r.Valid != (len(flagged) == 0) {
			t.Fatalf("Valid = %v with %d flagged lines", r.Valid, len(flagged))
		}
	})
}
