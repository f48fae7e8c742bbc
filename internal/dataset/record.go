package dataset

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
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
	ex := c.check(line, 1, &issues, &jparser{})
	return ex, issues
}

// issuer collects the issues of one line.
type issuer struct {
	p      *jparser
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

// check validates one line with parser p (one per goroutine); issues are
// appended to *issues.
func (c *lineChecker) check(line []byte, lineNo int64, issues *[]Issue, p *jparser) *Example {
	s := &issuer{c: c, line: lineNo, issues: issues, p: p}
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
	if err := p.parse(line, MaxDepth); err != nil {
		if err.depth {
			*issues = append(*issues, Issue{Severity: SeverityError, Code: CodeTooDeep, File: c.r.File, Line: lineNo, Column: err.off + 1, Reason: fmt.Sprintf("JSON nested %d levels deep at byte %d; records may nest at most %d levels", MaxDepth+1, err.off+1, MaxDepth), Message: msgUnparseable(c.r.File)})
			return nil
		}
		s.parseErr(err.off+1, fmt.Sprintf("not valid JSON at byte %d: %s", err.off+1, err.msg))
		return nil
	}
	const root = 0
	if k := p.nodes[root].kind; k != jObject {
		what := "a JSON " + k.String()
		if k == jNull {
			what = "JSON null"
		}
		*issues = append(*issues, Issue{Severity: SeverityError, Code: CodeNotObject, File: c.r.File, Line: lineNo, Reason: "record is " + what + "; each line must be one JSON object", Message: msgUnparseable(c.r.File)})
		return nil
	}
	f := c.detect(p, root)
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
		ex = s.promptCompletion(root)
	case FormatPrompt:
		ex = s.promptOnly(root)
	case FormatInput:
		ex = s.input(root)
	case FormatConversation:
		ex = s.conversation(root)
	case FormatMessages:
		ex = s.messages(root)
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
func (c *lineChecker) detect(p *jparser, obj int32) Format {
	hasSchema := p.get(obj, "schemaVersion") >= 0
	msgs := p.get(obj, "messages")
	hasPrompt := p.get(obj, "prompt") >= 0
	hasCompletion := p.get(obj, "completion") >= 0
	hasInput := p.get(obj, "input") >= 0
	want := c.limits.Formats[c.r.Type]
	switch {
	case hasSchema:
		return FormatConversation
	case msgs >= 0:
		// Tell the two message shapes apart by the first message's content.
		if p.nodes[msgs].kind == jArray {
			if first := p.nodes[msgs].first; first >= 0 && p.nodes[first].kind == jObject {
				if content := p.get(first, "content"); content >= 0 {
					switch p.nodes[content].kind {
					case jString:
						return FormatMessages
					case jArray:
						return FormatConversation
					}
				}
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
func (s *issuer) extraKeys(obj int32, at fpath, strict bool, allowed ...string) {
	var extra []string
	p := s.p
	for k := p.nodes[obj].first; k >= 0; k = p.nodes[p.nodes[k].next].next {
		ok := false
		for _, a := range allowed {
			if p.keyIs(k, a) {
				ok = true
				break
			}
		}
		if !ok {
			extra = append(extra, p.str(k))
		}
	}
	if len(extra) == 0 {
		return
	}
	sort.Strings(extra)
	prefix := ""
	if at.root != "" {
		prefix = at.String() + "."
	}
	for i, k := range extra {
		if i > 0 && k == extra[i-1] {
			continue
		}
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

// fpath names a JSON field for messages, built only when an issue needs
// it: root, root[i], root[i].content[j], each optionally .leaf.
type fpath struct {
	root string
	i, j int // -1: none
	leaf string
}

func top(key string) fpath { return fpath{root: key, i: -1, j: -1} }

// at returns the path of field leaf under p, as a string.
func (p fpath) at(leaf string) string {
	p.leaf = leaf
	return p.String()
}

func (p fpath) String() string {
	s := p.root
	if p.i >= 0 {
		s += "[" + strconv.Itoa(p.i) + "]"
	}
	if p.j >= 0 {
		s += ".content[" + strconv.Itoa(p.j) + "]"
	}
	if p.leaf != "" {
		s += "." + p.leaf
	}
	return s
}

// kind returns the kind of node v, treating a missing value (-1) as null.
func (s *issuer) kind(v int32) jkind {
	if v < 0 {
		return jNull
	}
	return s.p.nodes[v].kind
}

// str reads the required string key of obj; allowEmpty accepts "".
func (s *issuer) str(obj int32, key string, path fpath, allowEmpty bool) (string, bool) {
	v := s.p.get(obj, key)
	if s.kind(v) == jNull {
		s.errf(CodeMissingField, path.String(), "missing required key %q", key)
		return "", false
	}
	if k := s.kind(v); k != jString {
		s.errf(CodeWrongType, path.String(), "%q must be a string, not a JSON %s", key, k)
		return "", false
	}
	t := s.p.str(v)
	if !allowEmpty && strings.TrimSpace(t) == "" {
		s.errf(CodeEmptyField, path.String(), "%q is empty", key)
		return "", false
	}
	return t, true
}

func (s *issuer) promptCompletion(obj int32) *Example {
	s.extraKeys(obj, fpath{}, false, "prompt", "completion")
	p, ok1 := s.str(obj, "prompt", top("prompt"), false)
	c, ok2 := s.str(obj, "completion", top("completion"), false)
	if !ok1 || !ok2 {
		return nil
	}
	return &Example{Format: FormatPromptCompletion, Messages: []Message{{RoleUser, p}, {RoleAssistant, c}}}
}

func (s *issuer) promptOnly(obj int32) *Example {
	s.extraKeys(obj, fpath{}, false, "prompt")
	p, ok := s.str(obj, "prompt", top("prompt"), false)
	if !ok {
		return nil
	}
	return &Example{Format: FormatPrompt, Messages: []Message{{RoleUser, p}}}
}

func (s *issuer) input(obj int32) *Example {
	s.extraKeys(obj, fpath{}, false, "input")
	t, ok := s.str(obj, "input", top("input"), false)
	if !ok {
		return nil
	}
	return &Example{Format: FormatInput, Text: t}
}

// messages checks the Claude 3 Haiku shape: optional string system, ≥2
// strictly alternating string messages, user first, assistant last, no
// extra keys.
func (s *issuer) messages(obj int32) *Example {
	s.extraKeys(obj, fpath{}, true, "system", "messages")
	ex := &Example{Format: FormatMessages}
	if v := s.p.get(obj, "system"); s.kind(v) != jNull {
		if k := s.kind(v); k != jString {
			s.errf(CodeWrongType, "system", `"system" must be a string, not a JSON %s`, k)
		} else {
			ex.System = s.p.str(v)
		}
	}
	list, ok := s.msgList(obj)
	if !ok {
		return nil
	}
	for i, m := range list {
		path := fpath{root: "messages", i: i, j: -1}
		s.extraKeys(m, path, true, "role", "content")
		role, ok := s.role(m, path)
		if !ok {
			continue
		}
		v := s.p.get(m, "content")
		if s.kind(v) == jNull {
			s.errf(CodeMissingField, path.at("content"), "missing required key %q", "content")
			continue
		}
		if k := s.kind(v); k != jString {
			s.errf(CodeWrongType, path.at("content"), `"content" must be a string in this format, not a JSON %s`, k)
			continue
		}
		text := s.p.str(v)
		if strings.TrimSpace(text) == "" {
			s.errf(CodeEmptyField, path.at("content"), "message content is empty")
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

// msgList returns the message objects of obj's "messages" array.
func (s *issuer) msgList(obj int32) ([]int32, bool) {
	v := s.p.get(obj, "messages")
	if s.kind(v) == jNull {
		s.errf(CodeMissingField, "messages", "missing required key %q", "messages")
		return nil, false
	}
	if k := s.kind(v); k != jArray {
		s.errf(CodeWrongType, "messages", `"messages" must be an array, not a JSON %s`, k)
		return nil, false
	}
	items := s.p.elems(v)
	if len(items) == 0 {
		s.errf(CodeTooFewMessages, "messages", `"messages" is empty`)
		return nil, false
	}
	for i, it := range items {
		if k := s.kind(it); k != jObject {
			s.errf(CodeWrongType, fmt.Sprintf("messages[%d]", i), "each message must be an object, not a JSON %s", k)
		}
	}
	return items, !s.failed
}

func (s *issuer) role(m int32, path fpath) (string, bool) {
	path.leaf = "role"
	role, ok := s.str(m, "role", path, true)
	if !ok {
		return "", false
	}
	if role != RoleUser && role != RoleAssistant {
		s.errf(CodeBadRole, path.String(), "role %q: only %q and %q are allowed", role, RoleUser, RoleAssistant)
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
func (s *issuer) conversation(obj int32) *Example {
	lim := s.c.limits
	s.extraKeys(obj, fpath{}, false, "schemaVersion", "system", "messages")
	if v := s.p.get(obj, "schemaVersion"); s.kind(v) == jNull {
		s.errf(CodeSchemaVersion, "schemaVersion", `missing "schemaVersion": %q`, FormatConversation)
	} else if k := s.kind(v); k != jString {
		s.errf(CodeWrongType, "schemaVersion", `"schemaVersion" must be a string, not a JSON %s`, k)
	} else if sv := s.p.str(v); !lim.AnySchemaVersion && sv != string(FormatConversation) {
		s.errf(CodeSchemaVersion, "schemaVersion", "schemaVersion %q: want %q", sv, FormatConversation)
	}
	ex := &Example{Format: FormatConversation}
	if v := s.p.get(obj, "system"); s.kind(v) != jNull {
		if k := s.kind(v); k != jArray {
			s.errf(CodeWrongType, "system", `"system" must be an array of {"text": ...} blocks, not a JSON %s`, k)
		} else {
			var parts []string
			for i, b := range s.p.elems(v) {
				if t, ok := s.block(b, fpath{root: "system", i: i, j: -1}); ok {
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
		path := fpath{root: "messages", i: i, j: -1}
		s.extraKeys(m, path, false, "role", "content")
		role, ok := s.role(m, path)
		if !ok {
			continue
		}
		v := s.p.get(m, "content")
		if s.kind(v) == jNull {
			s.errf(CodeMissingField, path.at("content"), "missing required key %q", "content")
			continue
		}
		if k := s.kind(v); k != jArray {
			s.errf(CodeWrongType, path.at("content"), `"content" must be an array of content blocks, not a JSON %s`, k)
			continue
		}
		text := ""
		bp := path
		bp.j = 0
		for b := s.p.nodes[v].first; b >= 0; b, bp.j = s.p.nodes[b].next, bp.j+1 {
			if t, ok := s.block(b, bp); ok {
				if text != "" {
					text += "\n"
				}
				text += t
			}
		}
		if strings.TrimSpace(text) == "" && !s.failed {
			s.errf(CodeEmptyField, path.at("content"), "message has no text")
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
func (s *issuer) block(b int32, path fpath) (string, bool) {
	if k := s.kind(b); k != jObject {
		s.errf(CodeWrongType, path.String(), `content block must be an object like {"text": "..."}, not a JSON %s`, k)
		return "", false
	}
	if s.p.get(b, "text") >= 0 {
		if s.p.nodes[b].n > 1 {
			var other []string
			for _, k := range s.p.keys(b) {
				if k != "text" {
					other = append(other, k)
				}
			}
			sort.Strings(other)
			s.errf(CodeUnknownField, path.String(), "content block holds %q besides \"text\"; each block holds exactly one kind", other)
			return "", false
		}
		path.leaf = "text"
		return s.str(b, "text", path, true)
	}
	for _, kind := range []string{"image", "video", "document"} {
		if s.p.get(b, kind) >= 0 {
			s.errf(CodeUnsupportedContent, path.String(), "%s content blocks are not supported: Strata's models are text-only; remove the block or describe it in text", kind)
			return "", false
		}
	}
	keys := s.p.keys(b)
	sort.Strings(keys)
	if len(keys) == 0 {
		s.errf(CodeMissingField, path.at("text"), `empty content block; want {"text": "..."}`)
		return "", false
	}
	s.errf(CodeUnsupportedContent, path.String(), "content block kind %q is not supported; only text blocks are", keys[0])
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
	case hasHigh && countUTF8Multibyte(b) > 0:
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

// countUTF8Multibyte counts multi-byte UTF-8 sequences that do decode.
func countUTF8Multibyte(b []byte) int {
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
