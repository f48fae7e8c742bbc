package catalog

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/store"
	"github.com/strata-ml/strata/internal/store/sqlstore"
)

func TestResolveHyperParameters(t *testing.T) {
	f, _ := LookupFamily("llama")
	tests := []struct {
		in      map[string]string
		wantErr string
		want    map[string]string
	}{
		{in: nil, want: map[string]string{"epochCount": "5", "batchSize": "1", "learningRate": "0.0001", "learningRateWarmupSteps": "0"}},
		{in: map[string]string{"epochCount": "2", "loraRank": "4"}, want: map[string]string{"epochCount": "2", "batchSize": "1", "learningRate": "0.0001", "learningRateWarmupSteps": "0", "loraRank": "4"}},
		{in: map[string]string{"epochCount": "20"}, wantErr: "Hyperparameter epochCount value '20' is out of range: must be between 1 and 10"},
		{in: map[string]string{"epochCount": "1.5"}, wantErr: "must be an integer"},
		{in: map[string]string{"learningRate": "fast"}, wantErr: "is not a number"},
		{in: map[string]string{"bogus": "1"}, wantErr: "Hyperparameter bogus is not supported for model m"},
		{in: map[string]string{"loraRank": "0"}, wantErr: "loraRank"},
	}
	for _, tt := range tests {
		got, err := f.ResolveHyperParameters("m", tt.in)
		if tt.wantErr != "" {
			if !apierr.Is(err, apierr.Validation) || !strings.Contains(err.(*apierr.Error).Msg, tt.wantErr) {
				t.Errorf("Resolve(%v) = %v, want ValidationException containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Resolve(%v) = %v", tt.in, err)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("Resolve(%v)[%s] = %q, want %q", tt.in, k, got[k], v)
			}
		}
	}
}

func TestCatalog(t *testing.T) {
	st, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := New(st)
	if _, err := c.Get(t.Context(), StarterID); err == nil {
		t.Error("starter listed before it is ready")
	}
	c.SetStarter("/s", nil)
	_ = st.PutFoundationModel(t.Context(), &store.FoundationModel{ID: "meta.llama3-1-8b-instruct-v1:0", Dir: "/m", Family: "llama", Created: time.Now()})
	ms, err := c.List(t.Context())
	if err != nil || len(ms) != 2 || ms[0].ID != "meta.llama3-1-8b-instruct-v1:0" || ms[0].Provider != "Meta" {
		t.Fatalf("List = %v, %v", ms, err)
	}
	m, err := c.Get(t.Context(), "arn:aws:bedrock:us-east-1::foundation-model/"+StarterID)
	if err != nil || m.Dir != "/s" {
		t.Errorf("Get(arn) = %v, %v", m, err)
	}
	if m, err := c.Get(t.Context(), "meta.llama3-1-8b-instruct-v1:0:128k"); err != nil || m.ID != "meta.llama3-1-8b-instruct-v1:0" {
		t.Errorf("Get(context-length variant) = %v, %v", m, err)
	}
	if _, err := c.Get(t.Context(), "meta.llama3-1-8b-instruct-v1"); err == nil {
		t.Error("Get(id without version) succeeded")
	}
	if _, err := c.GetCustomModel(t.Context(), "123456789012", "nope"); !apierr.Is(err, apierr.NotFound) {
		t.Errorf("GetCustomModel(nope) = %v", err)
	}
	if _, err := c.GetCustomModel(t.Context(), "123456789012", "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghijkl"); !apierr.Is(err, apierr.Validation) {
		t.Errorf("GetCustomModel(provisioned arn) = %v", err)
	}
}

// TestGetWait: only the starter model is waited for, only while it is
// being built, and for at most the given time.
func TestGetWait(t *testing.T) {
	st, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	c := New(st)
	if _, err := c.GetWait(ctx, "meta.nope-v1:0", time.Hour); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown model: %v, want ErrNotFound at once", err)
	}
	if _, err := c.GetWait(ctx, StarterID, 10*time.Millisecond); !errors.Is(err, ErrNotFound) {
		t.Errorf("starter past the wait: %v, want ErrNotFound", err)
	}
	done := make(chan error, 1)
	go func() {
		m, err := c.GetWait(ctx, "arn:aws:bedrock:us-east-1::foundation-model/"+StarterID, time.Hour)
		if err == nil && m.Dir != "/s" {
			err = errors.New("wrong model " + m.Dir)
		}
		done <- err
	}()
	c.SetStarter("/s", nil)
	if err := <-done; err != nil {
		t.Errorf("starter registered while waiting: %v", err)
	}
	c2 := New(st)
	c2.SetStarter("", errors.New("build failed"))
	if _, err := c2.GetWait(ctx, StarterID, time.Hour); !errors.Is(err, ErrNotFound) {
		t.Errorf("failed starter: %v, want ErrNotFound at once", err)
	}
}
