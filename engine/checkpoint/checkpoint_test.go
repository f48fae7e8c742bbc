package checkpoint

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/strata-ml/strata/engine/safetensors"
)

func ckpt(step int) *Checkpoint {
	f := float32(step)
	return &Checkpoint{
		Step: step,
		Groups: map[string][]*safetensors.Tensor{
			"weights":   {Tensor("a.weight", []int{2, 2}, []float32{f, 1, 2, 3}), Tensor("b", []int{1}, []float32{-f})},
			"optimizer": {Tensor("m/a.weight", []int{4}, []float32{0.1, 0.2, 0.3, f})},
		},
		State: json.RawMessage(`{"epoch":1,"pos":` + string(rune('0'+step%10)) + `}`),
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	want := ckpt(7)
	p, err := s.Save(want)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p) != "step-00000007" {
		t.Errorf("Save path = %s", p)
	}
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}

func TestKeepAndPinned(t *testing.T) {
	s := &Store{Dir: t.TempDir(), Keep: 2}
	var best string
	for step := 1; step <= 5; step++ {
		p, err := s.Save(ckpt(step), best)
		if err != nil {
			t.Fatal(err)
		}
		if step == 2 {
			best = p
		}
	}
	list, _ := s.List()
	var steps []int
	for _, e := range list {
		steps = append(steps, e.Step)
	}
	if diff := cmp.Diff([]int{2, 4, 5}, steps); diff != "" {
		t.Errorf("kept steps (-want +got):\n%s", diff)
	}
}

func TestCorruptFallsBack(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(dir string) error
	}{
		{"flipped byte", func(d string) error {
			p := filepath.Join(d, "weights.safetensors")
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[len(b)-1] ^= 0xff
			return os.WriteFile(p, b, 0o644)
		}},
		{"truncated", func(d string) error { return os.Truncate(filepath.Join(d, "optimizer.safetensors"), 10) }},
		{"missing manifest", func(d string) error { return os.Remove(filepath.Join(d, ManifestFile)) }},
		{"bad manifest", func(d string) error { return os.WriteFile(filepath.Join(d, ManifestFile), []byte("{"), 0o644) }},
		{"wrong version", func(d string) error {
			return os.WriteFile(filepath.Join(d, ManifestFile), []byte(`{"magic":"strata-checkpoint","version":99}`), 0o644)
		}},
		{"path escape", func(d string) error {
			return os.WriteFile(filepath.Join(d, ManifestFile), []byte(`{"magic":"strata-checkpoint","version":1,"files":{"../x.safetensors":{}}}`), 0o644)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{Dir: t.TempDir()}
			if _, err := s.Save(ckpt(1)); err != nil {
				t.Fatal(err)
			}
			p2, err := s.Save(ckpt(2))
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.corrupt(p2); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(p2); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Load(corrupt) = %v, want ErrCorrupt", err)
			}
			c, p, err := s.Latest()
			if err != nil || c.Step != 1 {
				t.Fatalf("Latest() = step %v at %s, err %v; want step 1", c, p, err)
			}
		})
	}
}

// TestFullDisk injects ENOSPC halfway through writing a tensor file: Save
// fails with that error, leaves no temporary directory, and the previous
// checkpoint is still the latest and loads.
func TestFullDisk(t *testing.T) {
	s := &Store{Dir: t.TempDir(), Keep: 1}
	if _, err := s.Save(ckpt(1)); err != nil {
		t.Fatal(err)
	}
	s.writeGroup = func(p string, ts []*safetensors.Tensor) error {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			return err
		}
		return &os.PathError{Op: "write", Path: p, Err: syscall.ENOSPC}
	}
	if _, err := s.Save(ckpt(2)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Save on full disk = %v, want ENOSPC", err)
	}
	ents, _ := os.ReadDir(s.Dir)
	if len(ents) != 1 || ents[0].Name() != "step-00000001" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("root holds %v, want only step-00000001", names)
	}
	c, _, err := s.Latest()
	if err != nil || c.Step != 1 {
		t.Fatalf("Latest() = %v, %v; want step 1", c, err)
	}
}

func TestTornTempIgnoredAndResave(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	if _, err := s.Save(ckpt(3)); err != nil {
		t.Fatal(err)
	}
	torn := filepath.Join(s.Dir, ".tmp-step-00000004-123")
	if err := os.MkdirAll(torn, 0o755); err != nil {
		t.Fatal(err)
	}
	c, _, err := s.Latest()
	if err != nil || c.Step != 3 {
		t.Fatalf("Latest() with torn temp = %v, %v", c, err)
	}
	// Saving the same step again replaces it.
	again := ckpt(3)
	again.State = json.RawMessage(`{"again":true}`)
	if _, err := s.Save(again); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(torn); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("torn temp dir still there: %v", err)
	}
	c, _, err = s.Latest()
	if err != nil || string(c.State) != `{"again":true}` {
		t.Fatalf("Latest() after resave = %s, %v", c.State, err)
	}
}

func TestLatestEmpty(t *testing.T) {
	s := &Store{Dir: filepath.Join(t.TempDir(), "none")}
	if _, _, err := s.Latest(); !errors.Is(err, ErrNone) {
		t.Errorf("Latest(empty) = %v, want ErrNone", err)
	}
}

func FuzzReadManifest(f *testing.F) {
	f.Add([]byte(`{"magic":"strata-checkpoint","version":1,"step":3,"files":{"w.safetensors":{"size":1,"sha256":"00"}}}`))
	f.Add([]byte(`{"magic":"x"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ManifestFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err == nil {
			// Only a manifest with no files can load from an otherwise empty dir.
			m, _ := ReadManifest(dir)
			if len(m.Files) != 0 {
				t.Fatalf("Load succeeded with missing files %v", m.Files)
			}
		}
	})
}
