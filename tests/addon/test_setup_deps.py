"""Dependencies: status detection, the pip command lines, a real offline ``pip install --target`` of wheels
built here (progress, log, numpy kept out, atomic swap), failure and cancel. No bpy, no internet."""
from __future__ import annotations

import base64
import hashlib
import os
import stat
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from pifuhd_blender.setup import deps
from pifuhd_blender.setup.jobs import Job, SetupCancelled, SetupError

PIP = [sys.executable, "-m", "pip"]
REPO = Path(__file__).resolve().parents[2]


def fake_package(site: Path, module: str, dist: str, version: str) -> None:
    """An installed-looking package whose import would fail loudly (status must not import it)."""
    (site / module).mkdir(parents=True)
    (site / module / "__init__.py").write_text("raise RuntimeError('status detection imported me')\n")
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")


def build_wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A minimal valid pure-Python wheel, written with zipfile (no build tools needed)."""
    files = {
        f"{name}/__init__.py": f"__version__ = {version!r}\n",
        f"{name}-{version}.dist-info/METADATA": "Metadata-Version: 2.1\n"
        f"Name: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                             "Tag: py3-none-any\n",
    }
    record = f"{name}-{version}.dist-info/RECORD"
    lines = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(text.encode())}")
    files[record] = "\n".join(lines + [f"{record},,"]) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    """tinypkg 1.0 (needs numpy), and fake numpy wheels: 1.26.4 (Blender's) and 2.0.0 (newer)."""
    folder = tmp_path_factory.mktemp("wheels")
    build_wheel(folder, "tinypkg", "1.0", requires=("numpy",))
    build_wheel(folder, "numpy", "1.26.4")
    build_wheel(folder, "numpy", "2.0.0")
    return folder


def local_steps(wheelhouse: Path, requirement: str):
    def make(target: Path, constraints: Path) -> list[deps.PipStep]:
        cmd = deps.pip_install_command(PIP, target, [requirement], constraints=constraints,
                                       index_args=["--no-index", "--find-links", str(wheelhouse)])
        return [deps.PipStep("tiny package", cmd)]
    return make


def test_status_reads_versions_without_importing(tmp_path):
    site = tmp_path / "site-packages"
    fake_package(site, "torch", "torch", "2.13.0+cpu")
    fake_package(site, "cv2", "opencv-python-headless", "4.11.0.86")
    fake_package(site, "mediapipe", "mediapipe", "0.10.20")
    status = {s.dep.module: s for s in deps.dependency_status(site, search_path=[])}
    assert status["torch"].found and status["torch"].in_target and status["torch"].version == "2.13.0+cpu"
    assert not status["torch"].version_differs
    assert status["cv2"].describe() == "OpenCV 4.11.0.86 (add-on folder)"
    assert status["mediapipe"].version_differs and "expected 0.10.21" in status["mediapipe"].describe()
    assert not status["skimage"].found and status["skimage"].describe() == "scikit-image: missing"
    assert deps.missing_dependencies(status.values()) == ["scikit-image", "NumPy"]


def test_status_prefers_blenders_own_packages(tmp_path):
    site = tmp_path / "site-packages"
    fake_package(site, "numpy", "numpy", "2.0.0")  # must never win over Blender's numpy
    numpy = next(s for s in deps.dependency_status(site) if s.dep.module == "numpy")
    assert numpy.found and not numpy.in_target and numpy.version == deps.blender_numpy_version()
    assert numpy.describe().endswith("(Blender)")


def test_install_steps_cpu_and_cuda(tmp_path):
    target, constraints = tmp_path / "site", tmp_path / "c.txt"
    cpu = deps.build_install_steps(PIP, target, "cpu", constraints, platform="linux")
    torch_cmd, pypi_cmd, mp_cmd = (s.command for s in cpu)
    for cmd in (torch_cmd, pypi_cmd, mp_cmd):
        assert cmd[:4] == PIP + ["install"]
        assert cmd[cmd.index("--target") + 1] == str(target)
        assert cmd[cmd.index("--constraint") + 1] == str(constraints)
        assert "--only-binary=:all:" in cmd and "--user" not in cmd and "--prefix" not in cmd
        assert not any(a.startswith("numpy") for a in cmd)  # Blender's numpy is never asked for
    assert torch_cmd[-3:] == ["--index-url", "https://download.pytorch.org/whl/cpu", "torch==2.13.0"]
    assert "--no-deps" in torch_cmd                 # the CPU build without sympy & co (see test below)
    assert {"typing-extensions==4.16.0", "filelock==4.3.1"} <= set(pypi_cmd)
    assert pypi_cmd[-len(deps.PYPI_REQUIREMENTS):] == list(deps.PYPI_REQUIREMENTS)
    assert "--index-url" not in pypi_cmd
    assert {"opencv-python-headless==4.11.0.86", "scikit-image==0.26.0", "protobuf==4.25.9", "absl-py==2.5.1",
            "attrs==26.1.0", "flatbuffers==25.12.19", "matplotlib==3.11.2"} <= set(pypi_cmd)
    assert "--no-deps" in mp_cmd and mp_cmd[-1] == "mediapipe==0.10.21" and "--no-deps" not in pypi_cmd
    cuda = deps.build_install_steps(PIP, target, "cuda", constraints, platform="win32")
    assert cuda[0].command[-2] == "https://download.pytorch.org/whl/cu126"
    assert "--no-deps" not in cuda[0].command       # the CUDA build needs its declared NVIDIA libraries
    assert sum(s.weight for s in cuda) == pytest.approx(1.0)
    with pytest.raises(SetupError, match="macOS"):
        deps.build_install_steps(PIP, target, "cuda", constraints, platform="darwin")
    with pytest.raises(ValueError):
        deps.build_install_steps(PIP, target, "rocm", constraints)


def test_constraints_hold_numpy_and_earlier_steps(tmp_path):
    site = tmp_path / "staging"
    fake_package(site, "torch", "torch", "2.13.0+cpu")
    fake_package(site, "numpy", "numpy", "1.26.4")
    path = tmp_path / "constraints.txt"
    deps.write_constraints(path, "1.26.4", site)
    assert path.read_text().splitlines() == ["numpy==1.26.4", "torch==2.13.0+cpu"]


def test_prune_removes_only_numpy(tmp_path):
    for name in ("numpy", "numpy.libs", "numpy-1.26.4.dist-info", "numpyro", "tinypkg"):
        (tmp_path / name).mkdir()
    assert deps.prune_blender_packages(tmp_path) == ["numpy", "numpy-1.26.4.dist-info", "numpy.libs"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["numpyro", "tinypkg"]


def test_real_offline_pip_install(tmp_path, wheelhouse):
    site, logs = tmp_path / "site-packages", tmp_path / "logs"
    site.mkdir()
    (site / "old-install.txt").write_text("previous")
    seen = []
    job = Job("deps", lambda progress, cancel: deps.install_dependencies(
        site, local_steps(wheelhouse, "tinypkg==1.0"), log_dir=logs, numpy_version="1.26.4",
        progress=lambda f, s: (seen.append((f, s)), progress(f, s)), cancel=cancel, env=deps.python_env()))
    state = job.run()
    assert state.state == "done", state.message
    report = state.result
    assert report.activated and not report.restart_needed and report.message() == "Dependencies installed."
    assert (site / "tinypkg" / "__init__.py").is_file() and not (site / "old-install.txt").exists()
    assert report.removed == ("numpy", "numpy-1.26.4.dist-info")  # held at Blender's version, then removed
    assert not deps.staging_dir(site).exists() and not site.with_name("site-packages.old").exists()
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("Installing" in s for _, s in seen) and any("Unpacking tinypkg 1.0" in s for _, s in seen)
    log = report.log_path.read_text()
    assert "--target" in log and "Successfully installed" in log and "Success." in log
    tiny = deps.Dependency("tinypkg", "Tiny", ("tinypkg",), "1.0")
    (status,) = deps.dependency_status(site, search_path=[], deps=[tiny])
    assert status.found and status.in_target and status.version == "1.0"


def test_downloads_leave_nothing_in_pips_cache(tmp_path, wheelhouse, monkeypatch):
    """The wheels come over HTTP (a server on 127.0.0.1) with PyPI's cache headers: without ``--no-cache-dir``
    pip keeps a copy of each in its cache."""
    import functools
    from http.server import HTTPServer, SimpleHTTPRequestHandler

    class Index(SimpleHTTPRequestHandler):
        def end_headers(self) -> None:                # what PyPI's file server says of a wheel
            self.send_header("Cache-Control", "max-age=365000000, immutable, public")
            super().end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), functools.partial(Index, directory=str(wheelhouse)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))     # pip's cache: $XDG_CACHE_HOME/pip
    monkeypatch.setenv("PIP_CACHE_DIR", str(cache / "pip"))
    url = f"http://127.0.0.1:{server.server_port}/"

    def steps(target: Path, constraints: Path) -> list[deps.PipStep]:
        cmd = deps.pip_install_command(PIP, target, ["tinypkg==1.0"], constraints=constraints,
                                       index_args=["--no-index", "--find-links", url, "--trusted-host",
                                                   "127.0.0.1"])   # trusted: pip caches it like PyPI's HTTPS
        return [deps.PipStep("tiny package", cmd)]
    try:
        site = tmp_path / "site-packages"
        report = deps.install_dependencies(site, steps, log_dir=tmp_path / "logs", numpy_version="1.26.4",
                                           env=deps.python_env())
    finally:
        server.shutdown()
    assert report.activated and (site / "tinypkg" / "__init__.py").is_file()
    left = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert left == []


def test_failed_install_gives_a_readable_log_and_keeps_the_old_one(tmp_path, wheelhouse):
    site, logs = tmp_path / "site-packages", tmp_path / "logs"
    site.mkdir()
    (site / "old-install.txt").write_text("previous")
    with pytest.raises(SetupError) as err:
        deps.install_dependencies(site, local_steps(wheelhouse, "tinypkg==9.9"), log_dir=logs,
                                  numpy_version="1.26.4", env=deps.python_env())
    message, log_path = str(err.value), err.value.log_path
    assert "Installing tiny package failed" in message and "No matching distribution found for tinypkg==9.9" in message
    assert str(log_path) in message and "no release of it exists" in message
    log = log_path.read_text()
    assert "$ " in log and "tinypkg==9.9" in log and "ERROR:" in log and "FAILED:" in log
    assert (site / "old-install.txt").read_text() == "previous" and not deps.staging_dir(site).exists()


def test_cancel_stops_pip_and_keeps_the_old_install(tmp_path):
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "old-install.txt").write_text("previous")
    slow = [sys.executable, "-c", "print('Collecting slowpkg', flush=True); import time; time.sleep(60)"]
    cancel = threading.Event()

    def progress(fraction, stage):
        if "slowpkg" in stage:
            cancel.set()
    with pytest.raises(SetupCancelled) as err:
        deps.install_dependencies(site, lambda target, c: [deps.PipStep("slow", slow)], log_dir=tmp_path / "logs",
                                  progress=progress, cancel=cancel)
    assert "cancelled by the user" in err.value.log_path.read_text()
    assert (site / "old-install.txt").exists() and not deps.staging_dir(site).exists()


def test_pending_install_waits_for_a_restart(tmp_path, monkeypatch):
    site = tmp_path / "site-packages"
    site.mkdir()
    staged = deps.staging_dir(site)
    staged.mkdir()
    (staged / deps.MARKER).write_text("{}")
    real_replace = os.replace

    def locked(src, dst):  # Windows: a loaded DLL keeps the old folder from being renamed
        raise PermissionError("in use")
    monkeypatch.setattr(deps.os, "replace", locked)
    assert not deps.activate_staged(site) and deps.has_pending(site) and site.is_dir()
    monkeypatch.setattr(deps.os, "replace", real_replace)
    assert deps.activate_staged(site) and not deps.has_pending(site) and (site / deps.MARKER).is_file()


def test_pip_output_parser():
    parser = deps.PipOutputParser()
    lines = [
        "Looking in indexes: https://download.pytorch.org/whl/cpu",
        "Collecting torch==2.13.0",
        "  Downloading https://download.pytorch.org/whl/cpu/torch-2.13.0%2Bcpu-cp311-cp311-linux_x86_64.whl (190.5 MB)",
        "Collecting filelock (from torch==2.13.0)",
        "  Using cached filelock-4.3.1-py3-none-any.whl (16 kB)",
        "Installing collected packages: filelock, torch",
        "Successfully installed filelock-4.3.1 torch-2.13.0+cpu",
    ]
    updates = [u for u in map(parser.feed, lines) if u is not None]
    assert [s for _, s in updates] == [
        "Resolving torch==2.13.0", "Downloading torch 2.13.0+cpu (190.5 MB)", "Resolving filelock",
        "Using cached filelock 4.3.1 (16 kB)", "Installing 2 packages", "Installed"]
    fractions = [f for f, _ in updates]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    offline = deps.PipOutputParser()
    offline.feed("WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError(...)'")
    offline.feed("ERROR: No matching distribution found for torch==2.13.0")
    assert "could not reach the package index" in offline.summary("PyTorch", 1)


def test_search_path_and_pip_discovery(tmp_path):
    assert deps.add_site_dir(tmp_path) and sys.path[-1] == str(tmp_path)
    assert not deps.add_site_dir(tmp_path)
    deps.remove_site_dir(tmp_path)
    assert str(tmp_path) not in sys.path
    assert deps.find_pip(sys.executable) == [sys.executable, "-s", "-m", "pip"]


def test_external_interpreter_validation(tmp_path):
    venv = Path(sys.prefix)
    ok = deps.validate_python(str(venv), modules=("torch",))  # an environment folder is accepted too
    assert ok.ok and "PyTorch 2.13.0" in ok.message and "CPU only" in ok.message, ok.message
    missing = deps.validate_python(str(tmp_path / "nope" / "python"))
    assert not missing.ok and "not found" in missing.message
    plain = tmp_path / "python"
    plain.write_text("not a program")
    assert "not executable" in deps.validate_python(str(plain)).message
    no_torch = tmp_path / "python-without-torch"  # the same interpreter without its site-packages
    no_torch.write_text(f"#!/bin/sh\nexec '{sys.executable}' -S \"$@\"\n")
    no_torch.chmod(no_torch.stat().st_mode | stat.S_IXUSR)
    check = deps.validate_python(str(no_torch), modules=("torch",))
    assert not check.ok and "cannot import torch" in check.message and "ModuleNotFoundError" in check.message
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\necho oops >&2\nexit 3\n")
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    assert "not a working Python interpreter (exit code 3: oops)" in deps.validate_python(str(broken)).message


def test_the_backend_runs_without_the_torch_dependencies_the_cpu_install_leaves_out(tmp_path):
    """The CPU install skips PyTorch's declared sympy, mpmath, jinja2, fsspec and setuptools (about 100 MB on
    disk): load a model, prepare a photo, reconstruct and colour with those imports blocked."""
    import subprocess

    code = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"sympy", "mpmath", "jinja2", "fsspec", "setuptools", "markupsafe"}:
            raise ModuleNotFoundError(f"blocked {name}", name=name)
sys.meta_path.insert(0, Block())
import backend
photo = "tests/data/photos/yoga_tree_white.jpg"
model = backend.load_model("models/demo/pifuhd_demo.pt", "cpu")
prepared = backend.prepare_photo(photo, coarse_size=256, fine_size=512)
mesh = backend.reconstruct(photo, model, resolution=24, inputs=prepared.inputs, color_fill=True)
assert len(mesh.vertices) > 0
print("ok", len(mesh.vertices))
"""
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "ok" in run.stdout, run.stderr[-2000:]
