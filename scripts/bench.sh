#!/usr/bin/env bash
# bench.sh runs the performance benchmarks. Each benchmark reports its own
# figures (GFLOP/s, % of the FMA peak measured in the same run, tok/s...).
# The machine is shared: run several repetitions and read the best-of
# summary printed at the end (per benchmark, the repetition with the highest
# %peak, else the lowest ns/op).
#
#   scripts/bench.sh                  # everything below, COUNT=3 repetitions
#   COUNT=5 BENCHTIME=20x scripts/bench.sh
#   scripts/bench.sh 'Sgemm/NN'       # only benchmarks matching a regexp
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-3}
BENCHTIME=${BENCHTIME:-1s}
FILTER=${1:-.}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

bench() { # bench PACKAGE REGEXP
	echo "== $1 $2"
	go test -run '^$' -bench "$2" -benchtime "$BENCHTIME" -count "$COUNT" "$1" | tee -a "$out"
}

# engine/compute: FMA peak probe, SGEMM shapes (1 and 2 threads), vector ops,
# pool overhead.
bench ./engine/compute/ "$FILTER"

# Add other packages' benchmarks below, one line each, e.g.:
# bench ./engine/nn/ "$FILTER"
bench ./engine/nn/ "$FILTER"
bench ./engine/model/llama/ 'TrainStepTiny|DecodeStep'
# internal/inference: serving on a 55M-parameter model, float32 and bfloat16
# weights (batch-1 decode vs the bandwidth bound, 1/8/32 streams, time to
# first token, 10 adapters vs the base); each runs its own interleaved
# best-of rounds, so once is enough.
BENCHTIME=1x bench ./internal/inference/ "$FILTER"

echo "== best of $COUNT"
awk '/^Benchmark/ {
	name = $1; ns = $3; pk = -1
	for (i = 4; i < NF; i++) if ($(i+1) == "%peak") pk = $i
	line = $0
	if (!(name in best) || (pk >= 0 ? pk > bpk[name] : ns < bns[name])) {
		best[name] = line; bpk[name] = pk; bns[name] = ns
		if (!(name in seen)) { order[++n] = name; seen[name] = 1 }
	}
}
END { for (i = 1; i <= n; i++) print best[order[i]] }' "$out"

# SmolLM2-135M training step, Strata vs PyTorch (minutes): only for a full
# run; SKIP_STEP=1 skips it.
if [ "$FILTER" = . ] && [ "${SKIP_STEP:-}" != 1 ]; then
	bash tools/torch/step_compare.sh
fi
