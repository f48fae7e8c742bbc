package dataset

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Config configures one validation run.
type Config struct {
	// Family selects the dataset rules (formats, limits); see LimitsFor.
	Family Family
	// Type is the job's customization type.
	Type CustomizationType
	// Encoder tokenizes records with the base model's tokenizer and chat
	// template. Required.
	Encoder *Encoder
	// HyperParameters are the job's hyperParameters map (Bedrock names).
	HyperParameters map[string]string
	// TrustHyperParameters skips the family-range warnings (the API has
	// already validated the map against the catalog's ranges).
	TrustHyperParameters bool
	// ContextLength is the model's context (max_position_embeddings); it
	// is the token limit of families without a published one. 0 = unknown.
	ContextLength int
	// MaxSeqLen is the training sequence length: longer records are
	// truncated (a warning). 0 means the maxSeqLen hyperparameter, else
	// min(ContextLength, 2048), as strata train does.
	MaxSeqLen int
	// Model, when set, gives the memory estimate.
	Model *ModelInfo
	// Method is "lora" (default) or "full", with LoRARank (default 8).
	Method   string
	LoRARank int
	// Probe, when set, measures the base model's training throughput for
	// the time estimate.
	Probe ThroughputProbe
	// Workers parse and tokenize in parallel; 0 means GOMAXPROCS (max 8).
	Workers int
	// Progress, when set, is called from one goroutine as files are read.
	Progress func(Progress)
	// MaxIssuesInMemory caps issues kept in memory; the rest spill to a
	// temporary file in SpillDir (default os.TempDir). 0 means 10,000.
	MaxIssuesInMemory int
	SpillDir          string
	// MaxDedupRecords caps the records tracked for duplicate detection
	// (12 bytes each). 0 means 4,000,000.
	MaxDedupRecords int
}

// Progress reports how far a file has been read.
type Progress struct {
	File    string
	Bytes   int64
	Size    int64 // -1 when unknown
	Records int64
}

// Source is one dataset file.
type Source struct {
	// Name is the file name used in messages (the S3 key's base name).
	Name string
	// Size is the size in bytes, or -1 when unknown.
	Size int64
	// Open opens the file for one sequential read.
	Open func() (io.ReadCloser, error)
}

// FileSource is a Source for a local file, named by its base name.
func FileSource(path string) (Source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Source{}, fmt.Errorf("dataset: %w", err)
	}
	if fi.IsDir() {
		return Source{}, fmt.Errorf("dataset: %s is a directory", path)
	}
	return Source{Name: filepath.Base(path), Size: fi.Size(), Open: func() (io.ReadCloser, error) { return os.Open(path) }}, nil
}

// trainSeqLen is the sequence length strata train uses: Config.MaxSeqLen,
// else the maxSeqLen hyperparameter, else min(context, 2048)
// (engine/train's default).
func trainSeqLen(cfg Config) int {
	if cfg.MaxSeqLen > 0 {
		return cfg.MaxSeqLen
	}
	if s, ok := cfg.HyperParameters[HyperMaxSeqLen]; ok {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 {
			return n
		}
	}
	if cfg.ContextLength > 0 {
		return min(cfg.ContextLength, defaultTrainSeqLen)
	}
	return defaultTrainSeqLen
}

// defaultTrainSeqLen is engine/train's maxSeqLen cap when none is set.
const defaultTrainSeqLen = 2048

// Roles of a file in a run.
const (
	RoleTraining   = "training"
	RoleValidation = "validation"
)

const (
	batchBytes = 1 * mb
	batchLines = 4096
	maxListed  = 100
)

type run struct {
	cfg    Config
	limits Limits
	rules  LineRules
	maxIn  int
	maxOut int
	maxTot int
	seqLen int // truncation length (0: none)
	// packLen is the sequence length pre-training documents are packed
	// into (0: fine-tuning).
	packLen int
	drop    bool // truncation=drop: over-long records are dropped, not cut
	line    int  // max line bytes
	seed    maphash.Seed
	log     *issueLog

	// maxima over every tokenized record, for Bedrock's messages.
	peakIn, peakOut, peakTot int

	previewFile string
	previewLine int64
	previewRaw  []byte
}

// Validate reads the training file and every validation file once, in
// bounded memory, and returns the report. Data problems are in the report
// (Report.Valid, Report.FailureMessage); the error is for I/O failures,
// cancellation and a bad Config. The caller must Close the report.
func Validate(ctx context.Context, cfg Config, train Source, validation ...Source) (*Report, error) {
	start := time.Now()
	limits, ok := LimitsFor(cfg.Family)
	if !ok {
		return nil, fmt.Errorf("dataset: unknown family %q", cfg.Family)
	}
	if cfg.Encoder == nil || cfg.Encoder.Tokenizer == nil {
		return nil, errors.New("dataset: Config.Encoder with a Tokenizer is required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = min(runtime.GOMAXPROCS(0), 8)
	}
	if cfg.MaxIssuesInMemory <= 0 {
		cfg.MaxIssuesInMemory = 10000
	}
	if cfg.MaxDedupRecords <= 0 {
		cfg.MaxDedupRecords = 4_000_000
	}
	if cfg.Method == "" {
		cfg.Method = "lora"
	}
	if cfg.LoRARank <= 0 {
		cfg.LoRARank = 8
	}
	v := &run{cfg: cfg, limits: limits, seed: maphash.MakeSeed(), log: newIssueLog(cfg.MaxIssuesInMemory, cfg.SpillDir)}
	batch := 1
	if r, ok := limits.Hyper[HyperBatchSize]; ok {
		batch = int(r.Default)
	}
	if s, ok := cfg.HyperParameters[HyperBatchSize]; ok {
		if _, err := fmt.Sscan(s, &batch); err != nil {
			batch = 1
		}
	}
	v.maxIn, v.maxOut, v.maxTot = limits.tokenLimits(batch, cfg.ContextLength)
	v.seqLen = trainSeqLen(cfg)
	v.drop = strings.EqualFold(strings.TrimSpace(cfg.HyperParameters[HyperTruncation]), "drop")
	// Continued pre-training packs documents into sequences (engine/train
	// BuildPreTraining): long documents are split, never truncated, so
	// families without a published limit set none.
	packed := cfg.Type == ContinuedPreTraining
	if packed {
		v.packLen = v.seqLen
		v.seqLen = 0
		if limits.MaxTotalTokens == 0 {
			v.maxTot = 0
		}
	}
	maxChars := 0
	if v.maxTot > 0 {
		maxChars = v.maxTot * CharsPerToken
		// A character is at most 6 bytes JSON-escaped (\uXXXX); keys and
		// punctuation get 64 KiB.
		v.line = maxChars*6 + 64*kb
	} else {
		v.line = 16 * mb
	}
	v.rules = LineRules{Family: cfg.Family, Type: cfg.Type, MaxChars: maxChars}
	rep := &Report{
		Family: cfg.Family, FamilyName: limits.Name, Type: cfg.Type,
		Limits: ReportLimits{
			MaxInputTokens: v.maxIn, MaxOutputTokens: v.maxOut, MaxTotalTokens: v.maxTot,
			MaxSeqLen: v.seqLen, MaxRecordChars: maxChars, MaxLineBytes: v.line,
			MinTrainRecords: limits.MinTrainRecords, MaxTrainRecords: limits.MaxTrainRecords,
			MaxValidationRecords: limits.MaxValidationRecords, MinTotalRecords: limits.MinTotalRecords,
			MaxTotalRecords: limits.MaxTotalRecords, MaxTrainBytes: limits.MaxTrainBytes,
			MaxValidationBytes: limits.MaxValidationBytes,
		},
		log: v.log,
	}
	if len(limits.Formats[cfg.Type]) == 0 {
		v.fileIssue(SeverityError, CodeUnsupportedType, train.Name, fmt.Sprintf("%s does not support %s", limits.Name, cfg.Type), "")
	}
	trainSet := newHashSet(cfg.MaxDedupRecords * 4 / 3)
	ts, err := v.file(ctx, train, RoleTraining, trainSet, nil)
	if err != nil {
		v.log.close()
		return nil, err
	}
	rep.Files = append(rep.Files, ts)
	if len(validation) > MaxValidators {
		v.fileIssue(SeverityError, CodeTooManyValidators, validation[MaxValidators].Name, fmt.Sprintf("%d validation files; a job takes at most %d", len(validation), MaxValidators), "")
	}
	var valRecords, valTokens int64
	for _, src := range validation {
		vs, err := v.file(ctx, src, RoleValidation, newHashSet(cfg.MaxDedupRecords*4/3), trainSet)
		if err != nil {
			v.log.close()
			return nil, err
		}
		valRecords += vs.Records
		valTokens += vs.Total.Sum
		rep.Files = append(rep.Files, vs)
	}
	v.countChecks(ts, valRecords, len(validation) > 0, train.Name)
	if cfg.Type != Distillation && ts.Total.Sum > 0 && ts.LossShare < 0.05 {
		v.fileIssue(SeverityWarning, CodeLowLossShare, train.Name, fmt.Sprintf("only %.1f%% of the training tokens carry loss: most of each record is prompt the model does not learn to produce", ts.LossShare*100), "")
	}
	// Fine-tuning trains one sequence per record; pre-training packs the
	// documents into sequences of packLen tokens.
	seqs := ts.ValidRecords
	if v.packLen > 0 {
		seqs = (ts.Total.Sum + int64(v.packLen) - 1) / int64(v.packLen)
	}
	// Without validation files, strata train holds out evalPercentage of
	// the training examples.
	if pct, err := strconv.ParseFloat(strings.TrimSpace(cfg.HyperParameters[HyperEvalPercentage]), 64); err == nil && pct > 0 && pct < 100 && len(validation) == 0 {
		seqs -= int64(float64(seqs) * pct / 100)
	}
	p := plan(limits, cfg.HyperParameters, seqs, ts.Total.Sum, ts.LossTokens, valTokens, func(key, reason string) {
		if !cfg.TrustHyperParameters {
			v.log.add(Issue{Severity: SeverityWarning, Code: CodeHyperParam, File: train.Name, Field: "hyperParameters." + key, Reason: reason})
		}
	})
	rep.Plan = &p
	seq := v.seqLen
	if v.packLen > 0 {
		seq = v.packLen
	} else if ts.Total.Count > 0 && (seq <= 0 || ts.Total.Max < seq) {
		seq = ts.Total.Max
	}
	if cfg.Model != nil && seq > 0 {
		m := estimateMemory(cfg.Model, cfg.Method, cfg.LoRARank, p.BatchSize, seq)
		rep.Memory = &m
	}
	if cfg.Probe != nil && seq > 0 && ts.Total.Sum > 0 {
		// A short batch-1 probe: CPU training throughput in tokens/s barely
		// depends on the batch size, and a long probe would cost more than
		// the validation itself. The probe may shorten it further for large
		// models; the time estimate ignores attention's growth with length.
		probeSeq, probeBatch := min(seq, 128), 1
		res, err := cfg.Probe.Measure(ctx, probeBatch, probeSeq)
		if err != nil {
			rep.Notes = append(rep.Notes, "throughput probe failed: "+err.Error())
		} else if res.TokensPerSecond > 0 {
			rep.Time = &TimeEstimate{TokensPerSecond: res.TokensPerSecond, ProbeBatch: res.Batch, ProbeSeqLen: res.SeqLen,
				Seconds: (float64(p.TrainedTokens) + float64(p.ValidationTokens)/3) / res.TokensPerSecond}
		}
	}
	if v.previewRaw != nil {
		rep.Preview = v.preview()
		if ex := v.previewExample(); ex != nil && cfg.Type == FineTuning {
			if stops, known, err := cfg.Encoder.LearnsStop(ex); err == nil && known && !stops {
				v.log.add(Issue{Severity: SeverityWarning, Code: CodeNoStopToken, File: v.previewFile, Line: v.previewLine,
					Reason: "no end-of-turn or end-of-sequence token carries loss in this record: a model tuned on it may never learn to stop (check the chat template and eos_token)"})
			}
		}
	}
	if trainSet.full {
		rep.Notes = append(rep.Notes, fmt.Sprintf("duplicate detection covered the first %d training records", trainSet.n))
	}
	if v.log.err != nil {
		v.log.close()
		return nil, v.log.err
	}
	rep.finish(v, time.Since(start))
	return rep, nil
}

func (v *run) fileIssue(sev Severity, code Code, file, reason, msg string) {
	v.log.add(Issue{Severity: sev, Code: code, File: file, Reason: reason, Message: msg})
}

// countChecks applies the family's record-count limits.
func (v *run) countChecks(ts *FileStats, valRecords int64, hasVal bool, name string) {
	l := v.limits
	if l.MinTrainRecords > 0 && ts.Records < int64(l.MinTrainRecords) {
		v.fileIssue(SeverityError, CodeTooFewRecords, name, fmt.Sprintf("%d training records; %s needs at least %d", ts.Records, l.Name, l.MinTrainRecords), "")
	}
	if l.MaxTrainRecords > 0 && ts.Records > int64(l.MaxTrainRecords) {
		v.fileIssue(SeverityError, CodeTooManyRecords, name, fmt.Sprintf("%d training records; %s allows at most %d", ts.Records, l.Name, l.MaxTrainRecords), "")
	}
	if hasVal && l.MaxValidationRecords > 0 && valRecords > int64(l.MaxValidationRecords) {
		v.fileIssue(SeverityError, CodeTooManyRecords, name, fmt.Sprintf("%d validation records; %s allows at most %d", valRecords, l.Name, l.MaxValidationRecords), "")
	}
	total := ts.Records + valRecords
	if l.MinTotalRecords > 0 && total < int64(l.MinTotalRecords) {
		v.fileIssue(SeverityError, CodeTooFewRecords, name, fmt.Sprintf("%d training and validation records; %s needs at least %d", total, l.Name, l.MinTotalRecords), "")
	}
	if l.MaxTotalRecords > 0 && total > int64(l.MaxTotalRecords) {
		v.fileIssue(SeverityError, CodeTooManyRecords, name, fmt.Sprintf("%d training and validation records; %s allows at most %d", total, l.Name, l.MaxTotalRecords), "")
	}
	if v.cfg.Type == Distillation && ts.Records > MaxDistillationPrompts {
		v.fileIssue(SeverityWarning, CodeDistillLimit, name, fmt.Sprintf("%d prompts; distillation uses at most %d", ts.Records, MaxDistillationPrompts), "")
	}
	if v.cfg.Type == Distillation && ts.Records > 0 && ts.Records < 100 {
		v.fileIssue(SeverityWarning, CodeDistillLimit, name, fmt.Sprintf("%d prompts; AWS recommends at least 100 for distillation", ts.Records), "")
	}
}

type lineResult struct {
	issues    []Issue
	skip      bool // blank line of a .txt file
	ok        bool
	counted   bool
	format    Format
	counts    Counts
	hash      uint64
	truncated bool
}

type batch struct {
	seq   int
	buf   []byte
	lines []rawLine
	res   []lineResult
	end   int64
	eof   bool
	err   error
}

// file validates one file in a single pass: a reader goroutine cuts lines
// into batches, workers check and tokenize them, and this goroutine merges
// results in line order. A fixed pool of batches bounds memory.
func (v *run) file(ctx context.Context, src Source, role string, own, other *hashSet) (*FileStats, error) {
	st := &FileStats{File: src.Name, Role: role}
	text := strings.EqualFold(filepath.Ext(src.Name), ".txt")
	if text {
		st.Format = FormatText
		if !v.limits.accepts(v.cfg.Type, FormatText) {
			v.fileIssue(SeverityError, CodeWrongFormat, src.Name, fmt.Sprintf("plain-text files are for continued pre-training; %s %s takes %s", v.limits.Name, v.cfg.Type, describeFormats(v.limits.Formats[v.cfg.Type])), "")
			return st, nil
		}
	}
	maxBytes := v.limits.MaxTrainBytes
	if role == RoleValidation {
		maxBytes = v.limits.MaxValidationBytes
	}
	if maxBytes > 0 && src.Size > maxBytes {
		v.fileIssue(SeverityError, CodeFileTooLarge, src.Name, fmt.Sprintf("%s file is %d bytes; %s allows at most %d", role, src.Size, v.limits.Name, maxBytes), "")
	}
	rc, err := src.Open()
	if err != nil {
		return nil, fmt.Errorf("dataset: open %s: %w", src.Name, err)
	}
	defer rc.Close()
	lr := newLineReader(rc, v.line)
	rules := v.rules
	rules.File = src.Name
	chk, err := newLineChecker(rules)
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nb := 2*v.cfg.Workers + 2
	free := make(chan *batch, nb)
	work := make(chan *batch, nb)
	done := make(chan *batch, nb)
	for range nb {
		free <- &batch{}
	}
	go func() { // reader
		defer close(work)
		for seq := 0; ; seq++ {
			var b *batch
			select {
			case b = <-free:
			case <-ctx.Done():
				return
			}
			if cap(b.buf) > 4*batchBytes || b.buf == nil {
				b.buf = make([]byte, 0, batchBytes+64*kb)
			}
			b.seq, b.buf, b.lines, b.eof, b.err = seq, b.buf[:0], b.lines[:0], false, nil
			if seq == 0 {
				// Peek at the encoding before the first line.
				var rl rawLine
				buf, err := lr.next(b.buf, &rl)
				b.buf = buf
				switch {
				case lr.UTF16:
					b.eof = true
				case err == io.EOF:
					b.eof = true
				case err != nil:
					b.err = err
				default:
					b.lines = append(b.lines, rl)
				}
			}
			for !b.eof && b.err == nil && len(b.buf) < batchBytes && len(b.lines) < batchLines {
				var rl rawLine
				buf, err := lr.next(b.buf, &rl)
				b.buf = buf
				if err == io.EOF {
					b.eof = true
					break
				}
				if err != nil {
					b.err = err
					break
				}
				b.lines = append(b.lines, rl)
			}
			b.end = lr.offset
			select {
			case work <- b:
			case <-ctx.Done():
				return
			}
			if b.eof || b.err != nil {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range v.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jp := &jparser{}
			for b := range work {
				v.process(chk, b, text, jp)
				done <- b
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	var readErr error
	var dists [3]distBuilder
	pending := map[int]*batch{}
	next := 0
	for b := range done {
		pending[b.seq] = b
		for {
			nbt, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if nbt.seq == 0 {
				st.BOM = lr.BOM
				if lr.BOM {
					v.fileIssue(SeverityWarning, CodeBOM, src.Name, "file starts with a UTF-8 byte-order mark; it was ignored", "")
				}
				if lr.UTF16 {
					v.fileIssue(SeverityError, CodeUTF16, src.Name, "file starts with a UTF-16 byte-order mark: datasets must be UTF-8 JSON Lines; convert it (iconv -f UTF-16 -t UTF-8)", msgUnparseable(src.Name))
				}
			}
			v.merge(st, nbt, own, other, &dists, role)
			st.Bytes = nbt.end
			if nbt.err != nil && readErr == nil {
				readErr = nbt.err
				cancel()
			}
			if v.cfg.Progress != nil {
				v.cfg.Progress(Progress{File: src.Name, Bytes: nbt.end, Size: src.Size, Records: st.Records})
			}
			free <- nbt
		}
	}
	if readErr != nil {
		return nil, fmt.Errorf("dataset: %s: %w", src.Name, readErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", src.Name, context.Cause(ctx))
	}
	if maxBytes > 0 && src.Size < 0 && st.Bytes > maxBytes {
		v.fileIssue(SeverityError, CodeFileTooLarge, src.Name, fmt.Sprintf("%s file is %d bytes; %s allows at most %d", role, st.Bytes, v.limits.Name, maxBytes), "")
	}
	if st.Records == 0 && !lr.UTF16 {
		reason := "file is empty: it holds no records"
		if st.Lines > 0 {
			reason = "file holds no records, only blank lines"
		}
		v.fileIssue(SeverityError, CodeEmptyFile, src.Name, reason, "")
	}
	st.Input, st.Output, st.Total = dists[0].build(), dists[1].build(), dists[2].build()
	if st.Total.Sum > 0 {
		st.LossShare = float64(st.LossTokens) / float64(st.Total.Sum)
	}
	return st, nil
}

// process checks and tokenizes every line of b (worker goroutine).
func (v *run) process(chk *lineChecker, b *batch, text bool, jp *jparser) {
	if cap(b.res) < len(b.lines) {
		b.res = make([]lineResult, len(b.lines))
	}
	b.res = b.res[:len(b.lines)]
	for i := range b.lines {
		b.res[i] = lineResult{}
		v.checkLine(chk, &b.lines[i], &b.res[i], text, jp)
	}
}

func (v *run) checkLine(chk *lineChecker, rl *rawLine, res *lineResult, text bool, jp *jparser) {
	file := chk.r.File
	if rl.tooBig {
		reason := fmt.Sprintf("line is %d bytes; the limit is %d bytes", rl.size, v.line)
		if v.maxTot > 0 {
			reason += fmt.Sprintf(" (%d tokens × %d characters per token, JSON-escaped)", v.maxTot, CharsPerToken)
		}
		res.issues = append(res.issues, Issue{Severity: SeverityError, Code: CodeRecordTooLarge, File: file, Line: rl.no, Reason: reason, Message: msgInputSize(file, recordStart(rl.head))})
		return
	}
	var ex *Example
	if text {
		if len(strings.TrimSpace(string(rl.data))) == 0 {
			res.skip = true
			return
		}
		if !utf8.Valid(rl.data) {
			off := invalidUTF8Offset(rl.data)
			res.issues = append(res.issues, Issue{Severity: SeverityError, Code: CodeInvalidUTF8, File: file, Line: rl.no, Column: off + 1,
				Reason: fmt.Sprintf("invalid UTF-8 at byte %d (0x%02X): datasets must be UTF-8; this line looks like %s", off+1, rl.data[off], guessEncoding(rl.data))})
			return
		}
		// The newline is part of the document training reads.
		ex = &Example{Format: FormatText, Text: string(rl.data) + "\n"}
		if chk.r.MaxChars > 0 && ex.chars() > chk.r.MaxChars {
			res.issues = append(res.issues, Issue{Severity: SeverityError, Code: CodeRecordTooLarge, File: file, Line: rl.no,
				Reason: fmt.Sprintf("line holds %d characters; the limit is %d", ex.chars(), chk.r.MaxChars), Message: msgInputSize(file, recordStart(rl.data))})
			return
		}
	} else {
		ex = chk.check(rl.data, rl.no, &res.issues, jp)
		if ex == nil {
			return
		}
	}
	res.format = ex.Format
	c, err := v.cfg.Encoder.Count(ex, nil)
	if err != nil {
		res.issues = append(res.issues, Issue{Severity: SeverityError, Code: CodeTemplate, File: file, Line: rl.no, Reason: err.Error()})
		return
	}
	res.counts, res.counted, res.ok = c, true, true
	add := func(code Code, msg string) {
		res.ok = false
		res.issues = append(res.issues, Issue{Severity: SeverityError, Code: code, File: file, Line: rl.no, Reason: msg, Message: msg})
	}
	// Pre-training documents have no prompt/completion split: only the
	// total limit applies.
	doc := ex.Format == FormatInput || ex.Format == FormatText
	if v.maxIn > 0 && c.Input > v.maxIn && !doc {
		add(CodeInputTokens, msgInputTokens(c.Input, v.maxIn))
	}
	if v.maxOut > 0 && c.Output > v.maxOut && !doc {
		add(CodeOutputTokens, msgOutputTokens(c.Output, v.maxOut))
	}
	if v.maxTot > 0 && c.Total > v.maxTot {
		add(CodeTotalTokens, msgTotalTokens(c.Total, v.maxTot))
	}
	if res.ok && v.seqLen > 0 && c.Total > v.seqLen {
		res.truncated = true
		reason := fmt.Sprintf("%d tokens; training truncates records to %d tokens, dropping %d", c.Total, v.seqLen, c.Total-v.seqLen)
		if v.drop {
			reason = fmt.Sprintf("%d tokens; training drops records longer than %d tokens (truncation=drop)", c.Total, v.seqLen)
		}
		res.issues = append(res.issues, Issue{Severity: SeverityWarning, Code: CodeTruncated, File: file, Line: rl.no, Reason: reason})
	}
	// Lines of a .txt file are not records: short or repeated lines are
	// normal prose, so near-empty and duplicate checks skip them.
	if text {
		return
	}
	if res.ok && nearEmpty(ex) {
		res.issues = append(res.issues, Issue{Severity: SeverityWarning, Code: CodeNearEmpty, File: file, Line: rl.no,
			Reason: "record holds fewer than 10 non-space characters of text"})
	}
	res.hash = recordHash(v.seed, ex)
}

// nearEmpty reports records with under 10 non-space characters in all.
func nearEmpty(ex *Example) bool {
	n := 0
	count := func(s string) {
		for _, r := range s {
			if !unicode.IsSpace(r) {
				n++
				if n >= 10 {
					return
				}
			}
		}
	}
	count(ex.System)
	count(ex.Text)
	for _, m := range ex.Messages {
		count(m.Text)
	}
	return n < 10
}

// merge folds one batch's results into the file's stats in line order
// (collector goroutine).
func (v *run) merge(st *FileStats, b *batch, own, other *hashSet, dists *[3]distBuilder, role string) {
	for i := range b.lines {
		rl, res := &b.lines[i], &b.res[i]
		st.Lines++
		if rl.crlf {
			st.CRLFLines++
		}
		if res.skip {
			continue
		}
		isBlank := len(res.issues) > 0 && res.issues[0].Code == CodeBlankLine
		if !isBlank {
			st.Records++
		}
		for _, is := range res.issues {
			v.log.add(is)
		}
		if res.counted {
			c := res.counts
			dists[0].add(c.Input)
			dists[1].add(c.Output)
			dists[2].add(c.Total)
			st.LossTokens += int64(c.Output)
			v.peakIn, v.peakOut, v.peakTot = max(v.peakIn, c.Input), max(v.peakOut, c.Output), max(v.peakTot, c.Total)
		}
		if !res.ok {
			continue
		}
		if st.Format == "" {
			st.Format = res.format
		} else if res.format != st.Format && st.Format != FormatText {
			v.log.add(Issue{Severity: SeverityError, Code: CodeMixedFormats, File: st.File, Line: rl.no,
				Reason: fmt.Sprintf("record is %s but the file's first record is %s; one file holds one format", res.format, st.Format)})
			continue
		}
		st.ValidRecords++
		if res.truncated {
			st.Truncated++
			if len(st.TruncatedLines) < maxListed {
				st.TruncatedLines = append(st.TruncatedLines, rl.no)
			}
		}
		if res.format != FormatText {
			if prev := own.add(res.hash, rl.no); prev != 0 {
				st.Duplicates++
				v.log.add(Issue{Severity: SeverityWarning, Code: CodeDuplicate, File: st.File, Line: rl.no, Related: prev,
					Reason: fmt.Sprintf("same record as line %d", prev)})
			}
			if other != nil {
				if prev := other.find(res.hash); prev != 0 {
					st.Overlap++
					v.log.add(Issue{Severity: SeverityWarning, Code: CodeOverlap, File: st.File, Line: rl.no, Related: prev,
						Reason: fmt.Sprintf("same record as training line %d: validation loss on it measures memorization", prev)})
				}
			}
		}
		for _, is := range res.issues {
			if is.Code == CodeNearEmpty {
				st.NearEmpty++
			}
		}
		if role == RoleTraining && v.previewRaw == nil {
			v.previewFile, v.previewLine = st.File, rl.no
			v.previewRaw = append([]byte(nil), rl.data...)
			if rl.data == nil {
				v.previewRaw = []byte{}
			}
		}
	}
}

// previewExample parses the first valid training record again.
func (v *run) previewExample() *Example {
	if v.previewRaw == nil {
		return nil
	}
	if strings.EqualFold(filepath.Ext(v.previewFile), ".txt") {
		return &Example{Format: FormatText, Text: string(v.previewRaw) + "\n"}
	}
	rules := v.rules
	rules.File = v.previewFile
	chk, err := newLineChecker(rules)
	if err != nil {
		return nil
	}
	var discard []Issue
	return chk.check(v.previewRaw, v.previewLine, &discard, &jparser{})
}

// preview renders the first valid training record with its loss mask.
func (v *run) preview() *Preview {
	ex := v.previewExample()
	if ex == nil {
		return nil
	}
	var segs []Segment
	c, err := v.cfg.Encoder.Count(ex, &segs)
	if err != nil {
		return nil
	}
	return &Preview{File: v.previewFile, Line: v.previewLine, Counts: c, Segments: segs}
}
