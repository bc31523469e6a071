"""Grouping the kept 2D classes by structure (``groups``): the clustering on a deterministic mixture of
two clearly different shapes, and the select job's particles_group_N.star files, nodes and columns."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import starfile
from scipy.spatial.transform import Rotation

from relion_cryodiscovery.cli.external_args import parse_external
from relion_cryodiscovery.cli.main import main as cli
from relion_cryodiscovery.data.grouping import AUTO, cluster, common_line_similarity, group_classes, silhouette
from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.pipeline.class_scores import SCORE_COLUMNS
from relion_cryodiscovery.relion.sentinels import FAILURE, SUCCESS

DATA = "Class2D/job001/run_it025_data.star"
SIZE = 64


def _shape(name: str) -> np.ndarray:
    """Points (A) of two shapes no view of which looks like the other's: a bent rod of 9 blobs 25-95 A
    long, and a flat ring of 8 blobs 60 A across with one blob off its plane."""
    if name == "rod":
        t = np.linspace(-1, 1, 9)
        return np.c_[45 * t, 12 * t**2, np.zeros_like(t)]
    angle = 2 * np.pi * np.arange(8) / 8
    return np.r_[np.c_[30 * np.cos(angle), 30 * np.sin(angle), np.zeros(8)], [[0, 0, 20]]]


def _views(name: str, n: int, seed: int) -> np.ndarray:
    """``n`` class-average-like views of a shape (random 3D orientations, shifts of up to 2 pixels,
    Gaussian blobs 6 A wide at 2 A/px, a little noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.indices((SIZE, SIZE)) - (SIZE - 1) / 2
    views = []
    for rotation in Rotation.random(n, random_state=seed):
        points = rotation.apply(_shape(name))[:, :2] / 2.0 + rng.uniform(-2, 2, 2)
        image = sum(np.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * 3.0**2)) for px, py in points)
        views.append(image + rng.normal(0, 0.05, image.shape))
    return np.asarray(views, dtype=np.float32)


def _mixture() -> tuple[np.ndarray, np.ndarray]:
    """Eight views of each shape, interleaved: (views, truth)."""
    views = np.concatenate([_views("rod", 8, 1), _views("ring", 8, 2)])
    truth = np.r_[np.zeros(8, int), np.ones(8, int)]
    order = np.random.default_rng(3).permutation(16)
    return views[order], truth[order]


def test_two_clearly_different_shapes_are_separated():
    views, truth = _mixture()
    similarity = common_line_similarity(views)
    assert np.allclose(similarity, similarity.T) and np.allclose(np.diag(similarity), 1.0)
    same = truth[:, None] == truth[None]
    off = ~np.eye(16, dtype=bool)
    assert similarity[same & off].mean() > similarity[~same].mean()
    for asked in (2, AUTO):
        groups = group_classes(views, asked)
        assert len(set(groups)) == 2, asked
        assert all(len(set(truth[groups == g])) == 1 for g in (1, 2)), asked  # every group pure


def test_one_shape_stays_one_group_with_auto_and_groups_are_numbered_by_particles():
    views = _views("ring", 10, 4)
    assert set(group_classes(views, AUTO)) == {1}
    mixed, truth = _mixture()
    weights = np.where(truth == 1, 1000, 10)  # the rings hold most particles: they are group 1
    groups = group_classes(mixed, 2, weights)
    assert set(groups[truth == 1]) == {1} and set(groups[truth == 0]) == {2}
    assert list(group_classes(mixed[:1], 3)) == [1] and len(group_classes(mixed[:0], AUTO)) == 0
    assert len(set(cluster(common_line_similarity(mixed[:3]), 5))) == 3  # at most one group per class


def test_silhouette_as_defined():
    distance = np.array([[0, 1, 4, 5], [1, 0, 4, 5], [4, 4, 0, 2], [5, 5, 2, 0]], dtype=float)
    labels = np.array([1, 1, 2, 2])
    a = np.array([1, 1, 2, 2])
    b = np.array([4.5, 4.5, 4, 5])
    assert silhouette(distance, labels) == pytest.approx(np.mean((b - a) / np.maximum(a, b)))
    assert silhouette(distance, np.array([1, 1, 1, 2])) == pytest.approx(
        np.mean([(5 - 2.5) / 5, (5 - 2.5) / 5, (2 - 4) / 4, 0.0]))  # a class alone counts 0


@pytest.mark.parametrize("value, grouping", [("auto", AUTO), ("3", 3), ("0", None), ("", None)])
def test_groups_parameter(value, grouping):
    args = parse_external(["--o", "x/", "--in_parts", "a_data.star", "--groups", value])
    assert args.parameters.grouping == grouping


@pytest.mark.parametrize("value", ["-1", "2.5", "some", "51"])
def test_bad_groups_are_refused(value):
    with pytest.raises(CryoDiscoveryError, match="groups must be 0"):
        parse_external(["--o", "x/", "--in_parts", "a_data.star", "--groups", value])


def _select(project: Path, model: Path, out: str, *extra: str) -> int:
    cwd = os.getcwd()
    os.chdir(project)
    try:
        return cli(["select", "--o", out, "--in_parts", DATA, "--model", str(model), "--j", "1", "--min_classes", "6",
                    *extra])
    finally:
        os.chdir(cwd)


def _rows(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if "@" in line]


def _header(path: Path) -> str:
    text = path.read_text()
    return text[: text.index(_rows(path)[0])]


@pytest.mark.parametrize("version, node_type", [("3.1", "3"), ("4.0", "ParticlesData.star.relion"),
                                                ("5.0", "ParticleGroupMetadata.star.relion")])
def test_select_writes_one_particles_file_per_group(project, session_tiny_model, version, node_type):
    out = project / "External/job003"
    assert _select(project, session_tiny_model, "External/job003/", "--groups", "2", "--relion_version", version) == 0
    scores = pd.read_csv(out / "cryodiscovery_scores.csv")
    assert list(scores.columns) == [*SCORE_COLUMNS, "group"]  # a new column after the existing ones
    kept = scores.selected == 1
    assert (scores.loc[~kept, "group"] == 0).all() and set(scores.loc[kept, "group"]) == {1, 2}
    data = starfile.read(project / DATA, always_dict=True)["particles"]
    everything = _rows(out / "particles.star")
    union = []
    for group in (1, 2):
        path = out / f"particles_group_{group}.star"
        members = set(scores.loc[scores.group == group, "class_number"])
        rows = _rows(path)
        expected = data.loc[data.rlnClassNumber.isin(members), "rlnImageName"].tolist()
        assert [row.split()[0] for row in rows] == expected and rows  # the group's rows, in order, never empty
        assert _header(path) == _header(out / "particles.star")  # the same optics and columns
        union += rows
    assert sorted(union) == sorted(everything)

    nodes = starfile.read(out / "RELION_OUTPUT_NODES.star")
    column = "rlnPipeLineNodeType" if version == "3.1" else "rlnPipeLineNodeTypeLabel"
    declared = dict(zip(nodes.rlnPipeLineNodeName, nodes[column].astype(str)))
    for name in ("particles.star", "particles_group_1.star", "particles_group_2.star"):
        assert declared[f"External/job003/{name}"] == node_type
    assert "group" in json.loads((out / "cryodiscovery_scores.json").read_text())["columns"]
    assert "cdiGroup" in (out / "cryodiscovery_scores.star").read_text()
    assert "groups=2" in (out / "cryodiscovery_scores.json").read_text()


def test_groups_off_writes_what_it_wrote_before_and_a_rerun_removes_stale_groups(project, session_tiny_model):
    out = project / "External/job003"
    assert _select(project, session_tiny_model, "External/job003/", "--groups", "auto") == 0
    assert list(out.glob("particles_group_*.star"))
    assert _select(project, session_tiny_model, "External/job003/") == 0  # off (the default): no trace left
    assert not list(out.glob("particles_group_*.star"))
    default = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert _select(project, session_tiny_model, "External/job004/", "--groups", "0") == 0
    explicit = {p.name: p.read_bytes() for p in (project / "External/job004").iterdir() if p.is_file()}
    assert default.keys() == explicit.keys()
    for name in default:
        if name.startswith(("run.", "rank_optimiser")) or "RELION_OUTPUT_NODES" in name:
            continue  # (name the job directory)
        strip = [line for line in default[name].split(b"\n") if b"date" not in line.lower()]
        assert strip == [line for line in explicit[name].split(b"\n") if b"date" not in line.lower()], name
    assert list(pd.read_csv(out / "cryodiscovery_scores.csv").columns) == list(SCORE_COLUMNS)
    assert b"groups" not in default["cryodiscovery_scores.json"]
    nodes = starfile.read(out / "RELION_OUTPUT_NODES.star")
    assert not nodes.rlnPipeLineNodeName.str.contains("group").any()


def test_a_failure_after_the_groups_are_staged_leaves_none_of_them(project, session_tiny_model, monkeypatch):
    from relion_cryodiscovery.relion import outputs

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(outputs, "write_rank_files", broken)
    out = project / "External/job003"
    assert _select(project, session_tiny_model, "External/job003/", "--groups", "2") == 1
    assert (out / FAILURE).exists() and not (out / SUCCESS).exists()
    assert not list(out.glob("particles*.star")) and not list(out.glob(".cryodiscovery_staging*"))
