package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/strata-ml/strata/internal/store"
)

// Names of the file that held the records before they moved into the
// metadata store, and of that file once imported.
const (
	LegacyFileName   = "provisioning.json"
	ImportedFileName = "provisioning.json.imported"
	legacyVersion    = 1
)

// legacyFile is the format of provisioning.json.
type legacyFile struct {
	Version     int           `json:"version"`
	Throughputs []*Throughput `json:"throughputs"`
	Deployments []*Deployment `json:"deployments"`
}

// parseLegacy decodes and checks a provisioning.json document.
func parseLegacy(b []byte) (*legacyFile, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f legacyFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parse: data after the document")
	}
	if f.Version != legacyVersion {
		return nil, fmt.Errorf("unsupported format version %d", f.Version)
	}
	for i, t := range f.Throughputs {
		if t == nil || t.Account == "" || t.ID == "" || t.Name == "" {
			return nil, fmt.Errorf("throughput %d: account, id and name are required", i)
		}
	}
	for i, d := range f.Deployments {
		if d == nil || d.Account == "" || d.ID == "" || d.Name == "" {
			return nil, fmt.Errorf("deployment %d: account, id and name are required", i)
		}
	}
	return &f, nil
}

// ImportFile moves the records of dir/provisioning.json, the file store of
// earlier versions, into st: all of them in one transaction, after which the
// file is renamed to provisioning.json.imported. Without the file it does
// nothing. A crash between the commit and the rename imports the same
// records again at the next start, replacing them with identical copies. It
// returns the number of records imported.
func ImportFile(ctx context.Context, dir string, st store.Store) (int, error) {
	path := filepath.Join(dir, LegacyFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("provision: import %s: %w", path, err)
	}
	f, err := parseLegacy(b)
	if err != nil {
		return 0, fmt.Errorf("provision: import %s: %w", path, err)
	}
	err = st.Tx(ctx, func(tx store.Store) error {
		s := NewSQLStore(tx)
		for _, t := range f.Throughputs {
			if err := s.PutThroughput(ctx, t); err != nil {
				return err
			}
		}
		for _, d := range f.Deployments {
			if err := s.PutDeployment(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("provision: import %s: %w", path, err)
	}
	if err := os.Rename(path, filepath.Join(dir, ImportedFileName)); err != nil {
		return 0, fmt.Errorf("provision: import %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return len(f.Throughputs) + len(f.Deployments), nil
}
