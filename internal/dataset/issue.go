package dataset

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"os"
	"sort"
)

// Severity says whether an issue fails the dataset.
type Severity string

// Severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Code classifies an issue; it is stable and meant for scripts.
type Code string

// Error codes: any of them makes the dataset invalid.
const (
	CodeInvalidJSON        Code = "invalid_json"        // line is not one JSON value
	CodeInvalidUTF8        Code = "invalid_utf8"        // bytes are not UTF-8 (mixed encodings, Latin-1)
	CodeUTF16              Code = "utf16_encoding"      // file is UTF-16 (byte-order mark FF FE / FE FF, or NUL bytes)
	CodeTooDeep            Code = "too_deep"            // JSON nested deeper than MaxDepth
	CodeBlankLine          Code = "blank_line"          // empty or whitespace-only line between records
	CodeNotObject          Code = "not_object"          // JSON value is not an object
	CodeRecordTooLarge     Code = "record_too_large"    // line over the byte or character limit
	CodeMissingField       Code = "missing_field"       // a required key is absent or null
	CodeEmptyField         Code = "empty_field"         // a required string is empty or whitespace
	CodeWrongType          Code = "wrong_type"          // a key holds the wrong JSON type
	CodeUnknownField       Code = "unknown_field"       // extra key where the format forbids it
	CodeWrongFormat        Code = "wrong_format"        // record is a format the family/type does not accept
	CodeMixedFormats       Code = "mixed_formats"       // record's format differs from the file's first record
	CodeSchemaVersion      Code = "schema_version"      // schemaVersion missing or not bedrock-conversation-2024
	CodeBadRole            Code = "bad_role"            // role other than user/assistant
	CodeFirstNotUser       Code = "first_not_user"      // first message is not from the user
	CodeLastNotAssistant   Code = "last_not_assistant"  // last message is not from the assistant
	CodeNotAlternating     Code = "not_alternating"     // two messages in a row from the same role
	CodeTooFewMessages     Code = "too_few_messages"    // fewer messages than the format needs
	CodeMultiTurn          Code = "multi_turn"          // distillation record with more than one turn for a single-turn family
	CodeUnsupportedContent Code = "unsupported_content" // image/video/document blocks: Strata's models are text-only
	CodeReservedPrefix     Code = "reserved_prefix"     // prompt starts with User:, Bot:, ... (error for Nova)
	CodeInputTokens        Code = "input_tokens"        // input tokens over the family limit
	CodeOutputTokens       Code = "output_tokens"       // output tokens over the family limit
	CodeTotalTokens        Code = "total_tokens"        // input+output tokens over the family limit
	CodeTemplate           Code = "template_error"      // the chat template refused the record
	CodeEmptyFile          Code = "empty_file"          // file holds no records
	CodeFileTooLarge       Code = "file_too_large"      // file over the family's size limit
	CodeTooFewRecords      Code = "too_few_records"     // fewer records than the family needs
	CodeTooManyRecords     Code = "too_many_records"    // more records than the family allows
	CodeTooManyValidators  Code = "too_many_validators" // more than MaxValidators validation files
	CodeUnsupportedType    Code = "unsupported_type"    // the family has no format for this customization type
)

// Warning codes: reported, but the dataset stays valid.
const (
	CodeBOM          Code = "utf8_bom"           // UTF-8 byte-order mark at the start of the file (ignored)
	CodeDuplicate    Code = "duplicate"          // same record as an earlier line
	CodeNearEmpty    Code = "near_empty"         // the trained part is a few characters at most
	CodeTruncated    Code = "truncated"          // longer than the configured max length; training cuts it
	CodeOverlap      Code = "train_val_overlap"  // validation record also in the training file
	CodeExtraField   Code = "extra_field"        // unknown key in a format that ignores it
	CodeLowLossShare Code = "low_loss_share"     // under 5% of the dataset's tokens carry loss
	CodeHyperParam   Code = "hyperparameter"     // hyperparameter out of the family's range or unparsable
	CodeDistillLimit Code = "distillation_limit" // over 15K prompts: the rest are not used
	CodeNoStopToken  Code = "no_stop_token"      // trained tokens hold no end-of-turn/EOS token: the model may never stop
)

// Issue is one finding about one record, or about a whole file (Line 0).
type Issue struct {
	Severity Severity `json:"severity"`
	Code     Code     `json:"code"`
	File     string   `json:"file"`
	// Line is 1-based; 0 for file-level issues.
	Line int64 `json:"line,omitempty"`
	// Column is the 1-based byte column inside the line when known.
	Column int `json:"column,omitempty"`
	// Field is a JSON path inside the record ("messages[2].role").
	Field string `json:"field,omitempty"`
	// Reason says precisely what is wrong, in Strata's words.
	Reason string `json:"reason"`
	// Message is Bedrock's failureMessage wording for this kind of failure,
	// where Bedrock documents one (SPEC.md §A.9).
	Message string `json:"message,omitempty"`
	// Related is another line this issue refers to (the earlier duplicate,
	// the training line a validation record overlaps).
	Related int64 `json:"related,omitempty"`
}

// String formats the issue as "file:line: code: reason".
func (i Issue) String() string {
	loc := i.File
	if i.Line > 0 {
		loc = fmt.Sprintf("%s:%d", i.File, i.Line)
		if i.Column > 0 {
			loc = fmt.Sprintf("%s:%d", loc, i.Column)
		}
	}
	f := ""
	if i.Field != "" {
		f = " (" + i.Field + ")"
	}
	return fmt.Sprintf("%s: %s %s%s: %s", loc, i.Severity, i.Code, f, i.Reason)
}

// Bedrock's documented failure messages (SPEC.md §A.9).
func msgUnparseable(file string) string {
	return fmt.Sprintf("Unable to parse Amazon S3 file: %s. Data files must conform to JSONL format.", file)
}

func msgInputSize(file, start string) string {
	return fmt.Sprintf("Input size exceeded in file %s for record starting with %s...", file, start)
}

func msgInputTokens(n, limit int) string {
	return fmt.Sprintf("Maximum input token count %d exceeds limit of %d", n, limit)
}

func msgOutputTokens(n, limit int) string {
	return fmt.Sprintf("Maximum output token count %d exceeds limit of %d", n, limit)
}

func msgTotalTokens(n, limit int) string {
	return fmt.Sprintf("Max sum of input and output token length %d exceeds total limit of %d", n, limit)
}

// issueLog keeps every issue of a run in bounded memory: the first memLimit
// in a slice, the rest spilled to a temporary JSON-lines file.
type issueLog struct {
	memLimit int
	spillDir string
	mem      []Issue
	spill    *os.File
	spillW   *bufio.Writer
	enc      *json.Encoder
	n        int64
	byCode   map[Code]int64
	err      error
}

func newIssueLog(memLimit int, spillDir string) *issueLog {
	return &issueLog{memLimit: memLimit, spillDir: spillDir, byCode: map[Code]int64{}}
}

func (l *issueLog) add(is Issue) {
	l.n++
	l.byCode[is.Code]++
	if len(l.mem) < l.memLimit {
		l.mem = append(l.mem, is)
		return
	}
	if l.err != nil {
		return
	}
	if l.spill == nil {
		f, err := os.CreateTemp(l.spillDir, "strata-dataset-issues-*.jsonl")
		if err != nil {
			l.err = fmt.Errorf("dataset: spill issues: %w", err)
			return
		}
		l.spill, l.spillW = f, bufio.NewWriterSize(f, 64*kb)
		l.enc = json.NewEncoder(l.spillW)
	}
	if err := l.enc.Encode(is); err != nil {
		l.err = fmt.Errorf("dataset: spill issues: %w", err)
	}
}

// all yields every issue in the order added.
func (l *issueLog) all() iter.Seq2[Issue, error] {
	return func(yield func(Issue, error) bool) {
		for _, is := range l.mem {
			if !yield(is, nil) {
				return
			}
		}
		if l.spill == nil {
			return
		}
		if err := l.spillW.Flush(); err != nil {
			yield(Issue{}, fmt.Errorf("dataset: read spilled issues: %w", err))
			return
		}
		f, err := os.Open(l.spill.Name())
		if err != nil {
			yield(Issue{}, fmt.Errorf("dataset: read spilled issues: %w", err))
			return
		}
		defer f.Close()
		dec := json.NewDecoder(bufio.NewReaderSize(f, 64*kb))
		for {
			var is Issue
			if err := dec.Decode(&is); err == io.EOF {
				return
			} else if err != nil {
				yield(Issue{}, fmt.Errorf("dataset: read spilled issues: %w", err))
				return
			}
			if !yield(is, nil) {
				return
			}
		}
	}
}

func (l *issueLog) close() error {
	if l.spill == nil {
		return nil
	}
	name := l.spill.Name()
	err := l.spill.Close()
	l.spill = nil
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	return err
}

// CodeCount is how many issues of one code a run found.
type CodeCount struct {
	Code     Code     `json:"code"`
	Severity Severity `json:"severity"`
	Count    int64    `json:"count"`
	// FirstLine and FirstFile locate the first occurrence.
	FirstFile string `json:"firstFile"`
	FirstLine int64  `json:"firstLine,omitempty"`
}

func sortCodeCounts(c []CodeCount) {
	sort.Slice(c, func(i, j int) bool {
		if c[i].Severity != c[j].Severity {
			return c[i].Severity == SeverityError
		}
		if c[i].Count != c[j].Count {
			return c[i].Count > c[j].Count
		}
		return c[i].Code < c[j].Code
	})
}
