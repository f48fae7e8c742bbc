package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/awsproto"
)

// HandlerFunc is the shape of every handler: it writes a success response
// or returns an error for the error writer.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// statusWriter records the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (sw *statusWriter) WriteHeader(code int) {
	if sw.status == 0 {
		sw.status = code
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *statusWriter) Write(b []byte) (int, error) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	return sw.ResponseWriter.Write(b)
}

// Flush lets streaming handlers (SSE, event streams) flush.
func (sw *statusWriter) Flush() {
	if f, ok := sw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (sw *statusWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// handle adapts a route's handler: request id, authentication, panics,
// the error writer, logging and metrics.
func (s *Server) handle(rt Route, h HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		reqID := uuid.NewString()
		w.Header().Set("X-Amzn-RequestId", reqID)
		sw := &statusWriter{ResponseWriter: w}
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = apierr.Wrap(apierr.Internal, "An internal error occurred.", fmt.Errorf("panic: %v", p))
				}
			}()
			if rt.Auth {
				id, err := s.opts.Auth.Authenticate(r)
				if err != nil {
					return err
				}
				r = r.WithContext(WithIdentity(r.Context(), id))
			}
			return h(sw, r)
		}()
		if err != nil {
			s.writeError(sw, r, reqID, rt.Op, err)
		}
		s.metrics.observe(rt.Op, sw.status, time.Since(start))
		if err == nil {
			s.log.Debug("request", "op", rt.Op, "method", r.Method, "path", r.URL.EscapedPath(), "status", sw.status,
				"duration", time.Since(start), "request_id", reqID)
		}
	}
}

// writeError is the single place that maps errors to HTTP responses.
func (s *Server) writeError(w *statusWriter, r *http.Request, reqID, op string, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		s.log.Debug("request canceled", "op", op, "request_id", reqID, "status", 499)
		w.status = 499
		return
	}
	ae, ok := errors.AsType[*apierr.Error](err)
	if !ok {
		ae = apierr.Wrap(apierr.Internal, "An internal error occurred. Try your request again.", err)
	}
	status, code := ae.Kind.Status(), ae.Kind.Code()
	attrs := []any{"op", op, "method", r.Method, "path", r.URL.EscapedPath(), "status", status, "code", code, "request_id", reqID, "err", err}
	if status >= 500 {
		s.log.Error("request failed", attrs...)
	} else {
		s.log.Debug("request rejected", attrs...)
	}
	if w.status != 0 {
		return // headers already sent (streaming); nothing more to say
	}
	body := map[string]string{"message": ae.Msg}
	if ae.ResourceName != "" {
		body["resourceName"] = ae.ResourceName
	}
	w.Header().Set("X-Amzn-ErrorType", code)
	writeJSON(w, status, body)
}

// writeJSON writes v as a JSON response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("server: encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

// decodeJSON strictly decodes a request body into v (ValidationException on
// malformed JSON, wrong types, unknown members or an oversized body).
func decodeJSON(r *http.Request, v any) error {
	return awsproto.DecodeJSON(r.Body, awsproto.MaxBody, v)
}

func unknownOperation(r *http.Request) error {
	return apierr.New(apierr.UnknownOperation, "The requested operation %s %s is not supported.", r.Method, r.URL.EscapedPath())
}
