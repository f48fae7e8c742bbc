// Command faketrain is a test stand-in for "strata train": it honours the
// trainspec contract with a trivial deterministic loss (see
// internal/worker/workertest) so integration tests can drive the job
// pipeline quickly. It is never part of a release.
package main

import (
	"os"

	"github.com/strata-ml/strata/internal/worker/workertest"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "train" {
		args = args[1:]
	}
	os.Exit(workertest.FakeTrain(args, os.Stdout))
}
