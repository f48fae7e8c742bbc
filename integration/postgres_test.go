//go:build integration

package integration

import (
	"testing"

	"github.com/strata-ml/strata/internal/testenv"
)

// StartPostgres returns the URL of an empty PostgreSQL database on
// STRATA_TEST_POSTGRES's server or on a throwaway one (internal/testenv).
func StartPostgres(t *testing.T) string {
	t.Helper()
	return testenv.PostgresDatabase(t, testenv.PostgresServer(t))
}
