package tokenizer

import "strings"

// StreamDecoder turns a stream of generated ids into text incrementally. A
// character whose bytes are split across tokens is held back until it is
// complete. It uses the prefix/read-offset scheme of HF's DecodeStream and
// text-generation-inference: the text of the new ids is the decode of a short
// window minus the decode of the window's already-emitted prefix, so
// decoders that depend on context (leading-space stripping) stay correct.
// Not safe for concurrent use.
type StreamDecoder struct {
	t           *Tokenizer
	skipSpecial bool
	ids         []int32 // ids from the prefix offset on
	read        int     // ids[:read] were already emitted
}

// NewStreamDecoder returns a StreamDecoder that skips special tokens when
// skipSpecial is set.
func (t *Tokenizer) NewStreamDecoder(skipSpecial bool) *StreamDecoder {
	return &StreamDecoder{t: t, skipSpecial: skipSpecial}
}

// Next consumes one id and returns the text it completes ("" while a
// character is still incomplete).
func (d *StreamDecoder) Next(id int32) string {
	d.ids = append(d.ids, id)
	prefix := d.t.Decode(d.ids[:d.read], d.skipSpecial)
	full := d.t.Decode(d.ids, d.skipSpecial)
	if len(full) <= len(prefix) || strings.HasSuffix(full, "\uFFFD") {
		return ""
	}
	k := len(prefix)
	if !strings.HasPrefix(full, prefix) {
		k = 0
		for k < len(full) && k < len(prefix) && full[k] == prefix[k] {
			k++
		}
	}
	out := full[k:]
	// The new prefix window starts at the old read offset.
	d.ids = append(d.ids[:0], d.ids[d.read:]...)
	d.read = len(d.ids)
	return out
}

// Flush returns any text still held back (incomplete characters come out as
// U+FFFD) and resets the decoder.
func (d *StreamDecoder) Flush() string {
	prefix := d.t.Decode(d.ids[:d.read], d.skipSpecial)
	full := d.t.Decode(d.ids, d.skipSpecial)
	out := ""
	if len(full) > len(prefix) && strings.HasPrefix(full, prefix) {
		out = full[len(prefix):]
	}
	d.ids, d.read = d.ids[:0], 0
	return out
}
