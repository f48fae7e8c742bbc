package generate

import "strings"

// StopMatcher watches streamed text for stop sequences. Feed it each decoded
// piece with Push; it returns the text that is safe to show now, holding back
// any tail that could still grow into a stop sequence, and whether a stop
// sequence was found (the returned text then ends just before it). Flush
// returns what is held back once generation ends for another reason.
type StopMatcher struct {
	stops []string
	held  strings.Builder
	done  bool
}

// NewStopMatcher returns a matcher for the non-empty strings in stops.
func NewStopMatcher(stops []string) *StopMatcher {
	m := &StopMatcher{}
	for _, s := range stops {
		if s != "" {
			m.stops = append(m.stops, s)
		}
	}
	return m
}

// Push adds text and returns (emit, stopped).
func (m *StopMatcher) Push(text string) (string, bool) {
	if m.done {
		return "", true
	}
	if len(m.stops) == 0 {
		return text, false
	}
	m.held.WriteString(text)
	buf := m.held.String()
	first := -1
	for _, s := range m.stops {
		if i := strings.Index(buf, s); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	if first >= 0 {
		m.done = true
		m.held.Reset()
		return buf[:first], true
	}
	// Hold back the longest suffix of buf that is a proper prefix of a stop.
	keep := 0
	for _, s := range m.stops {
		for n := min(len(s)-1, len(buf)); n > keep; n-- {
			if strings.HasSuffix(buf, s[:n]) {
				keep = n
				break
			}
		}
	}
	m.held.Reset()
	m.held.WriteString(buf[len(buf)-keep:])
	return buf[:len(buf)-keep], false
}

// Flush returns the held-back text.
func (m *StopMatcher) Flush() string {
	s := m.held.String()
	m.held.Reset()
	return s
}
