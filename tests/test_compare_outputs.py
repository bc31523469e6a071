"""scripts/compare_outputs.py (:mod:`cryodiscovery_dev.compare_outputs`), the reviewer's check that outputs are byte-identical apart from comments."""

from __future__ import annotations

import json
from pathlib import Path

from cryodiscovery_dev.compare_outputs import compare

STAR = "# {comment}\n\ndata_cryodiscovery_general\n\n_cdiModelVersion 0.4.0\n_cdiDate {date}\n\n" \
       "data_x\n\nloop_\n_rlnSelected #1\n{value}\n"


def _write(directory: Path, comment: str, date: str, value: str, csv_header: bool) -> None:
    directory.mkdir()
    (directory / "rank_model.star").write_text(STAR.format(comment=comment, date=date, value=value))
    header = "# model_version: 0.4.0\n# date: 2026\n" if csv_header else ""
    (directory / "cryodiscovery_scores.csv").write_text(header + "class_number,score\n1,0.5\n")
    if not csv_header:
        (directory / "cryodiscovery_scores.json").write_text(json.dumps({"provenance": {"model_version": "0.4.0",
                                                                                        "date": "2027"}}))


def test_comments_date_and_the_csv_change_are_allowed_but_values_are_not(tmp_path: Path) -> None:
    _write(tmp_path / "before", "old comment", "2026-01-01", "1", csv_header=True)
    _write(tmp_path / "after", "new comment", "2026-12-07", "1", csv_header=False)
    assert compare(tmp_path / "before", tmp_path / "after") == []
    _write(tmp_path / "changed", "old comment", "2026-01-01", "0", csv_header=False)
    problems = compare(tmp_path / "before", tmp_path / "changed")
    assert problems == ["rank_model.star: content differs"]
