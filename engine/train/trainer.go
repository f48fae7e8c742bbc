package train

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/strata-ml/strata/engine/checkpoint"
	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
	"github.com/strata-ml/strata/engine/optim"
	"github.com/strata-ml/strata/engine/safetensors"
)

// Event types, the same strings as internal/trainspec's.
const (
	EventStatus     = "status"
	EventStep       = "step"
	EventValidation = "validation"
	EventCheckpoint = "checkpoint"
	EventWarning    = "warning"
	EventStopped    = "stopped"
	EventCompleted  = "completed"
	EventFailed     = "failed"
)

// Event is one progress report of a run.
type Event struct {
	Type         string
	Stage        string // EventStatus: "Validation", "DataProcessing", "Training"
	Step         int    // optimizer steps done
	TotalSteps   int
	Epoch        int // 1-based
	Loss         float64
	Perplexity   float64
	LearningRate float64
	GradNorm     float64
	TokensPerSec float64
	Validator    string // validation file for EventValidation ("" = all combined)
	Path         string // checkpoint directory for EventCheckpoint
	Message      string
}

// Options configures one run.
type Options struct {
	Model           model.Model // base model, loaded or freshly initialised
	Tokens          Tokens
	PreTraining     bool     // CONTINUED_PRE_TRAINING instead of FINE_TUNING
	TrainFiles      []string // JSONL (or .txt for pre-training)
	ValidationFiles []string
	HP              *HyperParameters
	Full            bool         // full fine-tuning instead of LoRA
	LoRA            *lora.Config // nil: rank/alpha/dropout from HP, all seven modules
	Seed            uint64
	OutputDir       string
	CheckpointDir   string // default OutputDir/checkpoints
	Resume          bool
	BaseModelDir    string // copied tokenizer files come from here; recorded in the adapter
	WriteMerged     bool   // with LoRA, also write merged full weights
	OnEvent         func(Event)
	// Pad is the token used to pad rows (default EOS).
	Pad int32
}

// Result summarises a finished run.
type Result struct {
	TrainingLoss     float64
	ValidationLoss   map[string]float64
	Steps            int
	Epochs           int
	TrainTokens      int64
	TruncatedRecords int
	DroppedRecords   int
	BestCheckpoint   string
	AdapterDir       string // relative to OutputDir
	MergedDir        string // relative to OutputDir
	EarlyStopped     bool
}

// ErrStopped is returned when the context was cancelled: a checkpoint was
// written and the run can be resumed.
var ErrStopped = errors.New("train: stopped")

// FailureError is a run that ended for a reason the user must act on
// (diverged loss); Message is the user-facing text.
type FailureError struct{ Message string }

// Error returns the message prefixed with "train: ".
func (e *FailureError) Error() string { return "train: " + e.Message }

// Health thresholds.
const (
	// MaxGradNormHealthy is the gradient norm (before clipping) above which
	// a run is declared diverged.
	MaxGradNormHealthy = 1e6
	flatWindow         = 20   // steps compared for the flat-loss warning
	flatRelChange      = 1e-4 // relative loss change under which the loss is flat
)

// state is the resume state kept in every checkpoint's manifest.
type state struct {
	Step        int       `json:"step"`      // optimizer steps done
	Epoch       int       `json:"epoch"`     // current epoch, 0-based
	EpochStep   int       `json:"epochStep"` // steps done within Epoch
	Seed        uint64    `json:"seed"`
	DataDigest  string    `json:"dataDigest"`
	BestLoss    float64   `json:"bestLoss"` // +Inf before the first validation
	BestPath    string    `json:"bestPath,omitempty"`
	Bad         int       `json:"bad"` // validations without improvement
	LastLoss    float64   `json:"lastLoss"`
	TrainTokens int64     `json:"trainTokens"`
	History     []float64 `json:"history,omitempty"` // last flatWindow step losses
	FlatWarned  bool      `json:"flatWarned,omitempty"`
	ValidatedAt int       `json:"validatedAt"` // step of the last validation, -1 for none
	Done        bool      `json:"done,omitempty"`
	Early       bool      `json:"early,omitempty"`
	// DropoutState is the model's dropout stream position (see
	// dropoutStater); 0 for models without one.
	DropoutState uint64 `json:"dropoutState,omitempty"`
}

// dropoutStater is implemented by models whose training passes draw
// random dropout masks (llama.Model): the trainer saves the stream position
// with every checkpoint and restores it on resume, so a resumed run draws
// the same masks as an uninterrupted one.
type dropoutStater interface {
	DropoutState() uint64
	SetDropoutState(uint64)
}

// MarshalJSON encodes +Inf BestLoss as null.
func (s state) MarshalJSON() ([]byte, error) {
	type plain state
	p := plain(s)
	if math.IsInf(p.BestLoss, 0) {
		p.BestLoss = -1
	}
	return json.Marshal(p)
}

type runner struct {
	o       Options
	hp      *HyperParameters
	m       model.Model
	adapter *lora.Adapter
	params  []optim.Param
	mparams []*model.Param
	opt     *optim.AdamW
	sched   optim.Schedule
	store   *checkpoint.Store
	train   []Example
	vals    map[string][]Example
	valOrd  []string
	st      state
	steps   int // per epoch
	total   int
	stepLog *csvLog
	valLog  *csvLog
	rep     DataReport
	lastCk  string
}

func (r *runner) emit(e Event) {
	if r.o.OnEvent != nil {
		r.o.OnEvent(e)
	}
}

// Run trains and writes the outputs. It returns ErrStopped when ctx is
// cancelled (after a checkpoint), a *FailureError when training diverges,
// and other errors for bad input or I/O failures.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Model == nil || o.Tokens.Encoder == nil || o.HP == nil {
		return nil, errors.New("train: Options needs Model, Tokens.Encoder and HP")
	}
	if o.OutputDir == "" {
		return nil, errors.New("train: Options needs OutputDir")
	}
	if o.CheckpointDir == "" {
		o.CheckpointDir = filepath.Join(o.OutputDir, "checkpoints")
	}
	if o.Pad == 0 {
		o.Pad = o.Tokens.EOS
	}
	r := &runner{o: o, hp: o.HP, m: o.Model}
	r.store = &checkpoint.Store{Dir: o.CheckpointDir, Keep: o.HP.CheckpointKeep}
	if err := os.MkdirAll(o.OutputDir, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	r.emit(Event{Type: EventStatus, Stage: "Validation"})
	if err := r.loadData(); err != nil {
		return nil, err
	}
	r.emit(Event{Type: EventStatus, Stage: "DataProcessing"})
	if err := r.setup(); err != nil {
		return nil, err
	}
	defer r.stepLog.close()
	defer r.valLog.close()
	r.emit(Event{Type: EventStatus, Stage: "Training"})
	if err := r.loop(ctx); err != nil {
		return nil, err
	}
	return r.finish()
}

func (r *runner) maxLen() int {
	if r.hp.MaxSeqLen > 0 {
		return r.hp.MaxSeqLen
	}
	n := r.m.Config().MaxPositionEmbeddings
	if n <= 0 || n > 2048 {
		n = 2048
	}
	return n
}

func (r *runner) build(files []string, rep *DataReport) ([]Example, error) {
	var recs []Record
	for _, f := range files {
		rs, bad, err := ReadFile(f, r.o.PreTraining)
		if err != nil {
			return nil, err
		}
		recs = append(recs, rs...)
		for _, b := range bad {
			rep.drop(b)
		}
	}
	rep.Records += len(recs)
	if r.o.PreTraining {
		return BuildPreTraining(recs, r.o.Tokens, r.maxLen(), rep)
	}
	return BuildFineTuning(recs, r.o.Tokens, r.maxLen(), r.hp.Truncation, rep)
}

func (r *runner) loadData() error {
	if len(r.o.TrainFiles) == 0 {
		return fmt.Errorf("%w: no training file given", ErrNoData)
	}
	ex, err := r.build(r.o.TrainFiles, &r.rep)
	if err != nil {
		return err
	}
	if len(ex) == 0 {
		msg := fmt.Sprintf("%v in %s", ErrNoData, strings.Join(baseNames(r.o.TrainFiles), ", "))
		if len(r.rep.Errors) > 0 {
			msg += ": " + r.rep.Errors[0].String()
			if r.rep.Dropped > 1 {
				msg += fmt.Sprintf(" (and %d more records dropped)", r.rep.Dropped-1)
			}
		}
		return fmt.Errorf("%w", errors.New(msg))
	}
	r.vals = map[string][]Example{}
	for _, f := range r.o.ValidationFiles {
		var vrep DataReport
		v, err := r.build([]string{f}, &vrep)
		if err != nil {
			return err
		}
		if len(v) == 0 {
			msg := fmt.Sprintf("train: validation file %s has no usable records", filepath.Base(f))
			if len(vrep.Errors) > 0 {
				msg += ": " + vrep.Errors[0].String()
			}
			return errors.New(msg)
		}
		name := filepath.Base(f)
		if _, dup := r.vals[name]; dup {
			name = f
		}
		r.vals[name] = v
		r.valOrd = append(r.valOrd, name)
		r.rep.Truncated += vrep.Truncated
		r.rep.Dropped += vrep.Dropped
	}
	if len(r.vals) == 0 && r.hp.EvalPercentage > 0 {
		tr, v := Split(ex, r.hp.EvalPercentage, r.o.Seed)
		if len(v) > 0 {
			ex = tr
			r.vals["heldout"] = v
			r.valOrd = append(r.valOrd, "heldout")
		}
	}
	r.train = ex
	if r.rep.Dropped > 0 || r.rep.Truncated > 0 {
		msg := fmt.Sprintf("%d records truncated to %d tokens, %d records dropped", r.rep.Truncated, r.maxLen(), r.rep.Dropped)
		if len(r.rep.Errors) > 0 {
			msg += "; first: " + r.rep.Errors[0].String()
		}
		r.emit(Event{Type: EventWarning, Message: msg})
	}
	return nil
}

func baseNames(fs []string) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = filepath.Base(f)
	}
	return out
}

// digest identifies the training examples and the settings that decide the
// data order, so a resume on different data is refused.
func (r *runner) digest() string {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], r.o.Seed)
	h.Write(b[:])
	fmt.Fprintf(h, "%d/%d/%t", r.hp.BatchSize, r.hp.EpochCount, r.o.Full)
	for _, e := range r.train {
		binary.LittleEndian.PutUint64(b[:], uint64(len(e.Tokens)))
		h.Write(b[:])
		for i, t := range e.Tokens {
			binary.LittleEndian.PutUint32(b[:4], uint32(t))
			if e.Learn[i] {
				b[3] ^= 0x80
			}
			h.Write(b[:4])
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (r *runner) setup() error {
	if !r.o.Full {
		cfg := lora.Config{Rank: r.hp.LoRARank, Alpha: r.hp.LoRAAlpha, Dropout: r.hp.LoRADropout}
		if r.o.LoRA != nil {
			cfg = *r.o.LoRA
		}
		a, err := r.m.EnableLoRA(cfg, r.o.Seed)
		if err != nil {
			return fmt.Errorf("train: enable LoRA: %w", err)
		}
		a.BaseModel = r.o.BaseModelDir
		r.adapter = a
	}
	r.mparams = r.m.Params()
	r.params = make([]optim.Param, len(r.mparams))
	for i, p := range r.mparams {
		r.params[i] = optim.Param{Name: p.Name, Value: p.Data, Grad: p.Grad, NoDecay: p.NoDecay}
	}
	opt, err := optim.NewAdamW(optim.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: r.hp.WeightDecay})
	if err != nil {
		return err
	}
	r.opt = opt
	bs := r.hp.BatchSize
	r.steps = (len(r.train) + bs - 1) / bs
	r.total = r.steps * r.hp.EpochCount
	r.sched = optim.Schedule{Peak: r.hp.LearningRate, Warmup: r.hp.LearningRateWarmupSteps, Total: r.total, Decay: optim.Decay(r.hp.Scheduler)}
	if err := r.sched.Validate(); err != nil {
		return err
	}
	r.st = state{Seed: r.o.Seed, DataDigest: r.digest(), BestLoss: math.Inf(1), ValidatedAt: -1}
	if r.o.Resume {
		if err := r.resume(); err != nil {
			return err
		}
	}
	if r.stepLog, err = openCSV(filepath.Join(r.o.OutputDir, StepMetricsFile), stepHeader, r.st.Step); err != nil {
		return err
	}
	if r.valLog, err = openCSV(filepath.Join(r.o.OutputDir, ValidationMetricsFile), validationHeader, r.st.Step); err != nil {
		return err
	}
	return nil
}

// resume restores the newest checkpoint that verifies, if any.
func (r *runner) resume() error {
	c, path, err := r.store.Latest()
	if errors.Is(err, checkpoint.ErrNone) {
		// Nothing saved yet, or nothing that verifies: start from the beginning.
		if list, _ := r.store.List(); len(list) > 0 {
			r.emit(Event{Type: EventWarning, Message: fmt.Sprintf("no checkpoint in %s could be verified, starting from the beginning: %v", r.o.CheckpointDir, err)})
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("train: resume: %w", err)
	}
	var st state
	if err := json.Unmarshal(c.State, &st); err != nil {
		return fmt.Errorf("train: resume from %s: state: %w", path, err)
	}
	if st.BestLoss < 0 {
		st.BestLoss = math.Inf(1)
	}
	if st.DataDigest != r.st.DataDigest {
		return fmt.Errorf("train: resume from %s: the training data, seed, batchSize, epochCount or method changed since the checkpoint was written", path)
	}
	if err := r.restoreWeights(c, path); err != nil {
		return err
	}
	ost := optim.State{Step: 0, Moments: map[string][]float32{}}
	for _, t := range c.Groups["optimizer"] {
		if t.Name == "step" {
			if len(t.F32) == 1 {
				ost.Step = int(t.F32[0])
			}
			continue
		}
		ost.Moments[t.Name] = t.F32
	}
	if err := r.opt.SetState(ost, r.params); err != nil {
		return fmt.Errorf("train: resume from %s: %w", path, err)
	}
	if ds, ok := r.m.(dropoutStater); ok {
		ds.SetDropoutState(st.DropoutState)
	}
	r.st = st
	r.lastCk = path
	return nil
}

func (r *runner) restoreWeights(c *checkpoint.Checkpoint, path string) error {
	byName := map[string]*safetensors.Tensor{}
	for _, t := range c.Groups["weights"] {
		byName[t.Name] = t
	}
	if len(byName) != len(r.mparams) {
		return fmt.Errorf("train: resume from %s: checkpoint has %d tensors, the model trains %d", path, len(byName), len(r.mparams))
	}
	for _, p := range r.mparams {
		t, ok := byName[p.Name]
		if !ok || len(t.F32) != len(p.Data) {
			return fmt.Errorf("train: resume from %s: tensor %q missing or of the wrong size", path, p.Name)
		}
		copy(p.Data, t.F32)
	}
	return nil
}

func (r *runner) save() (string, error) {
	ws := make([]*safetensors.Tensor, len(r.mparams))
	for i, p := range r.mparams {
		ws[i] = checkpoint.Tensor(p.Name, p.Shape, p.Data)
	}
	ost := r.opt.State()
	ot := []*safetensors.Tensor{checkpoint.Tensor("step", []int{1}, []float32{float32(ost.Step)})}
	for name, v := range ost.Moments {
		ot = append(ot, checkpoint.Tensor(name, []int{len(v)}, v))
	}
	if ds, ok := r.m.(dropoutStater); ok {
		r.st.DropoutState = ds.DropoutState()
	}
	sb, err := json.Marshal(r.st)
	if err != nil {
		return "", err
	}
	p, err := r.store.Save(&checkpoint.Checkpoint{
		Step:   r.st.Step,
		Groups: map[string][]*safetensors.Tensor{"weights": ws, "optimizer": ot},
		State:  sb,
	}, r.st.BestPath)
	if err != nil {
		return "", err
	}
	r.lastCk = p
	r.emit(Event{Type: EventCheckpoint, Step: r.st.Step, TotalSteps: r.total, Epoch: r.st.Epoch + 1, Path: p})
	return p, nil
}

// order returns epoch e's permutation of the training examples.
func (r *runner) order(e int) []int {
	return rand.New(rand.NewPCG(r.o.Seed, uint64(e)+0x0de7)).Perm(len(r.train))
}

func (r *runner) loop(ctx context.Context) error {
	bs := r.hp.BatchSize
	for r.st.Epoch < r.hp.EpochCount && !r.st.Done {
		perm := r.order(r.st.Epoch)
		for r.st.EpochStep < r.steps {
			if ctx.Err() != nil {
				return r.stop()
			}
			lo := r.st.EpochStep * bs
			hi := min(lo+bs, len(perm))
			exs := make([]Example, 0, hi-lo)
			for _, i := range perm[lo:hi] {
				exs = append(exs, r.train[i])
			}
			if err := r.step(exs); err != nil {
				return err
			}
			if r.hp.EvalSteps > 0 && r.st.Step%r.hp.EvalSteps == 0 {
				if err := r.validate(); err != nil {
					return err
				}
			}
			if r.st.Done {
				break
			}
			if r.hp.CheckpointSteps > 0 && r.st.Step%r.hp.CheckpointSteps == 0 && r.st.EpochStep < r.steps {
				if _, err := r.save(); err != nil {
					return err
				}
			}
		}
		if !r.st.Done {
			if err := r.validate(); err != nil {
				return err
			}
		}
		if r.st.EpochStep >= r.steps {
			r.st.Epoch++
			r.st.EpochStep = 0
		}
		if _, err := r.save(); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) stop() error {
	p, err := r.save()
	if err != nil {
		return fmt.Errorf("train: stop: %w", err)
	}
	r.emit(Event{Type: EventStopped, Step: r.st.Step, TotalSteps: r.total, Epoch: r.st.Epoch + 1, Path: p,
		Message: fmt.Sprintf("stopped at step %d; resume continues from %s", r.st.Step, p)})
	return ErrStopped
}

func (r *runner) step(exs []Example) error {
	start := time.Now()
	batches, counts := Batches(exs, r.hp.MicroBatchTokens, r.o.Pad)
	total := 0
	var tokens int64
	for i, c := range counts {
		total += c
		tokens += int64(batches[i].B * batches[i].T)
	}
	r.m.ZeroGrad()
	var sum float64
	for i, b := range batches {
		if counts[i] == 0 {
			continue
		}
		b.LossScale = float64(counts[i]) / float64(total)
		l, n, err := r.m.ForwardBackward(b)
		if err != nil {
			return fmt.Errorf("train: step %d: %w", r.st.Step+1, err)
		}
		sum += l * float64(n)
	}
	loss := sum / float64(max(total, 1))
	norm := optim.ClipGradNorm(r.params, r.hp.MaxGradNorm)
	if bad := health(loss, norm); bad != "" {
		msg := fmt.Sprintf("training diverged at step %d (epoch %d): %s; lower learningRate or raise learningRateWarmupSteps", r.st.Step+1, r.st.Epoch+1, bad)
		if r.lastCk != "" {
			msg += "; the last good checkpoint is " + r.lastCk
		}
		return &FailureError{Message: msg}
	}
	lr := r.sched.LR(r.st.Step)
	if err := r.opt.Step(r.params, lr); err != nil {
		return err
	}
	r.st.Step++
	r.st.EpochStep++
	r.st.LastLoss = loss
	r.st.TrainTokens += tokens
	if err := r.stepLog.row(r.st.Step-1, r.st.Epoch, loss); err != nil {
		return err
	}
	dt := time.Since(start).Seconds()
	r.emit(Event{Type: EventStep, Step: r.st.Step, TotalSteps: r.total, Epoch: r.st.Epoch + 1, Loss: loss,
		Perplexity: Perplexity(loss), LearningRate: lr, GradNorm: norm, TokensPerSec: float64(tokens) / max(dt, 1e-9)})
	r.flatCheck(loss)
	return nil
}

func health(loss, norm float64) string {
	switch {
	case math.IsNaN(loss) || math.IsInf(loss, 0):
		return fmt.Sprintf("the loss is %v", loss)
	case math.IsNaN(norm) || math.IsInf(norm, 0):
		return fmt.Sprintf("the gradient norm is %v", norm)
	case norm > MaxGradNormHealthy:
		return fmt.Sprintf("the gradient norm exploded to %.3g", norm)
	}
	return ""
}

// flatCheck warns once when the loss has not moved over flatWindow steps.
func (r *runner) flatCheck(loss float64) {
	r.st.History = append(r.st.History, loss)
	if len(r.st.History) > flatWindow {
		r.st.History = r.st.History[len(r.st.History)-flatWindow:]
	}
	if r.st.FlatWarned || len(r.st.History) < flatWindow {
		return
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, l := range r.st.History {
		lo, hi = min(lo, l), max(hi, l)
	}
	if hi-lo <= flatRelChange*math.Abs(hi) {
		r.st.FlatWarned = true
		r.emit(Event{Type: EventWarning, Step: r.st.Step, Epoch: r.st.Epoch + 1,
			Message: fmt.Sprintf("training loss has stayed at %.4g for %d steps; the learning rate may be too low or the data too uniform", loss, flatWindow)})
	}
}

// evaluate returns the token-mean loss of exs.
func (r *runner) evaluate(exs []Example) (float64, int, error) {
	batches, counts := Batches(exs, r.hp.MicroBatchTokens, r.o.Pad)
	var sum float64
	total := 0
	for i, b := range batches {
		if counts[i] == 0 {
			continue
		}
		l, n, err := r.m.Forward(b)
		if err != nil {
			return 0, 0, fmt.Errorf("train: validation: %w", err)
		}
		sum += l * float64(n)
		total += n
	}
	if total == 0 {
		return 0, 0, nil
	}
	return sum / float64(total), total, nil
}

// validate runs every validator, logs the combined loss, keeps the best
// checkpoint and applies early stopping.
func (r *runner) validate() error {
	if len(r.valOrd) == 0 || r.st.ValidatedAt == r.st.Step {
		return nil
	}
	r.st.ValidatedAt = r.st.Step
	var sum float64
	var n int
	for _, name := range r.valOrd {
		l, k, err := r.evaluate(r.vals[name])
		if err != nil {
			return err
		}
		sum += l * float64(k)
		n += k
		if len(r.valOrd) > 1 {
			r.emit(Event{Type: EventValidation, Step: r.st.Step, TotalSteps: r.total, Epoch: r.st.Epoch + 1, Loss: l, Perplexity: Perplexity(l), Validator: name})
		}
	}
	loss := sum / float64(max(n, 1))
	if err := r.valLog.row(max(r.st.Step-1, 0), r.st.Epoch, loss); err != nil {
		return err
	}
	v := ""
	if len(r.valOrd) == 1 {
		v = r.valOrd[0]
	}
	r.emit(Event{Type: EventValidation, Step: r.st.Step, TotalSteps: r.total, Epoch: r.st.Epoch + 1, Loss: loss, Perplexity: Perplexity(loss), Validator: v})
	if math.IsInf(r.st.BestLoss, 1) || r.st.BestLoss-loss > r.hp.EarlyStoppingThreshold {
		r.st.Bad = 0
	} else {
		r.st.Bad++
	}
	if loss < r.st.BestLoss {
		r.st.BestLoss = loss
		r.st.BestPath = filepath.Join(r.o.CheckpointDir, checkpoint.DirName(r.st.Step))
		if _, err := r.save(); err != nil {
			return err
		}
	}
	if r.st.Bad >= r.hp.EarlyStoppingPatience {
		r.st.Done, r.st.Early = true, true
		r.emit(Event{Type: EventWarning, Step: r.st.Step, Epoch: r.st.Epoch + 1,
			Message: fmt.Sprintf("early stopping: validation loss has not improved by more than %g for %d validations", r.hp.EarlyStoppingThreshold, r.st.Bad)})
	}
	return nil
}
