package config

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestServingDefaults(t *testing.T) {
	c, err := Load("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.MemoryBudget != 0 || time.Duration(c.InvokeTimeout) != 10*time.Minute || time.Duration(c.ModelLoadWait) != time.Minute ||
		c.ModelUnitSequences != 4 || c.ModelUnitKVTokens != 8192 || c.MaxModelUnits != 64 {
		t.Errorf("defaults = %+v", c)
	}
}

// TestServingSettings reads every serving setting from the file and the
// environment (which wins), and rejects out-of-range values.
func TestServingSettings(t *testing.T) {
	for _, tt := range []struct {
		name string
		file string
		env  map[string]string
		want func(*Config)
		err  string // substring; "" = must succeed
	}{
		{name: "file", file: `{"memoryBudget":"48GiB","invokeTimeout":"90s","modelLoadWait":"0s","modelUnitSequences":8,"modelUnitKvTokens":4096,"maxModelUnits":10}`,
			want: func(c *Config) {
				c.MemoryBudget, c.InvokeTimeout, c.ModelLoadWait = 48<<30, Duration(90*time.Second), 0
				c.ModelUnitSequences, c.ModelUnitKVTokens, c.MaxModelUnits = 8, 4096, 10
			}},
		{name: "budget in bytes", file: `{"memoryBudget":1073741824}`, want: func(c *Config) { c.MemoryBudget = 1 << 30 }},
		{name: "env", env: map[string]string{"STRATA_MEMORY_BUDGET": "512MiB", "STRATA_INVOKE_TIMEOUT": "2m", "STRATA_MODEL_LOAD_WAIT": "5s",
			"STRATA_MODEL_UNIT_SEQUENCES": "2", "STRATA_MODEL_UNIT_KV_TOKENS": "1024", "STRATA_MAX_MODEL_UNITS": "3"},
			want: func(c *Config) {
				c.MemoryBudget, c.InvokeTimeout, c.ModelLoadWait = 512<<20, Duration(2*time.Minute), Duration(5*time.Second)
				c.ModelUnitSequences, c.ModelUnitKVTokens, c.MaxModelUnits = 2, 1024, 3
			}},
		{name: "env over file", file: `{"maxModelUnits":10,"invokeTimeout":"1m"}`, env: map[string]string{"STRATA_MAX_MODEL_UNITS": "20"},
			want: func(c *Config) { c.MaxModelUnits, c.InvokeTimeout = 20, Duration(time.Minute) }},
		{name: "negative budget", file: `{"memoryBudget":-1}`, err: "memoryBudget"},
		{name: "budget unit", file: `{"memoryBudget":"48 parsecs"}`, err: "size"},
		{name: "budget type", file: `{"memoryBudget":true}`, err: "size"},
		{name: "zero timeout", file: `{"invokeTimeout":"0s"}`, err: "invokeTimeout"},
		{name: "timeout number", file: `{"invokeTimeout":600}`, err: "duration"},
		{name: "timeout syntax", file: `{"invokeTimeout":"ten minutes"}`, err: "duration"},
		{name: "negative load wait", file: `{"modelLoadWait":"-1s"}`, err: "modelLoadWait"},
		{name: "zero sequences", file: `{"modelUnitSequences":0}`, err: "modelUnitSequences"},
		{name: "kv not a block multiple", file: `{"modelUnitKvTokens":1000}`, err: "modelUnitKvTokens"},
		{name: "kv too small", file: `{"modelUnitKvTokens":0}`, err: "modelUnitKvTokens"},
		{name: "zero quota", file: `{"maxModelUnits":0}`, err: "maxModelUnits"},
		{name: "env budget", env: map[string]string{"STRATA_MEMORY_BUDGET": "lots"}, err: "STRATA_MEMORY_BUDGET"},
		{name: "env timeout", env: map[string]string{"STRATA_INVOKE_TIMEOUT": "10"}, err: "STRATA_INVOKE_TIMEOUT"},
		{name: "env quota", env: map[string]string{"STRATA_MAX_MODEL_UNITS": "x"}, err: "STRATA_MAX_MODEL_UNITS"},
		{name: "env quota range", env: map[string]string{"STRATA_MAX_MODEL_UNITS": "-4"}, err: "maxModelUnits"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			var err error
			if tt.file != "" {
				err = Parse([]byte(tt.file), &c)
			}
			if err == nil {
				err = c.applyEnv(func(k string) string { return tt.env[k] })
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Default()
			tt.want(&want)
			if c.MemoryBudget != want.MemoryBudget || c.InvokeTimeout != want.InvokeTimeout || c.ModelLoadWait != want.ModelLoadWait ||
				c.ModelUnitSequences != want.ModelUnitSequences || c.ModelUnitKVTokens != want.ModelUnitKVTokens || c.MaxModelUnits != want.MaxModelUnits {
				t.Errorf("got %+v\nwant %+v", c, want)
			}
		})
	}
}

var sizeCases = []struct {
	in   string
	want ByteSize
	ok   bool
}{
	{"0", 0, true},
	{"1073741824", 1 << 30, true},
	{"48GiB", 48 << 30, true},
	{"48 GiB", 48 << 30, true},
	{"512MiB", 512 << 20, true},
	{"1.5G", 3 << 29, true},
	{"2GB", 2e9, true},
	{"3KB", 3000, true},
	{"3K", 3072, true},
	{"1TiB", 1 << 40, true},
	{"7B", 7, true},
	{"", 0, false},
	{"GiB", 0, false},
	{"-1GiB", 0, false},
	{"+1GiB", 0, false},
	{"1e9", 0, false},
	{"nan", 0, false},
	{"inf", 0, false},
	{"1.2.3G", 0, false},
	{".", 0, false},
	{"12 parsecs", 0, false},
	{"9223372036854775807", 1<<63 - 1, true},
	{"9223372036854775807K", 0, false},
	{"99999999999TiB", 0, false},
	{"9999999999999999999999TB", 0, false},
}

func TestParseByteSize(t *testing.T) {
	for _, tt := range sizeCases {
		got, err := ParseByteSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v, want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	// Sizes round-trip through JSON as bytes and through String.
	for _, n := range []ByteSize{0, 7, 3 << 29, 48 << 30} {
		b, _ := json.Marshal(n)
		var back ByteSize
		if err := json.Unmarshal(b, &back); err != nil || back != n {
			t.Errorf("JSON round trip of %d: %d, %v", n, back, err)
		}
		if p, err := ParseByteSize(n.String()); err != nil || p != n {
			t.Errorf("ParseByteSize(%q) = %d, %v", n.String(), p, err)
		}
	}
}

func FuzzParseByteSize(f *testing.F) {
	for _, tt := range sizeCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseByteSize(s)
		if err == nil && n < 0 {
			t.Fatalf("ParseByteSize(%q) = %d < 0", s, n)
		}
	})
}
