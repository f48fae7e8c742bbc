package generate

import (
	"strings"
	"testing"
)

var stopTests = []struct {
	name    string
	stops   []string
	pieces  []string
	want    string
	stopped bool
}{
	{"none", nil, []string{"a", "b"}, "ab", false},
	{"simple", []string{"END"}, []string{"hello ", "EN", "D more"}, "hello ", true},
	{"false start", []string{"END"}, []string{"E", "N", "X"}, "ENX", false},
	{"two stops earliest wins", []string{"bb", "a"}, []string{"xbba"}, "x", true},
	{"held at end", []string{"###"}, []string{"ok ##"}, "ok ##", false},
	{"empty stop ignored", []string{""}, []string{"ok"}, "ok", false},
	{"multibyte", []string{"→"}, []string{"x\xe2", "\x86\x92y"}, "x", true},
}

func TestStopMatcher(t *testing.T) {
	for _, tt := range stopTests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewStopMatcher(tt.stops)
			var got strings.Builder
			stopped := false
			for _, p := range tt.pieces {
				s, st := m.Push(p)
				got.WriteString(s)
				if st {
					stopped = true
					break
				}
			}
			if !stopped {
				got.WriteString(m.Flush())
			}
			if got.String() != tt.want || stopped != tt.stopped {
				t.Errorf("got (%q, %v), want (%q, %v)", got.String(), stopped, tt.want, tt.stopped)
			}
		})
	}
}

// FuzzStopMatcher checks that splitting the text anywhere gives the same
// result as one Push, and that the output is a prefix of the input that
// contains no stop sequence.
func FuzzStopMatcher(f *testing.F) {
	for _, tt := range stopTests {
		f.Add(strings.Join(tt.pieces, ""), strings.Join(tt.stops, "|"), 3)
	}
	f.Fuzz(func(t *testing.T, text, stops string, cut int) {
		ss := strings.Split(stops, "|")
		one := NewStopMatcher(ss)
		a, sa := one.Push(text)
		if !sa {
			a += one.Flush()
		}
		m := NewStopMatcher(ss)
		var b strings.Builder
		sb := false
		step := int(uint(cut)%7) + 1
		for i := 0; i < len(text) && !sb; i += step {
			s, st := m.Push(text[i:min(len(text), i+step)])
			b.WriteString(s)
			sb = st
		}
		if !sb {
			b.WriteString(m.Flush())
		}
		if a != b.String() || sa != sb {
			t.Fatalf("one push (%q,%v) != pieces (%q,%v)", a, sa, b.String(), sb)
		}
		if !strings.HasPrefix(text, a) {
			t.Fatalf("output %q not a prefix of %q", a, text)
		}
	})
}

var genCfgTests = []struct {
	name    string
	in      string
	eos     []int
	wantErr bool
}{
	{"single eos", `{"bos_token_id":1,"eos_token_id":2}`, []int{2}, false},
	{"list eos", `{"eos_token_id":[128001,128009],"do_sample":true,"temperature":0.6,"top_p":0.9}`, []int{128001, 128009}, false},
	{"no eos", `{}`, nil, false},
	{"null eos", `{"eos_token_id":null}`, nil, false},
	{"bad eos", `{"eos_token_id":"x"}`, nil, true},
	{"negative eos", `{"eos_token_id":-3}`, nil, true},
	{"not json", `{`, nil, true},
}

func TestParseGenerationConfig(t *testing.T) {
	for _, tt := range genCfgTests {
		g, err := ParseGenerationConfig([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, wantErr %v", tt.name, err, tt.wantErr)
			continue
		}
		if err == nil && len(g.EOSTokenIDs) != len(tt.eos) {
			t.Errorf("%s: eos = %v, want %v", tt.name, g.EOSTokenIDs, tt.eos)
		}
	}
	g, _ := ParseGenerationConfig([]byte(genCfgTests[1].in))
	if s := g.Sampling(); s.Temperature != 0.6 || s.TopP != 0.9 {
		t.Errorf("Sampling() = %+v", s)
	}
	if g.BOSTokenID != -1 {
		t.Errorf("BOSTokenID = %d, want -1", g.BOSTokenID)
	}
}

func FuzzParseGenerationConfig(f *testing.F) {
	for _, tt := range genCfgTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseGenerationConfig([]byte(s))
	})
}
