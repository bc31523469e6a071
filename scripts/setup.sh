#!/usr/bin/env bash
# Set up a fresh machine: Debian's RELION 3.1 (for the integration tests and the demo's pipeliner),
# then a virtual environment .venv with this package, TensorFlow (the train extra: training, GPUs and the
# tests that compare ONNX Runtime with it), the test tools and the developer package cryodiscovery_dev (dev/:
# what scripts/, benchmarks/ and tests/ import; never in the wheel), both editable. A selection-only install
# is `pip install .` (ONNX Runtime, no TensorFlow; README "Install").
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v relion_pipeliner >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq relion >/dev/null
    else
        echo "NOTE: RELION is not installed and this is not root; RELION integration tests will be skipped." >&2
    fi
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[train,test,ccpem]" -e ./dev
