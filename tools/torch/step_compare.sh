#!/usr/bin/env bash
# step_compare.sh times one training step (forward + backward, no optimizer)
# of a random SmolLM2-135M-shaped model on a 4×512 batch in Strata's Go
# engine (BenchmarkTrainStepSmolLM2) and in PyTorch eager (step_bench.py),
# both on 2 threads, each mode in its own process, and prints tokens/s, peak
# RSS and the ratio. Heavy: a few minutes on 2 cores.
#
# Debian's python3-torch links the reference (netlib) BLAS, about 15× slower
# than an optimized one; scripts/deps.sh extracts OpenBLAS into
# $STRATA_CACHE/openblas and PyTorch runs with it (TORCH_BLAS=reference to
# compare against the BLAS as installed).
#
#   tools/torch/step_compare.sh            # lora and full, 2 timed steps each
#   STEPS=3 MODES=lora tools/torch/step_compare.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${STRATA_TORCH_PYTHON:-/usr/bin/python3}
STEPS=${STEPS:-2}
CACHE=${STRATA_CACHE:-$HOME/.cache/strata}
OB="$CACHE/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread"
torchenv=()
if [ "${TORCH_BLAS:-openblas}" = openblas ] && [ -f "$OB/libblas.so.3" ]; then
	torchenv=(env "LD_LIBRARY_PATH=$OB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" OPENBLAS_NUM_THREADS=2)
	echo "pytorch BLAS: OpenBLAS ($OB)"
else
	echo "pytorch BLAS: as installed (reference libblas on Debian)"
fi
MODES=${MODES:-lora full}
field() { # field NAME: the number before NAME in a benchmark line on stdin
	awk -v n="$1" '{for (i = 2; i <= NF; i++) if ($i == n) print $(i-1)}'
}
for mode in $MODES; do
	line=$(GOMAXPROCS=2 go test ./engine/model/llama -run '^$' -bench "TrainStepSmolLM2/$mode\$" -benchtime "${STEPS}x" | grep '^Benchmark')
	echo "$line"
	gtok=$(echo "$line" | field tok/s)
	grss=$(echo "$line" | field peakRSS_MB)
	gcpu=$(echo "$line" | field cpu_s/step)
	pt=$("${torchenv[@]}" "$PY" tools/torch/step_bench.py "$mode" "$STEPS" 2)
	echo "pytorch: $pt"
	ptok=$(echo "$pt" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_s"])')
	prss=$(echo "$pt" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["peak_rss_mb"])')
	pcpu=$(echo "$pt" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["cpu_s_per_step"])')
	"$PY" -c "print('step $mode: strata %.1f tok/s, %.1f cpu-s/step, peak RSS %.0f MB | pytorch %.1f tok/s, %.1f cpu-s/step, peak RSS %.0f MB | speed ratio %.2fx (wall), %.2fx (cpu), RSS ratio %.2fx' % ($gtok, $gcpu, $grss, $ptok, $pcpu, $prss, $gtok/$ptok, $pcpu/$gcpu, $grss/$prss))"
done
