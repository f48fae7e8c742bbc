package awsproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/strata-ml/strata/internal/apierr"
)

// MaxBody is the largest request body a control-plane operation accepts.
const MaxBody = 1 << 20

// DecodeJSON reads at most limit bytes of body and decodes it strictly into
// v: unknown members, wrong types, trailing data and malformed JSON become
// ValidationExceptions naming the member. An empty body decodes as {}.
func DecodeJSON(body io.Reader, limit int64, v any) error {
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return apierr.Wrap(apierr.Validation, "Could not read request body", err)
	}
	if int64(len(data)) > limit {
		return apierr.Validationf("Request body exceeds the maximum size of %d bytes", limit)
	}
	return DecodeJSONBytes(data, v)
}

// DecodeJSONBytes decodes data like DecodeJSON.
func DecodeJSONBytes(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return apierr.Validationf("Could not parse request body into json: unexpected data after the top-level value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return apierr.Validationf("Could not parse request body into json: unexpected data after the top-level value")
	}
	return nil
}

func jsonError(err error) error {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := te.Field
		if field == "" {
			field = "body"
		}
		return apierr.Validationf("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must be of type %s, got %s", field, wireType(te.Type.Kind().String()), te.Value)
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return apierr.Validationf("Could not parse request body into json: %s at offset %d", se.Error(), se.Offset)
	}
	msg := err.Error()
	// encoding/json reports unknown members as `json: unknown field "x"`.
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return apierr.Validationf("1 validation error detected: Member %s is not a member of the input structure", f)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return apierr.Validationf("Could not parse request body into json: unexpected end of input")
	}
	return apierr.Wrap(apierr.Validation, fmt.Sprintf("Could not parse request body into json: %s", strings.TrimPrefix(msg, "json: ")), err)
}

func wireType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "map", "struct":
		return "structure"
	case "slice":
		return "list"
	case "bool":
		return "boolean"
	case "int", "int32", "int64":
		return "integer"
	case "float32", "float64":
		return "number"
	}
	return kind
}
