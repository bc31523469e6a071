"""The out-of-domain check on what it is for: inputs that are not cryo-EM class averages are flagged
(checkerboards, ramps, noise, constant images, photographs and text, raw micrograph patches), simulated
class-average jobs and the bundled example are not.

The reference is fitted here from a small simulated lab corpus (a few seconds); the shipped model's own
reference is checked the same way when it has one (models from 0.6.0; skipped before). The measured
rates on the full corpus and the real sets are in docs/model_card_notes.md (scripts/domain_check_demo.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from relion_cryodiscovery.data.inputs import model_inputs
from relion_cryodiscovery.model.card import ModelCard
from relion_cryodiscovery.model.domain import REFERENCE_FILE, attach_domain_reference, check_job, fit_domain_reference
from relion_cryodiscovery.relion.classes import ClassSet
from cryodiscovery_dev.simulate import lab_classes
from cryodiscovery_dev.simulate.atomic import catalog
from cryodiscovery_dev.simulate.lab_models import model_pool
from cryodiscovery_dev.simulate.not_class_averages import PROBE_KINDS, probe_job

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_JOB = REPO / "examples" / "class2d_small" / "Class2D" / "job001"
SHIPPED = REPO / "models" / "default"
#: Jobs of the small corpus: training, validation, held out (never seen by the reference).
N_TRAIN, N_VAL, N_HELD_OUT = 24, 6, 4


def _lab_job(seed: int, n_classes: int = 16):
    """(views, features, labels, job ids) of the usable classes of a small simulated lab job."""
    models = [m for m in model_pool() if catalog()[m]["mass_kda"] < 300]  # the quick ones
    spec = lab_classes.random_job_spec(np.random.default_rng([seed, 1]), seed, models)
    spec = dataclasses.replace(spec, n_classes=n_classes, n_particles=spec.n_particles * n_classes // spec.n_classes)
    classes, truth = lab_classes.simulate_job(spec)
    inputs = model_inputs(classes)
    u = inputs.usable
    labels = np.array([c.good for c in truth], int)[u]
    return inputs.images[u], inputs.features[u], labels, np.full(int(u.sum()), f"lab{seed}")


@pytest.fixture(scope="module")
def corpus() -> list[tuple]:
    return [_lab_job(seed) for seed in range(N_TRAIN + N_VAL + N_HELD_OUT)]


@pytest.fixture(scope="module")
def reference(corpus):
    """The view signals fitted on the small corpus (16 principal components: it holds ~200 basis views), with
    the shipped model's feature distance (six validation jobs are too few to set that threshold)."""
    def stack(jobs, i):
        return np.concatenate([job[i] for job in jobs])

    train, val = corpus[:N_TRAIN], corpus[N_TRAIN:N_TRAIN + N_VAL]
    fitted = fit_domain_reference(stack(train, 1), stack(train, 3), stack(val, 1), stack(val, 3),
                                  train_images=stack(train, 0), val_images=stack(val, 0),
                                  train_labels=stack(train, 2), val_labels=stack(val, 2), seed=1, components=16)
    fitted.features = {k: v for k, v in ModelCard.load(SHIPPED).extra["domain"].items() if k != "views"}
    return fitted


def check(classes: ClassSet, reference, model_dir: Path | None = None):
    inputs = model_inputs(classes)
    u = inputs.usable
    p = np.zeros(int(u.sum()))
    return check_job(inputs.features[u], p, p, reference, inputs.images[u], model_dir, int((~u).sum()))


def example_classes() -> ClassSet:
    from relion_cryodiscovery.relion.job import locate_job, read_job

    if not EXAMPLE_JOB.is_dir():
        pytest.skip("bundled example not generated")
    return read_job(locate_job(EXAMPLE_JOB)).classes


@pytest.mark.parametrize("kind", PROBE_KINDS)
def test_a_job_of_twenty_non_class_averages_is_flagged(reference, kind):
    result = check(probe_job(kind, 20, seed=3), reference)
    assert result.out_of_domain, result.summary()
    assert result.summary().startswith("OUT OF DOMAIN")


@pytest.mark.parametrize("kind", ["checkerboard", "ramp", "noise", "constant", "text", "micrograph_ice",
                                  "micrograph_carbon", "micrograph_empty"])
def test_a_job_of_two_non_class_averages_is_flagged(reference, kind):
    result = check(probe_job(kind, 2, seed=5), reference)
    assert result.out_of_domain, result.summary()


def test_held_out_simulated_jobs_and_the_bundled_example_are_quiet(reference, corpus):
    for images, features, labels, _ in corpus[N_TRAIN + N_VAL:]:
        p = np.zeros(len(features))
        result = check_job(features, p, p, reference, images)
        assert len(result.signals) == 2 and not result.out_of_domain, result.summary()
    result = check(example_classes(), reference)
    assert not result.out_of_domain, result.summary()


def test_inverted_contrast_is_not_what_flags(reference, corpus):
    """The same classes with contrast inverted (some exports are): no signal moves past its threshold."""
    images, features, labels, _ = corpus[-1]
    p = np.zeros(len(features))
    assert not check_job(features, p, p, reference, -images).out_of_domain


def test_the_score_command_warns_on_photographs(reference, session_tiny_model, tmp_path, capsys):
    """End to end: the reference written into a model directory, read back by ``score`` through the card."""
    import shutil

    from relion_cryodiscovery.cli.main import main as cli
    from cryodiscovery_dev.simulate.relion_files import write_stack

    model = tmp_path / "model"
    shutil.copytree(session_tiny_model, model, ignore=shutil.ignore_patterns("checkpoints"))
    attach_domain_reference(model, reference)
    assert (model / REFERENCE_FILE).is_file()
    stack = tmp_path / "camera.mrcs"
    write_stack(stack, probe_job("camera", 12, seed=2).images, 1.5)
    assert cli(["score", "--i", str(stack), "--o", str(tmp_path / "out"), "--model", str(model), "--no_montage"]) == 0
    out = capsys.readouterr().out
    assert "domain_check: OUT OF DOMAIN: solvent" in out and "WARNING: this job looks unlike" in out


@pytest.mark.skipif(not (SHIPPED / REFERENCE_FILE).is_file(), reason="the shipped model has no view reference "
                    "(models before 0.6.0): scripts/fit_domain_reference.py adds one")
@pytest.mark.parametrize("kind", PROBE_KINDS)
def test_the_shipped_reference_flags_non_class_averages(kind):
    card = ModelCard.load(SHIPPED)
    result = check(probe_job(kind, 20, seed=3), card.extra["domain"], card.directory)
    assert result.out_of_domain and not result.note, result.summary()


@pytest.mark.skipif(not (SHIPPED / REFERENCE_FILE).is_file(), reason="the shipped model has no view reference")
def test_the_shipped_reference_is_quiet_on_the_bundled_example():
    card = ModelCard.load(SHIPPED)
    result = check(example_classes(), card.extra["domain"], card.directory)
    assert not result.out_of_domain and len(result.signals) == 2, result.summary()
