#!/usr/bin/env python3
"""Add ONNX exports of a model's members (``d1.onnx``, ``d2.onnx``, ``d3.onnx``) and record them in its card.

    python scripts/export_onnx.py --model models/default

For a model trained before training wrote them (older or lab models): the ``.keras`` members are read
(not rewritten), each export is checked against its Keras member, and the card gains only
``extra["onnx"]`` (checksums of the ONNX files and of the ``.keras`` files they came from); every other
field stays byte for byte. CPU jobs then score with ONNX Runtime (relion_cryodiscovery/model/runtime.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="model directory (d1.keras ... model_card.json)")
    args = parser.parse_args()

    from relion_cryodiscovery.model.ensemble import MEMBERS, BoostedEnsemble
    from relion_cryodiscovery.model.onnx_export import export_onnx

    ensemble = BoostedEnsemble.load(args.model)
    record = export_onnx({name: getattr(ensemble, name) for name in MEMBERS}, ensemble.card, args.model)
    ensemble.card.save(args.model)
    print(f"{args.model}: {', '.join(record['files'])} written (opset {record['opset']}, {record['exporter']}, "
          f"largest difference from Keras {record['max_abs_difference']:.2g}); recorded in model_card.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
