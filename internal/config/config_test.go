package config

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strata.json")
	if err := os.WriteFile(path, []byte(`{"addr":"0.0.0.0:9000","workers":2,"models":[{"id":"meta.llama3-1-8b-instruct-v1:0","dir":"/m","family":"llama"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"STRATA_WORKERS": "3", "STRATA_TRAIN_COMMAND": "/bin/x train"}
	c, err := Load(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Addr, want.Workers, want.TrainCommand = "0.0.0.0:9000", 3, []string{"/bin/x", "train"}
	want.Models = []ModelConfig{{ID: "meta.llama3-1-8b-instruct-v1:0", Dir: "/m", Family: "llama"}}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	if c.DB() != "sqlite:data/strata.db" {
		t.Errorf("DB() = %q", c.DB())
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tt := range []struct{ name, file string }{
		{"unknown key", `{"adr":"x"}`},
		{"bad type", `{"workers":"two"}`},
		{"negative", `{"workers":-1}`},
		{"account", `{"accountId":"12"}`},
		{"model", `{"models":[{"id":"x"}]}`},
	} {
		var c Config
		if err := Parse([]byte(tt.file), &c); err == nil {
			t.Errorf("%s: Parse(%s) succeeded", tt.name, tt.file)
		}
	}
	if _, err := Load("", func(k string) string { return map[string]string{"STRATA_WORKERS": "x"}[k] }); err == nil {
		t.Error("bad STRATA_WORKERS accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`{"addr":"0.0.0.0:9000","workers":2}`)
	f.Add(`{"models":[{"id":"a.b","dir":"/m"}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		var c Config
		_ = Parse([]byte(s), &c)
	})
}

var update = flag.Bool("update", false, "rewrite golden files")

// TestDescribeGolden pins the settings table (strata server --describe-config).
func TestDescribeGolden(t *testing.T) {
	var b strings.Builder
	for _, s := range Describe() {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", s.Key, s.Env, s.Default, s.Help)
	}
	path := filepath.Join("testdata", "describe.golden")
	if *update {
		_ = os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("Describe() (-want +got):\n%s", diff)
	}
}
