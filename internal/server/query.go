package server

import (
	"net/url"
	"strconv"
	"time"

	"github.com/strata-ml/strata/internal/awsproto"
)

// query reads and validates restJson1 query members into a Checker.
type query struct {
	v url.Values
	c *awsproto.Checker
}

func (q query) str(name string, minLen, maxLen int, pattern string) string {
	s, ok := q.v[name]
	if !ok {
		return ""
	}
	q.c.String(name, s[0], minLen, maxLen, pattern)
	return s[0]
}

func (q query) enum(name string, values ...string) string {
	s, ok := q.v[name]
	if !ok {
		return ""
	}
	q.c.Enum(name, s[0], values...)
	return s[0]
}

func (q query) int(name string, lo, hi int64) int {
	s, ok := q.v[name]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(s[0], 10, 64)
	if err != nil {
		q.c.Failf("Value '%s' at '%s' failed to satisfy constraint: Member must be an integer", s[0], name)
		return 0
	}
	q.c.Range(name, n, lo, hi)
	return int(n)
}

func (q query) time(name string) time.Time {
	s, ok := q.v[name]
	if !ok {
		return time.Time{}
	}
	t, err := awsproto.ParseTime(s[0])
	if err != nil {
		q.c.Failf("Value '%s' at '%s' failed to satisfy constraint: Member must be an ISO-8601 timestamp", s[0], name)
	}
	return t
}

func (q query) bool(name string) *bool {
	s, ok := q.v[name]
	if !ok {
		return nil
	}
	b, err := strconv.ParseBool(s[0])
	if err != nil {
		q.c.Failf("Value '%s' at '%s' failed to satisfy constraint: Member must be a boolean", s[0], name)
		return nil
	}
	return &b
}
