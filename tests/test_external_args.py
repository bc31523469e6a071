"""Parsing the command line RELION builds for an External job."""

import pytest

from relion_cryodiscovery.cli.external_args import parse_external, tokenize
from relion_cryodiscovery.errors import CryoDiscoveryError


def test_relion_command_line_exactly_as_observed():
    argv = "--o External/job002/ --in_parts Class2D/job001/run_it020_data.star --min_score 0.4 --montage --j 2 --pipeline_control External/job002/".split()
    args = parse_external(argv)
    assert args.out_dir == "External/job002/"
    assert args.inputs == {"in_parts": "Class2D/job001/run_it020_data.star"}
    assert args.parameters.min_score == 0.4
    assert args.parameters.threads == 2
    assert args.parameters.montage is True
    assert args.parameters.unknown == {}


def test_values_with_spaces_are_joined_and_empty_values_allowed():
    values = tokenize(["--model", "/data/my", "models/v1", "--gpus", "--min_classes", "3"])
    assert values == {"model": "/data/my models/v1", "gpus": "", "min_classes": "3"}


def test_unknown_labels_are_kept_for_a_warning():
    args = parse_external(["--o", "x/", "--in_parts", "a_data.star", "--probe_extra", "yes"])
    assert args.parameters.unknown == {"probe_extra": "yes"}


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--min_score", "1.5"], "min_score must be between 0 and 1"),
        (["--min_score", "high"], "needs a float"),
        (["--batch_size", "0"], "batch_size"),
        (["--min_particles", "-4"], "min_particles"),
        (["--j", "0"], "--j"),
        (["--montage", "maybe"], "yes or no"),
    ],
)
def test_absurd_parameters_are_refused(extra, message):
    with pytest.raises(CryoDiscoveryError, match=message):
        parse_external(["--o", "x/", "--in_parts", "a_data.star", *extra])


def test_missing_input_is_refused():
    with pytest.raises(CryoDiscoveryError, match="--in_parts is required"):
        parse_external(["--o", "x/"])
