package provision

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/inference"
	"github.com/strata-ml/strata/internal/inference/inferencetest"
	"github.com/strata-ml/strata/internal/invoke"
	"github.com/strata-ml/strata/internal/store/sqlstore"
)

const (
	acct   = "123456789012"
	fmARN  = "arn:aws:bedrock:us-east-1::foundation-model/meta.tiny-v1:0"
	cm1ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model/meta.tiny-v1:0/aaaaaaaaaaaa"
	cm2ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model/meta.tiny-v1:0/bbbbbbbbbbbb"
)

// fakeResolver knows one foundation model and two custom models over it.
type fakeResolver struct {
	gate chan struct{} // when set, base loads wait for it
}

func (f *fakeResolver) Resolve(ctx context.Context, account, ident string) (Target, error) {
	base := inference.BaseSpec{Key: "tiny", Load: func(ctx context.Context) (*inference.Base, error) {
		if f.gate != nil {
			<-f.gate
		}
		return &inference.Base{Model: inferencetest.NewModel(), Tokenizer: inferencetest.ByteTokenizer{}, EOS: []int32{inferencetest.EOS}, ContextLen: 4096, Bytes: 1000}, nil
	}}
	adapter := func(shift int32) *inference.AdapterSpec {
		return &inference.AdapterSpec{Key: ident, Load: func(ctx context.Context, b *inference.Base) (*lora.Adapter, int64, error) {
			return b.Model.(*inferencetest.Model).Adapter(shift), 10, nil
		}}
	}
	switch ident {
	case "meta.tiny-v1:0", fmARN:
		return Target{ModelARN: fmARN, FoundationModelARN: fmARN, Family: invoke.Meta, Base: base}, nil
	case cm1ARN, "cm1":
		return Target{ModelARN: cm1ARN, FoundationModelARN: fmARN, Family: invoke.Meta, Base: base, Adapter: adapter(1), Custom: true}, nil
	case cm2ARN, "cm2":
		return Target{ModelARN: cm2ARN, FoundationModelARN: fmARN, Family: invoke.Meta, Base: base, Adapter: adapter(2), Custom: true}, nil
	}
	return Target{}, apierr.NotFoundf("Could not find model %s.", ident)
}

// openStore opens (or reopens, as a restarted server would) the SQLite
// metadata store in dir.
func openStore(t *testing.T, dir string) *SQLStore {
	t.Helper()
	db, err := sqlstore.Open(t.Context(), filepath.Join(dir, "strata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return NewSQLStore(db)
}

func newService(t *testing.T, dir string, res Resolver) (*Service, *inference.Registry) {
	t.Helper()
	st := openStore(t, dir)
	reg := inference.NewRegistry(inference.RegistryConfig{Unit: inference.Unit{Seqs: 2, KVTokens: 64}})
	s := New(Config{Region: "us-east-1"}, st, reg, res)
	t.Cleanup(func() { s.Close(); reg.Close() })
	return s, reg
}

func waitStatus(t *testing.T, get func() (string, error), want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %q, want %q", got, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func ptStatus(s *Service, ident string) func() (string, error) {
	return func() (string, error) {
		t, err := s.GetThroughput(context.Background(), acct, ident)
		if err != nil {
			return "", err
		}
		return t.Status, nil
	}
}

func TestThroughputLifecycle(t *testing.T) {
	dir := t.TempDir()
	res := &fakeResolver{gate: make(chan struct{})}
	s, reg := newService(t, dir, res)
	ctx := t.Context()
	pt, err := s.CreateThroughput(ctx, acct, CreateThroughputInput{Name: "pt1", ModelID: cm1ARN, ModelUnits: 2, ClientRequestToken: "tok1"})
	if err != nil {
		t.Fatal(err)
	}
	if pt.Status != PTCreating || !strings.Contains(pt.ARN, ":provisioned-model/") || pt.FoundationModelARN != fmARN {
		t.Fatalf("created %+v", pt)
	}
	// While loading, invocations get ModelNotReadyException.
	if _, ok, err := s.Serving(ctx, acct, pt.ARN); !ok || !apierr.Is(err, apierr.ModelNotReady) {
		t.Fatalf("Serving while Creating: ok=%v err=%v, want ModelNotReadyException", ok, err)
	}
	again, err := s.CreateThroughput(ctx, acct, CreateThroughputInput{Name: "pt1", ModelID: cm1ARN, ModelUnits: 2, ClientRequestToken: "tok1"})
	if err != nil || again.ID != pt.ID {
		t.Fatalf("idempotent retry: %v %v", again, err)
	}
	if _, err := s.CreateThroughput(ctx, acct, CreateThroughputInput{Name: "pt1", ModelID: cm1ARN, ModelUnits: 1}); !apierr.Is(err, apierr.Validation) {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := s.CreateThroughput(ctx, acct, CreateThroughputInput{Name: "pt9", ModelID: "nope", ModelUnits: 1}); !apierr.Is(err, apierr.NotFound) {
		t.Fatalf("unknown model: %v", err)
	}
	if _, err := s.CreateThroughput(ctx, acct, CreateThroughputInput{Name: "big", ModelID: cm1ARN, ModelUnits: 63}); !apierr.Is(err, apierr.QuotaExceeded) {
		t.Fatalf("units past quota: %v", err)
	}
	close(res.gate)
	waitStatus(t, ptStatus(s, "pt1"), PTInService)
	if l := reg.Loaded(); len(l) != 1 || l[0].Units != 3 {
		t.Fatalf("registry after InService: %+v, want one base with 1+2 units", l)
	}
	tg, ok, err := s.Serving(ctx, acct, "pt1")
	if !ok || err != nil || tg.ModelARN != cm1ARN {
		t.Fatalf("Serving by name: %+v %v %v", tg, ok, err)
	}
	if arn, _ := s.ModelInUse(ctx, acct, cm1ARN); arn != pt.ARN {
		t.Fatalf("ModelInUse(cm1) = %q, want %q", arn, pt.ARN)
	}
	// Rename and move to the other custom model of the same base.
	name, model := "pt1b", cm2ARN
	if err := s.UpdateThroughput(ctx, acct, pt.ARN, &name, &model); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, ptStatus(s, pt.ARN), PTInService)
	got, _ := s.GetThroughput(ctx, acct, "pt1b")
	if got.ModelARN != cm2ARN || got.DesiredModelARN != cm2ARN || got.Name != "pt1b" {
		t.Fatalf("after update: %+v", got)
	}
	bad := fmARN + "x"
	if err := s.UpdateThroughput(ctx, acct, pt.ARN, nil, &bad); !apierr.Is(err, apierr.NotFound) {
		t.Fatalf("update to unknown model: %v", err)
	}

	// A restart restores the throughput and pins its units again.
	s.Close()
	reg.Close()
	s2, reg2 := newService(t, dir, &fakeResolver{})
	if err := s2.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, func() (string, error) {
		if l := reg2.Loaded(); len(l) == 1 && l[0].Units == 3 {
			return "pinned", nil
		}
		return "", nil
	}, "pinned")
	if err := s2.DeleteThroughput(ctx, acct, "pt1b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.GetThroughput(ctx, acct, "pt1b"); !apierr.Is(err, apierr.NotFound) {
		t.Fatalf("after delete: %v", err)
	}
	// The restore's activation may still be finishing: it gives the units
	// back as soon as it sees the throughput is gone.
	waitStatus(t, func() (string, error) {
		if l := reg2.Loaded(); len(l) == 1 && l[0].Units == 1 {
			return "released", nil
		}
		return "", nil
	}, "released")
}

func TestThroughputCommitment(t *testing.T) {
	s, _ := newService(t, t.TempDir(), &fakeResolver{})
	ctx := t.Context()
	pt, err := s.CreateThroughput(ctx, acct, CreateThroughputInput{Name: "c", ModelID: fmARN, ModelUnits: 1, CommitmentDuration: CommitmentOneMonth})
	if err != nil {
		t.Fatal(err)
	}
	if pt.CommitmentExpirationTime.Sub(pt.CreationTime) < 28*24*time.Hour {
		t.Fatalf("commitment expires %v", pt.CommitmentExpirationTime)
	}
	if err := s.DeleteThroughput(ctx, acct, "c"); !apierr.Is(err, apierr.Conflict) {
		t.Fatalf("delete within commitment: %v, want ConflictException", err)
	}
}

func TestDeploymentLifecycle(t *testing.T) {
	s, _ := newService(t, t.TempDir(), &fakeResolver{})
	ctx := t.Context()
	if _, err := s.CreateDeployment(ctx, acct, CreateDeploymentInput{Name: "d", ModelARN: fmARN}); !apierr.Is(err, apierr.Validation) {
		t.Fatalf("deploying a foundation model: %v, want ValidationException", err)
	}
	d, err := s.CreateDeployment(ctx, acct, CreateDeploymentInput{Name: "d", ModelARN: cm1ARN, Description: "x"})
	if err != nil {
		t.Fatal(err)
	}
	status := func() (string, error) {
		d, err := s.GetDeployment(ctx, acct, d.ARN)
		if err != nil {
			return "", err
		}
		return d.Status + "/" + d.UpdateStatus, nil
	}
	waitStatus(t, status, DeployActive+"/")
	if _, err := s.UpdateDeployment(ctx, acct, "d", cm2ARN); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, status, DeployActive+"/"+UpdateCompleted)
	tg, ok, err := s.Serving(ctx, acct, d.ARN)
	if !ok || err != nil || tg.ModelARN != cm2ARN {
		t.Fatalf("Serving deployment: %+v %v %v", tg, ok, err)
	}
	if arn, _ := s.ModelInUse(ctx, acct, cm2ARN); arn != d.ARN {
		t.Fatalf("ModelInUse = %q", arn)
	}
	if err := s.DeleteDeployment(ctx, acct, d.ARN); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Serving(ctx, acct, d.ARN); !apierr.Is(err, apierr.NotFound) {
		t.Fatalf("deleted deployment: %v", err)
	}
}
