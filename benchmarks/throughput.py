#!/usr/bin/env python3
"""Measure training and inference throughput of the default network on random 64x64 inputs.

    python benchmarks/throughput.py --replicas 1
    python benchmarks/throughput.py --replicas 2   # 2 logical CPU devices

Prints one JSON line. Training images/s is the fit time of the second epoch (augmentation and
metadata withholding included, validation excluded); inference is class images/s of
the ensemble's batched inference (:func:`relion_cryodiscovery.model.ensemble.predict_views`) for 2D (V=1) and 3D (V=6)
classes with all three members run on every class (the worst case: d3 consulted everywhere).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=1,
                        help="logical CPU replicas (MirroredStrategy when > 1)")
    parser.add_argument("--views", type=int, default=2048, help="training view images per epoch")
    parser.add_argument("--classes", type=int, default=2048, help="2D classes to score")
    parser.add_argument("--batch", type=int, default=64, help="per-replica training batch")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = TF default)")
    args = parser.parse_args(argv)

    from relion_cryodiscovery.model.distribute import make_strategy, set_cpu_threads

    if args.threads:
        set_cpu_threads(args.threads)
    strategy = make_strategy(f"cpu:{args.replicas}" if args.replicas > 1 else "cpu")

    from relion_cryodiscovery.data.features import FEATURE_NAMES
    from relion_cryodiscovery.model.ensemble import predict_views
    from relion_cryodiscovery.model.network import NetworkConfig, build_network, compile_network
    from relion_cryodiscovery.training.trainer import TrainConfig, TrainingArrays, fit_model

    rng = np.random.default_rng(0)
    n_features = 2 * len(FEATURE_NAMES)  # the real layout: values then missing flags

    def arrays(n: int, views: int) -> TrainingArrays:
        return TrainingArrays(rng.standard_normal((n, views, 64, 64), dtype=np.float32),
                              rng.standard_normal((n, n_features), dtype=np.float32),
                              (np.arange(n) % 2).astype(np.float32), np.array(["job"] * n))

    train, val = arrays(args.views, 1), arrays(64, 1)
    config = TrainConfig(epochs=2, batch_size=args.batch, verbose=0, patience=10)
    network = NetworkConfig()

    def build():
        return compile_network(build_network(n_features, network, train.features), 1e-3)

    with tempfile.TemporaryDirectory() as tmp:
        model = fit_model("bench", build, train, val, config, strategy, tmp, log=lambda m: None)
        history = json.loads((Path(tmp) / "state.json").read_text())["history"]
    result = {
        "replicas": args.replicas,
        "parameters": int(model.count_params()),
        "train_images_per_s": round(history[-1]["images_per_second"], 1),
        "global_batch": args.batch * args.replicas,
    }
    for name, views in (("2d", 1), ("3d", 6)):
        classes = arrays(args.classes // views, views)
        predict_views([model] * 3, classes.images[:8], classes.features[:8], strategy=strategy)  # trace
        started = time.perf_counter()
        predict_views([model] * 3, classes.images, classes.features, batch_size=512, strategy=strategy)
        seconds = time.perf_counter() - started
        result[f"infer_{name}_classes_per_s"] = round(len(classes) / seconds, 1)
        result[f"infer_{name}_views_per_s"] = round(len(classes) * views / seconds, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
