#!/usr/bin/env bash
# bench.sh runs the performance benchmarks. Each benchmark reports its own
# figures (GFLOP/s, % of the FMA peak measured in the same run, tok/s...).
# The machine is shared: pass COUNT=5 (or more) and take the best of.
#
#   scripts/bench.sh            # everything below, once
#   COUNT=5 scripts/bench.sh    # five repetitions (compare with benchstat)
#   BENCHTIME=2s scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-1}
BENCHTIME=${BENCHTIME:-1s}

bench() { # bench PACKAGE REGEXP
	echo "== $1 $2"
	go test -run '^$' -bench "$2" -benchtime "$BENCHTIME" -count "$COUNT" "$1"
}

# engine/compute: FMA peak probe, SGEMM shapes (1 and 2 threads), vector ops.
bench ./engine/compute/ .

# Add other packages' benchmarks below, one line each, e.g.:
# bench ./engine/nn/ .
