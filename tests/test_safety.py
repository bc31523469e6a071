"""Safety (issue 6.6): models load without running their code, the job writes only under --o, and
nothing reaches the network.

Model checks run the job in-process on a copy of the session's tiny model with one member
replaced by a hostile file; each hostile file would create a marker if its code ever ran. The
write/network check runs the External executable in a separate process under a Python audit hook
that records every write outside ``--o`` and refuses every socket connection or name lookup,
with a fresh ``$HOME`` and ``$TMPDIR`` that must stay empty.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from relion_cryodiscovery.cli.main import main as cli
from relion_cryodiscovery.relion.sentinels import FAILURE, SUCCESS

REPO = Path(__file__).resolve().parents[1]
DATA = "Class2D/job001/run_it025_data.star"
OUT = "External/job003/"


def run_select(project: Path, model: Path) -> int:
    cwd = os.getcwd()
    os.chdir(project)
    try:
        return cli(["select", "--o", OUT, "--in_parts", DATA, "--model", str(model), "--j", "1"])
    finally:
        os.chdir(cwd)


def assert_refused(project: Path, code: int, err: str, member: str, problem: str, marker: Path) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1, lines
    assert member in lines[0] and problem in lines[0], lines[0]
    assert (project / OUT / FAILURE).exists() and not (project / OUT / "particles.star").exists()
    assert not marker.exists(), "the model's code ran"


class _Payload:
    """Unpickling this creates ``path`` (what a malicious pickle could do instead)."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_pickle_in_place_of_a_keras_file_is_refused(project: Path, model: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    marker = tmp_path / "pickle_ran"
    (model / "d1.keras").write_bytes(pickle.dumps(_Payload(marker)))
    capsys.readouterr()
    code = run_select(project, model)
    assert_refused(project, code, capsys.readouterr().err, "d1.keras", "not a Keras .keras zip archive", marker)


def test_lambda_layer_is_refused_without_running_it(project: Path, model: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    import keras

    marker = tmp_path / "lambda_ran"

    def side_effect(x):
        Path(marker).touch()
        return x * 2.0

    image = keras.Input((64, 64, 1), name="image")
    features = keras.Input((4,), name="features")
    hidden = keras.layers.Lambda(side_effect)(keras.layers.Flatten()(image))
    output = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Concatenate()([hidden, features]))
    keras.Model({"image": image, "features": features}, output).save(model / "d2.keras")
    marker.unlink()  # building the model above called the function once
    capsys.readouterr()
    code = run_select(project, model)
    assert_refused(project, code, capsys.readouterr().err, "d2.keras", "Lambda", marker)


def test_custom_class_from_foreign_module_is_refused(project: Path, model: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    """A .keras archive naming a class from a non-Keras module (import = code execution) is refused."""
    marker = tmp_path / "module_imported"
    with zipfile.ZipFile(model / "d3.keras") as archive:
        config = json.loads(archive.read("config.json"))
        weights = archive.read("model.weights.h5")
        metadata = archive.read("metadata.json")
    layers = config["config"]["layers"]
    layers[-1]["module"] = "evil_module_that_would_be_imported"
    layers[-1]["class_name"] = "Backdoor"
    with zipfile.ZipFile(model / "d3.keras", "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights)
        archive.writestr("metadata.json", metadata)
    capsys.readouterr()
    code = run_select(project, model)
    assert_refused(project, code, capsys.readouterr().err, "d3.keras", "evil_module_that_would_be_imported", marker)


GUARD = textwrap.dedent('''
    """Run the External job under an audit hook: record writes outside --o, refuse the network."""
    import os, sys

    out = os.path.realpath(sys.argv[sys.argv.index("--o") + 1])
    log = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    allowed_dirs = []
    parent = out
    while parent != os.path.dirname(parent):  # creating --o itself may create its parents
        allowed_dirs.append(parent)
        parent = os.path.dirname(parent)

    def record(kind, path):
        os.write(log, f"{kind}\\t{path}\\n".encode())

    def resolve(path, dir_fd=None):
        """Absolute real path of an audited path (relative ones may be relative to a directory fd)."""
        path = os.fsdecode(path)
        if dir_fd is not None and dir_fd >= 0 and not os.path.isabs(path):  # -1: the default (cwd)
            path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
        return os.path.realpath(path)

    def inside(path, dir_fd=None):
        if isinstance(path, int):
            return True  # a file descriptor opened earlier (and checked then)
        real = resolve(path, dir_fd)
        return real == out or real.startswith(out + os.sep) or real in ("/dev/null", "/dev/tty")

    WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def hook(event, args):
        if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
                     "socket.sendto", "socket.sendmsg"):
            record("NETWORK", f"{event} {args[1:]!r}")
            raise PermissionError(f"network access refused: {event}")
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & WRITE_FLAGS)
            if writing and path is not None and not inside(path):
                record("WRITE", path)
        elif event in ("os.remove", "os.rmdir"):  # (path, dir_fd)
            if not inside(args[0], args[1]):
                record(event, args[0])
        elif event in ("os.truncate", "os.chmod", "os.symlink", "os.link"):
            if not inside(args[0]):
                record(event, args[0])
        elif event == "os.mkdir":  # (path, mode, dir_fd)
            if not inside(args[0], args[2]) and resolve(args[0], args[2]) not in allowed_dirs:
                record(event, args[0])
        elif event == "os.rename":  # (src, dst, src_dir_fd, dst_dir_fd)
            if not inside(args[1], args[3]):
                record(event, args[1])
        elif event in ("shutil.copyfile", "shutil.move"):
            if not inside(args[1]):
                record(event, args[1])

    sys.addaudithook(hook)
    sys.argv = [sys.argv[0]] + sys.argv[2:]
    from relion_cryodiscovery.cli.main import run_command
    sys.exit(run_command("select", sys.argv[1:], prog="cryodiscovery_select"))
''')


def test_job_writes_only_under_o_and_never_touches_the_network(project: Path, session_tiny_model: Path,
                                                               tmp_path: Path) -> None:
    guard = tmp_path / "guard.py"
    guard.write_text(GUARD)
    log = tmp_path / "violations.tsv"
    home, tmp = tmp_path / "home", tmp_path / "tmpdir"
    home.mkdir()
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_HOME", "MPLCONFIGDIR")}
    env.update(HOME=str(home), TMPDIR=str(tmp), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_CONFIG_HOME=str(home / ".config"))
    before = {str(p): p.read_bytes() for p in project.rglob("*") if p.is_file()}
    model_before = {p.name: p.read_bytes() for p in session_tiny_model.glob("*.*")}
    result = subprocess.run(
        [sys.executable, str(guard), str(log), "--o", OUT, "--in_parts", DATA, "--model", str(session_tiny_model),
         "--min_classes", "2", "--j", "1"],
        cwd=project, env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert (project / OUT / SUCCESS).exists()
    violations = log.read_text().splitlines() if log.exists() else []
    assert violations == [], violations
    assert list(home.rglob("*")) == [] and list(tmp.rglob("*")) == [], "nothing in $HOME or $TMPDIR"
    after = {str(p): p.read_bytes() for p in project.rglob("*") if p.is_file() and OUT not in str(p) + "/"}
    assert {k: v for k, v in after.items() if "External" not in k} == before
    assert {p.name: p.read_bytes() for p in session_tiny_model.glob("*.*")} == model_before


def test_network_guard_is_armed(tmp_path: Path) -> None:
    """The guard really refuses a connection (so the test above could fail)."""
    guard = tmp_path / "guard.py"
    guard.write_text(GUARD.replace(
        "from relion_cryodiscovery.cli.main import run_command",
        "import socket\nsocket.create_connection(('127.0.0.1', 9))\nfrom relion_cryodiscovery.cli.main import run_command"))
    log = tmp_path / "violations.tsv"
    result = subprocess.run([sys.executable, str(guard), str(log), "--o", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "network access refused" in result.stderr
    assert log.read_text().startswith("NETWORK")
