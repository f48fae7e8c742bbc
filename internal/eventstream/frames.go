package eventstream

import (
	"fmt"
	"io"
	"sync"
)

// Header names and message types used by AWS event streams.
const (
	HeaderMessageType   = ":message-type"
	HeaderEventType     = ":event-type"
	HeaderExceptionType = ":exception-type"
	HeaderContentType   = ":content-type"
	HeaderErrorCode     = ":error-code"
	HeaderErrorMessage  = ":error-message"

	MessageTypeEvent     = "event"
	MessageTypeException = "exception"
	MessageTypeError     = "error"
)

// NewEvent returns an event message whose :event-type is the member name of
// the stream union (chunk, messageStart, contentBlockDelta, ...) and whose
// payload is the JSON of the event struct.
func NewEvent(eventType string, jsonPayload []byte) Message {
	return Message{
		Headers: []Header{
			{Name: HeaderEventType, Value: String(eventType)},
			{Name: HeaderContentType, Value: String("application/json")},
			{Name: HeaderMessageType, Value: String(MessageTypeEvent)},
		},
		Payload: jsonPayload,
	}
}

// NewException returns a modeled-error message. exceptionType is the member
// name in the stream union (modelStreamErrorException, throttlingException,
// ...), and the payload the error's JSON ({"message": ...}).
func NewException(exceptionType string, jsonPayload []byte) Message {
	return Message{
		Headers: []Header{
			{Name: HeaderExceptionType, Value: String(exceptionType)},
			{Name: HeaderContentType, Value: String("application/json")},
			{Name: HeaderMessageType, Value: String(MessageTypeException)},
		},
		Payload: jsonPayload,
	}
}

// NewError returns an unmodeled-error message (code and message in headers,
// empty payload).
func NewError(code, message string) Message {
	return Message{Headers: []Header{
		{Name: HeaderMessageType, Value: String(MessageTypeError)},
		{Name: HeaderErrorCode, Value: String(code)},
		{Name: HeaderErrorMessage, Value: String(truncateUTF8(message, MaxHeaderValueLen))},
	}}
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// Flusher is the optional capability of a destination that can push buffered
// bytes to the peer (http.ResponseWriter implements it through http.Flusher).
type Flusher interface{ Flush() }

// Writer writes messages to a stream, one Write per message, flushing after
// each when the destination is a [Flusher]. It is safe for concurrent use.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write encodes and sends one message.
func (w *Writer) Write(m Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, err := Append(w.buf[:0], m)
	if err != nil {
		return err
	}
	w.buf = b
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("eventstream: write %s: %w", describe(m), err)
	}
	if f, ok := w.w.(Flusher); ok {
		f.Flush()
	}
	return nil
}

func describe(m Message) string {
	if t := m.StringHeader(HeaderEventType); t != "" {
		return "event " + t
	}
	if t := m.StringHeader(HeaderExceptionType); t != "" {
		return "exception " + t
	}
	return "message"
}
