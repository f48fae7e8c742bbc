package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"
)

// Report is the result of a validation run. Issues may spill to a
// temporary file; Close removes it.
type Report struct {
	Valid      bool              `json:"valid"`
	Family     Family            `json:"family"`
	FamilyName string            `json:"familyName"`
	Type       CustomizationType `json:"customizationType"`
	// FailureMessage is what a failed job's failureMessage says: Bedrock's
	// wording for the first error, then where it is (≤ 2,048 characters).
	FailureMessage string `json:"failureMessage,omitempty"`
	// Errors and Warnings count every issue.
	Errors   int64 `json:"errors"`
	Warnings int64 `json:"warnings"`
	// Summary counts issues by code, errors first.
	Summary []CodeCount     `json:"summary"`
	Limits  ReportLimits    `json:"limits"`
	Files   []*FileStats    `json:"files"`
	Preview *Preview        `json:"preview,omitempty"`
	Plan    *Plan           `json:"plan,omitempty"`
	Time    *TimeEstimate   `json:"timeEstimate,omitempty"`
	Memory  *MemoryEstimate `json:"memoryEstimate,omitempty"`
	Notes   []string        `json:"notes,omitempty"`
	// ElapsedSeconds is the validation's own wall time.
	ElapsedSeconds float64 `json:"elapsedSeconds"`

	log *issueLog
}

// ReportLimits are the limits the run applied (0 = none).
type ReportLimits struct {
	MaxInputTokens       int   `json:"maxInputTokens,omitempty"`
	MaxOutputTokens      int   `json:"maxOutputTokens,omitempty"`
	MaxTotalTokens       int   `json:"maxTotalTokens,omitempty"`
	MaxSeqLen            int   `json:"maxSeqLen,omitempty"`
	MaxRecordChars       int   `json:"maxRecordChars,omitempty"`
	MaxLineBytes         int   `json:"maxLineBytes"`
	MinTrainRecords      int   `json:"minTrainRecords,omitempty"`
	MaxTrainRecords      int   `json:"maxTrainRecords,omitempty"`
	MaxValidationRecords int   `json:"maxValidationRecords,omitempty"`
	MinTotalRecords      int   `json:"minTotalRecords,omitempty"`
	MaxTotalRecords      int   `json:"maxTotalRecords,omitempty"`
	MaxTrainBytes        int64 `json:"maxTrainBytes,omitempty"`
	MaxValidationBytes   int64 `json:"maxValidationBytes,omitempty"`
}

// FileStats describes one file.
type FileStats struct {
	File   string `json:"file"`
	Role   string `json:"role"`
	Format Format `json:"format,omitempty"`
	Bytes  int64  `json:"bytes"`
	Lines  int64  `json:"lines"`
	// Records counts non-blank lines; ValidRecords those without errors.
	Records      int64 `json:"records"`
	ValidRecords int64 `json:"validRecords"`
	CRLFLines    int64 `json:"crlfLines,omitempty"`
	BOM          bool  `json:"bom,omitempty"`
	// Input, Output and Total are per-record token distributions: prompt
	// side (no loss), completion side (loss) and both.
	Input  Dist `json:"inputTokens"`
	Output Dist `json:"outputTokens"`
	Total  Dist `json:"totalTokens"`
	// LossTokens and LossShare: tokens carrying loss, and their share.
	LossTokens int64   `json:"lossTokens"`
	LossShare  float64 `json:"lossShare"`
	// Truncated counts records over MaxSeqLen; TruncatedLines lists the
	// first 100.
	Truncated      int64   `json:"truncated"`
	TruncatedLines []int64 `json:"truncatedLines,omitempty"`
	Duplicates     int64   `json:"duplicates"`
	NearEmpty      int64   `json:"nearEmpty"`
	// Overlap counts validation records also in the training file.
	Overlap int64 `json:"trainValidationOverlap,omitempty"`
}

// Preview is one record as training sees it.
type Preview struct {
	File     string    `json:"file"`
	Line     int64     `json:"line"`
	Counts   Counts    `json:"counts"`
	Segments []Segment `json:"segments"`
}

// finish computes the summary, validity and failure message.
func (r *Report) finish(v *run, elapsed time.Duration) {
	r.ElapsedSeconds = elapsed.Seconds()
	first := map[Code]*CodeCount{}
	var firstErr *Issue
	for is, err := range v.log.all() {
		if err != nil {
			r.Notes = append(r.Notes, err.Error())
			break
		}
		if is.Severity == SeverityError {
			r.Errors++
			if firstErr == nil {
				c := is
				firstErr = &c
			}
		} else {
			r.Warnings++
		}
		if c, ok := first[is.Code]; ok {
			c.Count++
			continue
		}
		first[is.Code] = &CodeCount{Code: is.Code, Severity: is.Severity, Count: 1, FirstFile: is.File, FirstLine: is.Line}
	}
	r.Summary = make([]CodeCount, 0, len(first))
	for _, c := range first {
		r.Summary = append(r.Summary, *c)
	}
	sortCodeCounts(r.Summary)
	r.Valid = r.Errors == 0
	if firstErr != nil {
		r.FailureMessage = failureMessage(*firstErr, r, v)
	}
}

// failureMessage is Bedrock's text for the first error (token limits use
// the maxima over the dataset, as Bedrock's "Maximum ... count" does),
// followed by its location and a count of the rest.
func failureMessage(is Issue, r *Report, v *run) string {
	msg := is.Message
	switch is.Code {
	case CodeInputTokens:
		msg = msgInputTokens(v.peakIn, v.maxIn)
	case CodeOutputTokens:
		msg = msgOutputTokens(v.peakOut, v.maxOut)
	case CodeTotalTokens:
		msg = msgTotalTokens(v.peakTot, v.maxTot)
	}
	var b strings.Builder
	if msg != "" {
		b.WriteString(msg)
		if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "...") {
			b.WriteString(".")
		}
		b.WriteString(" ")
	} else {
		b.WriteString("Validation failed: ")
	}
	loc := is.File
	if is.Line > 0 {
		loc = fmt.Sprintf("%s line %d", is.File, is.Line)
	}
	if is.Field != "" {
		loc += " (" + is.Field + ")"
	}
	reason := is.Reason
	if !strings.HasSuffix(reason, ".") && !strings.HasSuffix(reason, "?") {
		reason += "."
	}
	fmt.Fprintf(&b, "%s: %s", loc, reason)
	if r.Errors > 1 {
		parts := make([]string, 0, len(r.Summary))
		for _, c := range r.Summary {
			if c.Severity == SeverityError {
				parts = append(parts, fmt.Sprintf("%s %d", c.Code, c.Count))
			}
		}
		fmt.Fprintf(&b, " %d errors in all (%s); the dataset report lists each with its file and line.", r.Errors, strings.Join(parts, ", "))
	}
	s := b.String()
	if len(s) > 2048 {
		s = s[:2045]
		for !validEnd(s) {
			s = s[:len(s)-1]
		}
		s += "..."
	}
	return s
}

func validEnd(s string) bool {
	return strings.ToValidUTF8(s, "") == s
}

// Issues yields every issue in file and line order, errors and warnings.
func (r *Report) Issues() iter.Seq2[Issue, error] {
	return r.log.all()
}

// Close removes the report's temporary files.
func (r *Report) Close() error {
	if r.log == nil {
		return nil
	}
	return r.log.close()
}

// WriteJSON writes the report with every issue as one JSON document:
// the report's fields, then "issues": [...] one per line.
func (r *Report) WriteJSON(w io.Writer) error {
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetEscapeHTML(false) // keep "<|eot_id|>" readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("dataset: encode report: %w", err)
	}
	head := hb.Bytes()
	head = bytes.TrimSuffix(bytes.TrimRight(head, "\n"), []byte("}"))
	head = bytes.TrimRight(head, "\n")
	bw := bufio.NewWriter(w)
	bw.Write(head)
	bw.WriteString(",\n  \"issues\": [")
	n := 0
	for is, err := range r.Issues() {
		if err != nil {
			return err
		}
		var ib bytes.Buffer
		ie := json.NewEncoder(&ib)
		ie.SetEscapeHTML(false)
		if err := ie.Encode(is); err != nil {
			return fmt.Errorf("dataset: encode issue: %w", err)
		}
		b := bytes.TrimRight(ib.Bytes(), "\n")
		if n > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n    ")
		bw.Write(b)
		n++
	}
	if n > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	return bw.Flush()
}

// WriteText writes the report for people: the verdict, every issue, then
// the statistics, the preview and the estimates.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	verdict := "VALID"
	if !r.Valid {
		verdict = "INVALID"
	}
	p("Dataset %s for %s (%s), %s: %d errors, %d warnings.\n", verdict, r.FamilyName, r.Family, r.Type, r.Errors, r.Warnings)
	if r.FailureMessage != "" {
		p("failureMessage: %s\n", r.FailureMessage)
	}
	if r.Errors+r.Warnings > 0 {
		p("\nIssues:\n")
		for is, err := range r.Issues() {
			if err != nil {
				return err
			}
			p("  %s\n", is)
		}
		p("\nBy code:\n")
		for _, c := range r.Summary {
			at := c.FirstFile
			if c.FirstLine > 0 {
				at = fmt.Sprintf("%s:%d", c.FirstFile, c.FirstLine)
			}
			p("  %-8s %-20s %8d  first at %s\n", c.Severity, c.Code, c.Count, at)
		}
	}
	for _, f := range r.Files {
		p("\n%s (%s, %s): %d bytes, %d lines, %d records, %d valid", f.File, f.Role, orDash(string(f.Format)), f.Bytes, f.Lines, f.Records, f.ValidRecords)
		if f.CRLFLines > 0 {
			p(", %d CRLF lines", f.CRLFLines)
		}
		p("\n")
		if f.Total.Count > 0 {
			p("  tokens: %d total, %d carry loss (%.1f%%)\n", f.Total.Sum, f.LossTokens, f.LossShare*100)
			writeDist(bw, "input (prompt)", f.Input)
			writeDist(bw, "output (completion)", f.Output)
			writeDist(bw, "total", f.Total)
		}
		if r.Limits.MaxSeqLen > 0 {
			p("  truncated at %d tokens: %d", r.Limits.MaxSeqLen, f.Truncated)
			if len(f.TruncatedLines) > 0 {
				p(" (lines %s)", joinInts(f.TruncatedLines))
			}
			p(";")
		} else {
			p("  documents are packed, not truncated;")
		}
		p(" duplicates: %d; near-empty: %d", f.Duplicates, f.NearEmpty)
		if f.Role == RoleValidation {
			p("; also in training: %d", f.Overlap)
		}
		p("\n")
	}
	if r.Preview != nil {
		p("\nPreview of %s line %d (%d input + %d output tokens); [LOSS] segments are trained on:\n", r.Preview.File, r.Preview.Line, r.Preview.Counts.Input, r.Preview.Counts.Output)
		for _, s := range r.Preview.Segments {
			tag := "[ctx ]"
			if s.Loss {
				tag = "[LOSS]"
			}
			p("  %s %4d tok  %s\n", tag, s.Tokens, clipMiddle(fmt.Sprintf("%q", s.Text), 400))
		}
	}
	if r.Plan != nil {
		pl := r.Plan
		p("\nPlan: %d epochs × %d steps/epoch (batch %d) = %d optimizer steps; %d tokens trained (%d carry loss)",
			pl.EpochCount, pl.StepsPerEpoch, pl.BatchSize, pl.TotalSteps, pl.TrainedTokens, pl.LossTokens)
		if pl.ValidationTokens > 0 {
			p(", %d validation tokens", pl.ValidationTokens)
		}
		p("\n")
	}
	if r.Time != nil {
		d := time.Duration(r.Time.Seconds * float64(time.Second))
		if d < time.Minute {
			d = d.Round(100 * time.Millisecond)
		} else {
			d = d.Round(time.Second)
		}
		p("Time: about %s at %.0f tokens/s (measured: forward+backward, batch %d × %d tokens)\n",
			d, r.Time.TokensPerSecond, r.Time.ProbeBatch, r.Time.ProbeSeqLen)
	}
	if m := r.Memory; m != nil {
		p("Memory (%s, batch %d × %d tokens, F32): about %s = weights %s + gradients %s + optimizer %s + activations %s (%d params, %d trainable)\n",
			m.Method, m.BatchSize, m.SeqLen, human(m.TotalBytes), human(m.WeightsBytes), human(m.GradBytes), human(m.OptimizerBytes), human(m.ActivationBytes), m.Params, m.TrainableParams)
	}
	for _, n := range r.Notes {
		p("Note: %s\n", n)
	}
	return bw.Flush()
}

func writeDist(w io.Writer, name string, d Dist) {
	fmt.Fprintf(w, "  %-20s min %d  p50 %d  p90 %d  p99 %d  max %d  mean %.1f\n", name, d.Min, d.P50, d.P90, d.P99, d.Max, d.Mean)
	var peak int64
	for _, b := range d.Histogram {
		peak = max(peak, b.Count)
	}
	for _, b := range d.Histogram {
		bar := 0
		if peak > 0 {
			bar = int(b.Count * 40 / peak)
		}
		if b.Count > 0 && bar == 0 {
			bar = 1
		}
		fmt.Fprintf(w, "    %7d–%-7d %8d %s\n", b.Lo, b.Hi-1, b.Count, strings.Repeat("#", bar))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinInts(v []int64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}

// clipMiddle shortens s to about n runes, keeping its start and end.
func clipMiddle(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	h := n / 2
	return fmt.Sprintf("%s …(%d characters)… %s", string(r[:h]), len(r)-2*h, string(r[len(r)-h:]))
}

func human(b int64) string {
	switch {
	case b >= gb:
		return fmt.Sprintf("%.1f GiB", float64(b)/gb)
	case b >= mb:
		return fmt.Sprintf("%.1f MiB", float64(b)/mb)
	case b >= kb:
		return fmt.Sprintf("%.1f KiB", float64(b)/kb)
	}
	return fmt.Sprintf("%d B", b)
}
