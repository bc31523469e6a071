"""The library API, ``relion_cryodiscovery.score`` and ``.select``, on the bundled example with the shipped model."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import starfile

import relion_cryodiscovery as cd
from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.pipeline import SCORE_COLUMNS, JobParameters
from relion_cryodiscovery.relion.sentinels import FAILURE, SUCCESS


def test_importing_the_package_loads_neither_tensorflow_nor_pandas() -> None:
    code = ("import sys, relion_cryodiscovery as cd; cd.score; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'pandas') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_score_a_job_directory_returns_the_csv_table(example_project: Path, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.chdir(example_project)
    out = tmp_path / "scored"
    table = cd.score("Class2D/job001", out_dir=out, threads=1)
    assert list(table.columns) == list(SCORE_COLUMNS)
    assert len(table) == 12 and list(table["class_number"]) == list(range(1, 13))
    data = starfile.read(sorted(Path("Class2D/job001").glob("run_it*_data.star"))[-1], always_dict=True)["particles"]
    assert table["particles"].sum() == len(data)
    written = pd.read_csv(out / "cryodiscovery_scores.csv")  # plain CSV: pandas reads it as it is
    pd.testing.assert_frame_equal(table, written, check_exact=False, atol=5e-7)
    assert (out / "cryodiscovery_scores.json").is_file() and (out / "cryodiscovery_montage.png").is_file()
    # without out_dir nothing is kept, and the same table comes back
    again = cd.score("Class2D/job001", threads=1)
    pd.testing.assert_frame_equal(again, table)


def test_score_a_bare_stack_needs_no_metadata(example_project: Path) -> None:
    stack = sorted((example_project / "Class2D/job001").glob("run_it*_classes.mrcs"))[-1]
    table = cd.score(stack, angpix=3.0, threads=1)
    assert len(table) == 12 and (table["particles"] == -1).all()
    assert table["score"].between(0, 1).all()


def test_select_is_the_external_job(example_project: Path, example_data_star: str, monkeypatch) -> None:
    monkeypatch.chdir(example_project)
    table = cd.select(example_data_star, "External/job003/", min_particles=10, threads=1)
    out = example_project / "External/job003"
    assert (out / SUCCESS).is_file() and (out / "RELION_OUTPUT_NODES.star").is_file()
    pd.testing.assert_frame_equal(table, pd.read_csv(out / "cryodiscovery_scores.csv"), check_exact=False, atol=5e-7)
    backup = starfile.read(out / "backup_selection.star")["rlnSelected"].to_numpy()
    assert list(backup) == list(table["selected"])
    few = table["particles"] < 10
    assert few.any() and (table.loc[few, "selected"] == 0).all()
    assert table.loc[few, "reason"].str.startswith("too few particles").all()
    kept = starfile.read(out / "particles.star", always_dict=True)["particles"]
    assert len(kept) == table.loc[table.selected == 1, "particles"].sum()


def test_select_raises_and_leaves_relion_failure(example_project: Path, monkeypatch) -> None:
    monkeypatch.chdir(example_project)
    with pytest.raises(CryoDiscoveryError, match="file not found"):
        cd.select("Class2D/job001/run_it999_data.star", "External/job004/")
    assert (example_project / "External/job004" / FAILURE).is_file()
    with pytest.raises(CryoDiscoveryError, match="strictness must be one of"):
        cd.select("Class2D/job001", "External/job006/", strictness="medium")
    assert (example_project / "External/job006" / FAILURE).is_file()


@pytest.mark.parametrize("verb, arguments", [(cd.select, ("Class2D/job001", "External/job005/")),
                                             (cd.score, ("Class2D/job001", None, "scored/"))])
def test_a_misspelt_keyword_fails_at_the_call(verb, arguments, example_project: Path, monkeypatch) -> None:
    """A typo is a TypeError raised by the call itself: nothing is read, no output directory is made."""
    monkeypatch.chdir(example_project)
    with pytest.raises(TypeError, match="min_scor"):
        verb(*arguments, min_scor=0.5)
    assert not (example_project / arguments[-1]).exists()


@pytest.mark.parametrize("verb", [cd.score, cd.select])
def test_keywords_are_typed_documented_parameters_with_their_defaults(verb) -> None:
    """Each keyword after the paths is a JobParameters field with the same default, has a type, and is
    described under Args (with Returns and Raises) in the docstring."""
    defaults = {f.name: f.default for f in dataclasses.fields(JobParameters)}
    signature = inspect.signature(verb)
    keywords = [p for p in signature.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert keywords and all(p.annotation is not inspect.Parameter.empty for p in signature.parameters.values())
    # every parameter of a run, but those the run does not read (and the External tab's unknown labels)
    not_read = {"relion_version"} if verb is cd.score else {"angpix"}
    assert {p.name for p in signature.parameters.values()} >= set(defaults) - not_read - {"unknown"}
    for parameter in keywords:
        assert parameter.name in defaults
        if not (verb is cd.score and parameter.name == "montage"):  # score: None = only with out_dir
            assert parameter.default == defaults[parameter.name], parameter.name
    doc = inspect.getdoc(verb)
    for section in ("Args:", "Returns:", "Raises:"):
        assert section in doc
    args = doc.split("Args:")[1].split("Returns:")[0]
    for name in signature.parameters:
        assert f"\n    {name}: " in args, name
    raises = doc.split("Raises:")[1]
    for error in ("TypeError", "CryoDiscoveryError", "JobAborted", "OSError"):
        assert f"\n    {error}: " in raises, error


def test_a_class_scoring_exactly_min_score_is_kept(example_project: Path) -> None:
    """The README and ``SelectionRule.min_score`` say a class is kept when its calibrated P(good) is
    ``>= min_score``: a class whose score equals ``min_score`` exactly is kept (by its score, not by
    ``min_classes``), and every class scoring below it is dropped. Checked through the whole job with
    ``min_score`` set to the exact score of one of the example's classes (as the score table gives it).
    """
    job = example_project / "Class2D/job001"
    first = cd.score(job, threads=1)
    scores = first["score"].to_numpy()
    middle = sorted(set(scores))[len(set(scores)) // 2]  # a class with classes above and below it
    assert (scores < middle).any() and (scores > middle).any()
    again = cd.score(job, threads=1, min_score=float(middle))
    pd.testing.assert_series_equal(again["score"], first["score"])  # the same scores, another threshold
    at = again["score"] == middle
    assert (again.loc[at, "selected"] == 1).all() and (again.loc[at, "reason"] == "selected").all()
    eligible = again["particles"] != 0
    assert (again.loc[eligible, "selected"] == (again.loc[eligible, "score"] >= middle).astype(int)).all()
    assert again.loc[again["score"] < middle, "reason"].str.contains(f"< min_score {middle:.3f}").all()
