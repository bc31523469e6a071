"""RELION_OUTPUT_NODES.star per RELION version, compared with the contract's labels."""

import io

import pytest

from relion_cryodiscovery.relion.nodes import (OutputNode, choose_version, detect_relion_version, version_conflict,
                                               write_nodes)

NODES = [
    OutputNode("External/job012/particles.star", "particles"),
    OutputNode("External/job012/class_averages.star", "class_averages"),
    OutputNode("External/job012/rank_model.star", "rank_model"),
    OutputNode("External/job012/rank_optimiser.star", "rank_optimiser"),
]

EXPECTED = {
    "3.1": [
        ("External/job012/particles.star", "3"),
        ("External/job012/class_averages.star", "5"),
        ("External/job012/rank_model.star", "8"),
    ],
    "4.0": [
        ("External/job012/particles.star", "ParticlesData.star.relion"),
        ("External/job012/class_averages.star", "ImagesData.star.relion.classaverages"),
        ("External/job012/rank_optimiser.star", "ProcessData.star.relion.optimiser.autoselect"),
    ],
    "5.0": [
        ("External/job012/particles.star", "ParticleGroupMetadata.star.relion"),
        ("External/job012/class_averages.star", "Image2DGroupMetadata.star.relion.classaverages"),
        ("External/job012/rank_optimiser.star", "OptimiserData.star.relion.select"),
    ],
}


@pytest.mark.parametrize("version", ["3.1", "4.0", "5.0"])
def test_labels_match_the_contract(version):
    out = io.StringIO()
    write_nodes(out, NODES, version)
    text = out.getvalue()
    assert "data_output_nodes" in text
    assert ("# version 50001" in text) == (version == "5.0")
    loop = [line.rstrip() for line in text.split("loop_")[1].strip().splitlines()]
    assert loop[:3] == ["_rlnPipeLineNodeName #1", "_rlnPipeLineNodeType #2", "_rlnPipeLineNodeTypeLabel #3"]
    rows = [line.split() for line in loop[3:]]
    assert "" not in [line.strip() for line in loop], "no blank line inside the loop"
    column = 1 if version == "3.1" else 2
    assert [(row[0], row[column]) for row in rows] == EXPECTED[version]


def test_version_detected_from_job_star(tmp_path):
    (tmp_path / "job.star").write_text("data_job\n\n_rlnJobType 99\n_rlnJobIsContinue 0\n")
    assert detect_relion_version(tmp_path, tmp_path) == "3.1"
    (tmp_path / "job.star").write_text("\n# version 30001\n\ndata_job\n\n_rlnJobTypeLabel relion.external\n")
    assert detect_relion_version(tmp_path, tmp_path) == "4.0"
    (tmp_path / "job.star").write_text("\n# version 50001\n\ndata_job\n\n_rlnJobTypeLabel relion.external\n")
    assert choose_version("auto", tmp_path)[0] == "5.0"
    assert choose_version("3.1", tmp_path)[0] == "3.1"


def test_forced_version_that_contradicts_the_project_is_warned(tmp_path):
    (tmp_path / "job.star").write_text("\n# version 50001\n\ndata_job\n\n_rlnJobTypeLabel relion.external\n")
    warning = version_conflict("4.0", tmp_path)
    assert warning is not None and "RELION 5.0" in warning and "relion_version auto" in warning
    assert version_conflict("5.0", tmp_path) is None
    empty = tmp_path / "no_project"
    empty.mkdir()
    assert version_conflict("4.0", empty) is None  # nothing to contradict
