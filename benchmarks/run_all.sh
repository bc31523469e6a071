#!/usr/bin/env bash
# The benchmarks of issue 5, run by hand (not in CI); docs/benchmarks.md shows their results.
#
#   bash benchmarks/run_all.sh [WORK_DIR]      # default /tmp/cryodiscovery_bench, ~15 min, ~4 GB of disk
#
# 1. machine.txt: CPU, memory, versions, commit, load average;
# 2. a small simulated Class2D job (simulate.class_average_jobs) blown up by make_big_job.py to
#    N particles x K classes for N in $PARTICLES and K in $CLASSES;
# 3. external_job.py on each: our External job vs relion_star_handler (same subset) vs awk,
#    $REPEAT times each, medians -> results.jsonl;
# 4. training/inference throughput: python benchmarks/throughput.py --replicas 1 and 2;
# 5. the biggest case ($BIG particles, 200 classes) once, last;
# 6. report.py -> tables.md (the tables of docs/benchmarks.md).
# The model is models/default when present, else a tiny one trained here (1 epoch; speed only).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${1:-/tmp/cryodiscovery_bench}"
REPEAT="${REPEAT:-3}"
PARTICLES="${PARTICLES:-10000 100000 1000000}"
CLASSES="${CLASSES:-50 200 1000}"
BIG="${BIG:-3000000}"
PY="${PYTHON:-python3}"
mkdir -p "$WORK"
cd "$WORK"
: > results.jsonl
: > throughput.jsonl

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) logical CPUs"
  echo "memory: $(free -g | awk '/^Mem:/ {print $2}') GiB, disk: $(df -h . | awk 'NR == 2 {print $1}')"
  echo "os: $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
  echo "python: $($PY -V 2>&1)"
  echo "packages: $($PY -c 'import numpy, pandas, starfile; from importlib.metadata import version; print("numpy", numpy.__version__, "pandas", pandas.__version__, "starfile", version("starfile"))')"
  echo "tensorflow: $(TF_CPP_MIN_LOG_LEVEL=3 $PY -c 'import tensorflow as tf, keras; print(tf.__version__, "keras", keras.__version__)' 2>/dev/null)"
  echo "relion: $(relion_star_handler --version 2>&1 | grep -i version | head -1) (Debian package)"
  echo "commit: $(git -C "$REPO" rev-parse --short HEAD)"
  echo "OPENBLAS_CORETYPE: ${OPENBLAS_CORETYPE:-unset}, OPENBLAS_L2_SIZE: ${OPENBLAS_L2_SIZE:-unset}"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > machine.txt
cat machine.txt

MODEL="$REPO/models/default"
if [ ! -f "$MODEL/model_card.json" ]; then
  MODEL="$WORK/model"
  if [ ! -f "$MODEL/model_card.json" ]; then
    $PY -c "from cryodiscovery_dev.simulate.class_average_jobs import make_corpus; make_corpus('corpus', n_jobs=3, seed=7)"
    $PY -m relion_cryodiscovery.cli.main train --project corpus/sim0000 --project corpus/sim0001 \
      --project corpus/sim0002 --o "$MODEL" --epochs 1 --val-fraction 0.34 --test-fraction 0 --quiet \
      --model-version bench-tiny
  fi
fi
echo "model: $MODEL" >> machine.txt
if [ ! -d corpus/sim0000 ]; then
  $PY -c "from cryodiscovery_dev.simulate.class_average_jobs import make_corpus; make_corpus('corpus', n_jobs=1, seed=7)"
fi

bench() {  # particles classes repeat
  local dir="big/p$1_k$2"
  [ -f "$dir/bench.json" ] || $PY "$REPO/benchmarks/make_big_job.py" --source corpus/sim0000 --o "$dir" \
    --particles "$1" --classes "$2" > /dev/null
  $PY "$REPO/benchmarks/external_job.py" --project "$dir" --model "$MODEL" --repeat "$3" --out results.jsonl
}

for p in $PARTICLES; do
  for k in $CLASSES; do
    bench "$p" "$k" "$REPEAT"
  done
done

for replicas in 1 2; do
  TF_CPP_MIN_LOG_LEVEL=2 $PY "$REPO/benchmarks/throughput.py" --replicas "$replicas" 2> /dev/null \
    | tail -1 | tee -a throughput.jsonl
done

if [ -n "$BIG" ]; then
  bench "$BIG" 200 1
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> machine.txt
$PY "$REPO/benchmarks/report.py" "$WORK" > tables.md
cat tables.md
