package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/awsproto"
	"github.com/strata-ml/strata/internal/catalog"
	"github.com/strata-ml/strata/internal/config"
	"github.com/strata-ml/strata/internal/eventstream"
	"github.com/strata-ml/strata/internal/inference"
	"github.com/strata-ml/strata/internal/inference/provision"
	"github.com/strata-ml/strata/internal/invoke"
	"github.com/strata-ml/strata/internal/store"
)

// Serving is the serving side of the server: the model registry with its
// batching engines, the provisioning service (Provisioned Throughput,
// deployments) and the resolver of runtime model identifiers.
type Serving struct {
	Registry  *inference.Registry
	Provision *provision.Service
	Resolver  provision.Resolver
	// Timeout bounds one invocation (ModelTimeoutException past it).
	Timeout time.Duration
}

// ServingConfig configures NewServing.
type ServingConfig struct {
	DataDir string
	Region  string
	Catalog *catalog.Catalog
	// Store keeps the Provisioned Throughput and deployment records.
	Store store.Store
	// Registry holds the memory budget (0: three quarters of the machine's
	// memory), the model unit and the load wait (0: fail at once).
	Registry inference.RegistryConfig
	// Timeout bounds one invocation (default 10 minutes).
	Timeout time.Duration
	// MaxUnitsPerAccount is the per-account model unit quota (default 64).
	MaxUnitsPerAccount int
	Logger             *slog.Logger
}

// NewServing builds the serving side and restores the Provisioned
// Throughputs and deployments recorded in the metadata store, first
// importing those of an earlier version's DataDir/serving/provisioning.json.
func NewServing(ctx context.Context, cfg ServingConfig) (*Serving, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: serving needs the metadata store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n, err := provision.ImportFile(ctx, filepath.Join(cfg.DataDir, "serving"), cfg.Store)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		cfg.Logger.Info("imported serving records into the metadata store", "records", n, "file", filepath.Join(cfg.DataDir, "serving", provision.ImportedFileName))
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	cfg.Registry.Logger = cfg.Logger
	if cfg.Registry.MemoryBudget == 0 {
		cfg.Registry.MemoryBudget = defaultMemoryBudget()
	}
	reg := inference.NewRegistry(cfg.Registry)
	// Activations (in the background) wait for the starter model, which the
	// server builds or finds after startup, so that throughputs over it
	// restored at startup do not fail.
	res := &CatalogResolver{Catalog: cfg.Catalog, Region: cfg.Region, StarterWait: starterWait}
	ps := provision.New(provision.Config{Region: cfg.Region, MaxUnitsPerAccount: cfg.MaxUnitsPerAccount, Logger: cfg.Logger},
		provision.NewSQLStore(cfg.Store), reg, res)
	if err := ps.Restore(ctx); err != nil {
		reg.Close()
		return nil, err
	}
	return &Serving{Registry: reg, Provision: ps, Resolver: res, Timeout: cfg.Timeout}, nil
}

// servingConfig maps the server settings to the serving side's.
func servingConfig(cfg config.Config, st store.Store, cat *catalog.Catalog, log *slog.Logger) ServingConfig {
	return ServingConfig{
		DataDir: cfg.DataDir, Region: cfg.Region, Catalog: cat, Store: st, Logger: log,
		Registry: inference.RegistryConfig{
			MemoryBudget: int64(cfg.MemoryBudget),
			Unit:         inference.Unit{Seqs: cfg.ModelUnitSequences, KVTokens: cfg.ModelUnitKVTokens},
			LoadWait:     time.Duration(cfg.ModelLoadWait),
		},
		Timeout:            time.Duration(cfg.InvokeTimeout),
		MaxUnitsPerAccount: cfg.MaxModelUnits,
	}
}

// defaultMemoryBudget is three quarters of the machine's memory (from
// /proc/meminfo), or 0 (unlimited) where that cannot be read.
func defaultMemoryBudget() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10 * 3 / 4
		}
	}
	return 0
}

// Close stops serving: provisioned models are released, engines stopped.
func (sv *Serving) Close() {
	sv.Provision.Close()
	sv.Registry.Close()
}

// DeleteGuard refuses to delete a custom model that backs a Provisioned
// Throughput or deployment (ConflictException).
func (sv *Serving) DeleteGuard(ctx context.Context, account, modelARN string) error {
	arn, err := sv.Provision.ModelInUse(ctx, account, modelARN)
	if err != nil {
		return err
	}
	if arn != "" {
		return apierr.Conflictf("The custom model %s is in use by %s. Delete that resource first.", modelARN, arn)
	}
	return nil
}

// CatalogResolver resolves runtime and provisioning model identifiers
// through the catalog: foundation model ids and ARNs (also behind
// cross-region inference profile ids such as us.<model-id>), and custom
// model names and ARNs with their adapter or merged weights.
type CatalogResolver struct {
	Catalog *catalog.Catalog
	Region  string
	// StarterWait, if positive, makes a background resolution
	// (provision.InBackground: a throughput or deployment being activated,
	// as at restore, before the starter is registered) of a model that is,
	// or is built on, the starter wait that long while the server is still
	// building it, instead of failing. Requests never wait.
	StarterWait time.Duration
}

// starterWait bounds how long an activation waits for the starter model
// (as the worker does for a job on it).
const starterWait = 10 * time.Minute

// get is Catalog.Get, waiting for the starter in the background; a
// request for the starter while it is being built gets
// ModelNotReadyException (which the AWS SDKs retry).
func (cr *CatalogResolver) get(ctx context.Context, ident string) (*catalog.Model, error) {
	if cr.StarterWait > 0 && provision.InBackground(ctx) {
		return cr.Catalog.GetWait(ctx, ident, cr.StarterWait)
	}
	m, err := cr.Catalog.Get(ctx, ident)
	if errors.Is(err, catalog.ErrNotFound) && cr.Catalog.StarterPending(ident) {
		return nil, apierr.New(apierr.ModelNotReady, "The model "+catalog.StarterID+" is still being prepared after the server started. Try your request again.")
	}
	return m, err
}

// inferenceProfilePrefixes are the geography prefixes of system-defined
// cross-region inference profiles.
var inferenceProfilePrefixes = []string{"us.", "eu.", "apac.", "us-gov.", "global.", "jp.", "au.", "ca."}

// Resolve implements provision.Resolver.
func (cr *CatalogResolver) Resolve(ctx context.Context, account, ident string) (provision.Target, error) {
	if strings.HasPrefix(ident, "arn:") {
		a, err := awsproto.ParseARN(ident)
		if err != nil {
			return provision.Target{}, apierr.Wrap(apierr.Validation, fmt.Sprintf("The provided model identifier %s is invalid.", ident), err)
		}
		switch a.Type() {
		case "foundation-model":
			return cr.foundation(ctx, ident)
		case "custom-model":
			return cr.custom(ctx, account, ident)
		case "inference-profile":
			return cr.foundation(ctx, stripProfile(a.LastSegment()))
		}
		return provision.Target{}, apierr.NotFoundf("The model %s was not found. Check the identifier and try again.", ident)
	}
	if m, err := cr.get(ctx, ident); err == nil {
		return cr.target(ctx, m)
	} else if apierr.Is(err, apierr.ModelNotReady) {
		return provision.Target{}, err
	}
	if p := stripProfile(ident); p != ident {
		return cr.foundation(ctx, p)
	}
	return cr.custom(ctx, account, ident)
}

func stripProfile(id string) string {
	for _, p := range inferenceProfilePrefixes {
		if rest, ok := strings.CutPrefix(id, p); ok {
			return rest
		}
	}
	return id
}

func (cr *CatalogResolver) foundation(ctx context.Context, ident string) (provision.Target, error) {
	m, err := cr.get(ctx, ident)
	if errors.Is(err, catalog.ErrNotFound) {
		return provision.Target{}, apierr.NotFoundf("The model %s was not found. Check the identifier and try again.", ident)
	}
	if err != nil {
		return provision.Target{}, err
	}
	return cr.target(ctx, m)
}

func (cr *CatalogResolver) target(_ context.Context, m *catalog.Model) (provision.Target, error) {
	fam, err := familyOf(m)
	if err != nil {
		return provision.Target{}, err
	}
	arn := m.ARN(cr.Region)
	return provision.Target{ModelARN: arn, FoundationModelARN: arn, Family: fam, Base: inference.HFBaseSpec(m.Dir)}, nil
}

func familyOf(m *catalog.Model) (invoke.Family, error) {
	name := "meta"
	if m.Family != nil && m.Family.InvokeBody != "" {
		name = m.Family.InvokeBody
	}
	f, err := invoke.ParseFamily(name)
	if err != nil {
		return "", apierr.Wrap(apierr.Internal, "The model's body format is not supported.", err)
	}
	return f, nil
}

func (cr *CatalogResolver) custom(ctx context.Context, account, ident string) (provision.Target, error) {
	cm, err := cr.Catalog.GetCustomModel(ctx, account, ident)
	if err != nil {
		if apierr.Is(err, apierr.Validation) {
			return provision.Target{}, apierr.NotFoundf("The model %s was not found. Check the identifier and try again.", ident)
		}
		return provision.Target{}, err
	}
	if cm.Status != store.ModelActive {
		return provision.Target{}, apierr.Validationf("The custom model %s is %s; only Active models can serve.", cm.Name, cm.Status)
	}
	base, err := cr.get(ctx, cm.BaseModelID)
	if apierr.Is(err, apierr.ModelNotReady) {
		return provision.Target{}, err
	}
	if err != nil {
		return provision.Target{}, apierr.Wrap(apierr.Validation, fmt.Sprintf("The base model %s of custom model %s is no longer available.", cm.BaseModelID, cm.Name), err)
	}
	fam, err := familyOf(base)
	if err != nil {
		return provision.Target{}, err
	}
	tg := provision.Target{ModelARN: cm.ARN, FoundationModelARN: base.ARN(cr.Region), Family: fam, Custom: true}
	switch {
	case cm.AdapterDir != "":
		tg.Base = inference.HFBaseSpec(base.Dir)
		tg.Adapter = inference.PEFTAdapterSpec(filepath.Join(cm.ArtifactDir, cm.AdapterDir))
	case cm.MergedDir != "":
		tg.Base = inference.HFBaseSpec(filepath.Join(cm.ArtifactDir, cm.MergedDir))
	default:
		return provision.Target{}, apierr.Validationf("The custom model %s has no weights to serve.", cm.Name)
	}
	return tg, nil
}

func (s *Server) runtimeRoutes() []Route {
	return []Route{
		{"POST", "/model/{modelId}/invoke", "InvokeModel", true, s.invokeModel},
		{"POST", "/model/{modelId}/invoke-with-response-stream", "InvokeModelWithResponseStream", true, s.invokeModelStream},
		{"POST", "/model/{modelId}/converse", "Converse", true, s.converse},
		{"POST", "/model/{modelId}/converse-stream", "ConverseStream", true, s.converseStream},
	}
}

func (s *Server) serving() (*Serving, error) {
	if s.opts.Serving == nil {
		return nil, apierr.New(apierr.ServiceUnavailable, "Model serving is not enabled on this server.")
	}
	return s.opts.Serving, nil
}

// invocation is a resolved, leased runtime request.
type invocation struct {
	modelID string
	target  provision.Target
	lease   *inference.Lease
	ctx     context.Context
	cancel  context.CancelFunc
	start   time.Time
}

func (inv *invocation) close() {
	inv.cancel()
	inv.lease.Release()
}

// prepare resolves the path's modelId (a Provisioned Throughput or
// deployment, a foundation model or inference profile) and leases its
// weights. Custom models are served only through a Provisioned Throughput
// or a deployment, as on Bedrock.
func (s *Server) prepare(r *http.Request) (*invocation, error) {
	sv, err := s.serving()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	modelID := r.PathValue("modelId")
	if n := len(modelID); n < 1 || n > 2048 {
		return nil, apierr.Validationf("1 validation error detected: Value '%s' at 'modelId' failed to satisfy constraint: Member must have length between 1 and 2048", modelID)
	}
	ctx := r.Context()
	account := AccountFrom(ctx)
	tg, ok, err := sv.Provision.Serving(ctx, account, modelID)
	if err != nil {
		return nil, err
	}
	if !ok {
		if tg, err = sv.Resolver.Resolve(ctx, account, modelID); err != nil {
			return nil, err
		}
		if tg.Custom {
			return nil, apierr.Validationf("Invocation of custom model %s with on-demand throughput isn't supported. Invoke it through a Provisioned Throughput or a custom model deployment.", modelID)
		}
	}
	lease, err := sv.Registry.Acquire(ctx, tg.Base, tg.Adapter, 0, false)
	if err != nil {
		return nil, err
	}
	ictx, cancel := context.WithTimeout(ctx, sv.Timeout)
	return &invocation{modelID: modelID, target: tg, lease: lease, ctx: ictx, cancel: cancel, start: start}, nil
}

// readInvokeBody reads an InvokeModel body, accepting JSON, octet-stream
// (the Go SDK's default) or no content type (old botocore).
func readInvokeBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "application/octet-stream" && mt != "text/plain") {
			return nil, apierr.Validationf("The provided Content-Type %q is not supported. Use application/json.", ct)
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, invoke.MaxBodyBytes+1))
	if err != nil {
		return nil, apierr.Wrap(apierr.Validation, "Could not read the request body.", err)
	}
	if len(body) > invoke.MaxBodyBytes {
		return nil, apierr.Validationf("1 validation error detected: Value at 'body' failed to satisfy constraint: Member must have length less than or equal to %d", invoke.MaxBodyBytes)
	}
	return body, nil
}

func checkAccept(v string) error {
	if v == "" {
		return nil
	}
	for _, part := range strings.Split(v, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && (mt == "application/json" || mt == "*/*" || mt == "application/*") {
			return nil
		}
	}
	return apierr.Validationf("The requested Accept type %q is not supported. Use application/json.", v)
}

func (inv *invocation) generateRequest(req invoke.Request) inference.GenerateRequest {
	g := inference.GenerateRequest{Prompt: req.Prompt, System: req.System, Params: req.Params, Seed: rand.Uint64(), Adapter: inv.lease.Adapter()}
	for _, m := range req.Messages {
		g.Messages = append(g.Messages, inference.ChatMessage{Role: string(m.Role), Text: m.Text})
	}
	return g
}

func setUsageHeaders(w http.ResponseWriter, g inference.Generation, latency time.Duration) {
	h := w.Header()
	h.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(g.InputTokens))
	h.Set("X-Amzn-Bedrock-Output-Token-Count", strconv.Itoa(g.OutputTokens))
	h.Set("X-Amzn-Bedrock-Invocation-Latency", strconv.FormatInt(latency.Milliseconds(), 10))
}

func metricsOf(g inference.Generation, start time.Time) invoke.Metrics {
	m := invoke.Metrics{LatencyMs: time.Since(start).Milliseconds()}
	if !g.FirstToken.IsZero() {
		m.FirstByteLatencyMs = g.FirstToken.Sub(start).Milliseconds()
	}
	return m
}

// prepareInvoke is the common start of InvokeModel and its stream: the
// accept check, the body, the target model and its family's request. The
// caller closes the invocation.
func (s *Server) prepareInvoke(r *http.Request, accept string) (*invocation, invoke.Request, error) {
	if err := checkAccept(accept); err != nil {
		return nil, invoke.Request{}, err
	}
	body, err := readInvokeBody(r)
	if err != nil {
		return nil, invoke.Request{}, err
	}
	inv, err := s.prepare(r)
	if err != nil {
		return nil, invoke.Request{}, err
	}
	req, err := invoke.DecodeInvoke(inv.target.Family, body)
	if err != nil {
		inv.close()
		return nil, invoke.Request{}, err
	}
	return inv, req, nil
}

func (s *Server) invokeModel(w http.ResponseWriter, r *http.Request) error {
	inv, req, err := s.prepareInvoke(r, r.Header.Get("Accept"))
	if err != nil {
		return err
	}
	defer inv.close()
	g, err := inference.Generate(inv.ctx, inv.lease.Base(), inv.lease.Engine(), inv.generateRequest(req), nil)
	if err != nil {
		return err
	}
	g.ID, g.Model = "bdrk-"+awsproto.NewID(), inv.modelID
	setUsageHeaders(w, g, time.Since(inv.start))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(invoke.EncodeInvoke(req, g.Result))
	return nil
}

func (s *Server) converse(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, invoke.MaxBodyBytes+1))
	if err != nil {
		return apierr.Wrap(apierr.Validation, "Could not read the request body.", err)
	}
	inv, err := s.prepare(r)
	if err != nil {
		return err
	}
	defer inv.close()
	req, err := invoke.DecodeConverse(inv.target.Family, body)
	if err != nil {
		return err
	}
	g, err := inference.Generate(inv.ctx, inv.lease.Base(), inv.lease.Engine(), inv.generateRequest(req), nil)
	if err != nil {
		return err
	}
	lat := time.Since(inv.start)
	setUsageHeaders(w, g, lat)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(invoke.EncodeConverse(g.Result, invoke.Metrics{LatencyMs: lat.Milliseconds()}))
	return nil
}

// eventStream writes an event-stream response, sending the HTTP headers
// with the first frame so that errors found before any output are ordinary
// HTTP errors.
type eventStream struct {
	w        http.ResponseWriter
	ew       *eventstream.Writer
	started  bool
	converse bool
	headers  map[string]string
}

func newEventStream(w http.ResponseWriter, converse bool, headers map[string]string) *eventStream {
	return &eventStream{w: w, ew: eventstream.NewWriter(w), converse: converse, headers: headers}
}

func (es *eventStream) send(frames []invoke.Frame) error {
	if len(frames) == 0 {
		return nil
	}
	if !es.started {
		es.started = true
		h := es.w.Header()
		h.Set("Content-Type", "application/vnd.amazon.eventstream")
		for k, v := range es.headers {
			h.Set(k, v)
		}
		es.w.WriteHeader(http.StatusOK)
	}
	for _, f := range frames {
		if err := es.ew.Write(eventstream.NewEvent(f.Event, f.Payload)); err != nil {
			return err
		}
	}
	return nil
}

// fail reports err: as the HTTP error when nothing was sent yet (returned
// for the error writer), else as an exception frame in the stream.
func (es *eventStream) fail(err error) error {
	if !es.started || errors.Is(err, context.Canceled) {
		return err
	}
	ae, ok := errors.AsType[*apierr.Error](err)
	if !ok {
		ae = apierr.Wrap(apierr.Internal, "An internal error occurred. Try your request again.", err)
	}
	name := invoke.ExceptionEvent(ae.Kind, es.converse)
	status := 0
	if name == "modelStreamErrorException" {
		status = ae.Kind.Status()
	}
	_ = es.ew.Write(eventstream.NewException(name, invoke.ExceptionPayload(ae.Msg, status)))
	return err
}

func (s *Server) invokeModelStream(w http.ResponseWriter, r *http.Request) error {
	inv, req, err := s.prepareInvoke(r, r.Header.Get("X-Amzn-Bedrock-Accept"))
	if err != nil {
		return err
	}
	defer inv.close()
	es := newEventStream(w, false, map[string]string{"X-Amzn-Bedrock-Content-Type": "application/json"})
	st := invoke.NewStream(req, 0, "bdrk-"+awsproto.NewID(), inv.modelID)
	gr := inv.generateRequest(req)
	out := 0
	gr.OnPrompt = func(n int) error {
		st.SetInputTokens(n) // the opening frames go out with the first text
		return nil
	}
	g, err := inference.Generate(inv.ctx, inv.lease.Base(), inv.lease.Engine(), gr, func(text string) error {
		out++
		return es.send(st.Delta(text, out))
	})
	if err != nil {
		return es.fail(err)
	}
	if err := es.send(st.Finish(g.Result, metricsOf(g, inv.start))); err != nil {
		return err
	}
	return nil
}

func (s *Server) converseStream(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, invoke.MaxBodyBytes+1))
	if err != nil {
		return apierr.Wrap(apierr.Validation, "Could not read the request body.", err)
	}
	inv, err := s.prepare(r)
	if err != nil {
		return err
	}
	defer inv.close()
	req, err := invoke.DecodeConverse(inv.target.Family, body)
	if err != nil {
		return err
	}
	es := newEventStream(w, true, nil)
	var cs invoke.ConverseStream
	gr := inv.generateRequest(req)
	g, err := inference.Generate(inv.ctx, inv.lease.Base(), inv.lease.Engine(), gr, func(text string) error {
		return es.send(cs.Delta(text))
	})
	if err != nil {
		return es.fail(err)
	}
	return es.send(cs.Finish(g.Result, invoke.Metrics{LatencyMs: time.Since(inv.start).Milliseconds()}))
}
