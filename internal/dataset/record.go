package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDepth is the deepest JSON nesting a record may have. Every accepted
// format needs 4 levels; deeper input is refused before it is decoded.
const MaxDepth = 32

// Roles of a conversation turn.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one conversation turn, text only.
type Message struct {
	Role string `json:"role"`
	Text string `json:"text"`
}

// Example is one record, normalized across formats.
type Example struct {
	Format Format `json:"format"`
	// System is the system prompt (conversation formats).
	System string `json:"system,omitempty"`
	// Messages are the turns. Prompt/completion records are one user and one
	// assistant message; distillation prompts one user message.
	Messages []Message `json:"messages,omitempty"`
	// Text is the document of a continued pre-training record.
	Text string `json:"text,omitempty"`
}

// chars counts the characters (runes) of every text field.
func (e *Example) chars() int {
	n := utf8.RuneCountInString(e.System) + utf8.RuneCountInString(e.Text)
	for _, m := range e.Messages {
		n += utf8.RuneCountInString(m.Text)
	}
	return n
}

// LineRules configure the checks of a single line.
type LineRules struct {
	File   string
	Family Family
	Type   CustomizationType
	// MaxChars is the per-record character limit (0 = none).
	MaxChars int
}

// lineChecker parses and checks one line. It is immutable and safe for
// concurrent use.
type lineChecker struct {
	r      LineRules
	limits Limits
}

func newLineChecker(r LineRules) (*lineChecker, error) {
	l, ok := LimitsFor(r.Family)
	if !ok {
		return nil, fmt.Errorf("dataset: unknown family %q", r.Family)
	}
	return &lineChecker{r: r, limits: l}, nil
}

// ValidateLine checks one JSONL line (without its newline) against the
// rules and returns the parsed record, or nil when the line has errors,
// and every issue found. It never panics; every line gets a verdict: a
// non-nil Example or at least one error.
func ValidateLine(r LineRules, line []byte) (*Example, []Issue) {
	c, err := newLineChecker(r)
	if err != nil {
		return nil, []Issue{{Severity: SeverityError, Code: CodeUnsupportedType, File: r.File, Line: 1, Reason: err.Error()}}
	}
	var issues []Issue
	ex := c.check(line, 1, &issues)
	return ex, issues
}

// issuer collects the issues of one line.
type issuer struct {
	c      *lineChecker
	line   int64
	issues *[]Issue
	failed bool
}

func (s *issuer) add(sev Severity, code Code, field, reason, msg string) {
	if sev == SeverityError {
		s.failed = true
	}
	*s.issues = append(*s.issues, Issue{Severity: sev, Code: code, File: s.c.r.File, Line: s.line, Field: field, Reason: reason, Message: msg})
}

func (s *issuer) errf(code Code, field, format string, args ...any) {
	s.add(SeverityError, code, field, fmt.Sprintf(format, args...), "")
}

func (s *issuer) parseErr(col int, reason string) {
	s.failed = true
	*s.issues = append(*s.issues, Issue{Severity: SeverityError, Code: CodeInvalidJSON, File: s.c.r.File, Line: s.line, Column: col, Reason: reason, Message: msgUnparseable(s.c.r.File)})
}

// check validates one line; issues are appended to *issues.
func (c *lineChecker) check(line []byte, lineNo int64, issues *[]Issue) *Example {
	s := &issuer{c: c, line: lineNo, issues: issues}
	if len(bytes.TrimSpace(line)) == 0 {
		s.add(SeverityError, CodeBlankLine, "", "blank line: JSONL allows no empty lines between records", msgUnparseable(c.r.File))
		return nil
	}
	if !utf8.Valid(line) {
		off := invalidUTF8Offset(line)
		reason := fmt.Sprintf("invalid UTF-8 at byte %d (0x%02X): datasets must be UTF-8; this line looks like %s", off+1, line[off], guessEncoding(line))
		*issues = append(*issues, Issue{Severity: SeverityError, Code: CodeInvalidUTF8, File: c.r.File, Line: lineNo, Column: off + 1, Reason: reason, Message: msgUnparseable(c.r.File)})
		return nil
	}
	if i := bytes.IndexByte(line, 0); i >= 0 {
		*issues = append(*issues, Issue{Severity: SeverityError, Code: CodeUTF16, File: c.r.File, Line: lineNo, Column: i + 1, Reason: "NUL byte in line: the file is UTF-16 or binary, not UTF-8 JSON Lines", Message: msgUnparseable(c.r.File)})
		return nil
	}
	if bytes.HasPrefix(line, bom) {
		s.parseErr(1, "line starts with a UTF-8 byte-order mark (U+FEFF); were files with BOMs concatenated?")
		return nil
	}
	if off, depth := depthExceeded(line, MaxDepth); off >= 0 {
		*issues = append(*issues, Issue{Severity: SeverityError, Code: CodeTooDeep, File: c.r.File, Line: lineNo, Column: off + 1, Reason: fmt.Sprintf("JSON nested %d levels deep at byte %d; records may nest at most %d levels", depth, off+1, MaxDepth), Message: msgUnparseable(c.r.File)})
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			s.parseErr(int(se.Offset), fmt.Sprintf("not valid JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: ")))
		case errors.As(err, &te):
			*issues = append(*issues, Issue{Severity: SeverityError, Code: CodeNotObject, File: c.r.File, Line: lineNo, Reason: fmt.Sprintf("record is a JSON %s; each line must be one JSON object", jsonType(bytes.TrimSpace(line))), Message: msgUnparseable(c.r.File)})
		default:
			s.parseErr(0, "not valid JSON: "+err.Error())
		}
		return nil
	}
	if obj == nil {
		*issues = append(*issues, Issue{Severity: SeverityError, Code: CodeNotObject, File: c.r.File, Line: lineNo, Reason: "record is JSON null; each line must be one JSON object", Message: msgUnparseable(c.r.File)})
		return nil
	}
	f := c.detect(obj)
	if !c.limits.accepts(c.r.Type, f) {
		want := c.limits.Formats[c.r.Type]
		if len(want) == 0 {
			s.errf(CodeUnsupportedType, "", "%s does not support %s", c.limits.Name, c.r.Type)
			return nil
		}
		s.errf(CodeWrongFormat, "", "record is %s %s, but %s %s takes %s", f, formatKeys(f), c.limits.Name, c.r.Type, describeFormats(want))
		return nil
	}
	var ex *Example
	switch f {
	case FormatPromptCompletion:
		ex = s.promptCompletion(obj)
	case FormatPrompt:
		ex = s.promptOnly(obj)
	case FormatInput:
		ex = s.input(obj)
	case FormatConversation:
		ex = s.conversation(obj)
	case FormatMessages:
		ex = s.messages(obj)
	}
	if s.failed || ex == nil {
		return nil
	}
	if c.r.MaxChars > 0 {
		if n := ex.chars(); n > c.r.MaxChars {
			s.add(SeverityError, CodeRecordTooLarge, "", fmt.Sprintf("record holds %d characters; the limit is %d (%d tokens × %d characters per token)", n, c.r.MaxChars, c.r.MaxChars/CharsPerToken, CharsPerToken), msgInputSize(c.r.File, recordStart(line)))
			return nil
		}
	}
	s.reservedPrefix(ex)
	if s.failed {
		return nil
	}
	return ex
}

// detect names the format a record looks like, by its keys.
func (c *lineChecker) detect(obj map[string]json.RawMessage) Format {
	_, hasSchema := obj["schemaVersion"]
	msgs, hasMsgs := obj["messages"]
	_, hasPrompt := obj["prompt"]
	_, hasCompletion := obj["completion"]
	_, hasInput := obj["input"]
	want := c.limits.Formats[c.r.Type]
	switch {
	case hasSchema:
		return FormatConversation
	case hasMsgs:
		// Tell the two message shapes apart by the first message's content.
		var first []struct {
			Content json.RawMessage `json:"content"`
		}
		if json.Unmarshal(msgs, &first) == nil && len(first) > 0 && len(first[0].Content) > 0 {
			switch first[0].Content[0] {
			case '"':
				return FormatMessages
			case '[':
				return FormatConversation
			}
		}
		for _, f := range want {
			if f == FormatMessages || f == FormatConversation {
				return f
			}
		}
		return FormatConversation
	case hasPrompt && !hasCompletion && contains(want, FormatPrompt):
		return FormatPrompt
	case hasPrompt || hasCompletion:
		return FormatPromptCompletion
	case hasInput:
		return FormatInput
	}
	if len(want) > 0 && want[0] != FormatText {
		return want[0]
	}
	return FormatInput
}

func contains(fs []Format, f Format) bool {
	for _, g := range fs {
		if g == f {
			return true
		}
	}
	return false
}

func formatKeys(f Format) string {
	switch f {
	case FormatPromptCompletion:
		return `{"prompt", "completion"}`
	case FormatConversation:
		return `{"schemaVersion", "system", "messages"}`
	case FormatMessages:
		return `{"system", "messages"} with string content`
	case FormatInput:
		return `{"input"}`
	case FormatPrompt:
		return `{"prompt"}`
	case FormatText:
		return "(plain text)"
	}
	return ""
}

func describeFormats(fs []Format) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = string(f) + " " + formatKeys(f)
	}
	return strings.Join(parts, " or ")
}

// extraKeys reports keys outside allowed: errors when strict, else warnings.
func (s *issuer) extraKeys(obj map[string]json.RawMessage, prefix string, strict bool, allowed ...string) {
	var extra []string
	for k := range obj {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
				break
			}
		}
		if !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		if strict {
			s.errf(CodeUnknownField, prefix+k, "unknown key %q: this format allows only %s", k, quoteList(allowed))
		} else {
			s.add(SeverityWarning, CodeExtraField, prefix+k, fmt.Sprintf("unknown key %q is ignored (this format uses %s)", k, quoteList(allowed)), "")
		}
	}
}

func quoteList(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(q, ", ")
}

// str reads a required string field; empty reports whether "" is allowed.
func (s *issuer) str(obj map[string]json.RawMessage, key, path string, allowEmpty bool) (string, bool) {
	raw, ok := obj[key]
	if !ok || jsonType(raw) == "null" {
		s.errf(CodeMissingField, path, "missing required key %q", key)
		return "", false
	}
	if t := jsonType(raw); t != "string" {
		s.errf(CodeWrongType, path, "%q must be a string, not a JSON %s", key, t)
		return "", false
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		s.errf(CodeWrongType, path, "%q: %v", key, err)
		return "", false
	}
	if !allowEmpty && strings.TrimSpace(v) == "" {
		s.errf(CodeEmptyField, path, "%q is empty", key)
		return "", false
	}
	return v, true
}

func (s *issuer) promptCompletion(obj map[string]json.RawMessage) *Example {
	s.extraKeys(obj, "", false, "prompt", "completion")
	p, ok1 := s.str(obj, "prompt", "prompt", false)
	c, ok2 := s.str(obj, "completion", "completion", false)
	if !ok1 || !ok2 {
		return nil
	}
	return &Example{Format: FormatPromptCompletion, Messages: []Message{{RoleUser, p}, {RoleAssistant, c}}}
}

func (s *issuer) promptOnly(obj map[string]json.RawMessage) *Example {
	s.extraKeys(obj, "", false, "prompt")
	p, ok := s.str(obj, "prompt", "prompt", false)
	if !ok {
		return nil
	}
	return &Example{Format: FormatPrompt, Messages: []Message{{RoleUser, p}}}
}

func (s *issuer) input(obj map[string]json.RawMessage) *Example {
	s.extraKeys(obj, "", false, "input")
	t, ok := s.str(obj, "input", "input", false)
	if !ok {
		return nil
	}
	return &Example{Format: FormatInput, Text: t}
}

// messages checks the Claude 3 Haiku shape: optional string system, ≥2
// strictly alternating string messages, user first, assistant last, no
// extra keys.
func (s *issuer) messages(obj map[string]json.RawMessage) *Example {
	s.extraKeys(obj, "", true, "system", "messages")
	ex := &Example{Format: FormatMessages}
	if raw, ok := obj["system"]; ok && jsonType(raw) != "null" {
		if t := jsonType(raw); t != "string" {
			s.errf(CodeWrongType, "system", `"system" must be a string, not a JSON %s`, t)
		} else {
			_ = json.Unmarshal(raw, &ex.System)
		}
	}
	list, ok := s.msgList(obj)
	if !ok {
		return nil
	}
	for i, m := range list {
		p := fmt.Sprintf("messages[%d]", i)
		s.extraKeys(m, p+".", true, "role", "content")
		role, ok := s.role(m, p)
		if !ok {
			continue
		}
		raw, has := m["content"]
		if !has || jsonType(raw) == "null" {
			s.errf(CodeMissingField, p+".content", "missing required key %q", "content")
			continue
		}
		if t := jsonType(raw); t != "string" {
			s.errf(CodeWrongType, p+".content", `"content" must be a string in this format, not a JSON %s`, t)
			continue
		}
		var text string
		_ = json.Unmarshal(raw, &text)
		if strings.TrimSpace(text) == "" {
			s.errf(CodeEmptyField, p+".content", "message content is empty")
			continue
		}
		ex.Messages = append(ex.Messages, Message{role, text})
	}
	if s.failed {
		return nil
	}
	if len(ex.Messages) < 2 {
		s.errf(CodeTooFewMessages, "messages", "%d message(s); this format needs at least a user and an assistant message", len(ex.Messages))
		return nil
	}
	s.turnOrder(ex.Messages, true)
	return ex
}

func (s *issuer) msgList(obj map[string]json.RawMessage) ([]map[string]json.RawMessage, bool) {
	raw, ok := obj["messages"]
	if !ok || jsonType(raw) == "null" {
		s.errf(CodeMissingField, "messages", "missing required key %q", "messages")
		return nil, false
	}
	if t := jsonType(raw); t != "array" {
		s.errf(CodeWrongType, "messages", `"messages" must be an array, not a JSON %s`, t)
		return nil, false
	}
	var items []json.RawMessage
	_ = json.Unmarshal(raw, &items)
	if len(items) == 0 {
		s.errf(CodeTooFewMessages, "messages", `"messages" is empty`)
		return nil, false
	}
	out := make([]map[string]json.RawMessage, 0, len(items))
	for i, it := range items {
		if t := jsonType(it); t != "object" {
			s.errf(CodeWrongType, fmt.Sprintf("messages[%d]", i), "each message must be an object, not a JSON %s", t)
			continue
		}
		var m map[string]json.RawMessage
		_ = json.Unmarshal(it, &m)
		out = append(out, m)
	}
	return out, !s.failed
}

func (s *issuer) role(m map[string]json.RawMessage, p string) (string, bool) {
	role, ok := s.str(m, "role", p+".role", true)
	if !ok {
		return "", false
	}
	if role != RoleUser && role != RoleAssistant {
		s.errf(CodeBadRole, p+".role", "role %q: only %q and %q are allowed", role, RoleUser, RoleAssistant)
		return "", false
	}
	return role, true
}

// turnOrder checks user first, alternation and (when lastAssistant)
// assistant last.
func (s *issuer) turnOrder(msgs []Message, lastAssistant bool) {
	if msgs[0].Role != RoleUser {
		s.errf(CodeFirstNotUser, "messages[0].role", "the first message is from %q; it must be from %q", msgs[0].Role, RoleUser)
	}
	for i := 1; i < len(msgs); i++ {
		if msgs[i].Role == msgs[i-1].Role {
			s.errf(CodeNotAlternating, fmt.Sprintf("messages[%d].role", i), "messages %d and %d are both from %q; roles must alternate", i-1, i, msgs[i].Role)
			break
		}
	}
	if n := len(msgs) - 1; lastAssistant && msgs[n].Role != RoleAssistant {
		s.errf(CodeLastNotAssistant, fmt.Sprintf("messages[%d].role", n), "the last message is from %q; it must be from %q (the response to train on)", msgs[n].Role, RoleAssistant)
	}
}

// conversation checks bedrock-conversation-2024 records.
func (s *issuer) conversation(obj map[string]json.RawMessage) *Example {
	lim := s.c.limits
	s.extraKeys(obj, "", false, "schemaVersion", "system", "messages")
	if raw, ok := obj["schemaVersion"]; !ok || jsonType(raw) == "null" {
		s.errf(CodeSchemaVersion, "schemaVersion", `missing "schemaVersion": %q`, FormatConversation)
	} else if t := jsonType(raw); t != "string" {
		s.errf(CodeWrongType, "schemaVersion", `"schemaVersion" must be a string, not a JSON %s`, t)
	} else {
		var v string
		_ = json.Unmarshal(raw, &v)
		if !lim.AnySchemaVersion && v != string(FormatConversation) {
			s.errf(CodeSchemaVersion, "schemaVersion", "schemaVersion %q: want %q", v, FormatConversation)
		}
	}
	ex := &Example{Format: FormatConversation}
	if raw, ok := obj["system"]; ok && jsonType(raw) != "null" {
		if t := jsonType(raw); t != "array" {
			s.errf(CodeWrongType, "system", `"system" must be an array of {"text": ...} blocks, not a JSON %s`, t)
		} else {
			var blocks []json.RawMessage
			_ = json.Unmarshal(raw, &blocks)
			var parts []string
			for i, b := range blocks {
				if t, ok := s.block(b, fmt.Sprintf("system[%d]", i)); ok {
					parts = append(parts, t)
				}
			}
			ex.System = strings.Join(parts, "\n")
		}
	}
	list, ok := s.msgList(obj)
	if !ok {
		return nil
	}
	for i, m := range list {
		p := fmt.Sprintf("messages[%d]", i)
		s.extraKeys(m, p+".", false, "role", "content")
		role, ok := s.role(m, p)
		if !ok {
			continue
		}
		raw, has := m["content"]
		if !has || jsonType(raw) == "null" {
			s.errf(CodeMissingField, p+".content", "missing required key %q", "content")
			continue
		}
		if t := jsonType(raw); t != "array" {
			s.errf(CodeWrongType, p+".content", `"content" must be an array of content blocks, not a JSON %s`, t)
			continue
		}
		var blocks []json.RawMessage
		_ = json.Unmarshal(raw, &blocks)
		var parts []string
		for j, b := range blocks {
			if t, ok := s.block(b, fmt.Sprintf("%s.content[%d]", p, j)); ok {
				parts = append(parts, t)
			}
		}
		text := strings.Join(parts, "\n")
		if strings.TrimSpace(text) == "" && !s.failed {
			s.errf(CodeEmptyField, p+".content", "message has no text")
			continue
		}
		ex.Messages = append(ex.Messages, Message{role, text})
	}
	if s.failed {
		return nil
	}
	if s.c.r.Type == Distillation {
		if ex.Messages[0].Role != RoleUser {
			s.errf(CodeFirstNotUser, "messages[0].role", "the first message is from %q; it must be the user prompt", ex.Messages[0].Role)
			return nil
		}
		if lim.SingleTurnDistillation && (len(ex.Messages) > 2 || (len(ex.Messages) == 2 && ex.Messages[1].Role != RoleAssistant)) {
			s.errf(CodeMultiTurn, "messages", "%d messages: %s distillation takes one user prompt and at most one golden assistant response", len(ex.Messages), lim.Name)
			return nil
		}
		s.turnOrder(ex.Messages, false)
		return ex
	}
	if len(ex.Messages) < 2 {
		s.errf(CodeTooFewMessages, "messages", "1 message; fine-tuning needs at least a user and an assistant message")
		return nil
	}
	s.turnOrder(ex.Messages, true)
	return ex
}

// block reads one content block; only {"text": "..."} is accepted.
func (s *issuer) block(raw json.RawMessage, p string) (string, bool) {
	if t := jsonType(raw); t != "object" {
		s.errf(CodeWrongType, p, `content block must be an object like {"text": "..."}, not a JSON %s`, t)
		return "", false
	}
	var b map[string]json.RawMessage
	_ = json.Unmarshal(raw, &b)
	if _, ok := b["text"]; ok {
		if len(b) > 1 {
			var other []string
			for k := range b {
				if k != "text" {
					other = append(other, k)
				}
			}
			sort.Strings(other)
			s.errf(CodeUnknownField, p, "content block holds %q besides \"text\"; each block holds exactly one kind", other)
			return "", false
		}
		return s.str(b, "text", p+".text", true)
	}
	for _, kind := range []string{"image", "video", "document"} {
		if _, ok := b[kind]; ok {
			s.errf(CodeUnsupportedContent, p, "%s content blocks are not supported: Strata's models are text-only; remove the block or describe it in text", kind)
			return "", false
		}
	}
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		s.errf(CodeMissingField, p+".text", `empty content block; want {"text": "..."}`)
		return "", false
	}
	s.errf(CodeUnsupportedContent, p, "content block kind %q is not supported; only text blocks are", keys[0])
	return "", false
}

var reservedPrefixes = []string{"User:", "Bot:", "Assistant:", "System:", "<image>", "<video>", "[EOS]"}

func (s *issuer) reservedPrefix(ex *Example) {
	for i, m := range ex.Messages {
		if m.Role != RoleUser {
			continue
		}
		t := strings.TrimLeftFunc(m.Text, unicode.IsSpace)
		for _, p := range reservedPrefixes {
			if strings.HasPrefix(t, p) {
				sev := SeverityWarning
				if s.c.limits.ReservedPrefixesAreErrors {
					sev = SeverityError
				}
				field := fmt.Sprintf("messages[%d]", i)
				if ex.Format == FormatPromptCompletion || ex.Format == FormatPrompt {
					field = "prompt"
				}
				s.add(sev, CodeReservedPrefix, field, fmt.Sprintf("prompt starts with the reserved word %q", p), "")
				return
			}
		}
	}
}

// jsonType names the JSON type of a raw value.
func jsonType(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// depthExceeded returns the byte offset where nesting first passes max and
// the depth reached there, or -1. It skips strings and needs no recursion.
func depthExceeded(b []byte, max int) (int, int) {
	depth := 0
	inStr, esc := false, false
	for i, c := range b {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
			if depth > max {
				return i, depth
			}
		case '}', ']':
			depth--
		}
	}
	return -1, 0
}

var bom = []byte{0xEF, 0xBB, 0xBF}

func invalidUTF8Offset(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return 0
}

// guessEncoding names the likely encoding of bytes that are not UTF-8.
func guessEncoding(b []byte) string {
	valid := utf8.Valid(b)
	hasHigh := false
	for _, c := range b {
		if c >= 0x80 {
			hasHigh = true
			break
		}
	}
	switch {
	case valid:
		return "UTF-8"
	case hasHigh && hasCP1252Punct(b):
		return "Windows-1252 (smart quotes or dashes); re-save it as UTF-8"
	case hasHigh && utf8ValidPrefixRatio(b) > 0:
		return "a mix of UTF-8 and a single-byte encoding such as Latin-1; re-save it as UTF-8"
	}
	return "Latin-1 or another single-byte encoding; re-save it as UTF-8"
}

// hasCP1252Punct reports bytes that are Windows-1252 smart quotes, dashes,
// ellipsis or euro sign and never start a UTF-8 sequence.
func hasCP1252Punct(b []byte) bool {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			switch b[i] {
			case 0x80, 0x85, 0x91, 0x92, 0x93, 0x94, 0x96, 0x97:
				return true
			}
		}
		i += n
	}
	return false
}

// utf8ValidPrefixRatio counts multi-byte UTF-8 sequences that do decode.
func utf8ValidPrefixRatio(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError && size > 1 {
			n++
		}
		i += size
	}
	return n
}

// recordStart is the start of a record for "Input size exceeded" messages.
func recordStart(line []byte) string {
	const n = 40
	if len(line) > n*4 {
		line = line[:n*4]
	}
	s := strings.ToValidUTF8(string(line), "\uFFFD")
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n])
	}
	return s
}
