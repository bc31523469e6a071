#!/usr/bin/env bash
# The README's test command: set up, then run the whole test suite (no GPU needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES-}"
export TF_CPP_MIN_LOG_LEVEL=2
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
