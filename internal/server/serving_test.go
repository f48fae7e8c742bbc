package server

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-ml/strata/engine/starter"
	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/catalog"
	"github.com/strata-ml/strata/internal/config"
	"github.com/strata-ml/strata/internal/inference"
	"github.com/strata-ml/strata/internal/inference/provision"
	"github.com/strata-ml/strata/internal/store/sqlstore"
)

// TestServingConfig maps every serving setting onto the serving side.
func TestServingConfig(t *testing.T) {
	cfg := config.Default()
	cfg.MemoryBudget, cfg.InvokeTimeout, cfg.ModelLoadWait = 3<<30, config.Duration(time.Minute), 0
	cfg.ModelUnitSequences, cfg.ModelUnitKVTokens, cfg.MaxModelUnits = 8, 2048, 5
	sc := servingConfig(cfg, nil, nil, nil)
	want := inference.RegistryConfig{MemoryBudget: 3 << 30, Unit: inference.Unit{Seqs: 8, KVTokens: 2048}}
	if sc.Registry.MemoryBudget != want.MemoryBudget || sc.Registry.Unit != want.Unit || sc.Registry.LoadWait != 0 ||
		sc.Timeout != time.Minute || sc.MaxUnitsPerAccount != 5 {
		t.Errorf("servingConfig = %+v", sc)
	}
}

// TestNewServingImportsFile upgrades a data dir whose serving records are
// still in serving/provisioning.json: NewServing moves them into the
// metadata store once, and they survive the next start.
func TestNewServingImportsFile(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	legacy := map[string]any{"version": 1,
		"throughputs": []*provision.Throughput{{ID: "pt0000000001", Account: testAccount, Name: "old-pt", Status: provision.PTFailed,
			ARN: "arn:aws:bedrock:us-east-1:" + testAccount + ":provisioned-model/pt0000000001", FailureMessage: "gone",
			ModelUnits: 1, DesiredModelUnits: 1, CreationTime: now, LastModifiedTime: now}},
		"deployments": []*provision.Deployment{{ID: "dp0000000001", Account: testAccount, Name: "old-dp", Status: provision.DeployFailed,
			ARN: "arn:aws:bedrock:us-east-1:" + testAccount + ":custom-model-deployment/dp0000000001", CreatedAt: now}},
	}
	b, _ := json.Marshal(legacy)
	if err := os.MkdirAll(filepath.Join(dir, "serving"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "serving", provision.LegacyFileName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for start := range 2 {
		st, err := sqlstore.Open(ctx, filepath.Join(dir, "strata.db"))
		if err != nil {
			t.Fatal(err)
		}
		sv, err := NewServing(ctx, ServingConfig{DataDir: dir, Region: "us-east-1", Catalog: catalog.New(st), Store: st})
		if err != nil {
			t.Fatalf("start %d: %v", start, err)
		}
		pts, err := sv.Provision.ListThroughputs(ctx, testAccount)
		if err != nil || len(pts) != 1 || pts[0].Name != "old-pt" || pts[0].FailureMessage != "gone" || !pts[0].CreationTime.Equal(now) {
			t.Errorf("start %d: throughputs = %+v, %v", start, pts, err)
		}
		dps, err := sv.Provision.ListDeployments(ctx, testAccount)
		if err != nil || len(dps) != 1 || dps[0].Name != "old-dp" {
			t.Errorf("start %d: deployments = %+v, %v", start, dps, err)
		}
		sv.Close()
		st.Close()
		if _, err := os.Stat(filepath.Join(dir, "serving", provision.LegacyFileName)); !os.IsNotExist(err) {
			t.Errorf("start %d: provisioning.json still there (%v)", start, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "serving", provision.ImportedFileName)); err != nil {
		t.Error(err)
	}
}

// TestRestoreWaitsForStarter: a Provisioned Throughput over the starter
// model, restored at startup while the server is still registering the
// starter (it builds or finds it in the background), waits for it instead
// of failing, and turns InService once the starter is there; if the
// starter build fails, the throughput fails.
func TestRestoreWaitsForStarter(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	sdir, err := starter.EnsureWith(ctx, filepath.Join(dir, "starter"), starter.Options{PretrainEpochs: -1, VocabSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.Open(ctx, filepath.Join(dir, "strata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	status := func(sv *Serving, name string) string {
		pts, err := sv.Provision.ListThroughputs(ctx, testAccount)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pts {
			if p.Name == name {
				return p.Status
			}
		}
		t.Fatalf("throughput %s not found", name)
		return ""
	}
	waitFor := func(sv *Serving, name, want string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for status(sv, name) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: status %s, want %s", name, status(sv, name), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	cat := catalog.New(st)
	cat.SetStarter(sdir, nil)
	sv, err := NewServing(ctx, ServingConfig{DataDir: dir, Region: "us-east-1", Catalog: cat, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"on-starter", "on-failed-starter"} {
		if _, err := sv.Provision.CreateThroughput(ctx, testAccount, provision.CreateThroughputInput{Name: name, ModelID: catalog.StarterID, ModelUnits: 1}); err != nil {
			t.Fatal(err)
		}
		waitFor(sv, name, provision.PTInService)
	}
	sv.Close()

	// Restart with the starter not registered yet.
	for _, fail := range []bool{false, true} {
		cat := catalog.New(st)
		sv, err := NewServing(ctx, ServingConfig{DataDir: dir, Region: "us-east-1", Catalog: cat, Store: st})
		if err != nil {
			t.Fatal(err)
		}
		name := "on-starter"
		if fail {
			name = "on-failed-starter"
		}
		for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if s := status(sv, name); s == provision.PTFailed {
				t.Fatalf("restart: %s failed while the starter was still being registered", name)
			}
		}
		// A request meanwhile is told to retry, not that the model is unknown.
		if _, err := sv.Resolver.Resolve(ctx, testAccount, catalog.StarterID); !apierr.Is(err, apierr.ModelNotReady) {
			t.Errorf("request for the starter while it registers: %v, want ModelNotReadyException", err)
		}
		if fail {
			cat.SetStarter("", errors.New("build failed"))
			waitFor(sv, name, provision.PTFailed)
		} else {
			cat.SetStarter(sdir, nil)
			waitFor(sv, name, provision.PTInService)
		}
		sv.Close()
	}
}
