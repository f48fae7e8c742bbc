package provision

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/inference"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func sampleThroughput(id, name string) *Throughput {
	return &Throughput{ID: id, Account: acct, ARN: "arn:aws:bedrock:us-east-1:" + acct + ":provisioned-model/" + id, Name: name,
		ModelARN: cm1ARN, DesiredModelARN: cm1ARN, FoundationModelARN: fmARN, ModelUnits: 2, DesiredModelUnits: 2,
		Status: PTInService, CommitmentDuration: CommitmentOneMonth, CommitmentExpirationTime: t0.AddDate(0, 1, 0),
		CreationTime: t0, LastModifiedTime: t0.Add(time.Minute), ClientRequestToken: "tok-" + id, Tags: []Tag{{Key: "k", Value: "v"}}}
}

func sampleDeployment(id, name string) *Deployment {
	return &Deployment{ID: id, Account: acct, ARN: "arn:aws:bedrock:us-east-1:" + acct + ":custom-model-deployment/" + id, Name: name,
		ModelARN: cm1ARN, Description: "d", Status: DeployActive, CreatedAt: t0, LastUpdatedAt: t0.Add(time.Second),
		UpdateModelARN: cm2ARN, UpdateStatus: UpdateCompleted, Tags: []Tag{{Key: "a", Value: "b"}}}
}

// TestSQLStore round-trips both record types through the metadata store and
// checks the name uniqueness the database enforces.
func TestSQLStore(t *testing.T) {
	ctx := t.Context()
	st := openStore(t, t.TempDir())
	pt := sampleThroughput("pt0000000001", "a")
	dp := sampleDeployment("dp0000000001", "a") // same name, other kind: fine
	if err := st.PutThroughput(ctx, pt); err != nil {
		t.Fatal(err)
	}
	if err := st.PutDeployment(ctx, dp); err != nil {
		t.Fatal(err)
	}
	gotPT, err := st.Throughput(ctx, acct, pt.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pt, gotPT); diff != "" {
		t.Errorf("Throughput (-want +got):\n%s", diff)
	}
	gotDP, err := st.Deployment(ctx, acct, dp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(dp, gotDP); diff != "" {
		t.Errorf("Deployment (-want +got):\n%s", diff)
	}
	if err := st.PutThroughput(ctx, sampleThroughput("pt0000000002", "a")); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate throughput name = %v, want ErrConflict", err)
	}
	if err := st.PutDeployment(ctx, sampleDeployment("dp0000000002", "a")); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate deployment name = %v, want ErrConflict", err)
	}
	other := sampleThroughput("pt0000000003", "a")
	other.Account = "210987654321"
	if err := st.PutThroughput(ctx, other); err != nil {
		t.Errorf("same name in another account: %v", err)
	}
	if all, _ := st.Throughputs(ctx, ""); len(all) != 2 {
		t.Errorf("Throughputs(all) = %d records, want 2", len(all))
	}
	if mine, _ := st.Throughputs(ctx, acct); len(mine) != 1 || mine[0].ID != pt.ID {
		t.Errorf("Throughputs(acct) = %v", mine)
	}
	if err := st.DeleteThroughput(ctx, acct, pt.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Throughput(ctx, acct, pt.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete = %v, want ErrNotFound", err)
	}
	if err := st.DeleteThroughput(ctx, acct, pt.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete twice = %v, want ErrNotFound", err)
	}
	if err := st.DeleteDeployment(ctx, acct, dp.ID); err != nil {
		t.Fatal(err)
	}
	if dps, _ := st.Deployments(ctx, ""); len(dps) != 0 {
		t.Errorf("Deployments after delete = %v", dps)
	}
}

// TestSharedStore runs two services (two server processes) on one
// database: each sees the other's resources and names stay unique.
func TestSharedStore(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s1, _ := newService(t, dir, &fakeResolver{})
	s2, _ := newService(t, dir, &fakeResolver{})
	pt, err := s1.CreateThroughput(ctx, acct, CreateThroughputInput{Name: "shared", ModelID: fmARN, ModelUnits: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.GetThroughput(ctx, acct, "shared"); err != nil || got.ID != pt.ID {
		t.Fatalf("other process: %v, %v", got, err)
	}
	if _, err := s2.CreateThroughput(ctx, acct, CreateThroughputInput{Name: "shared", ModelID: fmARN, ModelUnits: 1}); !apierr.Is(err, apierr.Validation) {
		t.Errorf("duplicate name from the other process: %v, want ValidationException", err)
	}
	if _, err := s2.CreateDeployment(ctx, acct, CreateDeploymentInput{Name: "dep", ModelARN: cm1ARN}); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.CreateDeployment(ctx, acct, CreateDeploymentInput{Name: "dep", ModelARN: cm2ARN}); !apierr.Is(err, apierr.Validation) {
		t.Errorf("duplicate deployment name: %v, want ValidationException", err)
	}
}

func writeLegacy(t *testing.T, dir string, f legacyFile) {
	t.Helper()
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, LegacyFileName), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestImportFile moves a provisioning.json of an earlier version into the
// metadata store once, renaming the file, and restores from it.
func TestImportFile(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	db := openStore(t, dir)
	pts := []*Throughput{sampleThroughput("pt0000000001", "one"), sampleThroughput("pt0000000002", "two")}
	pts[1].Status, pts[1].CommitmentDuration, pts[1].CommitmentExpirationTime = PTCreating, "", time.Time{}
	dps := []*Deployment{sampleDeployment("dp0000000001", "dep")}
	writeLegacy(t, dir, legacyFile{Version: 1, Throughputs: pts, Deployments: dps})

	n, err := ImportFile(ctx, dir, db.st)
	if err != nil || n != 3 {
		t.Fatalf("ImportFile = %d, %v, want 3", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, LegacyFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("provisioning.json still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ImportedFileName)); err != nil {
		t.Errorf("provisioning.json.imported: %v", err)
	}
	got, _ := db.Throughputs(ctx, acct)
	if diff := cmp.Diff(pts, got); diff != "" {
		t.Errorf("imported throughputs (-want +got):\n%s", diff)
	}
	gotDP, _ := db.Deployments(ctx, acct)
	if diff := cmp.Diff(dps, gotDP); diff != "" {
		t.Errorf("imported deployments (-want +got):\n%s", diff)
	}
	if n, err := ImportFile(ctx, dir, db.st); n != 0 || err != nil {
		t.Errorf("second ImportFile = %d, %v, want 0, nil", n, err)
	}

	// The imported records serve after a restart like any other.
	s, reg := newService(t, dir, &fakeResolver{})
	if err := s.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, ptStatus(s, "two"), PTInService)
	waitStatus(t, func() (string, error) {
		if l := reg.Loaded(); len(l) == 1 && l[0].Units == 1+2+2 {
			return "pinned", nil
		}
		return "", nil
	}, "pinned")
}

// TestImportFileAtomic leaves the store and the file untouched when any
// record cannot be imported.
func TestImportFileAtomic(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	db := openStore(t, dir)
	if err := db.PutThroughput(ctx, sampleThroughput("pt0000000009", "taken")); err != nil {
		t.Fatal(err)
	}
	writeLegacy(t, dir, legacyFile{Version: 1, Throughputs: []*Throughput{sampleThroughput("pt0000000001", "free"), sampleThroughput("pt0000000002", "taken")}})
	if _, err := ImportFile(ctx, dir, db.st); !errors.Is(err, ErrConflict) {
		t.Fatalf("ImportFile with a taken name = %v, want ErrConflict", err)
	}
	if all, _ := db.Throughputs(ctx, ""); len(all) != 1 {
		t.Errorf("partial import: %d records, want 1", len(all))
	}
	if _, err := os.Stat(filepath.Join(dir, LegacyFileName)); err != nil {
		t.Errorf("file moved after a failed import: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, LegacyFileName), []byte(`{"version":2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ImportFile(ctx, dir, db.st); err == nil {
		t.Error("ImportFile of version 2 succeeded")
	}
}

var legacyCases = []struct {
	name, doc string
	ok        bool
}{
	{"empty lists", `{"version":1,"throughputs":[],"deployments":[]}`, true},
	{"null lists", `{"version":1,"throughputs":null,"deployments":null}`, true},
	{"records", `{"version":1,"throughputs":[{"id":"p","account":"123456789012","name":"n","status":"InService","creationTime":"2026-01-02T03:04:05Z"}],
		"deployments":[{"id":"d","account":"123456789012","name":"n","status":"Active","createdAt":"2026-01-02T03:04:05Z"}]}`, true},
	{"no version", `{"throughputs":[]}`, false},
	{"future version", `{"version":2}`, false},
	{"unknown key", `{"version":1,"extra":1}`, false},
	{"null record", `{"version":1,"throughputs":[null]}`, false},
	{"no id", `{"version":1,"throughputs":[{"account":"123456789012","name":"n"}]}`, false},
	{"no name", `{"version":1,"deployments":[{"id":"d","account":"123456789012"}]}`, false},
	{"bad time", `{"version":1,"deployments":[{"id":"d","account":"a","name":"n","createdAt":"yesterday"}]}`, false},
	{"trailing data", `{"version":1} {}`, false},
	{"not json", `version: 1`, false},
	{"empty", ``, false},
}

func TestParseLegacy(t *testing.T) {
	for _, tt := range legacyCases {
		_, err := parseLegacy([]byte(tt.doc))
		if (err == nil) != tt.ok {
			t.Errorf("%s: parseLegacy err = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func FuzzParseLegacy(f *testing.F) {
	for _, tt := range legacyCases {
		f.Add(tt.doc)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		lf, err := parseLegacy([]byte(doc))
		if err != nil {
			return
		}
		for _, p := range lf.Throughputs {
			if p == nil || p.Account == "" || p.ID == "" || p.Name == "" {
				t.Fatalf("accepted incomplete throughput %+v", p)
			}
		}
	})
}

// blindStore lists nothing, as a store looks to a server process that
// checked names just before another process created the same one.
type blindStore struct{ Store }

func (blindStore) Throughputs(context.Context, string) ([]*Throughput, error) { return nil, nil }
func (blindStore) Deployments(context.Context, string) ([]*Deployment, error) { return nil, nil }

// TestNameRace relies on the database, not the service's own check, for
// name uniqueness: the loser of a race gets ValidationException.
func TestNameRace(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s1, _ := newService(t, dir, &fakeResolver{})
	if _, err := s1.CreateThroughput(ctx, acct, CreateThroughputInput{Name: "race", ModelID: fmARN, ModelUnits: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.CreateDeployment(ctx, acct, CreateDeploymentInput{Name: "race", ModelARN: cm1ARN}); err != nil {
		t.Fatal(err)
	}
	reg := inference.NewRegistry(inference.RegistryConfig{Unit: inference.Unit{Seqs: 2, KVTokens: 64}})
	s2 := New(Config{Region: "us-east-1"}, blindStore{openStore(t, dir)}, reg, &fakeResolver{})
	t.Cleanup(func() { s2.Close(); reg.Close() })
	if _, err := s2.CreateThroughput(ctx, acct, CreateThroughputInput{Name: "race", ModelID: fmARN, ModelUnits: 1}); !apierr.Is(err, apierr.Validation) {
		t.Errorf("throughput name race: %v, want ValidationException", err)
	}
	if _, err := s2.CreateDeployment(ctx, acct, CreateDeploymentInput{Name: "race", ModelARN: cm1ARN}); !apierr.Is(err, apierr.Validation) {
		t.Errorf("deployment name race: %v, want ValidationException", err)
	}
	if all, _ := s1.ListThroughputs(ctx, acct); len(all) != 1 {
		t.Errorf("throughputs after the race = %d, want 1", len(all))
	}
}

// blindOnce hides the records from the first listing of each kind only: a
// request that lost a race sees the winner when it looks again.
type blindOnce struct {
	Store
	pts, dps bool
}

func (b *blindOnce) Throughputs(ctx context.Context, account string) ([]*Throughput, error) {
	if !b.pts {
		b.pts = true
		return nil, nil
	}
	return b.Store.Throughputs(ctx, account)
}

func (b *blindOnce) Deployments(ctx context.Context, account string) ([]*Deployment, error) {
	if !b.dps {
		b.dps = true
		return nil, nil
	}
	return b.Store.Deployments(ctx, account)
}

// TestTokenRace: a create retried with the same client token on another
// server process, racing the first, returns the first's resource instead
// of a name clash; a different token still gets ValidationException.
func TestTokenRace(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s1, _ := newService(t, dir, &fakeResolver{})
	pt, err := s1.CreateThroughput(ctx, acct, CreateThroughputInput{Name: "retry", ModelID: fmARN, ModelUnits: 1, ClientRequestToken: "tok-1"})
	if err != nil {
		t.Fatal(err)
	}
	dp, err := s1.CreateDeployment(ctx, acct, CreateDeploymentInput{Name: "retry", ModelARN: cm1ARN, ClientRequestToken: "tok-2"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		token string
		same  bool
	}{{"", false}, {"other", false}, {"match", true}} {
		reg := inference.NewRegistry(inference.RegistryConfig{Unit: inference.Unit{Seqs: 2, KVTokens: 64}})
		s2 := New(Config{Region: "us-east-1"}, &blindOnce{Store: openStore(t, dir)}, reg, &fakeResolver{})
		ptTok, dpTok := tc.token, tc.token
		if tc.same {
			ptTok, dpTok = "tok-1", "tok-2"
		}
		got, err := s2.CreateThroughput(ctx, acct, CreateThroughputInput{Name: "retry", ModelID: fmARN, ModelUnits: 1, ClientRequestToken: ptTok})
		switch {
		case tc.same && (err != nil || got.ARN != pt.ARN):
			t.Errorf("throughput retried with its token: %v, %v; want %s", got, err, pt.ARN)
		case !tc.same && !apierr.Is(err, apierr.Validation):
			t.Errorf("throughput with token %q: %v, want ValidationException", tc.token, err)
		}
		gd, err := s2.CreateDeployment(ctx, acct, CreateDeploymentInput{Name: "retry", ModelARN: cm1ARN, ClientRequestToken: dpTok})
		switch {
		case tc.same && (err != nil || gd.ARN != dp.ARN):
			t.Errorf("deployment retried with its token: %v, %v; want %s", gd, err, dp.ARN)
		case !tc.same && !apierr.Is(err, apierr.Validation):
			t.Errorf("deployment with token %q: %v, want ValidationException", tc.token, err)
		}
		s2.Close()
		reg.Close()
	}
	if all, _ := s1.ListThroughputs(ctx, acct); len(all) != 1 {
		t.Errorf("throughputs after the races = %d, want 1", len(all))
	}
}
