package tokenizer

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/strata-ml/strata/engine/oracle"
)

// benchCorpus returns ~3 MB of documents: English prose (the licence texts
// every Debian machine has, the Go spec) and Go source code from GOROOT,
// chunked at line boundaries into ~16 KB documents.
func benchCorpus(tb testing.TB) []string {
	tb.Helper()
	var texts []string
	add := func(p string) {
		if b, err := os.ReadFile(p); err == nil {
			texts = append(texts, string(b))
		}
	}
	lic, _ := filepath.Glob("/usr/share/common-licenses/*")
	sort.Strings(lic)
	for _, p := range lic {
		add(p)
	}
	add(filepath.Join(runtime.GOROOT(), "doc", "go_spec.html"))
	add(filepath.Join(runtime.GOROOT(), "doc", "go_mem.html"))
	code := 0
	var files []string
	filepath.WalkDir(filepath.Join(runtime.GOROOT(), "src", "net", "http"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	for _, p := range files {
		if code > 1_500_000 {
			break
		}
		b, _ := os.ReadFile(p)
		code += len(b)
		texts = append(texts, string(b))
	}
	var docs []string
	for _, t := range texts {
		for len(t) > 0 {
			k := min(len(t), 16<<10)
			if j := strings.IndexByte(t[k:], '\n'); j >= 0 && k < len(t) {
				k += j + 1
			} else {
				k = len(t)
			}
			docs = append(docs, t[:k])
			t = t[k:]
		}
	}
	if len(docs) == 0 {
		tb.Skip("no benchmark corpus found")
	}
	return docs
}

func corpusBytes(docs []string) int {
	n := 0
	for _, d := range docs {
		n += len(d)
	}
	return n
}

// BenchmarkEncode measures single-thread encode throughput per family.
func BenchmarkEncode(b *testing.B) {
	docs := benchCorpus(b)
	n := corpusBytes(docs)
	for _, name := range []string{"llama3", "qwen3", "mistral", "gemma3"} {
		b.Run(name, func(b *testing.B) {
			tk := loadFamily(b, name)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			toks := 0
			for b.Loop() {
				toks = 0
				for _, d := range docs {
					toks += len(tk.Encode(d, false))
				}
			}
			b.ReportMetric(float64(toks)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

// BenchmarkEncodeVsHF times ours and HF's Rust tokenizer (node, one thread)
// on the same corpus and reports the throughput ratio ours/HF as "x_hf"
// (target >= 0.5).
func BenchmarkEncodeVsHF(b *testing.B) {
	docs := benchCorpus(b)
	n := corpusBytes(docs)
	corpus := filepath.Join(b.TempDir(), "corpus.json")
	raw, _ := json.Marshal(docs)
	if err := os.WriteFile(corpus, raw, 0o644); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"llama3", "qwen3", "mistral"} {
		b.Run(name, func(b *testing.B) {
			tk := loadFamily(b, name)
			needNode(b)
			cmd := exec.Command("node", filepath.Join(repoRoot(), "tools/tokenizer/bench_hf.mjs"),
				filepath.Join(familyDir(b, name), "tokenizer.json"), corpus, "3")
			cmd.Env = append(os.Environ(), "STRATA_ORACLE_DIR="+oracle.Dir(), "RAYON_NUM_THREADS=1", "TOKENIZERS_PARALLELISM=false")
			out, err := cmd.Output()
			if err != nil {
				b.Fatalf("bench_hf.mjs: %v", err)
			}
			var hf struct {
				Tokens  int     `json:"tokens"`
				MBPerS  float64 `json:"mb_per_s"`
				Seconds float64 `json:"seconds"`
			}
			if err := json.Unmarshal(out, &hf); err != nil {
				b.Fatalf("bench_hf.mjs output %q: %v", out, err)
			}
			for _, d := range docs { // warm the word cache like the HF run
				tk.Encode(d, false)
			}
			b.SetBytes(int64(n))
			toks := 0
			b.ResetTimer()
			for b.Loop() {
				toks = 0
				for _, d := range docs {
					toks += len(tk.Encode(d, false))
				}
			}
			ours := float64(n) * float64(b.N) / b.Elapsed().Seconds() / 1e6
			if toks != hf.Tokens {
				b.Errorf("token count %d, HF %d", toks, hf.Tokens)
			}
			b.ReportMetric(ours, "MB/s")
			b.ReportMetric(hf.MBPerS, "hf_MB/s")
			b.ReportMetric(ours/hf.MBPerS, "x_hf")
		})
	}
}
