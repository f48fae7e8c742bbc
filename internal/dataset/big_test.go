package dataset

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// genDataset writes about size bytes of distinct bedrock-conversation-2024
// records (about 1 KiB each) to path and returns the record count.
func genDataset(tb testing.TB, path string, size int64) int64 {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	vocab := strings.Fields("the a model data record token train loss batch epoch learning rate value answer question system user assistant capital river mountain city history science number table chart")
	var n, written int64
	var sb strings.Builder
	for written < size {
		sb.Reset()
		x := uint64(n)*0x9E3779B97F4A7C15 + 1
		word := func() string {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			return vocab[x%uint64(len(vocab))]
		}
		fmt.Fprintf(&sb, `{"schemaVersion":"bedrock-conversation-2024","system":[{"text":"You are assistant number %d."}],"messages":[{"role":"user","content":[{"text":"`, n)
		for range 60 {
			sb.WriteString(word())
			sb.WriteByte(' ')
		}
		sb.WriteString(`?"}]},{"role":"assistant","content":[{"text":"`)
		for range 90 {
			sb.WriteString(word())
			sb.WriteByte(' ')
		}
		sb.WriteString("\"}]}]}\n")
		k, err := w.WriteString(sb.String())
		if err != nil {
			tb.Fatal(err)
		}
		written += int64(k)
		n++
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return n
}

// bigResult is what the child process reports.
type bigResult struct {
	Bytes   int64   `json:"bytes"`
	Records int64   `json:"records"`
	Valid   bool    `json:"valid"`
	Seconds float64 `json:"seconds"`
	// CPUSeconds is user+system time: on a shared machine it says more
	// than wall time.
	CPUSeconds float64 `json:"cpuSeconds"`
	VmHWMKiB   int64   `json:"vmHWMKiB"`
}

// TestBigFileMemory validates a generated file in a child process and
// checks the child's peak resident memory (VmHWM) stays under 200 MB. The
// default file is 32 MiB; STRATA_DATASET_BIG_MB=1024 runs the 1 GiB proof.
func TestBigFileMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc: VmHWM not measurable")
	}
	mbs := int64(32)
	if s := os.Getenv("STRATA_DATASET_BIG_MB"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		mbs = v
	}
	path := filepath.Join(t.TempDir(), "big.jsonl")
	t0 := time.Now()
	records := genDataset(t, path, mbs<<20)
	t.Logf("generated %d MiB, %d records in %v", mbs, records, time.Since(t0).Round(time.Millisecond))
	cmd := exec.Command(os.Args[0], "-test.run=^TestBigFileChild$", "-test.v")
	cmd.Env = append(os.Environ(), "STRATA_DATASET_BIG_CHILD="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	i := bytes.Index(out, []byte("RESULT "))
	if i < 0 {
		t.Fatalf("child printed no result:\n%s", out)
	}
	line, _, _ := bytes.Cut(out[i+7:], []byte("\n"))
	var r bigResult
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("child result %q: %v", line, err)
	}
	if r.Records != records || !r.Valid {
		t.Errorf("child validated %d records (valid=%v), want %d valid", r.Records, r.Valid, records)
	}
	t.Logf("validated %d bytes, %d records in %.2fs wall, %.2fs CPU: %.0f MB/s and %.0f records/s wall, %.0f MB per CPU-second; peak RSS %.1f MiB",
		r.Bytes, r.Records, r.Seconds, r.CPUSeconds, float64(r.Bytes)/1e6/r.Seconds, float64(r.Records)/r.Seconds, float64(r.Bytes)/1e6/r.CPUSeconds, float64(r.VmHWMKiB)/1024)
	if limit := int64(200 * 1000 * 1000 / 1024); r.VmHWMKiB > limit {
		t.Errorf("peak RSS %d KiB, want < 200 MB", r.VmHWMKiB)
	}
}

// TestBigFileChild is the child half of TestBigFileMemory.
func TestBigFileChild(t *testing.T) {
	path := os.Getenv("STRATA_DATASET_BIG_CHILD")
	if path == "" {
		t.Skip("child of TestBigFileMemory only")
	}
	src, err := FileSource(path)
	if err != nil {
		t.Fatal(err)
	}
	enc := testEncoder()
	// STRATA_DATASET_BIG_TOKENIZER=1 counts with the real Llama 3.1
	// tokenizer and chat template (engine/tokenizer, engine/template).
	if os.Getenv("STRATA_DATASET_BIG_TOKENIZER") != "" {
		m, err := LoadModel(oracleModelDir(t, "tokenizer-llama3_1", tinyLlamaConfig), EngineTemplates)
		if err != nil {
			t.Fatal(err)
		}
		enc = m.Encoder
	}
	start := time.Now()
	r, err := Validate(context.Background(), Config{Family: FamilyOpen, Type: FineTuning, Encoder: enc, ContextLength: 8192}, src)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	secs := time.Since(start).Seconds()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	res := bigResult{Bytes: r.Files[0].Bytes, Records: r.Files[0].ValidRecords, Valid: r.Valid, Seconds: secs, CPUSeconds: cpu, VmHWMKiB: vmHWM(t)}
	b, _ := json.Marshal(res)
	fmt.Printf("RESULT %s\n", b)
}

// vmHWM reads the process's peak resident set size in KiB.
func vmHWM(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			v, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// BenchmarkValidate measures validation throughput on a 16 MiB generated
// file (conversation records, test tokenizer and template).
func BenchmarkValidate(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.jsonl")
	records := genDataset(b, path, 16<<20)
	src, err := FileSource(path)
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{Family: FamilyOpen, Type: FineTuning, Encoder: testEncoder(), ContextLength: 8192}
	b.ReportAllocs()
	b.SetBytes(src.Size)
	start := time.Now()
	n := 0
	for b.Loop() {
		r, err := Validate(context.Background(), cfg, src)
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
		n++
	}
	b.ReportMetric(float64(records)*float64(n)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkValidateRealTokenizer is BenchmarkValidate with the Llama 3.1
// tokenizer (engine/tokenizer) on prompt-completion records.
func BenchmarkValidateRealTokenizer(b *testing.B) {
	dir := oracleModelDir(b, "tokenizer-llama3_1", tinyLlamaConfig)
	m, err := LoadModel(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "bench.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	const records = 4000
	for i := range records {
		fmt.Fprintf(w, `{"prompt": "Question %d: explain why the sky looks blue on a clear day, in plain words for a curious child.", "completion": "Sunlight holds every colour. Air molecules scatter short blue waves far more than red ones (Rayleigh scattering), so blue light reaches your eyes from all over the sky. Answer %d."}`+"\n", i, i)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	src, err := FileSource(path)
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{Family: FamilyOpen, Type: FineTuning, Encoder: m.Encoder, ContextLength: 8192}
	b.ReportAllocs()
	b.SetBytes(src.Size)
	start := time.Now()
	n := 0
	for b.Loop() {
		r, err := Validate(context.Background(), cfg, src)
		if err != nil {
			b.Fatal(err)
		}
		if !r.Valid {
			b.Fatal(r.FailureMessage)
		}
		r.Close()
		n++
	}
	b.ReportMetric(float64(records)*float64(n)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkValidateLine measures parsing and checking of one conversation
// line, without tokenization.
func BenchmarkValidateLine(b *testing.B) {
	line := []byte(`{"schemaVersion":"bedrock-conversation-2024","system":[{"text":"You are a concise assistant."}],"messages":[{"role":"user","content":[{"text":"What is the capital of France? Answer in one sentence, please."}]},{"role":"assistant","content":[{"text":"The capital of France is Paris."}]}]}`)
	c, err := newLineChecker(LineRules{File: "b.jsonl", Family: FamilyOpen, Type: FineTuning})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	var issues []Issue
	jp := &jparser{}
	for b.Loop() {
		issues = issues[:0]
		if c.check(line, 1, &issues, jp) == nil {
			b.Fatal(issues)
		}
	}
}
