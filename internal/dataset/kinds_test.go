package dataset

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const jsonlMsg = "Data files must conform to JSONL format."

// TestKinds runs one file per issue kind and checks every issue, exactly.
func TestKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file    string
		family  Family
		typ     CustomizationType
		noTmpl  bool
		want    []string // Issue.String() of every issue, in order
		wantMsg string   // Bedrock message of the first issue
	}{
		{file: "invalid_json.jsonl", want: []string{
			"invalid_json.jsonl:2:52: error invalid_json: not valid JSON at byte 52: unexpected end of JSON input",
			"invalid_json.jsonl:3: warning duplicate: same record as line 1",
		}, wantMsg: "Unable to parse Amazon S3 file: invalid_json.jsonl. " + jsonlMsg},
		{file: "trailing_data.jsonl", want: []string{
			"trailing_data.jsonl:1:95: error invalid_json: not valid JSON at byte 95: invalid character '{' after top-level value",
		}, wantMsg: "Unable to parse Amazon S3 file: trailing_data.jsonl. " + jsonlMsg},
		{file: "invalid_utf8.jsonl", want: []string{
			"invalid_utf8.jsonl:2:16: error invalid_utf8: invalid UTF-8 at byte 16 (0xE9): datasets must be UTF-8; this line looks like Latin-1 or another single-byte encoding; re-save it as UTF-8",
		}, wantMsg: "Unable to parse Amazon S3 file: invalid_utf8.jsonl. " + jsonlMsg},
		{file: "windows1252.jsonl", want: []string{
			"windows1252.jsonl:1:17: error invalid_utf8: invalid UTF-8 at byte 17 (0x93): datasets must be UTF-8; this line looks like Windows-1252 (smart quotes or dashes); re-save it as UTF-8",
		}, wantMsg: "Unable to parse Amazon S3 file: windows1252.jsonl. " + jsonlMsg},
		{file: "utf16.jsonl", want: []string{
			"utf16.jsonl: error utf16_encoding: file starts with a UTF-16 byte-order mark: datasets must be UTF-8 JSON Lines; convert it (iconv -f UTF-16 -t UTF-8)",
		}, wantMsg: "Unable to parse Amazon S3 file: utf16.jsonl. " + jsonlMsg},
		{file: "nul_byte.jsonl", want: []string{
			"nul_byte.jsonl:1:14: error utf16_encoding: NUL byte in line: the file is UTF-16 or binary, not UTF-8 JSON Lines",
		}, wantMsg: "Unable to parse Amazon S3 file: nul_byte.jsonl. " + jsonlMsg},
		{file: "too_deep.jsonl", want: []string{
			"too_deep.jsonl:2:43: error too_deep: JSON nested 33 levels deep at byte 43; records may nest at most 32 levels",
		}, wantMsg: "Unable to parse Amazon S3 file: too_deep.jsonl. " + jsonlMsg},
		{file: "blank_line.jsonl", want: []string{
			"blank_line.jsonl:2: error blank_line: blank line: JSONL allows no empty lines between records",
		}, wantMsg: "Unable to parse Amazon S3 file: blank_line.jsonl. " + jsonlMsg},
		{file: "not_object.jsonl", want: []string{
			"not_object.jsonl:1: error not_object: record is a JSON array; each line must be one JSON object",
		}, wantMsg: "Unable to parse Amazon S3 file: not_object.jsonl. " + jsonlMsg},
		{file: "null_record.jsonl", want: []string{
			"null_record.jsonl:1: error not_object: record is JSON null; each line must be one JSON object",
		}, wantMsg: "Unable to parse Amazon S3 file: null_record.jsonl. " + jsonlMsg},
		{file: "bom_mid.jsonl", want: []string{
			"bom_mid.jsonl:2:1: error invalid_json: line starts with a UTF-8 byte-order mark (U+FEFF); were files with BOMs concatenated?",
		}, wantMsg: "Unable to parse Amazon S3 file: bom_mid.jsonl. " + jsonlMsg},
		{file: "missing_field.jsonl", want: []string{
			`missing_field.jsonl:1: error missing_field (completion): missing required key "completion"`,
		}},
		{file: "empty_field.jsonl", want: []string{
			`empty_field.jsonl:1: error empty_field (completion): "completion" is empty`,
		}},
		{file: "wrong_type.jsonl", want: []string{
			`wrong_type.jsonl:1: error wrong_type (prompt): "prompt" must be a string, not a JSON number`,
		}},
		{file: "unknown_field.jsonl", family: FamilyClaude3Haiku, want: []string{
			`unknown_field.jsonl:1: error unknown_field (id): unknown key "id": this format allows only "system", "messages"`,
			"unknown_field.jsonl: error too_few_records: 1 training records; Anthropic Claude 3 Haiku needs at least 32",
		}},
		{file: "claude_not_alternating.jsonl", family: FamilyClaude3Haiku, want: []string{
			`claude_not_alternating.jsonl:1: error not_alternating (messages[1].role): messages 0 and 1 are both from "user"; roles must alternate`,
			"claude_not_alternating.jsonl: error too_few_records: 1 training records; Anthropic Claude 3 Haiku needs at least 32",
		}},
		{file: "wrong_format.jsonl", family: FamilyLlama32, want: []string{
			`wrong_format.jsonl:1: error wrong_format: record is prompt-completion {"prompt", "completion"}, but Meta Llama 3.2 FINE_TUNING takes bedrock-conversation-2024 {"schemaVersion", "system", "messages"}`,
			"wrong_format.jsonl: error too_few_records: 1 training and validation records; Meta Llama 3.2 needs at least 100",
		}},
		{file: "cpt_input.jsonl", typ: ContinuedPreTraining, want: []string{
			`cpt_input.jsonl:2: error empty_field (input): "input" is empty`,
		}},
		{file: "cpt_text.txt", typ: ContinuedPreTraining, want: []string{
			"cpt_text.txt:4:12: error invalid_utf8: invalid UTF-8 at byte 12 (0xE9): datasets must be UTF-8; this line looks like Latin-1 or another single-byte encoding; re-save it as UTF-8",
		}},
		{file: "cpt_text.txt", want: []string{
			`cpt_text.txt: error wrong_format: plain-text files are for continued pre-training; Hugging Face model FINE_TUNING takes prompt-completion {"prompt", "completion"} or bedrock-conversation-2024 {"schemaVersion", "system", "messages"} or system-messages {"system", "messages"} with string content`,
		}},
		{file: "mixed_formats.jsonl", want: []string{
			"mixed_formats.jsonl:2: error mixed_formats: record is bedrock-conversation-2024 but the file's first record is prompt-completion; one file holds one format",
		}},
		{file: "schema_version.jsonl", want: []string{
			`schema_version.jsonl:1: error schema_version (schemaVersion): missing "schemaVersion": "bedrock-conversation-2024"`,
		}},
		{file: "content_string_in_conversation.jsonl", want: []string{
			`content_string_in_conversation.jsonl:1: error wrong_type (messages[0].content): "content" must be an array of content blocks, not a JSON string`,
		}},
		{file: "bad_role.jsonl", want: []string{
			`bad_role.jsonl:1: error bad_role (messages[1].role): role "bot": only "user" and "assistant" are allowed`,
		}},
		{file: "first_not_user.jsonl", want: []string{
			`first_not_user.jsonl:1: error first_not_user (messages[0].role): the first message is from "assistant"; it must be from "user"`,
		}},
		{file: "last_not_assistant.jsonl", want: []string{
			`last_not_assistant.jsonl:1: error last_not_assistant (messages[2].role): the last message is from "user"; it must be from "assistant" (the response to train on)`,
		}},
		{file: "not_alternating.jsonl", want: []string{
			`not_alternating.jsonl:1: error not_alternating (messages[1].role): messages 0 and 1 are both from "user"; roles must alternate`,
		}},
		{file: "too_few_messages.jsonl", want: []string{
			"too_few_messages.jsonl:1: error too_few_messages (messages): 1 message; fine-tuning needs at least a user and an assistant message",
		}},
		{file: "multi_turn.jsonl", family: FamilyLlama32, typ: Distillation, want: []string{
			"multi_turn.jsonl:1: error multi_turn (messages): 3 messages: Meta Llama 3.2 distillation takes one user prompt and at most one golden assistant response",
			"multi_turn.jsonl: error too_few_records: 1 training and validation records; Meta Llama 3.2 needs at least 100",
			"multi_turn.jsonl: warning distillation_limit: 1 prompts; AWS recommends at least 100 for distillation",
		}},
		{file: "multi_turn.jsonl", typ: Distillation, want: []string{
			"multi_turn.jsonl: warning distillation_limit: 1 prompts; AWS recommends at least 100 for distillation",
		}},
		{file: "distill_prompt.jsonl", typ: Distillation, want: []string{
			"distill_prompt.jsonl:2: error mixed_formats: record is bedrock-conversation-2024 but the file's first record is prompt; one file holds one format",
			"distill_prompt.jsonl: warning distillation_limit: 2 prompts; AWS recommends at least 100 for distillation",
		}},
		{file: "unsupported_content.jsonl", want: []string{
			"unsupported_content.jsonl:1: error unsupported_content (messages[0].content[1]): image content blocks are not supported: Strata's models are text-only; remove the block or describe it in text",
		}},
		{file: "reserved_prefix.jsonl", family: FamilyNova, want: []string{
			`reserved_prefix.jsonl:1: error reserved_prefix (messages[0]): prompt starts with the reserved word "User:"`,
		}},
		{file: "reserved_prefix.jsonl", family: FamilyOpen, want: []string{
			`reserved_prefix.jsonl:1: error schema_version (schemaVersion): schemaVersion "anything": want "bedrock-conversation-2024"`,
		}},
		{file: "template_error.jsonl", noTmpl: true, want: []string{
			"template_error.jsonl:1: error template_error: the base model has no chat template; use prompt-completion records",
		}},
		{file: "empty_file.jsonl", want: []string{
			"empty_file.jsonl: error empty_file: file is empty: it holds no records",
		}},
		{file: "only_blank_lines.jsonl", want: []string{
			"only_blank_lines.jsonl:1: error blank_line: blank line: JSONL allows no empty lines between records",
			"only_blank_lines.jsonl:2: error blank_line: blank line: JSONL allows no empty lines between records",
			"only_blank_lines.jsonl:3: error blank_line: blank line: JSONL allows no empty lines between records",
			"only_blank_lines.jsonl: error empty_file: file holds no records, only blank lines",
		}, wantMsg: "Unable to parse Amazon S3 file: only_blank_lines.jsonl. " + jsonlMsg},
		{file: "too_few_records.jsonl", family: FamilyLlama31, want: []string{
			"too_few_records.jsonl: error too_few_records: 1 training and validation records; Meta Llama 3.1 needs at least 100",
		}},
		{file: "bom.jsonl", want: []string{
			"bom.jsonl: warning utf8_bom: file starts with a UTF-8 byte-order mark; it was ignored",
		}},
		{file: "crlf_no_final_newline.jsonl", want: nil},
		{file: "duplicate.jsonl", want: []string{
			"duplicate.jsonl:3: warning duplicate: same record as line 1",
		}},
		{file: "near_empty.jsonl", want: []string{
			"near_empty.jsonl:1: warning near_empty: record holds fewer than 10 non-space characters of text",
		}},
		{file: "extra_field.jsonl", want: []string{
			`extra_field.jsonl:1: warning extra_field (source): unknown key "source" is ignored (this format uses "prompt", "completion")`,
		}},
	}
	for _, tt := range tests {
		name := strings.TrimSuffix(tt.file, filepath.Ext(tt.file)) + "/" + string(tt.family) + "/" + string(tt.typ)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, err := FileSource(filepath.Join("testdata", "kinds", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			enc := testEncoder()
			if tt.noTmpl {
				enc.Template = nil
			}
			r := mustValidate(t, Config{Family: tt.family, Type: tt.typ, Encoder: enc}, src)
			var got []string
			for _, is := range allIssues(t, r) {
				got = append(got, is.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("issues (-want +got):\n%s", diff)
			}
			wantValid := true
			for _, w := range tt.want {
				if strings.Contains(w, ": error ") {
					wantValid = false
				}
			}
			if r.Valid != wantValid {
				t.Errorf("Valid = %v, want %v", r.Valid, wantValid)
			}
			if tt.wantMsg != "" {
				if first := allIssues(t, r)[0]; first.Message != tt.wantMsg {
					t.Errorf("Message = %q, want %q", first.Message, tt.wantMsg)
				}
				if !strings.HasPrefix(r.FailureMessage, tt.wantMsg) {
					t.Errorf("FailureMessage = %q, want prefix %q", r.FailureMessage, tt.wantMsg)
				}
			}
		})
	}
}

func writeLines(t *testing.T, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func pcLine(prompt, completion string) string {
	b, _ := json.Marshal(map[string]string{"prompt": prompt, "completion": completion})
	return string(b)
}

func words(n int, w string) string {
	return strings.TrimSpace(strings.Repeat(w+" ", n))
}

func nRecords(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = pcLine(fmt.Sprintf("Question number %d about geography?", i), fmt.Sprintf("Answer number %d, with some detail.", i))
	}
	return lines
}

// TestGeneratedKinds covers the kinds that need large or many records.
func TestGeneratedKinds(t *testing.T) {
	t.Parallel()
	src := func(t *testing.T, name string, lines ...string) Source {
		s, err := FileSource(writeLines(t, name, lines...))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	check := func(t *testing.T, r *Report, wantMsg string, want ...string) {
		t.Helper()
		var got []string
		for _, is := range allIssues(t, r) {
			got = append(got, is.String())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("issues (-want +got):\n%s", diff)
		}
		if wantMsg != "" && !strings.HasPrefix(r.FailureMessage, wantMsg) {
			t.Errorf("FailureMessage = %q, want prefix %q", r.FailureMessage, wantMsg)
		}
	}
	hundred := nRecords(100)
	t.Run("input_tokens", func(t *testing.T) {
		lines := append([]string{pcLine(words(16001, "w"), "short answer here")}, hundred...)
		r := mustValidate(t, Config{Family: FamilyLlama31}, src(t, "train.jsonl", lines...))
		check(t, r, "Maximum input token count 16002 exceeds limit of 16000. train.jsonl line 1: Maximum input token count 16002 exceeds limit of 16000.",
			"train.jsonl:1: error input_tokens: Maximum input token count 16002 exceeds limit of 16000",
			"train.jsonl:1: error total_tokens: Max sum of input and output token length 16006 exceeds total limit of 16000",
			"train.jsonl: warning low_loss_share: only 4.1% of the training tokens carry loss: most of each record is prompt the model does not learn to produce")
	})
	t.Run("output_tokens", func(t *testing.T) {
		lines := append([]string{pcLine("Write a long essay.", words(2100, "w"))}, hundred...)
		r := mustValidate(t, Config{Family: FamilyCohereCommand}, src(t, "train.jsonl", lines...))
		check(t, r, "Maximum output token count 2101 exceeds limit of 2048.",
			"train.jsonl:1: error output_tokens: Maximum output token count 2101 exceeds limit of 2048")
	})
	t.Run("total_tokens_max_over_records", func(t *testing.T) {
		conv := func(n int, w string) string {
			b, _ := json.Marshal(map[string]any{"schemaVersion": "bedrock-conversation-2024", "messages": []any{
				map[string]any{"role": "user", "content": []any{map[string]string{"text": words(n, w)}}},
				map[string]any{"role": "assistant", "content": []any{map[string]string{"text": words(n, "a")}}},
			}})
			return string(b)
		}
		lines := []string{conv(8000, "u"), conv(9000, "u")}
		for i := range 100 {
			lines = append(lines, conv(5, fmt.Sprint("u", i)))
		}
		r := mustValidate(t, Config{Family: FamilyLlama32}, src(t, "train.jsonl", lines...))
		// Bedrock's message names the maximum over the dataset. Tokens:
		// BOS, 3 header, n words, eot, 3 header, n words, eot = 2n+9.
		check(t, r, "Max sum of input and output token length 18009 exceeds total limit of 16000. train.jsonl line 1: Max sum of input and output token length 16009 exceeds total limit of 16000. 2 errors in all",
			"train.jsonl:1: error total_tokens: Max sum of input and output token length 16009 exceeds total limit of 16000",
			"train.jsonl:2: error total_tokens: Max sum of input and output token length 18009 exceeds total limit of 16000")
	})
	t.Run("record_too_large_chars", func(t *testing.T) {
		lines := append([]string{pcLine("Summarize.", strings.Repeat("abcdefghij", 9700))}, hundred...)
		r := mustValidate(t, Config{Family: FamilyLlama31}, src(t, "train.jsonl", lines...))
		check(t, r, `Input size exceeded in file train.jsonl for record starting with {"completion":"abcdefghijabcdefghijabcde...`,
			"train.jsonl:1: error record_too_large: record holds 97010 characters; the limit is 96000 (16000 tokens × 6 characters per token)")
	})
	t.Run("record_too_large_bytes", func(t *testing.T) {
		lines := append([]string{pcLine("Summarize.", strings.Repeat("\u00e9", 700_000))}, hundred...)
		r := mustValidate(t, Config{Family: FamilyLlama31}, src(t, "train.jsonl", lines...))
		check(t, r, `Input size exceeded in file train.jsonl for record starting with {"completion":"ééééééééééééééééééééééééé...`,
			"train.jsonl:1: error record_too_large: line is 1400039 bytes; the limit is 641536 bytes (16000 tokens × 6 characters per token, JSON-escaped)")
	})
	t.Run("too_many_records", func(t *testing.T) {
		val := src(t, "val.jsonl", nRecords(1001)...)
		r := mustValidate(t, Config{Family: FamilyCohereCommand}, src(t, "train.jsonl", nRecords(10)...), val)
		check(t, r, "Validation failed: train.jsonl: 1001 validation records; Cohere Command allows at most 1000.",
			"val.jsonl:1: warning train_val_overlap: same record as training line 1: validation loss on it measures memorization",
			"val.jsonl:2: warning train_val_overlap: same record as training line 2: validation loss on it measures memorization",
			"val.jsonl:3: warning train_val_overlap: same record as training line 3: validation loss on it measures memorization",
			"val.jsonl:4: warning train_val_overlap: same record as training line 4: validation loss on it measures memorization",
			"val.jsonl:5: warning train_val_overlap: same record as training line 5: validation loss on it measures memorization",
			"val.jsonl:6: warning train_val_overlap: same record as training line 6: validation loss on it measures memorization",
			"val.jsonl:7: warning train_val_overlap: same record as training line 7: validation loss on it measures memorization",
			"val.jsonl:8: warning train_val_overlap: same record as training line 8: validation loss on it measures memorization",
			"val.jsonl:9: warning train_val_overlap: same record as training line 9: validation loss on it measures memorization",
			"val.jsonl:10: warning train_val_overlap: same record as training line 10: validation loss on it measures memorization",
			"train.jsonl: error too_many_records: 1001 validation records; Cohere Command allows at most 1000")
		if got := r.Files[1].Overlap; got != 10 {
			t.Errorf("Overlap = %d, want 10", got)
		}
	})
	t.Run("too_many_validators", func(t *testing.T) {
		var vals []Source
		for i := range 11 {
			vals = append(vals, src(t, fmt.Sprintf("val%d.jsonl", i), pcLine(fmt.Sprintf("validation prompt %d here", i), "validation answer text")))
		}
		r := mustValidate(t, Config{}, src(t, "train.jsonl", nRecords(3)...), vals...)
		check(t, r, "", "val10.jsonl: error too_many_validators: 11 validation files; a job takes at most 10")
	})
	t.Run("file_too_large", func(t *testing.T) {
		s := src(t, "train.jsonl", nRecords(3)...)
		s.Size = 2 << 30
		r := mustValidate(t, Config{Family: FamilyTitanTextPremier}, s)
		check(t, r, "", "train.jsonl: error file_too_large: training file is 2147483648 bytes; Amazon Titan Text Premier allows at most 1073741824")
	})
	t.Run("truncated", func(t *testing.T) {
		lines := []string{pcLine("short prompt here", "short answer here"), pcLine(words(30, "p"), words(30, "c"))}
		r := mustValidate(t, Config{MaxSeqLen: 32}, src(t, "train.jsonl", lines...))
		check(t, r, "", "train.jsonl:2: warning truncated: 62 tokens; training truncates records to 32 tokens, dropping 30")
		if f := r.Files[0]; f.Truncated != 1 || !cmp.Equal(f.TruncatedLines, []int64{2}) {
			t.Errorf("Truncated = %d %v, want 1 [2]", f.Truncated, f.TruncatedLines)
		}
	})
	t.Run("low_loss_share_and_hyperparameters", func(t *testing.T) {
		r := mustValidate(t, Config{HyperParameters: map[string]string{"epochCount": "0", "batchSize": "x", "dropout": "0.1"}},
			src(t, "train.jsonl", pcLine(words(100, "p"), "a b c")))
		check(t, r, "",
			"train.jsonl: warning low_loss_share: only 3.8% of the training tokens carry loss: most of each record is prompt the model does not learn to produce",
			`train.jsonl: warning hyperparameter (hyperParameters.dropout): hyperparameter "dropout" is not one Hugging Face model takes`,
			`train.jsonl: warning hyperparameter (hyperParameters.epochCount): hyperparameter epochCount=0 is outside Hugging Face model's range 1–100; the job would be rejected`,
			`train.jsonl: warning hyperparameter (hyperParameters.batchSize): hyperparameter batchSize="x" is not a number; using the default 1`)
	})
	t.Run("distillation_limit", func(t *testing.T) {
		lines := make([]string, 15001)
		for i := range lines {
			lines[i] = fmt.Sprintf(`{"prompt": "Distill prompt number %d please"}`, i)
		}
		r := mustValidate(t, Config{Type: Distillation}, src(t, "train.jsonl", lines...))
		check(t, r, "", "train.jsonl: warning distillation_limit: 15001 prompts; distillation uses at most 15000")
	})
}
