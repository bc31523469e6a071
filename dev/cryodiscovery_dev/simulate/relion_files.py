"""Writers for the RELION 3.1 files the simulator produces: STAR tables, MRC stacks, pipelines,
and Select jobs. Output is byte-deterministic (no timestamps), formatted like RELION's own."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Mapping

import mrcfile
import numpy as np
import pandas as pd

from relion_cryodiscovery.relion.star import write_pairs, write_table

Block = pd.DataFrame | Mapping[str, object]

#: Process and node types of RELION 3.1 (``pipeline_jobs.h``).
PROC_CLASS2D, PROC_SELECT = 8, 7
NODE_PART_DATA, NODE_2DREFS, NODE_MODEL = 3, 5, 8


def format_star(blocks: Mapping[str, Block]) -> str:
    """STAR text in RELION 3.1 layout; DataFrames become loops, mappings become key/value blocks."""
    out = io.StringIO()
    for name, block in blocks.items():
        if isinstance(block, pd.DataFrame):
            write_table(out, name, block)
        else:
            write_pairs(out, name, dict(block))
    return out.getvalue()


def write_star(path: str | Path, blocks: Mapping[str, Block]) -> Path:
    """Write ``blocks`` (name -> table) to ``path``; the name "" gives RELION's unnamed ``data_``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_star(blocks))
    return path


def write_stack(path: str | Path, images: np.ndarray, pixel_size: float) -> Path:
    """Write a float32 MRC image stack (N, box, box) with the pixel size in the header."""
    return _write_mrc(path, images, pixel_size, stack=True)


def write_map(path: str | Path, volume: np.ndarray, pixel_size: float) -> Path:
    """Write a float32 MRC density map (box, box, box) with the pixel size in the header."""
    return _write_mrc(path, volume, pixel_size, stack=False)


def _write_mrc(path: str | Path, data: np.ndarray, pixel_size: float, stack: bool) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with mrcfile.new(str(path), overwrite=True) as m:
        m.set_data(np.ascontiguousarray(data, dtype=np.float32))
        m.set_image_stack() if stack else m.set_volume()
        m.voxel_size = pixel_size
        # replaces mrcfile's timestamped label; the package's name before the simulators moved to the developer
        # package, kept so the committed corpus's maps regenerate byte for byte
        m.header.label[0] = b"relion_cryodiscovery.simulate"
        m.header.nlabl = 1
    return path


def image_names(stack: str, n: int) -> list[str]:
    """RELION image references ``000001@stack`` ... for n images."""
    return [f"{i:06d}@{stack}" for i in range(1, n + 1)]


def write_pipeline(path: str | Path, job_counter: int, processes: list[tuple[str, str, int, int]],
                   nodes: list[tuple[str, int]], input_edges: list[tuple[str, str]],
                   output_edges: list[tuple[str, str]]) -> Path:
    """A RELION 3.1 ``default_pipeline.star`` (processes: name, alias, type, status)."""
    cols = {
        "pipeline_processes": (["rlnPipeLineProcessName", "rlnPipeLineProcessAlias", "rlnPipeLineProcessType",
                                "rlnPipeLineProcessStatus"], processes),
        "pipeline_nodes": (["rlnPipeLineNodeName", "rlnPipeLineNodeType"], nodes),
        "pipeline_input_edges": (["rlnPipeLineEdgeFromNode", "rlnPipeLineEdgeProcess"], input_edges),
        "pipeline_output_edges": (["rlnPipeLineEdgeProcess", "rlnPipeLineEdgeToNode"], output_edges),
    }
    blocks: dict[str, Block] = {"pipeline_general": {"rlnPipeLineJobCounter": job_counter}}
    blocks.update({k: pd.DataFrame(rows, columns=c) for k, (c, rows) in cols.items() if rows})
    return write_star(path, blocks)


def set_process_status(pipeline: str | Path, process: str, status: int) -> None:
    """Change one process's status (0 running, 1 scheduled, 2 finished) in a default_pipeline.star,
    keeping RELION's column layout."""
    path = Path(pipeline)
    pattern = re.compile(rf"^({re.escape(process)}\s+\S+\s+\d+\s+)(\d+)(\s*)$", re.MULTILINE)
    text, n = pattern.subn(lambda m: m.group(1) + str(status).rjust(len(m.group(2))) + m.group(3), path.read_text())
    if n != 1:
        raise ValueError(f"process {process} found {n} times in {path}")
    path.write_text(text)


def write_select_job(project: str | Path, select_job: str, optics: pd.DataFrame, particles: pd.DataFrame,
                     model_classes: pd.DataFrame, selected: np.ndarray, note: str,
                     write_particles: bool = True) -> Path:
    """Files of a finished RELION 3.1 Select job for 2D classes: backup_selection.star (one
    ``rlnSelected`` row per class), class_averages.star (selected ``model_classes`` rows plus
    ``rlnClassNumber``), particles.star (selected classes' particles), note.txt, success marker."""
    job = Path(project) / select_job
    job.mkdir(parents=True, exist_ok=True)
    selected = np.asarray(selected, dtype=int)
    if len(selected) != len(model_classes):
        raise ValueError(f"{len(selected)} selection values for {len(model_classes)} classes")
    write_star(job / "backup_selection.star", {"": pd.DataFrame({"rlnSelected": selected})})
    chosen = np.flatnonzero(selected > 0) + 1
    avgs = model_classes.assign(rlnClassNumber=np.arange(1, len(model_classes) + 1)).iloc[chosen - 1]
    write_star(job / "class_averages.star", {"": avgs.reset_index(drop=True)})
    if write_particles:
        keep = particles[particles["rlnClassNumber"].isin(chosen)].reset_index(drop=True)
        write_star(job / "particles.star", {"optics": optics, "particles": keep})
    (job / "note.txt").write_text(note)
    (job / "RELION_JOB_EXIT_SUCCESS").touch()
    return job
