"""Real-set loading and per-set metrics, on a set written here in the layout the loader expects."""

import mrcfile
import numpy as np

from relion_cryodiscovery.evaluation.real_sets import RealSetSpec, hf_baseline, load_real_set, set_metrics


def test_load_and_erase(tmp_path):
    images = np.random.default_rng(0).normal(0, 1, (4, 32, 32)).astype(np.float32)
    with mrcfile.new(tmp_path / "s.mrcs") as m:
        m.set_data(images)
        m.voxel_size = 1.5
    (tmp_path / "labels.csv").write_text("class,label\n1,1\n2,0\n3,1\n4,0\n")
    (tmp_path / "counts.csv").write_text("n\n100\n10\n50\n5\n")
    spec = RealSetSpec("toy", "s.mrcs", labels="labels.csv", counts=("counts.csv", "n"), erase=((0, 0, 4, 0, 4),))
    real = load_real_set(spec, tmp_path)
    assert real.classes.pixel_size == 1.5
    assert list(real.labels) == [1, 0, 1, 0]
    assert list(real.classes.particle_counts) == [100, 10, 50, 5]
    assert np.ptp(real.classes.images[0, :4, :4]) == 0
    assert load_real_set(RealSetSpec("missing", "nope.mrcs"), tmp_path) is None
    assert hf_baseline(real.classes).shape == (4,)


def test_set_metrics():
    labels = np.array([1, 1, 0, 0])
    scores = np.array([0.9, 0.4, 0.3, 0.1])
    m = set_metrics(labels, scores, scores >= 0.35, hf=np.array([1, 0, 0.5, 0.2]), counts=np.array([9, 8, 1, 2]))
    assert m["auc"] == 1.0 and m["false_negatives"] == 0 and m["kept"] == 2
    assert m["auc_distribution_baseline"] == 1.0
    assert m["auc_hf_baseline"] == 0.5
    only = set_metrics(np.ones(3), np.array([0.9, 0.2, 0.8]), np.array([True, False, True]), np.zeros(3), None)
    assert np.isnan(only["auc"]) and only["fnr"] == 1 / 3


def test_disputed_labels_left_out_and_gallery_order_baseline(tmp_path):
    images = np.random.default_rng(1).normal(0, 1, (4, 32, 32)).astype(np.float32)
    with mrcfile.new(tmp_path / "g.mrcs") as m:
        m.set_data(images)
    (tmp_path / "labels.csv").write_text("class,label\n1,1\n2,-1\n3,1\n4,0\n")
    real = load_real_set(RealSetSpec("gallery", "g.mrcs", labels="labels.csv", gallery_order=True), tmp_path)
    assert list(real.labels) == [1, 1, 0] and len(real.classes.images) == 3
    np.testing.assert_array_equal(real.classes.images[1], images[2])
    assert list(real.classes.class_numbers) == [1, 3, 4]  # the source's numbers, not renumbered (junk kinds by eye)
    assert list(real.counts) == [3, 2, 1]  # rank by gallery position, for the baseline only
    assert real.classes.particle_counts is None and not real.classes.metadata
