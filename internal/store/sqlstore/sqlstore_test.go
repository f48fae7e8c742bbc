package sqlstore

import (
	"path/filepath"
	"testing"

	"github.com/strata-ml/strata/internal/store"
	"github.com/strata-ml/strata/internal/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "strata.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strata.db")
	for range 2 {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.SchemaVersion(t.Context())
		if err != nil || v != len(migrations) {
			t.Errorf("SchemaVersion = %d, %v, want %d", v, err, len(migrations))
		}
		s.Close()
	}
}
