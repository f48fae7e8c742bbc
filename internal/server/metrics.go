package server

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strata-ml/strata/internal/store"
)

type opKey struct {
	op     string
	status int
}

// metrics are the request counters exported in Prometheus text format.
type metrics struct {
	mu       sync.Mutex
	requests map[opKey]uint64
	seconds  map[string]float64
	started  time.Time
}

func newMetrics() *metrics {
	return &metrics{requests: map[opKey]uint64{}, seconds: map[string]float64{}, started: time.Now()}
}

func (m *metrics) observe(op string, status int, d time.Duration) {
	if status == 0 {
		status = http.StatusOK
	}
	m.mu.Lock()
	m.requests[opKey{op, status}]++
	m.seconds[op] += d.Seconds()
	m.mu.Unlock()
}

// metricsHandler writes Prometheus text exposition format 0.0.4.
func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) error {
	var b strings.Builder
	m := s.metrics
	m.mu.Lock()
	keys := make([]opKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b opKey) int {
		if c := strings.Compare(a.op, b.op); c != 0 {
			return c
		}
		return a.status - b.status
	})
	b.WriteString("# HELP strata_http_requests_total HTTP requests by operation and status.\n# TYPE strata_http_requests_total counter\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "strata_http_requests_total{operation=%q,code=\"%d\"} %d\n", k.op, k.status, m.requests[k])
	}
	b.WriteString("# HELP strata_http_request_seconds_total Time spent serving requests by operation.\n# TYPE strata_http_request_seconds_total counter\n")
	ops := make([]string, 0, len(m.seconds))
	for op := range m.seconds {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		fmt.Fprintf(&b, "strata_http_request_seconds_total{operation=%q} %g\n", op, m.seconds[op])
	}
	fmt.Fprintf(&b, "# HELP strata_uptime_seconds Seconds since the server started.\n# TYPE strata_uptime_seconds gauge\nstrata_uptime_seconds %g\n", time.Since(m.started).Seconds())
	m.mu.Unlock()
	b.WriteString("# HELP strata_customization_jobs Customization jobs by status (all accounts).\n# TYPE strata_customization_jobs gauge\n")
	for _, st := range []string{store.JobInProgress, store.JobStopping, store.JobCompleted, store.JobFailed, store.JobStopped} {
		n, err := s.opts.Store.CountJobs(r.Context(), "", st)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "strata_customization_jobs{status=%q} %d\n", st, n)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write([]byte(b.String()))
	return nil
}
