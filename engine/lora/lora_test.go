package lora

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/strata-ml/strata/engine/safetensors"
)

func shape(m Module) (int, int) {
	switch m {
	case KProj, VProj:
		return 8, 4
	case GateProj, UpProj:
		return 8, 16
	case DownProj:
		return 16, 8
	}
	return 8, 8
}

func TestNewInit(t *testing.T) {
	a, err := New(Config{Rank: 4, Alpha: 8, TargetModules: []string{"q_proj", "down_proj"}}, 3, shape, 1)
	if err != nil {
		t.Fatal(err)
	}
	if a.Pair(0, KProj) != nil || a.Pair(2, DownProj) == nil {
		t.Fatal("targets not honoured")
	}
	p := a.Pair(1, DownProj)
	bound := 1 / math.Sqrt(16)
	nonzero := 0
	for _, v := range p.A {
		if math.Abs(float64(v)) > bound {
			t.Fatalf("A value %v beyond kaiming bound %v", v, bound)
		}
		if v != 0 {
			nonzero++
		}
	}
	if nonzero < len(p.A)-1 {
		t.Error("A not initialised")
	}
	for _, v := range p.B {
		if v != 0 {
			t.Fatal("B must start at zero")
		}
	}
	b, _ := New(Config{Rank: 4, Alpha: 8, TargetModules: []string{"q_proj", "down_proj"}}, 3, shape, 1)
	if diff := cmp.Diff(a.Pair(1, DownProj).A, b.Pair(1, DownProj).A); diff != "" {
		t.Error("same seed must give the same init")
	}
	if got := (Config{Rank: 16, Alpha: 32, RSLoRA: true}).Scale(); got != 8 {
		t.Errorf("rslora scale = %v, want 8", got)
	}
}

func TestSaveLoad(t *testing.T) {
	a, _ := New(Config{Rank: 2, Alpha: 4, Dropout: 0.05, RSLoRA: true}, 2, shape, 7)
	for _, n := range a.Tensors() {
		for i := range n.Data {
			n.Data[i] = float32(i%7) - 3
		}
	}
	a.BaseModel = "HuggingFaceTB/SmolLM2-135M"
	dir := t.TempDir()
	if err := a.Save(dir); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	var pc map[string]any
	if err := json.Unmarshal(raw, &pc); err != nil {
		t.Fatal(err)
	}
	if pc["peft_type"] != "LORA" || pc["r"] != 2.0 || pc["lora_alpha"] != 4.0 || pc["use_rslora"] != true || pc["task_type"] != "CAUSAL_LM" {
		t.Errorf("adapter_config.json = %s", raw)
	}
	ts, _, err := safetensors.ReadFile(filepath.Join(dir, WeightsFile), safetensors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ts["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"] == nil ||
		ts["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"] == nil || len(ts) != 2*2*int(NumModules) {
		t.Fatalf("PEFT tensor names wrong: %d tensors", len(ts))
	}
	b, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	b.Config.TargetModules = nil // saved as the explicit list of all seven
	if diff := cmp.Diff(a.Config, b.Config); diff != "" || b.BaseModel != a.BaseModel {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	for l := range a.Layers {
		for m := QProj; m < NumModules; m++ {
			if diff := cmp.Diff(a.Pair(l, m).B, b.Pair(l, m).B); diff != "" {
				t.Errorf("layer %d %s B differs", l, m)
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	a, _ := New(Config{Rank: 2, Alpha: 4, TargetModules: []string{"q_proj"}}, 1, shape, 7)
	tests := []struct {
		name    string
		edit    func(dir string)
		wantErr string
	}{
		{"not lora", func(d string) { editConfig(d, `"LORA"`, `"IA3"`) }, "peft_type"},
		{"dora", func(d string) { editConfig(d, `"use_dora": false`, `"use_dora": true`) }, "use_dora"},
		{"bad target", func(d string) { editConfig(d, `"q_proj"`, `"lm_head"`) }, "lm_head"},
		{"missing B", func(d string) {
			ts := []*safetensors.Tensor{{Name: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", DType: safetensors.F32, Shape: []int{2, 8}, F32: make([]float32, 16)}}
			safetensors.WriteFile(filepath.Join(d, WeightsFile), ts, nil)
		}, "only one of"},
		{"wrong rank", func(d string) {
			ts := []*safetensors.Tensor{{Name: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", DType: safetensors.F32, Shape: []int{3, 8}, F32: make([]float32, 24)}}
			safetensors.WriteFile(filepath.Join(d, WeightsFile), ts, nil)
		}, "r=2"},
		{"stray tensor", func(d string) {
			ts := []*safetensors.Tensor{{Name: "base_model.model.lm_head.weight", DType: safetensors.F32, Shape: []int{1}, F32: []float32{1}}}
			safetensors.WriteFile(filepath.Join(d, WeightsFile), ts, nil)
		}, "unexpected tensor"},
		{"nan", func(d string) {
			ts := []*safetensors.Tensor{
				{Name: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", DType: safetensors.F32, Shape: []int{2, 8}, F32: make([]float32, 16)},
				{Name: "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", DType: safetensors.F32, Shape: []int{8, 2}, F32: append(make([]float32, 15), float32(math.NaN()))}}
			safetensors.WriteFile(filepath.Join(d, WeightsFile), ts, nil)
		}, "NaN"},
		{"corrupt weights", func(d string) { os.WriteFile(filepath.Join(d, WeightsFile), []byte("garbage!garbage"), 0o644) }, "header length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := a.Save(dir); err != nil {
				t.Fatal(err)
			}
			tt.edit(dir)
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Load: err = %v, want containing %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name the file", err)
			}
			if tt.name != "corrupt weights" && tt.name != "bad target" && !errors.Is(err, ErrAdapter) {
				t.Errorf("error %v is not ErrAdapter", err)
			}
		})
	}
}

func editConfig(dir, from, to string) {
	p := filepath.Join(dir, ConfigFile)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(b), from, to, 1)), 0o644)
}

func FuzzAdapterConfig(f *testing.F) {
	for _, s := range []string{
		`{"peft_type":"LORA","r":8,"lora_alpha":16,"target_modules":["q_proj","v_proj"]}`,
		`{"peft_type":"LORA","r":8,"lora_alpha":16,"target_modules":"all-linear","use_rslora":true}`,
		`{"peft_type":"LORA","r":0,"lora_alpha":16,"target_modules":["q_proj"]}`,
		`{"peft_type":"IA3"}`,
		`{"peft_type":"LORA","r":4,"lora_alpha":4,"lora_dropout":1.5,"target_modules":["x"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, err := parseConfig("fuzz.json", data)
		if err != nil {
			return
		}
		if cfg.Validate() != nil || cfg.Scale() <= 0 {
			t.Fatalf("accepted invalid config %+v", cfg)
		}
	})
}
