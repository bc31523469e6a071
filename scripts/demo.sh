#!/usr/bin/env bash
# The README's demo: set up, then run the External job through RELION's own pipeliner on a copy of
# the bundled Class2D job (examples/class2d_small), exactly as the RELION GUI would.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export TF_CPP_MIN_LOG_LEVEL=2
repo=$(pwd)
project=${1:-$(mktemp -d /tmp/cryodiscovery_demo.XXXXXX)}
cp -r examples/class2d_small/. "$project/"
cd "$project"
data=$(ls Class2D/job001/run_it*_data.star | tail -n 1)
exe="$repo/.venv/bin/cryodiscovery_select"
if command -v relion_pipeliner >/dev/null 2>&1; then
    relion_pipeliner --addJob External --addJobOptions "fn_exe == $exe;in_part == $data;param1_label == min_particles;param1_value == 10;nr_threads == 2;"
    job=$(ls -d External/job*/ | tail -n 1)
    start=$(date +%s%N)
    relion_pipeliner --RunJobs "$job" --sec_wait_after 1 >/dev/null
    end=$(date +%s%N)
else
    job=External/job003/
    start=$(date +%s%N)
    "$exe" --o "$job" --in_parts "$data" --min_particles 10 --j 2 >"${job}run.out" 2>"${job}run.err" || true
    end=$(date +%s%N)
fi
cat "${job}run.out"
if [ -s "${job}run.err" ]; then echo "--- run.err:"; cat "${job}run.err"; fi
ls "${job}"
echo "External job wall time (incl. pipeliner polling): $(( (end - start) / 1000000 )) ms"
echo "Project: $project   Montage: $project/${job}cryodiscovery_montage.png"
test -f "${job}RELION_JOB_EXIT_SUCCESS"
