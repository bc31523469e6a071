"""Shared builders for the evaluation tests (no tests here): synthetic maps and RELION projections."""

from __future__ import annotations

import subprocess
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import starfile


def two_blob_volume(n: int) -> np.ndarray:
    """An asymmetric smooth test map of two Gaussian blobs in an n^3 box."""
    z, y, x = np.indices((n,) * 3) - n // 2
    first = np.exp(-((x - 3) ** 2 + y ** 2 + z ** 2) / 8.0)
    second = np.exp(-(x ** 2 + (y - 4) ** 2 + (z + 2) ** 2) / 6.0)
    return (first + second).astype(np.float32)


def optics_table(angpix: float, box: int) -> pd.DataFrame:
    """A one-group RELION 3.1 optics table."""
    return pd.DataFrame({"rlnOpticsGroup": [1], "rlnOpticsGroupName": ["opticsGroup1"],
                         "rlnImagePixelSize": [angpix], "rlnImageSize": [box], "rlnImageDimensionality": [2],
                         "rlnVoltage": [300.0], "rlnSphericalAberration": [2.7],
                         "rlnAmplitudeContrast": [0.1]})


def random_poses(count: int, seed: int = 0) -> pd.DataFrame:
    """Uniformly distributed 3D orientations, no shifts."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"rlnAngleRot": rng.uniform(-180, 180, count),
                         "rlnAngleTilt": np.degrees(np.arccos(rng.uniform(-1, 1, count))),
                         "rlnAnglePsi": rng.uniform(-180, 180, count), "rlnOriginXAngst": 0.0,
                         "rlnOriginYAngst": 0.0, "rlnOpticsGroup": 1})


def write_map(path: Path, data: np.ndarray, angpix: float) -> Path:
    """Write an MRC map with its pixel size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with mrcfile.new(path, overwrite=True) as m:
        m.set_data(np.asarray(data, dtype=np.float32))
        m.voxel_size = angpix
    return path


def relion_project(cwd: Path, map_name: str, poses: pd.DataFrame, angpix: float, box: int,
                   out_root: str) -> Path:
    """Project ``map_name`` at ``poses`` with relion_project; returns the written STAR file."""
    starfile.write({"optics": optics_table(angpix, box), "particles": poses}, cwd / "angles.star")
    (cwd / out_root).parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["relion_project", "--i", map_name, "--o", out_root, "--ang", "angles.star"], cwd=cwd,
                   check=True, capture_output=True)
    return cwd / f"{out_root}.star"
