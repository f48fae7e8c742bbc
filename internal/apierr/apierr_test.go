package apierr

import (
	"errors"
	"fmt"
	"testing"
)

func TestTable(t *testing.T) {
	tests := []struct {
		k      Kind
		status int
		code   string
	}{
		{Validation, 400, "ValidationException"},
		{Conflict, 400, "ConflictException"},
		{QuotaExceeded, 400, "ServiceQuotaExceededException"},
		{TooManyTags, 400, "TooManyTagsException"},
		{NotFound, 404, "ResourceNotFoundException"},
		{AccessDenied, 403, "AccessDeniedException"},
		{Throttled, 429, "ThrottlingException"},
		{Internal, 500, "InternalServerException"},
		{Unavailable, 503, "ServiceUnavailableException"},
		{UnrecognizedClient, 403, "UnrecognizedClientException"},
		{UnknownOperation, 404, "UnknownOperationException"},
	}
	for _, tt := range tests {
		if got := tt.k.Status(); got != tt.status {
			t.Errorf("%v.Status() = %d, want %d", tt.k, got, tt.status)
		}
		if got := tt.k.Code(); got != tt.code {
			t.Errorf("Code() = %q, want %q", got, tt.code)
		}
	}
	for k := Internal; k <= ServiceUnavailable; k++ {
		if k.Code() == "" || k.Status() == 0 {
			t.Errorf("kind %d has no table row", k)
		}
	}
}

func TestWrapKeepsCause(t *testing.T) {
	cause := errors.New("disk on fire")
	err := fmt.Errorf("jobs: create: %w", Wrap(Internal, "internal error", cause))
	if !errors.Is(err, cause) {
		t.Error("errors.Is(err, cause) = false")
	}
	if KindOf(err) != Internal || !Is(err, Internal) {
		t.Errorf("KindOf = %v", KindOf(err))
	}
	if KindOf(errors.New("x")) != Internal {
		t.Error("plain error is not Internal")
	}
	if !Is(Validationf("bad %s", "x"), Validation) {
		t.Error("Validationf kind")
	}
}
