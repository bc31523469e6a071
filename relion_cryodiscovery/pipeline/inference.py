"""Scoring a job's classes: the model directory and card, the model loader, inference, the domain check.

A run starts its model first (:func:`start_model`), so the runtime's start-up and the ensemble load
overlap reading the job. The runtime is chosen without importing TensorFlow
(:func:`~relion_cryodiscovery.model.runtime.choose_runtime`): on the CPU, ONNX Runtime in a thread of
this process (:class:`BackgroundModel` with :func:`load_onnx`; its start-up is ~0.3 s, so a worker
process would not pay); with GPUs, or a model without ONNX files, TensorFlow. Every loader answers
the one :class:`ModelLoader` interface: submit the classes' inputs, do other work (the montage's
tiles), then collect the scores. For TensorFlow, :class:`WorkerModel` (load and inference in a child
process, :mod:`relion_cryodiscovery.model.worker`) is used when this process has not imported
TensorFlow (the External job); :class:`BackgroundModel` (a thread, inference in this process) when it
has (e.g. a Python session). :func:`score_classes` is therefore one inference path for all, and fills
the run's :class:`~.class_scores.ClassScores`.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

import numpy as np

from ..relion.classes import ClassSet
from ..data.features import FEATURE_NAMES
from ..errors import CryoDiscoveryError
from ..model.card import ModelCard
from ..model.domain import ADVICE as DOMAIN_ADVICE, DomainCheck, check_job
from ..model.runtime import ONNX, TENSORFLOW, choose_runtime
from ..model.shipped import default_model_dir
from ..model.worker import ModelWorker, load_ensemble, loaded_versions, worker_wanted
from ..relion.sentinels import ABORT_NOW, OutputDirectory
from ..timing import StepLog, timed
from .deferred import import_heavy
from .parameters import JobParameters
from .runner import native_stderr_to_log
from .class_scores import ClassScores

if TYPE_CHECKING:
    from ..data.inputs import ModelInputs
    from ..data.polarity import Polarity


class ModelLoader(Protocol):
    """A model being started beside the job: inputs in, the ensemble's per-class outputs back."""

    def submit(self, images: np.ndarray, features: np.ndarray, batch_size: int, abort_file: Path | None = None) -> None:
        """Hand over the usable classes' network inputs (does not wait for the model)."""

    def result(self) -> object:
        """Wait for the model and its predictions: an object with the fields of ``EnsembleScores``."""

    def timings(self) -> StepLog:
        """(step, seconds) of the load and the inference, for ``run.out``; after :meth:`result`."""

    def runtime(self) -> str:
        """Which runtime scores the job, with its versions once loaded (the provenance's ``runtime``):
        ``onnxruntime 1.32.0 (CPU, in the job process)``, ``tensorflow 2.21.0, keras 3.15.1 (model
        worker process; gpus 0,1)``."""

    def close(self) -> None:
        """Release the loader (idempotent); a load still running is stopped or waited for."""


def model_directory(model: str | None) -> Path:
    """The model directory a run uses: ``model`` or the shipped default."""
    directory = Path(model) if model else default_model_dir()
    if not directory.is_dir():
        raise CryoDiscoveryError(directory, "model directory not found")
    return directory


def read_card(directory: Path) -> ModelCard:
    """The model card, checked against this version's features (no TensorFlow needed)."""
    card = ModelCard.load(directory)
    if list(card.feature_names) != list(FEATURE_NAMES):
        raise CryoDiscoveryError(
            directory / "model_card.json",
            f"model {card.model_version} was trained on other features than this CryoDiscovery computes; "
            "use a model trained with this version",
        )
    return card


def load_model(directory: Path, parameters: JobParameters):
    """(ensemble, strategy) in ``directory`` on the chosen devices (TensorFlow starts here)."""
    return load_ensemble(directory, parameters.gpus, parameters.threads)


def load_onnx(directory: Path, parameters: JobParameters):
    """(ensemble, None): the ensemble in ``directory`` on ONNX Runtime (CPU; no TensorFlow)."""
    from ..model.onnx_members import OnnxEnsemble

    return OnnxEnsemble.load(directory, parameters.threads), None


class WorkerModel:
    """:class:`ModelLoader` over the model worker process (load and inference both in the child)."""

    def __init__(self, directory: Path, parameters: JobParameters, why: str = ""):
        self.worker = ModelWorker(directory, parameters.gpus, parameters.threads)
        self.why = why

    @property
    def peak_rss_mb(self) -> float | None:
        return self.worker.peak_rss_mb

    def submit(self, images: np.ndarray, features: np.ndarray, batch_size: int, abort_file: Path | None = None) -> None:
        self.worker.submit(images, features, batch_size, abort_file)

    def result(self) -> object:
        return self.worker.result()

    def timings(self) -> StepLog:
        log: StepLog = []
        if self.worker.started_after is not None:
            log.append(("job start-up until the model worker started", self.worker.started_after))
        log.append(("load model (in the worker process)", self.worker.seconds))
        log.append(("inference (in the worker process)", self.worker.inference_seconds))
        return log

    def runtime(self) -> str:
        return runtime_summary(self.worker.versions or "tensorflow", "model worker process", self.why)

    def close(self) -> None:
        self.worker.close()


class BackgroundModel:
    """:class:`ModelLoader` in this process: TensorFlow start-up and the ensemble load in a thread
    while the job's files are read, inference in :meth:`result`.

    Used for ONNX Runtime (``runtime="onnx"``, :func:`load_onnx`) and for TensorFlow when it is
    already imported in this process (else :class:`WorkerModel`, a process, overlaps much better: a
    thread shares the GIL with the reader). Native stderr goes to a log file
    (:func:`~.runner.native_stderr_to_log`) until the load is collected or :meth:`close`.
    """

    def __init__(self, directory: Path, parameters: JobParameters, runtime: str = "tensorflow", why: str = ""):
        self.kind = runtime
        self.why = why
        self.versions = ""
        self.seconds = 0.0
        self.inference_seconds = 0.0
        self.peak_rss_mb = None
        self._value: tuple | None = None
        self._error: BaseException | None = None
        self._request: tuple | None = None
        self._redirect = native_stderr_to_log()
        self._redirect.__enter__()
        # TensorFlow's import holds the GIL; the reader's many short numpy calls each wait for it
        # for up to the switch interval (5 ms by default), so shorten it while both run.
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._interval, 0.0005))
        self._thread = threading.Thread(target=self._load, args=(directory, parameters), name="model-load",
                                        daemon=True)
        self._thread.start()

    def _load(self, directory: Path, parameters: JobParameters) -> None:
        start = time.perf_counter()
        try:
            self._value = (load_onnx if self.kind == ONNX else load_model)(directory, parameters)
            self.versions = loaded_versions(("onnxruntime",) if self.kind == ONNX else ("tensorflow", "keras"))
        except BaseException as error:  # re-raised in the main thread by loaded()
            self._error = error
        self.seconds = time.perf_counter() - start

    def close(self) -> None:
        """Wait for the thread and restore stderr (idempotent)."""
        if self._redirect is not None:
            self._thread.join()
            sys.setswitchinterval(self._interval)
            error = self._error
            self._redirect.__exit__(type(error) if error else None, error, None)  # the log is shown on failure
            self._redirect = None

    def loaded(self) -> tuple:
        """(ensemble, strategy), waiting for the load; its error, if it failed."""
        self.close()
        if self._error is not None:
            raise self._error
        return self._value

    def submit(self, images: np.ndarray, features: np.ndarray, batch_size: int, abort_file: Path | None = None) -> None:
        self._request = (images, features, batch_size, abort_file)

    def result(self) -> object:
        """Wait for the load, then predict the submitted inputs here. The ensemble is let go once it has
        scored: a job asks once, and ONNX Runtime's sessions hold ~45 MB of buffers from the inference
        that the outputs (a job's peak of memory) would otherwise be written beside (docs/benchmarks.md)."""
        ensemble, strategy = self.loaded()
        images, features, batch_size, abort_file = self._request
        self._value = self._request = None
        start = time.perf_counter()
        with native_stderr_to_log():
            scores = ensemble.predict(images, features, batch_size=batch_size, strategy=strategy,
                                      should_abort=Path(abort_file).exists if abort_file else None)
        self.inference_seconds = time.perf_counter() - start
        return scores

    def timings(self) -> StepLog:
        where = "ONNX Runtime, in background" if self.kind == ONNX else "in background"
        return [(f"load model ({where})", self.seconds), ("inference", self.inference_seconds)]

    def runtime(self) -> str:
        self._thread.join()  # the versions are known once the load ended
        name = "onnxruntime" if self.kind == ONNX else "tensorflow"
        return runtime_summary(self.versions or name, "in the job process", self.why)


def runtime_summary(versions: str, where: str, why: str) -> str:
    """``"onnxruntime 1.32.0 (CPU, in the job process)"``: what :meth:`ModelLoader.runtime` says."""
    return f"{versions} ({', '.join(filter(None, [why, where]))})"


def start_model(directory: Path, parameters: JobParameters) -> ModelLoader:
    """Start the runtime and the model load now, beside the job's reading (the runtime is said in
    ``run.out``): ONNX Runtime in a thread; TensorFlow in a worker process when this process has not
    imported TensorFlow, else in a thread."""
    runtime, why = choose_runtime(parameters.gpus, directory)
    if runtime == ONNX:
        print(f"model runtime: ONNX Runtime ({why})", flush=True)
        return BackgroundModel(directory, parameters, ONNX, why)
    print(f"model runtime: TensorFlow ({why})", flush=True)
    if worker_wanted():
        return WorkerModel(directory, parameters, why)
    return BackgroundModel(directory, parameters, TENSORFLOW, why)


def score_classes(
    classes: ClassSet, parameters: JobParameters, output: OutputDirectory, log: StepLog, model: ModelLoader,
    while_waiting: Callable[["ModelInputs"], None] | None = None,
    before_metadata: Callable[[], None] | None = None,
) -> tuple[ClassScores, "ModelInputs", ModelCard, "Polarity"]:
    """Preprocess and predict with ``model`` (from :func:`start_model`): the class scores, the network
    inputs, the model card and the job's contrast polarity. A job whose contrast is inverted
    (:mod:`relion_cryodiscovery.data.polarity`, or ``parameters.contrast``) is scored with its contrast
    flipped back; ``classes`` itself is never changed (``before_metadata``, run once the image work is
    done and before the metadata features are read, may complete it: the External job's particle
    counts). ``while_waiting(inputs)`` runs while the model loads and predicts (e.g. the montage's
    tiles)."""
    import_heavy()
    from ..data import inputs as data_inputs
    from ..data.preprocess import PreprocessConfig

    with timed("read model card", log):
        try:
            card = read_card(model_directory(parameters.model))
        except CryoDiscoveryError:
            if before_metadata is not None:  # the job's own files' errors first, as when all were read before
                before_metadata()
            raise
    with timed("preprocess", log):
        inputs, polarity = data_inputs.oriented_model_inputs(
            classes, PreprocessConfig.from_dict(card.preprocessing), parameters.contrast, before_metadata)
    output.check_abort()
    scores = ClassScores.unscored(classes.class_numbers, classes.particle_counts)
    usable = np.flatnonzero(inputs.usable)
    if len(usable):
        model.submit(inputs.images[usable], inputs.features[usable], parameters.batch_size, output.path / ABORT_NOW)
    if while_waiting is not None:
        with timed("montage tiles (while the model runs)", log):
            while_waiting(inputs)
    if len(usable):
        with timed("wait for the model", log):
            predictions = model.result()
        log.extend(model.timings())
        output.check_abort()
        scores.set_predictions(usable, predictions)
        with timed("junk kinds", log):
            name_junk_kinds(scores, inputs, card, usable)
    return scores, inputs, card, polarity


def name_junk_kinds(scores: ClassScores, inputs: "ModelInputs", card: ModelCard, rows: np.ndarray) -> None:
    """The reason model's junk kind of each class ``rows`` (:mod:`relion_cryodiscovery.model.reasons`), on
    ONNX Runtime in this process whatever runs the ensemble (a few milliseconds); says in ``run.out``
    whether the model has one."""
    from ..model.reasons import NAME, UNCLEAR, ReasonModel, most_likely, reasons_unavailable

    why_not = reasons_unavailable(card, card.directory, "onnxruntime") if card.directory else "no model directory"
    if why_not is not None:
        print(f"junk kinds: none ({why_not})", flush=True)
        return
    model = ReasonModel.load(card.directory, card, "onnxruntime", threads=1)
    p = model.predict(inputs.images[rows], inputs.features[rows])
    kinds, probabilities = most_likely(p, model.min_probability)
    scores.set_junk_kinds(rows, kinds, probabilities, most_likely(p)[0])
    print(f"junk kinds: learned ({NAME}.onnx, ONNX Runtime; '{UNCLEAR}' below probability {model.min_probability:g})",
          flush=True)


def domain_check(scores: ClassScores, inputs: "ModelInputs", card: ModelCard) -> DomainCheck | None:
    """The job-level out-of-distribution check (:mod:`relion_cryodiscovery.model.domain`); a warning is
    printed when it fires (the check itself is reported with the provenance, as ``domain_check``)."""
    usable = inputs.usable
    check = check_job(inputs.features[usable], scores.p_d1[usable], scores.p_d2[usable], card.extra.get("domain"),
                      images=inputs.images[usable], model_dir=card.directory, unusable=int((~usable).sum()))
    if check is not None and check.note:
        print(f"NOTE: domain check: {check.note}")
    if check is not None and check.out_of_domain:
        print(f"WARNING: {DOMAIN_ADVICE}")
    return check
