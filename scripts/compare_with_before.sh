#!/usr/bin/env bash
# Re-run three reference commands (select on the bundled example, score its _model.star, score the T20S
# stack) into AFTER_DIR and compare with the same commands' outputs saved from an earlier commit:
#   BEFORE=<select project copy> BEFORE_SCORE=<dir with model/ and t20s/> bash scripts/compare_with_before.sh AFTER_DIR
# AFTER_DIR/proj is a fresh copy of the bundled example; the score outputs go to AFTER_DIR/score/{model,t20s}.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
after="${1:?give AFTER_DIR}"
before="${BEFORE:?set BEFORE to the earlier select run (a copy of examples/class2d_small with External/job003/)}"
before_score="${BEFORE_SCORE:?set BEFORE_SCORE to the earlier score runs (model/, t20s/)}"
t20s="${T20S:-$repo/../shared/real/t20s_cryosparc_selected/T20S_selected15_figure8bit.mrcs}"
bin="$repo/.venv/bin"
export TF_CPP_MIN_LOG_LEVEL=2
rm -rf "$after" && mkdir -p "$after/score"
cp -r "$repo/examples/class2d_small" "$after/proj"
cd "$after/proj"
last="$(ls Class2D/job001/run_it*_data.star | sort | tail -1)"
"$bin/cryodiscovery_select" --o External/job003/ --in_parts "$last" --min_particles 10 --j 2 > "$after/select.out" 2>&1
"$bin/relion_cryodiscovery" score --i "${last%_data.star}_model.star" --o "$after/score/model" --j 2 > "$after/score_model.out" 2>&1
"$bin/relion_cryodiscovery" score --i "$t20s" --angpix 0.73 --o "$after/score/t20s" --j 2 > "$after/score_t20s.out" 2>&1
status=0
for pair in "$before/External/job003 $after/proj/External/job003" "$before_score/model $after/score/model" \
            "$before_score/t20s $after/score/t20s"; do
  set -- $pair
  echo "== $1 -> $2"
  "$bin/python" "$repo/scripts/compare_outputs.py" "$1" "$2" || status=1
done
exit $status
