package dataset

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONScan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		wantErr string // "" when valid
	}{
		{`{}`, ""},
		{` [ ] `, ""},
		{`{"a":[1,-2.5e+3,true,false,null,"x\u00e9\n"],"b":{}}`, ""},
		{`"\ud83d\ude00"`, ""},
		{`{"a":1,}`, "byte 8: invalid character '}' looking for beginning of object key string"},
		{`[1,]`, "byte 4: invalid character ']' looking for beginning of value"},
		{`{"a" 1}`, "byte 6: invalid character '1' after object key"},
		{`{"a":1 "b":2}`, "byte 8: invalid character '\"' after object key:value pair"},
		{`[1 2]`, "byte 4: invalid character '2' after array element"},
		{`{"a":1}}`, "byte 8: invalid character '}' after top-level value"},
		{`{"a":"x`, "byte 8: unexpected end of JSON input"},
		{`{"a":"\x"}`, "byte 8: invalid character 'x' in string escape code"},
		{`{"a":"\u12G4"}`, "byte 11: invalid character 'G' in \\u hexadecimal character escape"},
		{"{\"a\":\"\t\"}", "byte 7: invalid character '\\t' in string literal"},
		{`{"a":01}`, "byte 7: invalid character '1' after object key:value pair"},
		{`{"a":-}`, "byte 7: invalid character '}' in numeric literal (want a digit)"},
		{`{"a":1.}`, "byte 8: invalid character '}' in numeric literal (want a digit after the decimal point)"},
		{`{"a":tru}`, "byte 9: invalid character '}' in literal true (expecting 'e')"},
		{``, "byte 1: unexpected end of JSON input"},
		{`{"a":[`, "byte 7: unexpected end of JSON input"},
	}
	var p jparser
	for _, tt := range tests {
		err := p.parse([]byte(tt.in), 64)
		got := ""
		if err != nil {
			got = "byte " + itoa(err.off+1) + ": " + err.msg
		}
		if got != tt.wantErr {
			t.Errorf("parse(%q) = %q, want %q", tt.in, got, tt.wantErr)
		}
		if valid := json.Valid([]byte(tt.in)); valid != (err == nil) {
			t.Errorf("parse(%q) error %v but json.Valid = %v", tt.in, err, valid)
		}
	}
}

// FuzzJSONScan checks the single-pass parser against encoding/json: the
// same verdict on validity and the same decoded strings.
func FuzzJSONScan(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x\u00e9",{"b":null}]}`, `"\ud800\udc00\ud800"`, `[1e5,-0.5,true]`, `{"a":"\/\b\f"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p jparser
		err := p.parse(b, 1<<20)
		if valid := json.Valid(b); valid != (err == nil) {
			t.Fatalf("parse(%q) error %v, json.Valid = %v", b, err, valid)
		}
		if err != nil {
			if err.off < 0 || err.off > len(b) {
				t.Fatalf("parse(%q): offset %d out of range", b, err.off)
			}
			return
		}
		for i, nd := range p.nodes {
			if nd.kind != jString {
				continue
			}
			var want string
			if err := json.Unmarshal(b[nd.s-1:nd.e+1], &want); err != nil {
				t.Fatalf("json.Unmarshal(%q): %v", b[nd.s-1:nd.e+1], err)
			}
			// encoding/json replaces invalid UTF-8 bytes; lines reach the
			// parser only after a UTF-8 check, so compare on valid input.
			if got := p.str(int32(i)); got != want && strings.ToValidUTF8(string(b), "") == string(b) {
				t.Fatalf("str(%q) = %q, want %q", b[nd.s-1:nd.e+1], got, want)
			}
		}
	})
}

// BenchmarkParse compares the single-pass scanner with encoding/json (the
// peer) decoding the same conversation line into a generic map.
func BenchmarkParse(b *testing.B) {
	line := []byte(`{"schemaVersion":"bedrock-conversation-2024","system":[{"text":"You are a concise assistant."}],"messages":[{"role":"user","content":[{"text":"What is the capital of France? Answer in one sentence, please, and mention the river that runs through it."}]},{"role":"assistant","content":[{"text":"The capital of France is Paris, on the Seine."}]}]}`)
	b.Run("jparser", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(line)))
		var p jparser
		for b.Loop() {
			if err := p.parse(line, MaxDepth); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(line)))
		for b.Loop() {
			var v map[string]any
			if err := json.Unmarshal(line, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
