package model

import (
	"errors"
	"strings"
	"testing"
)

var configTests = []struct {
	name, json string
	wantErr    string // "" for valid
	unsupp     bool
}{
	{"llama", `{"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100}`, "", false},
	{"llama3 scaling", `{"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":100,"rope_scaling":{"rope_type":"llama3","factor":8,"low_freq_factor":1,"high_freq_factor":4,"original_max_position_embeddings":8192},"eos_token_id":[1,2]}`, "", false},
	{"bad gqa", `{"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":3,"vocab_size":100}`, "num_key_value_heads", false},
	{"yarn", `{"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100,"rope_scaling":{"type":"yarn","factor":4}}`, "yarn", true},
	{"gelu", `{"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100,"hidden_act":"gelu"}`, "hidden_act", true},
	{"mlp bias", `{"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100,"mlp_bias":true}`, "mlp_bias", true},
	{"qwen2 swa", `{"architectures":["Qwen2ForCausalLM"],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100,"use_sliding_window":true,"sliding_window":8}`, "use_sliding_window", true},
	{"zero vocab", `{"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":0}`, "vocab_size", false},
	{"odd head dim", `{"architectures":["LlamaForCausalLM"],"hidden_size":12,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":4,"vocab_size":10}`, "head_dim", false},
	{"not json", `{"architectures":`, "parse config", false},
	{"negative eps", `{"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100,"rms_norm_eps":-1}`, "rms_norm_eps", false},
}

func TestParseConfig(t *testing.T) {
	for _, tt := range configTests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.json))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseConfig: %v", err)
				}
				if c.HeadDim != c.HiddenSize/c.NumAttentionHeads || c.NumKeyValueHeads == 0 || c.RopeTheta != 10000 {
					t.Errorf("defaults not filled: %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
			if errors.Is(err, ErrUnsupported) != tt.unsupp {
				t.Errorf("errors.Is(err, ErrUnsupported) = %v, want %v", !tt.unsupp, tt.unsupp)
			}
		})
	}
}

func TestEOSAndWindow(t *testing.T) {
	c, err := ParseConfig([]byte(`{"architectures":["MistralForCausalLM"],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100,"sliding_window":4096,"eos_token_id":[5,6]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Window() != 4096 || len(c.EOSTokenIDs()) != 2 {
		t.Errorf("Window %d EOS %v", c.Window(), c.EOSTokenIDs())
	}
	c.Architectures = []string{"LlamaForCausalLM"}
	if c.Window() != 0 {
		t.Error("Llama must ignore sliding_window")
	}
}

func TestUnknownArchitecture(t *testing.T) {
	c, err := ParseConfig([]byte(`{"architectures":["GPT2LMHeadModel"],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":100}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(c, 1, Options{}); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "GPT2LMHeadModel") {
		t.Errorf("New: err = %v, want ErrUnsupported naming the architecture", err)
	}
}

func FuzzConfig(f *testing.F) {
	for _, tt := range configTests {
		f.Add([]byte(tt.json))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if c.NumAttentionHeads%c.NumKeyValueHeads != 0 || c.HeadDim <= 0 {
			t.Fatalf("accepted inconsistent config %+v", c)
		}
	})
}

func TestBatchValidate(t *testing.T) {
	ok := Batch{B: 1, T: 2, Tokens: []int32{1, 2}, Targets: []int32{2, IgnoreIndex}}
	if err := ok.Validate(3); err != nil {
		t.Fatal(err)
	}
	bad := []Batch{
		{B: 1, T: 2, Tokens: []int32{1}, Targets: []int32{2, 3}},
		{B: 1, T: 2, Tokens: []int32{1, 5}, Targets: []int32{2, 0}},
		{B: 1, T: 2, Tokens: []int32{1, 1}, Targets: []int32{-5, 0}},
		{B: 1, T: 2, Tokens: []int32{1, 1}, Targets: []int32{0, 0}, Pos: []int32{0}},
		{B: 0, T: 2},
	}
	for i, b := range bad {
		if err := b.Validate(3); err == nil {
			t.Errorf("case %d: Validate accepted %+v", i, b)
		}
	}
}

func TestKVCache(t *testing.T) {
	c := NewKVCache(2, 4)
	c.Reserve(3)
	if len(c.K[1]) != 12 || c.Bytes() == 0 {
		t.Fatalf("Reserve: %d", len(c.K[1]))
	}
	c.K[0][0] = 7
	c.Len = 3
	c.Reserve(100)
	if c.K[0][0] != 7 {
		t.Error("Reserve lost data")
	}
	c.Truncate(1)
	if c.Len != 1 {
		t.Error("Truncate")
	}
}
