package sqlstore

import (
	"testing"

	"github.com/strata-ml/strata/internal/store"
	"github.com/strata-ml/strata/internal/store/storetest"
	"github.com/strata-ml/strata/internal/testenv"
)

// TestPostgres runs the conformance suite against PostgreSQL: the server in
// STRATA_TEST_POSTGRES, or else a throwaway server that testenv starts from
// Debian's binaries on a loopback port. Each subtest gets its own database.
func TestPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	base := testenv.PostgresServer(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), testenv.PostgresDatabase(t, base))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
