package invoke

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/strata-ml/strata/internal/apierr"
)

// MaxBodyBytes is the largest InvokeModel body accepted (the model's limit).
const MaxBodyBytes = 25_000_000

// schema checks one JSON object against a model's input schema and words its
// violations like the JSON-schema validator behind Bedrock's native bodies:
//
//	#: required key [prompt] not found
//	#: extraneous key [top_n] is not permitted
//	#/temperature: 1.5 is not less or equal to 1
//	#/max_gen_len: expected type: Integer, found: String
type schema struct {
	path string
	obj  map[string]json.RawMessage
	errs *[]string
	used map[string]bool
}

// parseObject decodes body as a JSON object. A body that is not one fails
// with Bedrock's malformed-input wording.
func parseObject(body []byte) (*schema, error) {
	if !utf8.Valid(body) {
		return nil, malformed([]string{"#: request body is not valid UTF-8"})
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		found := "a malformed JSON document"
		if err == nil {
			found = "null"
		} else if _, ok := err.(*json.UnmarshalTypeError); ok {
			found = "a JSON " + jsonKind(bytes.TrimSpace(body))
		}
		return nil, malformed([]string{"#: expected type: JSONObject, found: " + found})
	}
	if dec.More() {
		return nil, malformed([]string{"#: unexpected data after the JSON object"})
	}
	var errs []string
	return &schema{path: "#", obj: obj, errs: &errs, used: map[string]bool{}}, nil
}

// malformed renders violations as Bedrock's ValidationException.
func malformed(violations []string) error {
	msg := ""
	switch len(violations) {
	case 0:
		return nil
	case 1:
		msg = violations[0]
	default:
		msg = fmt.Sprintf("#: %d schema violations found", len(violations))
	}
	return apierr.Validationf("Malformed input request: %s, please reformat your input and try again.", msg)
}

func (s *schema) fail(key, format string, args ...any) {
	p := s.path
	if key != "" {
		p += "/" + key
	}
	*s.errs = append(*s.errs, p+": "+fmt.Sprintf(format, args...))
}

// err returns the collected violations (after checking for extraneous keys).
func (s *schema) err() error {
	s.extraneous()
	return malformed(*s.errs)
}

func (s *schema) extraneous() {
	keys := make([]string, 0, len(s.obj))
	for k := range s.obj {
		if !s.used[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		*s.errs = append(*s.errs, fmt.Sprintf("%s: extraneous key [%s] is not permitted", s.path, k))
	}
}

// allow marks keys as permitted without reading them.
func (s *schema) allow(keys ...string) {
	for _, k := range keys {
		s.used[k] = true
	}
}

func (s *schema) raw(key string, required bool) (json.RawMessage, bool) {
	s.used[key] = true
	v, ok := s.obj[key]
	if !ok {
		if required {
			s.fail("", "required key [%s] not found", key)
		}
		return nil, false
	}
	return v, true
}

func jsonKind(v []byte) string {
	if len(v) == 0 {
		return "Null"
	}
	switch v[0] {
	case '"':
		return "String"
	case '{':
		return "JSONObject"
	case '[':
		return "JSONArray"
	case 't', 'f':
		return "Boolean"
	case 'n':
		return "Null"
	}
	if bytes.ContainsAny(v, ".eE") {
		return "BigDecimal"
	}
	return "Integer"
}

func (s *schema) str(key string, required bool) (string, bool) {
	v, ok := s.raw(key, required)
	if !ok {
		return "", false
	}
	var out string
	if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &out) != nil {
		s.fail(key, "expected type: String, found: %s", jsonKind(v))
		return "", false
	}
	return out, true
}

func (s *schema) boolean(key string) (bool, bool) {
	v, ok := s.raw(key, false)
	if !ok {
		return false, false
	}
	switch string(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	s.fail(key, "expected type: Boolean, found: %s", jsonKind(v))
	return false, false
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// num reads a number in [lo, hi]; exclusiveLo makes the lower bound strict.
func (s *schema) num(key string, lo, hi float64, exclusiveLo bool) (float64, bool) {
	v, ok := s.raw(key, false)
	if !ok {
		return 0, false
	}
	k := jsonKind(v)
	if k != "Integer" && k != "BigDecimal" {
		s.fail(key, "expected type: Number, found: %s", k)
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsInf(f, 0) {
		s.fail(key, "%s is not a valid number", v)
		return 0, false
	}
	switch {
	case exclusiveLo && f <= lo:
		s.fail(key, "%s is not greater than %s", fmtNum(f), fmtNum(lo))
	case f < lo:
		s.fail(key, "%s is not greater or equal to %s", fmtNum(f), fmtNum(lo))
	case f > hi:
		s.fail(key, "%s is not less or equal to %s", fmtNum(f), fmtNum(hi))
	default:
		return f, true
	}
	return 0, false
}

// integer reads an integral number in [lo, hi].
func (s *schema) integer(key string, lo, hi int, required bool) (int, bool) {
	v, ok := s.raw(key, required)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if k := jsonKind(v); (k != "Integer" && k != "BigDecimal") || err != nil || f != math.Trunc(f) {
		s.fail(key, "expected type: Integer, found: %s", k)
		return 0, false
	}
	switch {
	case f < float64(lo):
		s.fail(key, "%s is not greater or equal to %d", fmtNum(f), lo)
	case f > float64(hi):
		s.fail(key, "%s is not less or equal to %d", fmtNum(f), hi)
	default:
		return int(f), true
	}
	return 0, false
}

// strings reads a list of at most maxItems strings.
func (s *schema) strings(key string, maxItems int) []string {
	v, ok := s.raw(key, false)
	if !ok {
		return nil
	}
	var raw []json.RawMessage
	if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &raw) != nil {
		s.fail(key, "expected type: JSONArray, found: %s", jsonKind(v))
		return nil
	}
	if len(raw) > maxItems {
		s.fail(key, "expected maximum item count: %d, found: %d", maxItems, len(raw))
		return nil
	}
	out := make([]string, 0, len(raw))
	for i, r := range raw {
		var str string
		if len(r) == 0 || r[0] != '"' || json.Unmarshal(r, &str) != nil {
			s.fail(fmt.Sprintf("%s/%d", key, i), "expected type: String, found: %s", jsonKind(r))
			return nil
		}
		if str == "" {
			s.fail(fmt.Sprintf("%s/%d", key, i), "expected minLength: 1, actual: 0")
			return nil
		}
		out = append(out, str)
	}
	return out
}

func (s *schema) enum(key string, values ...string) (string, bool) {
	v, ok := s.str(key, false)
	if !ok {
		return "", false
	}
	if !slices.Contains(values, v) {
		s.fail(key, "%s is not a valid enum value", v)
		return "", false
	}
	return v, true
}

// object returns a sub-schema for a nested object member.
func (s *schema) object(key string, required bool) *schema {
	v, ok := s.raw(key, required)
	if !ok {
		return nil
	}
	var obj map[string]json.RawMessage
	if len(v) == 0 || v[0] != '{' || json.Unmarshal(v, &obj) != nil {
		s.fail(key, "expected type: JSONObject, found: %s", jsonKind(v))
		return nil
	}
	return &schema{path: s.path + "/" + key, obj: obj, errs: s.errs, used: map[string]bool{}}
}

// array returns the raw elements of a list member.
func (s *schema) array(key string, required bool) ([]json.RawMessage, bool) {
	v, ok := s.raw(key, required)
	if !ok {
		return nil, false
	}
	var raw []json.RawMessage
	if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &raw) != nil {
		s.fail(key, "expected type: JSONArray, found: %s", jsonKind(v))
		return nil, false
	}
	return raw, true
}

// sub returns a schema over a raw JSON object at path key.
func (s *schema) sub(key string, v json.RawMessage) *schema {
	var obj map[string]json.RawMessage
	if len(v) == 0 || v[0] != '{' || json.Unmarshal(v, &obj) != nil {
		s.fail(key, "expected type: JSONObject, found: %s", jsonKind(v))
		return nil
	}
	return &schema{path: s.path + "/" + key, obj: obj, errs: s.errs, used: map[string]bool{}}
}

func trimmedEmpty(s string) bool { return strings.TrimSpace(s) == "" }
