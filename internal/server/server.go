// Package server is Strata's HTTP front: one listener that serves the
// Bedrock control plane (restJson1, SigV4 or Bearer auth), the Bedrock
// runtime (handler files added by the serving side), the S3-compatible
// object endpoint (delegated to s3api) and Strata's own /strata/v1 paths
// (live job events, per-step metrics), plus /healthz and Prometheus
// /metrics.
//
// Every handler has the shape func(http.ResponseWriter, *http.Request) error
// and is registered in the single route table in routes.go; only the error
// writer (errors.go) turns errors into HTTP statuses and Bedrock error codes.
//
// # For other handler files
//
// Handlers reach the shared services through the *Server they are methods
// of: s.Store(), s.Catalog(), s.Jobs(), s.Region(), s.Logger(); the caller's
// account comes from AccountFrom(r.Context()) (set by the auth middleware
// for every route with Auth: true). Decode bodies with decodeJSON (strict,
// size-limited, Bedrock ValidationException on bad input), write results
// with writeJSON, and return apierr errors.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/strata-ml/strata/internal/catalog"
	"github.com/strata-ml/strata/internal/jobs"
	"github.com/strata-ml/strata/internal/store"
)

// Identity is the authenticated caller of a request.
type Identity struct {
	Account string // 12-digit account id owning every resource the caller sees
	KeyID   string // access key id or bearer key id
	Method  string // "sigv4" or "bearer"
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the authenticated caller, if any.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// AccountFrom returns the caller's account id ("" when unauthenticated).
func AccountFrom(ctx context.Context) string {
	id, _ := IdentityFrom(ctx)
	return id.Account
}

// Authenticator authenticates a Bedrock request. Errors should be apierr
// errors of a front-door kind (UnrecognizedClient, InvalidSignature, ...).
type Authenticator interface {
	Authenticate(r *http.Request) (Identity, error)
}

// Options configure a Server.
type Options struct {
	Store   store.Store
	Catalog *catalog.Catalog
	Jobs    *jobs.Service
	Region  string
	Auth    Authenticator
	Logger  *slog.Logger
	// S3 serves requests for which IsS3 reports true (the S3-compatible
	// endpoint); both nil until the objects side is wired.
	S3   http.Handler
	IsS3 func(*http.Request) bool
	// DeleteGuard vetoes DeleteCustomModel of a model in use (serving side).
	DeleteGuard jobs.DeleteGuard
	// Serving is the serving side (runtime, Provisioned Throughput,
	// deployments; see runtime.go); nil answers those operations with
	// ServiceUnavailableException.
	Serving *Serving
	// ReportPath locates a job's dataset report file (optional).
	ReportPath func(account, jobID string) string
	// Ready reports extra readiness detail for /healthz (optional).
	Ready func() map[string]any
}

// Server is the HTTP server. Create it with New.
type Server struct {
	opts    Options
	mux     *http.ServeMux
	log     *slog.Logger
	metrics *metrics

	closing   chan struct{} // closed by BeginShutdown
	closeOnce sync.Once
}

// BeginShutdown ends long-lived responses (event streams) so that a
// graceful http.Server.Shutdown does not wait for them.
func (s *Server) BeginShutdown() { s.closeOnce.Do(func() { close(s.closing) }) }

// Closing is closed when the server begins shutting down; streaming
// handlers select on it.
func (s *Server) Closing() <-chan struct{} { return s.closing }

// New returns a Server.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	s := &Server{opts: o, log: o.Logger, metrics: newMetrics(), closing: make(chan struct{})}
	s.mux = http.NewServeMux()
	for _, rt := range s.routes() {
		s.register(rt)
	}
	s.mux.HandleFunc("/", s.handle(Route{Op: "Unknown"}, func(w http.ResponseWriter, r *http.Request) error {
		return unknownOperation(r)
	}))
	return s
}

// Store returns the metadata store.
func (s *Server) Store() store.Store { return s.opts.Store }

// Catalog returns the model catalog.
func (s *Server) Catalog() *catalog.Catalog { return s.opts.Catalog }

// Jobs returns the customization service.
func (s *Server) Jobs() *jobs.Service { return s.opts.Jobs }

// Region returns the server's region.
func (s *Server) Region() string { return s.opts.Region }

// Logger returns the server's logger.
func (s *Server) Logger() *slog.Logger { return s.log }

// Options returns the options the server was built with.
func (s *Server) Options() Options { return s.opts }

func (s *Server) register(rt Route) {
	s.mux.HandleFunc(rt.Method+" "+rt.Path, s.handle(rt, rt.Handler))
}

// ServeHTTP routes S3 requests to the object endpoint and everything else
// through the route table.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.opts.IsS3 != nil && s.opts.S3 != nil && s.opts.IsS3(r) {
		s.opts.S3.ServeHTTP(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}
