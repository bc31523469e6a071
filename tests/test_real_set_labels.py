"""The label files kept in the repository for the real sets (benchmarks/real_sets/) parse and match their specs.

The images live outside the checkout (../real_extra), so this checks only what is committed: every set whose
labels are in the repository has a file with one row per class, numbered 1..k, and labels in {-1, 0, 1}.
"""

import csv
from pathlib import Path

import pytest

from relion_cryodiscovery.evaluation.real_sets import EXTRA_SETS, LABELS_IN_REPO, SHARED_SETS

IN_REPO = [spec for spec in SHARED_SETS + EXTRA_SETS
           if spec.labels and Path(spec.labels).is_absolute() and Path(spec.labels).parent == LABELS_IN_REPO]

#: Classes, kept (1), rejected (0) and left out (-1) of the sets added in issue #20's second search.
EXPECTED = {
    "xtremed_relion3_job009_select": (50, 4, 46, 0),
    "xtremed_relion3_job023_select": (100, 6, 94, 0),
    "slicem_mixture_k100_byeye": (100, 71, 27, 2),
    "cryosparc_empiar10880_k100_byeye": (100, 37, 63, 0),
    # third search: the source's class scores, the middle scores and the empty classes left out
    "magellon_empiar10812_sample100": (100, 10, 56, 34),
    # fourth search: a lab's good / bad teaching figure
    "cianfrocco_oldschool_goodbad24": (24, 12, 12, 0),
}


@pytest.mark.parametrize("spec", IN_REPO, ids=[spec.name for spec in IN_REPO])
def test_label_file_parses(spec):
    with open(spec.labels, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, spec.labels
    classes = [int(row.get("class") or row.get("class_number")) for row in rows]
    assert classes == list(range(1, len(rows) + 1))
    labels = [int(row["label"]) for row in rows]
    assert set(labels) <= {-1, 0, 1}
    if spec.name in EXPECTED:
        k, kept, rejected, left_out = EXPECTED[spec.name]
        assert (len(labels), labels.count(1), labels.count(0), labels.count(-1)) == (k, kept, rejected, left_out)


def test_new_sets_have_specs():
    names = {spec.name for spec in EXTRA_SETS}
    assert set(EXPECTED) <= names
