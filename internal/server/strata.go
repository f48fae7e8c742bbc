package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/awsproto"
	"github.com/strata-ml/strata/internal/catalog"
	"github.com/strata-ml/strata/internal/jobs"
	"github.com/strata-ml/strata/internal/trainspec"
)

// healthz reports liveness and readiness (store reachable, starter model state).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	out := map[string]any{"status": "ok"}
	if _, err := s.opts.Store.CountJobs(r.Context(), "", "InProgress"); err != nil {
		out["status"] = "degraded"
		out["store"] = err.Error()
	}
	if dir, err := s.opts.Catalog.StarterStatus(); dir != "" {
		out["starterModel"] = "ready"
	} else if errors.Is(err, catalog.ErrStarterDisabled) {
		out["starterModel"] = "disabled"
	} else if err != nil {
		out["starterModel"] = "failed: " + err.Error()
	} else {
		out["starterModel"] = "building"
	}
	if s.opts.Ready != nil {
		for k, v := range s.opts.Ready() {
			out[k] = v
		}
	}
	status := http.StatusOK
	if out["status"] != "ok" {
		status = http.StatusServiceUnavailable
	}
	return writeJSON(w, status, out)
}

type eventOut struct {
	Seq  int64           `json:"seq"`
	Time string          `json:"time"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
}

// jobEvents streams a job's outbox as server-sent events (text/event-stream)
// until the job ends, resuming after Last-Event-ID or ?after=SEQ. With
// Accept: application/json it returns the events so far as one JSON object.
func (s *Server) jobEvents(w http.ResponseWriter, r *http.Request) error {
	id, err := s.jobIdent(r)
	if err != nil {
		return err
	}
	after := int64(0)
	for _, v := range []string{r.URL.Query().Get("after"), r.Header.Get("Last-Event-ID")} {
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return apierr.Validationf("Value '%s' at 'after' failed to satisfy constraint: Member must be a non-negative integer", v)
		}
		after = n
	}
	acct := AccountFrom(r.Context())
	j, evs, err := s.opts.Jobs.Events(r.Context(), acct, id, after, 1000)
	if err != nil {
		return err
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		out := struct {
			JobArn string     `json:"jobArn"`
			Status string     `json:"status"`
			Events []eventOut `json:"events"`
		}{JobArn: j.ARN, Status: j.Status, Events: []eventOut{}}
		for _, e := range evs {
			out.Events = append(out.Events, eventOut{e.Seq, awsproto.FormatTime(e.Time), e.Type, e.Data})
		}
		return writeJSON(w, http.StatusOK, out)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	keepalive := time.Now()
	for {
		for _, e := range evs {
			data := e.Data
			if len(data) == 0 {
				data = []byte("{}")
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, data); err != nil {
				return nil
			}
			after = e.Seq
		}
		if len(evs) > 0 || time.Since(keepalive) > 15*time.Second {
			if len(evs) == 0 {
				_, _ = fmt.Fprint(w, ": keepalive\n\n")
			}
			keepalive = time.Now()
			_ = rc.Flush()
		}
		if jobs.Terminal(j.Status) && len(evs) == 0 {
			_, _ = fmt.Fprintf(w, "event: end\ndata: {\"status\":%q}\n\n", j.Status)
			_ = rc.Flush()
			return nil
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-s.closing:
			return nil
		case <-tick.C:
		}
		j, evs, err = s.opts.Jobs.Events(r.Context(), acct, id, after, 1000)
		if err != nil {
			return nil // headers are sent; the stream just ends
		}
	}
}

type stepMetric struct {
	Step         int     `json:"step"`
	Epoch        int     `json:"epoch"`
	Loss         float64 `json:"loss"`
	Perplexity   float64 `json:"perplexity,omitempty"`
	LearningRate float64 `json:"learningRate,omitempty"`
	GradNorm     float64 `json:"gradNorm,omitempty"`
	TokensPerSec float64 `json:"tokensPerSec,omitempty"`
	Time         string  `json:"time"`
}

type validationMetric struct {
	Validator  string  `json:"validator"`
	Step       int     `json:"step"`
	Epoch      int     `json:"epoch,omitempty"`
	Loss       float64 `json:"loss"`
	Perplexity float64 `json:"perplexity,omitempty"`
	Time       string  `json:"time"`
}

// jobMetrics returns a job's per-step training and validation metrics as JSON.
func (s *Server) jobMetrics(w http.ResponseWriter, r *http.Request) error {
	id, err := s.jobIdent(r)
	if err != nil {
		return err
	}
	acct := AccountFrom(r.Context())
	out := struct {
		JobArn     string             `json:"jobArn"`
		Status     string             `json:"status"`
		Step       int                `json:"step"`
		TotalSteps int                `json:"totalSteps"`
		Training   []stepMetric       `json:"trainingMetrics"`
		Validation []validationMetric `json:"validationMetrics"`
	}{Training: []stepMetric{}, Validation: []validationMetric{}}
	after := int64(0)
	for {
		j, evs, err := s.opts.Jobs.Events(r.Context(), acct, id, after, 5000)
		if err != nil {
			return err
		}
		out.JobArn, out.Status, out.Step, out.TotalSteps = j.ARN, j.Status, j.Step, j.TotalSteps
		for _, e := range evs {
			after = e.Seq
			var te trainspec.Event
			if json.Unmarshal(e.Data, &te) != nil {
				continue
			}
			switch e.Type {
			case trainspec.EventStep:
				out.Training = append(out.Training, stepMetric{te.Step, te.Epoch, te.Loss, te.Perplexity, te.LearningRate, te.GradNorm, te.TokensPerSec, awsproto.FormatTime(e.Time)})
			case trainspec.EventValidation:
				out.Validation = append(out.Validation, validationMetric{te.Validator, te.Step, te.Epoch, te.Loss, te.Perplexity, awsproto.FormatTime(e.Time)})
			}
		}
		if len(evs) < 5000 {
			break
		}
	}
	// Steps backfilled at completion arrive after the others.
	slices.SortStableFunc(out.Training, func(a, b stepMetric) int { return a.Step - b.Step })
	return writeJSON(w, http.StatusOK, out)
}

// datasetReport serves the dataset report of a job's Validation phase.
func (s *Server) datasetReport(w http.ResponseWriter, r *http.Request) error {
	id, err := s.jobIdent(r)
	if err != nil {
		return err
	}
	j, err := s.opts.Jobs.GetJob(r.Context(), AccountFrom(r.Context()), id)
	if err != nil {
		return err
	}
	if s.opts.ReportPath == nil {
		return apierr.NotFoundf("No dataset report for job %s.", j.Name)
	}
	b, err := os.ReadFile(s.opts.ReportPath(j.Account, j.ID))
	if err != nil {
		return apierr.Wrap(apierr.NotFound, fmt.Sprintf("No dataset report for job %s yet.", j.Name), err)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
	return nil
}
