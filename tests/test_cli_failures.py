"""Every way the command line can fail ends in one clear line and its documented exit code, before the work
where it can be known before, and leaves no file behind (no mesh, no preview)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.cli import (EXIT_CHECKPOINT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_MISSING_PACKAGE, EXIT_USAGE,
                         EXIT_WRITE)
from tests.conftest import PARITY, REPO

SMALL = PARITY / "small" / "checkpoint.pt"
PHOTO = REPO / "examples" / "person.png"
DEMO = REPO / "models" / "demo" / "pifuhd_demo.pt"


def cli(*args, env_extra: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "backend", "reconstruct", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, **kwargs)


def one_clean_error(proc: subprocess.CompletedProcess, code: int, words: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr and words in proc.stderr, proc.stderr
    assert "person found" not in proc.stderr            # refused before any work


@pytest.mark.parametrize("flags, words", [
    (["--resolution", "7"], "between 16 and 1024"),
    (["--resolution", "100000"], "between 16 and 1024"),
    (["--crop", "10", "10", "-5"], "side must be a positive"),
    (["--device", "tpu"], "Unknown device"),
    (["--budget", "3"], "at least"),
])
def test_out_of_range_options_exit_2_before_the_photo_and_the_model(tmp_path, flags, words):
    out = tmp_path / "x.obj"
    proc = cli(PHOTO, "--checkpoint", tmp_path / "missing.pt", "--out", out, *flags)   # 2, not 4
    one_clean_error(proc, EXIT_USAGE, words)
    assert list(tmp_path.iterdir()) == []


def test_device_help_names_gpu():
    proc = subprocess.run([sys.executable, "-m", "backend", "reconstruct", "--help"], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert "gpu" in proc.stdout and "exit codes: 0 done" in proc.stdout and "7 output not writable" in proc.stdout


def test_out_is_a_folder(tmp_path):
    (tmp_path / "meshes.obj").mkdir()
    proc = cli(PHOTO, "--checkpoint", SMALL, "--out", tmp_path / "meshes.obj")
    one_clean_error(proc, EXIT_WRITE, "is a folder")


def test_output_folder_cannot_be_made(tmp_path):
    (tmp_path / "a_file").write_text("x")
    proc = cli(PHOTO, "--checkpoint", SMALL, "--out", tmp_path / "a_file" / "person.obj")
    one_clean_error(proc, EXIT_WRITE, "cannot create the folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        proc = cli(PHOTO, "--checkpoint", SMALL, "--out", folder / "person.obj")
        one_clean_error(proc, EXIT_WRITE, "cannot write in")
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("case", ["model file missing (4)", "no GPU (6)"])
def test_the_preview_is_removed_when_the_run_fails(tmp_path, case):
    out = tmp_path / "person.obj"
    if case.endswith("(4)"):
        proc, code = cli(PHOTO, "--checkpoint", tmp_path / "missing.pt", "--out", out), EXIT_CHECKPOINT
    else:
        import torch
        if torch.cuda.is_available() or torch.backends.mps.is_available():
            pytest.skip("this machine has a GPU")
        proc, code = cli(PHOTO, "--checkpoint", DEMO, "--out", out, "--device", "gpu"), EXIT_FAILED
    assert proc.returncode == code, proc.stderr
    assert "preview of the network inputs" in proc.stderr            # it was written, then removed
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def ctrl_c_able(args: list[str]) -> subprocess.Popen:
    """The CLI with ``args``, with Ctrl+C's default disposition as in a terminal (a test run started in the
    background of a non-interactive shell inherits SIGINT ignored, and the child would never see it)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "backend", "reconstruct", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


SWALLOWED = """
import os, signal, sys, weakref
sys.path.insert(0, sys.argv[1])
if sys.argv[2] == "installed":
    from backend import interrupt
    interrupt.install()
    interrupt.arm()
class Thing: pass
thing = Thing()
ref = weakref.ref(thing, lambda _: [os.kill(os.getpid(), signal.SIGINT), sum(range(1000))])
del thing              # the callback runs: Ctrl+C arrives inside it, where Python cannot raise it
print("carried on", flush=True)
if sys.argv[2] == "installed":
    try:
        interrupt.check()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
"""


@pytest.mark.parametrize("installed", [True, False])
def test_a_ctrl_c_python_swallows_is_not_lost(installed):
    """Ctrl+C inside a weakref callback (the import machinery's, while torch loads) is printed as "Exception
    ignored" and lost: the CLI once finished and wrote its files (exit 0). backend.interrupt remembers it."""
    proc = subprocess.run([sys.executable, "-c", SWALLOWED, str(REPO), "installed" if installed else "plain"],
                          capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert "carried on" in proc.stdout                        # Python could not raise it where it arrived
    if installed:
        assert "interrupted" in proc.stdout and "Exception ignored" not in proc.stderr, proc.stderr
    else:
        assert "KeyboardInterrupt" in proc.stderr              # what the CLI printed and then ignored


def test_interrupted_run_leaves_nothing(tmp_path):
    out = tmp_path / "person.obj"
    proc = ctrl_c_able([str(PHOTO), "--checkpoint", str(DEMO), "--out", str(out), "--resolution", "256", "--dense",
                        "--quiet"])
    end = time.monotonic() + 300
    while not (tmp_path / "person.preview.png").exists() and time.monotonic() < end and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_INTERRUPTED, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("delay", [0.15, 0.3, 0.6])
def test_early_interrupt_is_one_line(tmp_path, delay):
    # while torch and the rest load (about 1-2 s); not in Python's own start-up, which no program can
    # handle (at 0.05 s on a loaded machine the signal landed in runpy, before any of our code ran)
    proc = ctrl_c_able([str(PHOTO), "--checkpoint", str(DEMO), "--out", str(tmp_path / "p.obj")])
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_INTERRUPTED, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert list(tmp_path.iterdir()) == []


BLOCKER = '''
import importlib.abc, sys
class _Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == {name!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, _Missing())
'''


@pytest.mark.parametrize("package", ["torch", "cv2", "skimage", "PIL", "tqdm", "numpy", "mediapipe"])
def test_missing_package_is_one_line(tmp_path, package):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER.format(name=package))
    flags = [] if package == "mediapipe" else ["--no-detect"]
    proc = cli(PHOTO, "--checkpoint", SMALL, "--out", tmp_path / "out" / "p.obj", "--resolution", "16", *flags,
               env_extra={"PYTHONPATH": f"{site}{os.pathsep}{REPO}"})
    assert proc.returncode == EXIT_MISSING_PACKAGE, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("error: ") and package.lower() in lines[-1].lower(), proc.stderr
    assert len([ln for ln in lines if ln.startswith("error:")]) == 1
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "p.obj").exists()


def test_disk_full_while_writing_the_mesh(tmp_path, monkeypatch, capsys):
    """The disk fills up as the mesh is written (after the whole run): a clear line, its own exit code, and
    neither the half mesh nor the preview is left."""
    import errno

    import backend.mesh
    from backend.cli import main

    def full(mesh, path):
        Path(path).write_text("v 0 0 0\n")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(backend.mesh.WRITERS, ".obj", full)
    code = main(["reconstruct", str(PHOTO), "--checkpoint", str(DEMO), "--out", str(tmp_path / "person.obj"),
                 "--resolution", "16", "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_WRITE, err
    assert "No space left on device" in err and "nothing was written" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
