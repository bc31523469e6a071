"""CPU inference on ONNX Runtime: no TensorFlow in the job, the TensorFlow path's scores, the model format."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import relion_cryodiscovery as cd
from relion_cryodiscovery.errors import CryoDiscoveryError
from relion_cryodiscovery.model.card import ModelCard, file_sha256
from relion_cryodiscovery.model.onnx_members import CARD_KEY, OnnxEnsemble, onnx_unavailable
from relion_cryodiscovery.model.runtime import ONNX, RUNTIME_ENV, TENSORFLOW, choose_runtime, gpu_may_be_visible

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "models" / "default"
#: Largest difference allowed between the runtimes' calibrated scores (issue #21).
TOLERANCE = 1e-5
HEAVY = ("tensorflow", "keras", "tf2onnx")


def scores_with(runtime: str, source: str, model: Path | None, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
    monkeypatch.setenv(RUNTIME_ENV, runtime)
    return cd.score(source, model=model, gpus="cpu", threads=1)


def assert_same_scores(onnx: pd.DataFrame, tensorflow: pd.DataFrame) -> None:
    assert list(onnx["d3_used"]) == list(tensorflow["d3_used"])
    for column in ("score", "p_d1", "p_d2", "p_d3"):
        np.testing.assert_allclose(onnx[column], tensorflow[column], rtol=0, atol=TOLERANCE, err_msg=column)


def without_onnx(model: Path) -> Path:
    """``model`` as an older model directory: no ONNX files, no record in the card."""
    card = ModelCard.load(model)
    card.extra.pop(CARD_KEY)
    card.save(model)
    for path in model.glob("*.onnx"):
        path.unlink()
    return model


def test_a_cpu_job_never_imports_tensorflow(example_project: Path, example_data_star: str) -> None:
    code = ("import sys; from relion_cryodiscovery.cli.main import run_command; "
            f"code = run_command('select', ['--o', 'External/job010/', '--in_parts', {example_data_star!r}, "
            "'--gpus', 'cpu', '--j', '1']); "
            f"print(code, sorted(m for m in {HEAVY!r} if m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if k != RUNTIME_ENV}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", code], cwd=example_project, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout + done.stderr
    assert "model runtime: ONNX Runtime (CPU)" in done.stdout
    assert (example_project / "External/job010/particles.star").is_file()


@pytest.mark.parametrize("runtime", [ONNX, TENSORFLOW])
def test_the_outputs_name_the_runtime_that_scored_them_with_its_versions(
        runtime: str, example_project: Path, example_data_star: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    """The scores' JSON and STAR provenance and run.out say onnxruntime or tensorflow/keras, and which version."""
    from importlib.metadata import version

    monkeypatch.chdir(example_project)
    monkeypatch.setenv(RUNTIME_ENV, runtime)
    capsys.readouterr()
    cd.select(example_data_star, "External/job020/", gpus="cpu", threads=1)
    out = capsys.readouterr().out
    if runtime == ONNX:
        expected = f"onnxruntime {version('onnxruntime')} (CPU, in the job process)"
    else:
        expected = f"tensorflow {version('tensorflow')}, keras {version('keras')} ({RUNTIME_ENV}=tensorflow, "
    job = example_project / "External/job020"
    recorded = json.loads((job / "cryodiscovery_scores.json").read_text())["provenance"]["runtime"]
    assert recorded.startswith(expected), recorded
    assert f"\nruntime: {recorded}\n" in out
    star = (job / "cryodiscovery_scores.star").read_text()
    assert any(line.split()[:1] == ["_cdiRuntime"] and recorded.split()[0] in line for line in star.splitlines())


def test_onnx_and_tensorflow_give_the_same_scores_on_the_example(
        example_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(example_project)
    onnx = scores_with(ONNX, "Class2D/job001", None, monkeypatch)
    assert_same_scores(onnx, scores_with(TENSORFLOW, "Class2D/job001", None, monkeypatch))


@pytest.mark.parametrize("which", ["shipped", "trained"])
def test_onnx_and_tensorflow_give_the_same_scores_on_a_simulated_job(
        which: str, project: Path, session_tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped model's exports and those training wrote (the session's tiny model)."""
    model = SHIPPED if which == "shipped" else session_tiny_model
    monkeypatch.chdir(project)
    onnx = scores_with(ONNX, "Class2D/job001", model, monkeypatch)
    assert_same_scores(onnx, scores_with(TENSORFLOW, "Class2D/job001", model, monkeypatch))


@pytest.mark.parametrize("model_dir", [SHIPPED, None], ids=["shipped", "trained"])
def test_the_card_records_the_onnx_files_and_their_sources(model_dir: Path | None, session_tiny_model: Path) -> None:
    model = model_dir or session_tiny_model
    record = ModelCard.load(model).extra[CARD_KEY]
    for member in ("d1", "d2", "d3"):
        assert record["files"][f"{member}.onnx"] == file_sha256(model / f"{member}.onnx")
        assert record["sources"][f"{member}.keras"] == file_sha256(model / f"{member}.keras")
    assert record["max_abs_difference"] <= TOLERANCE
    ensemble = OnnxEnsemble.load(model)
    for session in ensemble.members.sessions.values():  # only the real inputs: the weights are constants
        assert sorted(i.name for i in session.get_inputs()) == ["features", "image"]


def test_a_model_without_onnx_files_falls_back_to_tensorflow_then_export_adds_them(
        model: Path, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(project)
    monkeypatch.delenv(RUNTIME_ENV, raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    onnx = scores_with(ONNX, "Class2D/job001", model, monkeypatch)
    without_onnx(model)
    with pytest.raises(CryoDiscoveryError, match="cannot score with ONNX Runtime: its model card records no"):
        choose_runtime("cpu", model)  # CRYODISCOVERY_RUNTIME=onnx insists
    monkeypatch.delenv(RUNTIME_ENV)
    assert choose_runtime("cpu", model)[0] == TENSORFLOW
    capsys.readouterr()
    fallback = cd.score("Class2D/job001", model=model, gpus="cpu", threads=1)
    assert "model runtime: TensorFlow (ONNX Runtime not used: its model card records no ONNX files" in \
        capsys.readouterr().out
    assert_same_scores(onnx, fallback)
    before = json.loads((model / "model_card.json").read_text())
    subprocess.run([sys.executable, str(REPO / "scripts/export_onnx.py"), "--model", str(model)], check=True,
                   capture_output=True, timeout=300)
    after = json.loads((model / "model_card.json").read_text())
    assert after["extra"].pop(CARD_KEY) and after == before  # nothing else in the card changed
    assert choose_runtime("cpu", model) == (ONNX, "CPU")
    assert_same_scores(scores_with(ONNX, "Class2D/job001", model, monkeypatch), fallback)


def test_a_changed_keras_member_is_never_scored_by_its_old_export(model: Path) -> None:
    shutil.copy(model / "d1.keras", model / "d2.keras")
    assert "d2.keras is not the file d2.onnx was exported from" in onnx_unavailable(ModelCard.load(model), model)
    assert choose_runtime("cpu", model)[0] == TENSORFLOW
    with pytest.raises(CryoDiscoveryError, match="d2.keras is not the file"):
        OnnxEnsemble.load(model)


def test_a_changed_onnx_file_is_refused(model: Path) -> None:
    data = bytearray((model / "d3.onnx").read_bytes())
    data[-1] ^= 1
    (model / "d3.onnx").write_bytes(bytes(data))
    with pytest.raises(CryoDiscoveryError, match=r"d3\.onnx.*checksum differs from the model card"):
        OnnxEnsemble.load(model)


def test_which_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RUNTIME_ENV, raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert choose_runtime("cpu", SHIPPED) == (ONNX, "CPU")
    assert choose_runtime("", SHIPPED) == (ONNX, "CPU")
    assert choose_runtime("0,1", SHIPPED)[0] == TENSORFLOW
    assert choose_runtime("cpu:2", SHIPPED)[0] == TENSORFLOW
    dev = tmp_path / "dev"
    dev.mkdir()
    assert not gpu_may_be_visible(dev)
    (dev / "nvidia0").touch()
    assert not gpu_may_be_visible(dev)  # CUDA_VISIBLE_DEVICES="" hides it
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert gpu_may_be_visible(dev)
    monkeypatch.setenv(RUNTIME_ENV, "tensorflow")
    assert choose_runtime("cpu", SHIPPED)[0] == TENSORFLOW
    monkeypatch.setenv(RUNTIME_ENV, "onnx")
    assert choose_runtime("0", SHIPPED) == (ONNX, "CPU")
    assert choose_runtime("cpu", tmp_path / "no model") == (ONNX, "CPU")  # the job reports the missing card
    monkeypatch.setenv(RUNTIME_ENV, "torch")
    with pytest.raises(CryoDiscoveryError, match="auto, onnx or tensorflow"):
        choose_runtime("cpu", SHIPPED)


# --------------------------------------------------------------------------- a selection-only install

#: Runs the External executable as in an install without the ``train`` extra: TensorFlow, Keras and
#: tf2onnx cannot be imported (``find_spec`` finds none of them either).
LEAN = ("import runpy, sys\n"
        "for name in {heavy!r}: sys.modules[name] = None\n"
        "sys.argv = ['cryodiscovery_select', *{args!r}]\n"
        "runpy.run_path({exe!r}, run_name='__main__')\n")


def run_lean(project: Path, *args: str, command: str = "select") -> subprocess.CompletedProcess:
    exe = REPO / "relion_external/cryodiscovery_select.py"
    code = LEAN.format(heavy=HEAVY, args=list(args), exe=str(exe))
    if command == "train":
        code = ("import sys\n" f"for name in {HEAVY!r}: sys.modules[name] = None\n"
                "from relion_cryodiscovery.cli.main import main\n" f"sys.exit(main(['train', *{list(args)!r}]))\n")
    env = {k: v for k, v in os.environ.items() if k != RUNTIME_ENV}
    env.update(PYTHONPATH=str(REPO), CUDA_VISIBLE_DEVICES="")
    return subprocess.run([sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True,
                          timeout=300)


def test_without_tensorflow_the_external_job_scores_with_onnx_runtime(
        example_project: Path, example_data_star: str) -> None:
    done = run_lean(example_project, "--o", "External/job011/", "--in_parts", example_data_star, "--j", "1")
    job = example_project / "External/job011"
    assert done.returncode == 0, done.stdout + done.stderr
    assert (job / "RELION_JOB_EXIT_SUCCESS").is_file() and (job / "particles.star").is_file()
    assert not (job / "run.err").exists() or not (job / "run.err").read_text().strip()
    provenance = json.loads((job / "cryodiscovery_scores.json").read_text())["provenance"]
    assert provenance["runtime"].startswith("onnxruntime ")


@pytest.mark.parametrize("case", ["model without ONNX files", "gpus", "runtime=tensorflow"])
def test_without_tensorflow_a_job_that_needs_it_fails_with_one_line_naming_the_install(
        case: str, example_project: Path, example_data_star: str, tmp_path: Path) -> None:
    model = without_onnx(Path(shutil.copytree(SHIPPED, tmp_path / "lab model")))
    args = ["--o", "External/job011/", "--in_parts", example_data_star, "--j", "1"]
    if case == "model without ONNX files":
        args += ["--model", str(model)]
    elif case == "gpus":
        args += ["--gpus", "0"]
    else:
        args += ["--gpus", "cpu"]
    if case == "runtime=tensorflow":
        code = ("import os\n" f"os.environ[{RUNTIME_ENV!r}] = 'tensorflow'\n")
        exe = REPO / "relion_external/cryodiscovery_select.py"
        script = code + LEAN.format(heavy=HEAVY, args=args, exe=str(exe))
        env = {k: v for k, v in os.environ.items() if k != RUNTIME_ENV}
        env["PYTHONPATH"] = str(REPO)
        done = subprocess.run([sys.executable, "-c", script], cwd=example_project, env=env, capture_output=True,
                              text=True, timeout=300)
    else:
        done = run_lean(example_project, *args)
    job = example_project / "External/job011"
    assert done.returncode == 1
    assert (job / "RELION_JOB_EXIT_FAILURE").is_file() and not (job / "particles.star").exists()
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), done.stderr
    assert "TensorFlow is not installed" in lines[0] or "needs TensorFlow, which is not installed" in lines[0]
    assert "pip install 'relion-cryodiscovery[train]'" in lines[0]
    if case == "model without ONNX files":
        assert str(model) in lines[0] and "scripts/export_onnx.py" in lines[0]
    assert "Traceback" not in done.stdout + done.stderr


def test_without_tensorflow_training_says_what_to_install(tmp_path: Path) -> None:
    done = run_lean(tmp_path, "--project", str(tmp_path), "--o", str(tmp_path / "m"), command="train")
    assert done.returncode == 1
    assert done.stderr.strip() == ("ERROR: training needs TensorFlow, which is not installed here; "
                                   "pip install 'relion-cryodiscovery[train]'")


def test_without_tensorflow_a_visible_gpu_is_scored_on_the_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from relion_cryodiscovery.model import runtime

    monkeypatch.delenv(RUNTIME_ENV, raising=False)
    monkeypatch.setattr(runtime, "gpu_may_be_visible", lambda: True)
    assert choose_runtime("", SHIPPED)[0] == TENSORFLOW
    monkeypatch.setattr(runtime, "tensorflow_installed", lambda: False)
    runtime_name, why = choose_runtime("", SHIPPED)
    assert runtime_name == ONNX and "TensorFlow, which scores on GPUs, is not installed" in why
    with pytest.raises(CryoDiscoveryError, match=r"gpus 0,1 .*needs TensorFlow.*relion-cryodiscovery\[train\]"):
        choose_runtime("0,1", SHIPPED)



T20S = Path(__file__).resolve().parents[2] / "shared" / "real" / "t20s_cryosparc_selected"


@pytest.mark.skipif(not T20S.is_dir(), reason="the real T20S classes (../shared/real) are not beside this checkout")
def test_onnx_and_tensorflow_give_the_same_scores_on_the_real_t20s_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's third check: the real T20S stack from ../shared/real (not shipped: its licence is the source's),
    scored as a bare stack on both runtimes."""
    stack = sorted(T20S.glob("*.mrcs"))[0]
    onnx = scores_with(ONNX, str(stack), None, monkeypatch)
    assert len(onnx) == 15
    assert_same_scores(onnx, scores_with(TENSORFLOW, str(stack), None, monkeypatch))
