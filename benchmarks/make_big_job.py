#!/usr/bin/env python3
"""Turn a small simulated Class2D job into one with N particles and K classes (benchmark input).

    python benchmarks/make_big_job.py --source CORPUS/sim0000 --o BIG/p1000000_k200 \
        --particles 1000000 --classes 200

The source is a project written by ``cryodiscovery_dev.simulate.class_average_jobs``
(``Class2D/job001/run_it025_*``). The output project has the same layout:

* ``run_it025_data.star``: the source's optics block verbatim, its particle header, and N rows
  replicated from the source rows (all 19 columns RELION's Class2D writes, ~215 bytes/row), with
  unique ``rlnImageName`` values and class numbers shuffled through the file;
* ``run_it025_classes.mrcs``: K class images cycled from the source's usable images;
* ``run_it025_model.star`` / ``_optimiser.star``: K ``model_classes`` rows, paths rewritten.

Classes 1..K/2 get twice as many particles as classes K/2+1..K, so that
``--min_score 0 --min_particles T`` keeps exactly classes 1..K/2: the same subset that
``relion_star_handler --select rlnClassNumber --minval 1 --maxval K/2`` writes. ``bench.json``
records N, K, T, the class range and the expected row count.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import mrcfile
import numpy as np

from relion_cryodiscovery.data.preprocess import image_problem
from relion_cryodiscovery.relion.star import read_blocks, write_pairs, write_table

ROOT = "Class2D/job001/run_it025"
CHUNK = 200_000


def class_counts(n_particles: int, n_classes: int) -> tuple[np.ndarray, int]:
    """Particles per class (first half weight 2, second half weight 1) and the separating min_particles."""
    kept = n_classes // 2
    weights = np.where(np.arange(n_classes) < kept, 2.0, 1.0)
    exact = n_particles * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(exact - counts)[::-1][: n_particles - counts.sum()]] += 1
    if counts[kept:].max() + 1 >= counts[:kept].min():
        raise SystemExit(f"{n_particles} particles are too few for {n_classes} classes (need >= 3 per class)")
    threshold = int((counts[kept:].max() + counts[:kept].min() + 1) // 2)
    return counts, threshold


def split_header(path: Path) -> tuple[str, list[str], list[str]]:
    """(text before the first particle row, column labels, particle rows) of a small data.star."""
    lines = path.read_text().splitlines(keepends=True)
    columns: list[str] = []
    block = ""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("data_"):
            block, columns = stripped[5:], []
        elif stripped.startswith("_") and block == "particles":
            columns.append(stripped.split()[0][1:])
        elif block == "particles" and columns and stripped and not stripped.startswith(("#", "loop_")):
            rows = [r for r in lines[i:] if r.strip()]
            return "".join(lines[:i]), columns, rows
    raise SystemExit(f"{path}: no particle rows")


def write_data_star(source: Path, target: Path, classes: np.ndarray) -> int:
    """Replicate the source rows to len(classes) rows with unique image names; returns bytes written."""
    header, columns, rows = split_header(source)
    name_col, class_col = columns.index("rlnImageName"), columns.index("rlnClassNumber")
    if name_col != 0 or class_col <= name_col:
        raise SystemExit(f"{source}: expected rlnImageName first and rlnClassNumber after it")
    fields = [row.split() for row in rows]
    middle = [" ".join(f[1:class_col]) for f in fields]
    tail = [" ".join(f[class_col + 1 :]) for f in fields]
    n_templates = len(fields)
    with target.open("w", newline="\n") as out:
        out.write(header)
        for start in range(0, len(classes), CHUNK):
            stop = min(start + CHUNK, len(classes))
            chunk = classes[start:stop].tolist()
            out.write("".join(
                f"{i % 999_999 + 1:06d}@Extract/job005/Movies/stack_{i // 999_999:05d}.mrcs "
                f"{middle[i % n_templates]} {c} {tail[i % n_templates]} \n"
                for i, c in zip(range(start, stop), chunk)
            ))
        out.write("\n")
    return target.stat().st_size


def make_big_job(source: Path, out: Path, n_particles: int, n_classes: int, seed: int = 0) -> dict:
    """Write the big project under ``out``; returns what bench.json records."""
    rng = np.random.default_rng(seed)
    counts, threshold = class_counts(n_particles, n_classes)
    classes = rng.permutation(np.repeat(np.arange(1, n_classes + 1), counts))
    job = out / "Class2D/job001"
    if out.exists():
        shutil.rmtree(out)
    job.mkdir(parents=True)

    with mrcfile.open(source / f"{ROOT}_classes.mrcs", permissive=True) as mrc:
        images = np.asarray(mrc.data, dtype=np.float32)
        voxel = float(mrc.voxel_size.x)
    usable = [i for i, image in enumerate(images) if image_problem(image) is None]
    stack = images[[usable[i % len(usable)] for i in range(n_classes)]]
    with mrcfile.new(out / f"{ROOT}_classes.mrcs", overwrite=True) as mrc:
        mrc.set_data(stack)
        mrc.voxel_size = voxel
        mrc.header.ispg = 0  # a stack of images, as RELION writes it

    blocks = read_blocks(source / f"{ROOT}_model.star")
    general = dict(blocks["model_general"])
    general["rlnNrClasses"] = n_classes
    table = blocks["model_classes"]
    model_classes = table.iloc[[usable[i % len(usable)] for i in range(n_classes)]].reset_index(drop=True)
    model_classes["rlnReferenceImage"] = [f"{i:06d}@{ROOT}_classes.mrcs" for i in range(1, n_classes + 1)]
    model_classes["rlnClassDistribution"] = counts / n_particles
    with (out / f"{ROOT}_model.star").open("w") as handle:
        write_pairs(handle, "model_general", general)
        write_table(handle, "model_classes", model_classes)
    shutil.copyfile(source / f"{ROOT}_optimiser.star", out / f"{ROOT}_optimiser.star")

    size = write_data_star(source / f"{ROOT}_data.star", out / f"{ROOT}_data.star", classes)
    kept = n_classes // 2
    info = {
        "particles": n_particles,
        "classes": n_classes,
        "data_star": f"{ROOT}_data.star",
        "data_star_bytes": size,
        "min_particles": threshold,
        "keep_classes": [1, kept],
        "expected_rows": int(counts[:kept].sum()),
        "class_image_box": int(stack.shape[-1]),
        "source": str(source),
    }
    (out / "bench.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True,
                        help="small fake project (has Class2D/job001/run_it025_*)")
    parser.add_argument("--o", type=Path, required=True, help="output project directory (replaced)")
    parser.add_argument("--particles", type=int, required=True)
    parser.add_argument("--classes", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(make_big_job(args.source, args.o, args.particles, args.classes, args.seed)))


if __name__ == "__main__":
    main()
