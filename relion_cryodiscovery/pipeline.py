"""The whole job: RELION job in -> classes with features -> ensemble scores -> selection out.

:func:`select_job` is what RELION's External job runs (and ``relion_cryodiscovery select``);
:func:`score_input` scores a job or a bare class stack without selecting particles. Both run
inside :func:`run_job`, which turns every outcome into RELION's state files: success only after
every output and the nodes file are in place; on any error one line in ``run.err`` naming the
file and the problem, ``RELION_JOB_EXIT_FAILURE`` and no partial outputs; on
``RELION_JOB_ABORT_NOW``, ``RELION_JOB_EXIT_ABORTED``.
"""

from __future__ import annotations

import datetime
import gc
import importlib
import os
import resource
import signal
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from . import __version__
from .data.classes import ClassSet
from .data.features import FEATURE_NAMES
from .errors import CryoDiscoveryError, JobAborted
from .model.card import ModelCard
from .model.domain import ADVICE as DOMAIN_ADVICE, DomainCheck, check_job
from .model.shipped import default_model_dir
from .model.worker import ModelWorker, load_ensemble, native_log, print_log_tail, worker_wanted
from .relion.nodes import NODES_FILE, OutputNode, choose_version, version_conflict, write_nodes
from .relion.sentinels import ABORT_NOW, ABORTED, AbortWatcher, OutputDirectory, timed
from .selection import SelectionRule, select_classes

#: Imported on first use (:func:`_import_heavy`), after the model worker has started: these pull in
#: pandas, starfile, scipy, scikit-image and mrcfile (~0.7-1.5 s), which then overlap TensorFlow's
#: start-up in the worker instead of delaying it. Module attributes, so tests can patch them.
_LAZY = {
    "model_inputs": ("data.inputs", "model_inputs"),
    "PreprocessConfig": ("data.preprocess", "PreprocessConfig"),
    "outputs": ("relion.outputs", None),
    "locate_job": ("relion.job", "locate_job"),
    "read_bare_stack": ("relion.job", "read_bare_stack"),
    "read_job": ("relion.job", "read_job"),
}


def _lazy(name: str):
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(f"{__package__}.{module_name}")
    return module if attribute is None else getattr(module, attribute)


def __getattr__(name: str):
    """``pipeline.read_job`` etc. before :func:`_import_heavy` ran (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals().setdefault(name, _lazy(name))
    return value


def _import_heavy() -> None:
    """Bind the lazily imported names (a name already set, e.g. patched by a test, is kept)."""
    missing = [name for name in _LAZY if name not in globals()]
    if missing:
        with gc_paused():
            for name in missing:
                globals()[name] = _lazy(name)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: big imports (pandas, scipy, Matplotlib) allocate
    hundreds of thousands of long-lived objects, and the collector's repeated scans of the growing
    heap cost ~10 % of their import time (docs/benchmarks.md)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()

MONTAGE_FILE = "cryodiscovery_montage.png"
#: Earlier outputs that a rerun removes when it does not produce them again.
KNOWN_OUTPUTS = (
    "particles.star",
    "class_averages.star",
    "backup_selection.star",
    "rank_model.star",
    "rank_data.star",
    "rank_optimiser.star",
    "cryodiscovery_scores.star",
    "cryodiscovery_scores.csv",
    MONTAGE_FILE,
    NODES_FILE,
)


@dataclass
class JobParameters:
    """Parameters of a select or score run (the External tab's Params)."""

    #: Minimum calibrated P(good); None = the model's calibrated threshold.
    min_score: float | None = None
    min_particles: int = 0
    min_classes: int = 0
    #: Model directory; None = the shipped default.
    model: str | None = None
    #: "" = all visible GPUs, "cpu" = none, "0,1" = these.
    gpus: str = ""
    batch_size: int = 256
    relion_version: str = "auto"
    threads: int | None = None
    montage: bool = True
    #: Pixel size for a bare stack (score only).
    angpix: float | None = None
    unknown: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        if self.batch_size < 1 or self.batch_size > 65536:
            raise CryoDiscoveryError(None, f"batch_size must be between 1 and 65536, not {self.batch_size}")
        if self.threads is not None and not 1 <= self.threads <= 1024:
            raise CryoDiscoveryError(None, f"--j must be between 1 and 1024, not {self.threads}")
        if self.angpix is not None and not 0.05 <= self.angpix <= 100:
            raise CryoDiscoveryError(None, f"angpix must be a pixel size in Angstrom (0.05-100), not {self.angpix}")
        SelectionRule(self.min_score if self.min_score is not None else 0.5, self.min_particles, self.min_classes).validate()


def run_job(out_dir: str, work: Callable[[OutputDirectory], None]) -> int:
    """Run ``work`` with RELION's state-file contract; returns the process exit code."""
    try:
        output = OutputDirectory(out_dir)
        output.clear_markers()
    except CryoDiscoveryError as error:
        print(f"ERROR: {error.one_line()}", file=sys.stderr, flush=True)
        return 1

    def on_term(signum: int, _frame: object) -> None:
        raise CryoDiscoveryError(None, f"stopped by signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        with AbortWatcher(output), private_caches(output):
            work(output)
        return 0
    except JobAborted:
        print("Aborted: RELION_JOB_ABORT_NOW found; outputs discarded.", flush=True)
        return output.fail(ABORTED)
    except CryoDiscoveryError as error:
        print(f"ERROR: {error.one_line()}", file=sys.stderr, flush=True)
        return output.fail()
    except MemoryError:
        print("ERROR: out of memory", file=sys.stderr, flush=True)
        return output.fail()
    except OSError as error:
        print(f"ERROR: {error.filename or out_dir}: {error.strerror or error}", file=sys.stderr, flush=True)
        return output.fail()
    except Exception as error:  # a bug: still one line in run.err, the traceback in run.out
        traceback.print_exc(file=sys.stdout)
        print(f"ERROR: unexpected {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        return output.fail()
    finally:
        signal.signal(signal.SIGTERM, previous)


#: Libraries that write configuration or caches under $HOME when first imported (kept if the user set them).
_CACHE_VARIABLES = {"KERAS_HOME": "keras", "MPLCONFIGDIR": "matplotlib"}


@contextmanager
def private_caches(output: OutputDirectory) -> Iterator[None]:
    """Point Keras, Matplotlib and ``tempfile`` at the job's staging directory (removed at the end).

    The job then writes nothing outside ``--o``: Keras creates ``~/.keras/keras.json`` and
    Matplotlib (imported by Keras when TensorFlow was loaded in this process) a font cache on first
    import, TensorFlow's autograph writes temporary modules.
    ``KERAS_HOME``/``MPLCONFIGDIR`` set by the user are respected; temporary files always stay here.
    """
    saved = {name: os.environ.get(name) for name in (*_CACHE_VARIABLES, "TMPDIR")}
    saved_tempdir = tempfile.tempdir
    for name, sub in (*_CACHE_VARIABLES.items(), ("TMPDIR", "tmp")):
        if saved[name] is None or name == "TMPDIR":
            directory = output.stage(sub)
            directory.mkdir(exist_ok=True)
            os.environ[name] = str(directory.resolve())
    tempfile.tempdir = None  # recomputed from TMPDIR on next use
    try:
        yield
    finally:
        tempfile.tempdir = saved_tempdir
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class ScoredClasses:
    """Ensemble outputs for a job's classes (unusable classes score 0, not consulted)."""

    inputs: ModelInputs
    p_d1: np.ndarray
    p_d2: np.ndarray
    p_d3: np.ndarray
    d3_used: np.ndarray
    score: np.ndarray


def model_directory(model: str | None) -> Path:
    """The model directory a run uses: ``model`` or the shipped default."""
    directory = Path(model) if model else default_model_dir()
    if not directory.is_dir():
        raise CryoDiscoveryError(directory, "model directory not found")
    return directory


@contextmanager
def native_stderr_to_log() -> Iterator[None]:
    """Send what native code (TensorFlow's C++ start-up logging) writes to stderr into a log file.

    TensorFlow >= 2.20 logs device probing (``E0000 ... failed call to cuInit`` without a GPU) to
    stderr before ``TF_CPP_MIN_LOG_LEVEL`` takes effect; RELION shows run.err as errors, so it must
    hold only our one-line error, and in run.out those lines alarm users. The log (in the job's
    temporary directory) is copied into run.out only when the block fails.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    log = native_log()
    saved = os.dup(2)
    failed = False
    try:
        os.dup2(log.fileno(), 2)
        yield
    except BaseException:
        failed = True
        raise
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        log.close()
        if failed:
            print_log_tail(log.name, "TensorFlow's output")
        try:
            os.unlink(log.name)
        except OSError:
            pass


def load_model(directory: Path, parameters: JobParameters):
    """The ensemble in ``directory`` on the chosen devices (TensorFlow starts here)."""
    return load_ensemble(directory, parameters.gpus, parameters.threads)


def start_model(directory: Path, parameters: JobParameters) -> "ModelWorker | BackgroundModel":
    """Start TensorFlow and the model load now, beside the job's reading.

    In a worker process (:class:`~relion_cryodiscovery.model.worker.ModelWorker`) when this
    process has not imported TensorFlow (the External job), else in a thread
    (:class:`BackgroundModel`; e.g. inside a Python session that already paid for TensorFlow).
    """
    if worker_wanted():
        return ModelWorker(directory, parameters.gpus, parameters.threads)
    return BackgroundModel(directory, parameters)


class BackgroundModel:
    """TensorFlow start-up and the ensemble load, in a thread while the job's files are read.

    Used when TensorFlow is already imported in this process (else :class:`ModelWorker`, a
    process, overlaps much better: a thread shares the GIL with the reader). Native stderr goes
    to a log file (:func:`native_stderr_to_log`) until :meth:`result` or :meth:`close`.
    """

    def __init__(self, directory: Path, parameters: JobParameters):
        self.seconds = 0.0
        self._value: tuple | None = None
        self._error: BaseException | None = None
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
            self._value = load_model(directory, parameters)
        except BaseException as error:  # re-raised in the main thread by result()
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

    def result(self) -> tuple:
        """(ensemble, strategy), waiting for the load; its error, if it failed."""
        self.close()
        if self._error is not None:
            raise self._error
        return self._value


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


def score_classes(
    classes: ClassSet, parameters: JobParameters, output: OutputDirectory, log: list,
    model: "ModelWorker | BackgroundModel | None" = None,
    while_waiting: Callable[[ModelInputs], None] | None = None,
) -> tuple[ScoredClasses, ModelCard]:
    """Preprocess, predict with ``model`` (started here if None); returns scores and the model card.

    ``while_waiting(inputs)`` runs while the model worker loads and predicts (e.g. the montage's
    tiles); with an in-process model, before inference.
    """
    _import_heavy()
    directory = model_directory(parameters.model)
    own = model is None
    if own:
        model = start_model(directory, parameters)
    try:
        with timed("read model card", log):
            card = read_card(directory)
        with timed("preprocess", log):
            inputs = model_inputs(classes, PreprocessConfig.from_dict(card.preprocessing))
        output.check_abort()
        k = classes.n_classes
        p_d1, p_d2, p_d3 = np.zeros(k), np.zeros(k), np.full(k, np.nan)
        d3_used, score = np.zeros(k, dtype=bool), np.zeros(k)
        usable = np.flatnonzero(inputs.usable)
        result = None
        if isinstance(model, ModelWorker):
            if len(usable):
                model.submit(inputs.images[usable], inputs.features[usable], parameters.batch_size,
                             output.path / ABORT_NOW)
            if while_waiting is not None:
                with timed("montage tiles (while the model worker runs)", log):
                    while_waiting(inputs)
            if len(usable):
                with timed("wait for the model worker", log):
                    result = model.result()
                if model.started_after is not None:
                    log.append(("job start-up until the model worker started", model.started_after))
                log.append(("load model (in the worker process)", model.seconds))
                log.append(("inference (in the worker process)", model.inference_seconds))
        else:
            if while_waiting is not None:
                with timed("montage tiles", log):
                    while_waiting(inputs)
            with timed("load model (wait for the background load)", log):
                ensemble, strategy = model.result()
            log.append(("load model (in background)", model.seconds))
            output.check_abort()
            with timed("inference", log), native_stderr_to_log():
                if len(usable):
                    result = ensemble.predict(
                        inputs.images[usable],
                        inputs.features[usable],
                        batch_size=parameters.batch_size,
                        strategy=strategy,
                        should_abort=output.abort_requested,
                    )
        output.check_abort()
        if result is not None:
            p_d1[usable], p_d2[usable], p_d3[usable] = result.p_d1, result.p_d2, result.p_d3
            d3_used[usable], score[usable] = result.d3_used, result.calibrated
    finally:
        if own:
            model.close()
    return ScoredClasses(inputs, p_d1, p_d2, p_d3, d3_used, score), card


def domain_check(scored: ScoredClasses, card: ModelCard) -> DomainCheck | None:
    """The job-level out-of-distribution check (:mod:`relion_cryodiscovery.model.domain`); a warning is
    printed when it fires (the check itself is reported with the provenance, as ``domain_check``)."""
    usable = scored.inputs.usable
    check = check_job(scored.inputs.features[usable], scored.p_d1[usable], scored.p_d2[usable],
                      card.extra.get("domain"))
    if check is not None and check.out_of_domain:
        print(f"WARNING: {DOMAIN_ADVICE}")
    return check


def _title(input_path: str, card: ModelCard, check: DomainCheck | None) -> str:
    title = f"{input_path} ({card.model_version})"
    return title + " - OUT OF DOMAIN: look before trusting" if check is not None and check.out_of_domain else title


def _with_domain(info: dict[str, str], check: DomainCheck | None) -> dict[str, str]:
    if check is not None:
        info["domain_check"] = check.summary() + (f"; {DOMAIN_ADVICE}" if check.out_of_domain else "")
    return info


def provenance(card: ModelCard, parameters: JobParameters, input_path: str, min_score: float) -> dict[str, str]:
    """What makes an output traceable: software, model, input, parameters, command line."""
    used = {k: v for k, v in asdict(parameters).items() if k != "unknown"}
    used["min_score"] = min_score
    return {
        "software": f"relion_cryodiscovery {__version__}",
        "model_version": card.model_version,
        "model_dir": parameters.model or "(shipped default)",
        "input": input_path,
        "parameters": " ".join(f"{k}={v}" for k, v in used.items()),
        "command_line": " ".join(sys.argv),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def _montage_tiles(classes: ClassSet, inputs: ModelInputs):
    """The montage's images: 2D averages as RELION wrote them; for 3D maps, their first projection."""
    with gc_paused():
        from .evaluation.montage import MontageTiles

    return MontageTiles(classes.images if classes.dimensionality == 2 else inputs.images[:, 0])


def _stage_montage(output: OutputDirectory, tiles, scores: outputs.ClassScores, title: str) -> list[str]:
    """The class montage (``tiles`` from :func:`_montage_tiles`) with scores and decisions."""
    tiles.draw(scores.class_numbers, scores.score, scores.selected, scores.reasons, output.stage(MONTAGE_FILE),
               title=title)
    return [MONTAGE_FILE]


def _write_score_tables(output: OutputDirectory, scores: outputs.ClassScores, info: dict[str, str]) -> list[str]:
    outputs.write_scores_star(output.stage("cryodiscovery_scores.star"), scores, info)
    outputs.write_scores_csv(output.stage("cryodiscovery_scores.csv"), scores, info)
    return ["cryodiscovery_scores.star", "cryodiscovery_scores.csv"]


def decide(
    classes: ClassSet, scored: ScoredClasses, card: ModelCard, parameters: JobParameters, allow_empty: bool = False
) -> tuple[outputs.ClassScores, float]:
    """Apply the selection rule (threshold: ``min_score`` or the model's calibrated one)."""
    _import_heavy()
    min_score = parameters.min_score if parameters.min_score is not None else float(card.threshold)
    rule = SelectionRule(min_score, parameters.min_particles, parameters.min_classes)
    try:
        decision = select_classes(scored.score, classes.particle_counts, scored.inputs.problems, rule, allow_empty)
    except CryoDiscoveryError as error:  # name the job whose classes were judged
        raise CryoDiscoveryError(error.path or classes.source, error.problem) from None
    scores = outputs.ClassScores(
        classes.class_numbers, scored.score, decision.selected, scored.p_d1, scored.p_d2, scored.p_d3,
        scored.d3_used, classes.particle_counts, decision.reasons,
    )
    return scores, min_score


def _report(log: list[tuple[str, float]], scores: outputs.ClassScores, info: dict[str, str], model=None) -> None:
    for key, value in info.items():
        print(f"{key}: {value}")
    print(f"{'class':>5} {'score':>6} {'kept':>4} {'particles':>9}  reason")
    for row in scores.table().itertuples(index=False):
        print(f"{row.class_number:>5} {row.score:6.3f} {row.selected:>4} {row.particles:>9}  {row.reason}")
    for label, seconds in log:
        print(f"time {label}: {seconds:.2f} s")
    peak = f"peak RSS: this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    if getattr(model, "peak_rss_mb", None) is not None:
        peak += f", model worker process {model.peak_rss_mb:.0f} MB"
    print(peak)
    print(f"kept {int(scores.selected.sum())} of {len(scores.selected)} classes", flush=True)


def select_job(input_path: str, out_dir: str, parameters: JobParameters, output: OutputDirectory) -> None:
    """Score a Class2D/Class3D job and write the selection RELION continues from."""
    start = time.perf_counter()
    parameters.validate()
    log: list[tuple[str, float]] = []
    prefix = out_dir if out_dir.endswith("/") else out_dir + "/"
    version, version_reason = choose_version(parameters.relion_version, output.path)
    print(f"RELION version for output nodes: {version} ({version_reason})")
    if parameters.relion_version != "auto":
        conflict = version_conflict(version, output.path)
        if conflict:
            print(f"WARNING: {conflict}", flush=True)
    for label, value in parameters.unknown.items():
        print(f"WARNING: ignoring unknown parameter --{label} {value}".rstrip())
    output.check_abort()  # before TensorFlow starts
    model = start_model(model_directory(parameters.model), parameters)
    montage: list = []
    # Writes the big files in a thread: mostly I/O and numpy, they overlap the GIL-bound work.
    copier = ThreadPoolExecutor(max_workers=1)
    try:
        with timed("imports", log):
            _import_heavy()
        with timed("read job", log):
            job = locate_job(input_path)
            contents = read_job(job)
        output.check_abort()
        rank_data_job = copier.submit(outputs.copy_rank_data, output.stage, job.data_star)  # needs no scores
        classes = contents.classes
        if not contents.scan.has_optics:
            print(f"NOTE: {job.data_star} has no data_optics block (RELION 3.0 format); particles.star keeps that "
                  "format, which RELION 3.1 and later convert when they read it")
        while_waiting = (lambda inputs: montage.append(_montage_tiles(classes, inputs))) if parameters.montage else None
        scored, card = score_classes(classes, parameters, output, log, model, while_waiting)
        _note_skipped(classes, scored.inputs.problems)
        check = domain_check(scored, card)
        scores, min_score = decide(classes, scored, card, parameters)
        info = _with_domain(provenance(card, parameters, input_path, min_score), check)
        selected_numbers = [int(n) for n in classes.class_numbers[scores.selected]]
        with timed("write outputs", log):
            names, nodes, n_particles = _write_selection(
                output, prefix, version, job, contents, classes, scores, info, selected_numbers, copier,
                rank_data_job, montage[0] if montage else None, _title(input_path, card, check))
    finally:
        model.close()
        copier.shutdown(wait=True)
    output.check_abort()
    info["particles_written"] = str(n_particles)
    stale = [name for name in _earlier_outputs(output.path) if name not in names]
    output.commit(names + [NODES_FILE], stale)
    log.append(("total", time.perf_counter() - start))
    _report(log, scores, info, model)
    print(f"wrote {n_particles} of {len(contents.scan.class_numbers)} particles to {prefix}particles.star")


def _write_selection(output, prefix, version, job, contents, classes, scores, info, selected_numbers, copier,
                     rank_data_job, montage, title) -> tuple[list[str], list[OutputNode], int]:
    """Stage every output of a selection (names to commit, nodes, particles written)."""
    names = ["particles.star"]
    if not contents.scan.counts(classes.n_classes)[scores.selected].any():
        raise CryoDiscoveryError(job.data_star, "the selected classes hold no particles; lower min_score or min_particles")
    # particles.star (the data.star filtered) in the thread, while the tables and montage are drawn here.
    particles_job = copier.submit(outputs.write_particles, output.stage("particles.star"), contents.scan,
                                  selected_numbers)
    rank_job = copier.submit(outputs.write_rank_files, Path(prefix.rstrip("/")), output.stage,
                             contents.model_classes, scores, contents.optimiser)
    outputs.write_backup_selection(output.stage("backup_selection.star"), scores.selected)
    names.append("backup_selection.star")
    nodes = [OutputNode(prefix + "particles.star", "particles")]
    if classes.dimensionality == 2:
        outputs.write_class_averages(output.stage("class_averages.star"), contents.model_classes, scores)
        names.append("class_averages.star")
        nodes.append(OutputNode(prefix + "class_averages.star", "class_averages"))
    else:
        maps = outputs.copy_selected_maps(output.stage, contents.image_files, scores)
        names += maps
        nodes += [OutputNode(prefix + name, "map") for name in maps]
    names += _write_score_tables(output, scores, info)
    if montage is not None:
        names += _stage_montage(output, montage, scores, title)
    n_particles = particles_job.result()
    if n_particles == 0:
        raise CryoDiscoveryError(job.data_star, "the selected classes hold no particles; lower min_score or min_particles")
    rank = rank_job.result()
    names += rank[:1] + [rank_data_job.result()] + rank[1:]
    nodes += [OutputNode(prefix + name, name.removesuffix(".star")) for name in rank]
    with output.stage(NODES_FILE).open("w") as handle:
        write_nodes(handle, nodes, version)
    return names, nodes, n_particles


def _note_skipped(classes: ClassSet, problems: list[str]) -> None:
    """Say which classes the job goes on without (unusable image, no particles)."""
    counts = classes.particle_counts if classes.particle_counts is not None else np.full(classes.n_classes, -1)
    for number, problem, count in zip(classes.class_numbers, problems, counts):
        if problem:
            print(f"NOTE: class {number} is not scored and not selected: {problem}")
        elif count == 0:
            print(f"NOTE: class {number} has no particles; it is not selected")


def _earlier_outputs(directory: Path) -> list[str]:
    maps = [p.name for p in directory.glob("class_[0-9][0-9][0-9]*.mrc")]
    return [name for name in KNOWN_OUTPUTS if (directory / name).exists()] + maps


def score_input(input_path: str, out_dir: str, parameters: JobParameters, output: OutputDirectory) -> None:
    """Score a ``_model.star``/``_optimiser.star``/``_data.star`` or a bare ``.mrcs`` stack; no selection files."""
    start = time.perf_counter()
    parameters.validate()
    log: list[tuple[str, float]] = []
    path = Path(input_path)
    model = start_model(model_directory(parameters.model), parameters)
    try:
        _import_heavy()
        with timed("read input", log):
            if path.suffix in (".mrcs", ".mrc"):
                if not path.is_file():
                    raise CryoDiscoveryError(path, "file not found")
                classes = read_bare_stack(path, parameters.angpix)
            else:
                classes = read_job(locate_job(path, require_data=False)).classes
                if parameters.angpix:
                    classes.pixel_size = parameters.angpix
        montage: list = []
        while_waiting = (lambda inputs: montage.append(_montage_tiles(classes, inputs))) if parameters.montage else None
        scored, card = score_classes(classes, parameters, output, log, model, while_waiting)
    finally:
        model.close()
    check = domain_check(scored, card)
    scores, min_score = decide(classes, scored, card, parameters, allow_empty=True)
    info = _with_domain(provenance(card, parameters, input_path, min_score), check)
    names = _write_score_tables(output, scores, info)
    if parameters.montage:
        names += _stage_montage(output, montage[0], scores, _title(input_path, card, check))
    output.commit(names, [])
    log.append(("total", time.perf_counter() - start))
    _report(log, scores, info, model)
