// Package checkpoint saves and loads training checkpoints atomically.
//
// A checkpoint is a directory named step-NNNNNNNN under a Store's root:
//
//	step-00000120/
//	    manifest.json           magic, version, step, the caller's state (JSON), and
//	                            the size and SHA-256 of every other file
//	    <name>.safetensors      one file per tensor group, e.g. "weights" (trainable
//	                            parameters) and "optimizer" (AdamW moments)
//
// Save writes everything into a hidden temporary directory, fsyncs each
// file and the directory, renames it into place and fsyncs the root, then
// prunes old checkpoints beyond Keep (never a pinned one). A crash or a full
// disk at any point leaves the previous checkpoints loadable; a torn
// temporary directory is ignored and removed by the next Save. Load checks the
// magic, the version and every file's size and digest before returning
// anything, and Latest skips checkpoints that fail those checks.
package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"github.com/strata-ml/strata/engine/safetensors"
)

// Magic and Version identify the manifest format.
const (
	Magic   = "strata-checkpoint"
	Version = 1
)

// ManifestFile is the manifest's name inside a checkpoint directory.
const ManifestFile = "manifest.json"

// ErrCorrupt is matched by errors for a checkpoint that fails verification.
var ErrCorrupt = errors.New("checkpoint: corrupt")

// ErrNone reports that a store holds no loadable checkpoint.
var ErrNone = errors.New("checkpoint: no checkpoint found")

// Checkpoint is what one save holds.
type Checkpoint struct {
	// Step is the number of optimizer steps done; it names the directory.
	Step int
	// Groups maps a group name (a file name without ".safetensors") to its
	// tensors. Names must match [a-z0-9_-]+.
	Groups map[string][]*safetensors.Tensor
	// State is the caller's resume state, stored verbatim in the manifest.
	State json.RawMessage
}

// FileInfo records one file of a checkpoint.
type FileInfo struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Manifest is the JSON document in manifest.json.
type Manifest struct {
	Magic   string              `json:"magic"`
	Version int                 `json:"version"`
	Step    int                 `json:"step"`
	Files   map[string]FileInfo `json:"files"`
	State   json.RawMessage     `json:"state,omitempty"`
}

var groupName = regexp.MustCompile(`^[a-z0-9_-]+$`)
var stepDir = regexp.MustCompile(`^step-([0-9]{8,})$`)

// DirName returns the directory name of the checkpoint at step.
func DirName(step int) string { return fmt.Sprintf("step-%08d", step) }

// Store manages the checkpoints under one root directory.
type Store struct {
	// Dir is the root; it is created on the first Save.
	Dir string
	// Keep is how many of the newest checkpoints to keep; 0 keeps all.
	// Pinned checkpoints are kept in addition.
	Keep int

	// writeGroup writes one tensor group; tests replace it to inject faults.
	writeGroup func(path string, ts []*safetensors.Tensor) error
}

// Save writes c atomically and returns its directory. The pinned
// directories (full paths or base names) survive pruning.
func (s *Store) Save(c *Checkpoint, pinned ...string) (string, error) {
	if c.Step < 0 {
		return "", fmt.Errorf("checkpoint: save: negative step %d", c.Step)
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return "", fmt.Errorf("checkpoint: save step %d: %w", c.Step, err)
	}
	s.removeTemps()
	final := filepath.Join(s.Dir, DirName(c.Step))
	tmp, err := os.MkdirTemp(s.Dir, ".tmp-"+DirName(c.Step)+"-")
	if err != nil {
		return "", fmt.Errorf("checkpoint: save step %d: %w", c.Step, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	m := Manifest{Magic: Magic, Version: Version, Step: c.Step, Files: map[string]FileInfo{}, State: c.State}
	names := make([]string, 0, len(c.Groups))
	for n := range c.Groups {
		names = append(names, n)
	}
	slices.Sort(names)
	write := s.writeGroup
	if write == nil {
		write = func(p string, ts []*safetensors.Tensor) error { return safetensors.WriteFile(p, ts, nil) }
	}
	for _, n := range names {
		if !groupName.MatchString(n) {
			return "", fmt.Errorf("checkpoint: save step %d: bad group name %q", c.Step, n)
		}
		file := n + ".safetensors"
		p := filepath.Join(tmp, file)
		if err := write(p, c.Groups[n]); err != nil {
			return "", fmt.Errorf("checkpoint: save step %d: %w", c.Step, err)
		}
		fi, err := digest(p)
		if err != nil {
			return "", fmt.Errorf("checkpoint: save step %d: %w", c.Step, err)
		}
		m.Files[file] = fi
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("checkpoint: save step %d: %w", c.Step, err)
	}
	if err := safetensors.WriteAtomic(filepath.Join(tmp, ManifestFile), mb); err != nil {
		return "", fmt.Errorf("checkpoint: save step %d: %w", c.Step, err)
	}
	if err := syncDir(tmp); err != nil {
		return "", fmt.Errorf("checkpoint: save step %d: %w", c.Step, err)
	}
	// Replace an existing checkpoint of the same step (a resumed run that
	// saves again) by moving it aside first: a directory cannot be renamed
	// over a non-empty one.
	var old string
	if _, err := os.Stat(final); err == nil {
		old = tmp + ".old"
		if err := os.Rename(final, old); err != nil {
			return "", fmt.Errorf("checkpoint: save step %d: %w", c.Step, err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if old != "" {
			os.Rename(old, final)
		}
		return "", fmt.Errorf("checkpoint: save step %d: %w", c.Step, err)
	}
	ok = true
	if err := syncDir(s.Dir); err != nil {
		return "", fmt.Errorf("checkpoint: save step %d: %w", c.Step, err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	if err := s.prune(pinned); err != nil {
		return final, err
	}
	return final, nil
}

// removeTemps deletes torn temporary directories left by a crashed Save.
func (s *Store) removeTemps() {
	ents, _ := os.ReadDir(s.Dir)
	for _, e := range ents {
		if len(e.Name()) > 5 && e.Name()[:5] == ".tmp-" {
			os.RemoveAll(filepath.Join(s.Dir, e.Name()))
		}
	}
}

// Entry is one checkpoint directory found in a store.
type Entry struct {
	Step int
	Path string
}

// List returns the checkpoint directories by ascending step, without
// verifying them.
func (s *Store) List() ([]Entry, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: list %s: %w", s.Dir, err)
	}
	var out []Entry
	for _, e := range ents {
		sm := stepDir.FindStringSubmatch(e.Name())
		if sm == nil || !e.IsDir() {
			continue
		}
		n, err := strconv.Atoi(sm[1])
		if err != nil {
			continue
		}
		out = append(out, Entry{Step: n, Path: filepath.Join(s.Dir, e.Name())})
	}
	slices.SortFunc(out, func(a, b Entry) int { return a.Step - b.Step })
	return out, nil
}

// Latest loads the newest checkpoint that verifies. It returns ErrNone
// (wrapped with the reasons newer ones were skipped) when there is none.
func (s *Store) Latest() (*Checkpoint, string, error) {
	list, err := s.List()
	if err != nil {
		return nil, "", err
	}
	var skipped []error
	for i := len(list) - 1; i >= 0; i-- {
		c, err := Load(list[i].Path)
		if err == nil {
			return c, list[i].Path, nil
		}
		skipped = append(skipped, err)
	}
	return nil, "", errors.Join(append([]error{fmt.Errorf("%w in %s", ErrNone, s.Dir)}, skipped...)...)
}

func (s *Store) prune(pinned []string) error {
	if s.Keep <= 0 {
		return nil
	}
	list, err := s.List()
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, p := range pinned {
		keep[filepath.Base(p)] = true
	}
	n := 0
	for i := len(list) - 1; i >= 0; i-- {
		base := filepath.Base(list[i].Path)
		if keep[base] {
			continue
		}
		n++
		if n > s.Keep {
			if err := os.RemoveAll(list[i].Path); err != nil {
				return fmt.Errorf("checkpoint: prune %s: %w", list[i].Path, err)
			}
		}
	}
	return nil
}

// ReadManifest reads and checks the manifest of the checkpoint in dir
// without reading its tensors or verifying digests.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, dir, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: manifest: %w", ErrCorrupt, dir, err)
	}
	if m.Magic != Magic {
		return nil, fmt.Errorf("%w: %s: magic %q, want %q", ErrCorrupt, dir, m.Magic, Magic)
	}
	if m.Version != Version {
		return nil, fmt.Errorf("%w: %s: version %d, this build reads %d; resume with the strata version that wrote it", ErrCorrupt, dir, m.Version, Version)
	}
	for f := range m.Files {
		if filepath.Base(f) != f || filepath.Ext(f) != ".safetensors" {
			return nil, fmt.Errorf("%w: %s: bad file name %q in manifest", ErrCorrupt, dir, f)
		}
	}
	return &m, nil
}

// Load reads and verifies the checkpoint in dir.
func Load(dir string) (*Checkpoint, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Step: m.Step, State: m.State, Groups: map[string][]*safetensors.Tensor{}}
	for f, want := range m.Files {
		p := filepath.Join(dir, f)
		got, err := digest(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, dir, err)
		}
		if got != want {
			return nil, fmt.Errorf("%w: %s: %s has size %d sha256 %s, manifest says %d %s", ErrCorrupt, dir, f, got.Size, got.SHA256, want.Size, want.SHA256)
		}
		ts, _, err := safetensors.ReadFile(p, safetensors.Options{})
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, dir, err)
		}
		names := make([]string, 0, len(ts))
		for n := range ts {
			names = append(names, n)
		}
		slices.Sort(names)
		list := make([]*safetensors.Tensor, len(names))
		for i, n := range names {
			list[i] = ts[n]
		}
		c.Groups[f[:len(f)-len(".safetensors")]] = list
	}
	return c, nil
}

func digest(path string) (FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return FileInfo{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return FileInfo{}, fmt.Errorf("read %s: %w", path, err)
	}
	return FileInfo{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Tensor is a convenience constructor for a float32 tensor of the given shape.
func Tensor(name string, shape []int, data []float32) *safetensors.Tensor {
	return &safetensors.Tensor{Name: name, DType: safetensors.F32, Shape: shape, F32: data}
}
