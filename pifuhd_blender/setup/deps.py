"""The add-on's Python dependencies: what is importable, and installing the pinned versions with pip.

Everything is installed with ``<Blender's python> -m pip install --target <site dir>``, where the site dir is
the extension's own user folder (``bpy.utils.extension_path_user``): never Blender's install folder, never
admin rights. pip runs in a subprocess into a *staging* folder that replaces the site dir only once every
step succeeded, so a failed or cancelled install leaves the previous one working. Blender ships numpy (and
``bpy`` breaks with another one), so numpy is pinned to Blender's version while pip resolves and removed
from the staging folder afterwards. The site dir is *appended* to ``sys.path``: Blender's own modules win.

No bpy here: the caller passes the folders and the interpreter.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.metadata
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from .jobs import CancelLike, ProgressFn, SetupCancelled, SetupError, is_cancelled

# --------------------------------------------------------------------------------------------- pins

TORCH_VERSION = "2.13.0"
TORCH_INDEX = {
    "cpu": "https://download.pytorch.org/whl/cpu",
    "cuda": "https://download.pytorch.org/whl/cu126",
}
# From PyPI, resolved together (numpy held at Blender's version by a constraint).
PYPI_REQUIREMENTS = (
    "opencv-python-headless==4.11.0.86",
    "scikit-image==0.26.0",
    "tqdm==4.70.1",
    "pillow==13.0.0",               # photo loading (EXIF, CMYK, 16-bit)
    "fast-simplification==0.2.0",   # decimation to a polygon budget (numpy fallback without it)
    # The baked texture's atlas (Smart UV Project without it). Only where a Python 3.11 wheel exists: pip
    # would try to compile it elsewhere (no compiler on most artists' machines) and fail the whole step.
    "xatlas==0.0.11; (sys_platform == 'linux' and platform_machine == 'x86_64') or sys_platform == 'win32' "
    "or (sys_platform == 'darwin' and platform_machine == 'arm64')",
    # MediaPipe's runtime needs; MediaPipe itself goes in with --no-deps (its declared jax tree is unused).
    "protobuf==4.25.9",
    "absl-py==2.5.1",
    "attrs==26.1.0",
    "flatbuffers==25.12.19",
    "matplotlib==3.11.2",
    # What PyTorch needs at run time of the packages it declares: the CPU build goes in with --no-deps, so
    # sympy, mpmath, jinja2, fsspec and setuptools (torch.compile and code generation only; ~100 MB on disk)
    # are not installed. The CUDA build keeps its declared dependencies (its NVIDIA libraries are among them).
    "typing-extensions==4.16.0",
    "filelock==4.3.1",
)
# Measured for the CPU build on Linux x86-64, Python 3.11 (pip download / install --target of these pins):
# 374 MB downloaded (of which 18 MB is a NumPy wheel pip fetches and the add-on then removes), 1.2 GB on disk
# (PyTorch alone 754 MB). The CUDA build adds NVIDIA's libraries: not measured here.
CPU_SIZE_TEXT = "about 375 MB download, 1.2 GB on disk"
CUDA_SIZE_TEXT = "about 2.5 GB download or more, several GB on disk"
NO_DEPS_REQUIREMENTS = ("mediapipe==0.10.21",)
BLENDER_PROVIDED = ("numpy",)  # never installed into the site dir (it would shadow Blender's)

STAGING_SUFFIX = ".new"
OLD_SUFFIX = ".old"
MARKER = ".pifuhd-install.json"
LOG_KEEP = 5
TERMINATE_GRACE = 5.0


@dataclass(frozen=True)
class Dependency:
    """One importable module the backend needs, the distributions that provide it, and our pin."""

    module: str
    label: str
    dists: tuple[str, ...]
    pin: Optional[str]
    blender_provides: bool = False


DEPENDENCIES: tuple[Dependency, ...] = (
    Dependency("torch", "PyTorch", ("torch",), TORCH_VERSION),
    Dependency("skimage", "scikit-image", ("scikit-image",), "0.26.0"),
    Dependency("cv2", "OpenCV", ("opencv-python-headless", "opencv-python", "opencv-contrib-python",
                                 "opencv-contrib-python-headless"), "4.11.0.86"),
    Dependency("mediapipe", "MediaPipe", ("mediapipe",), "0.10.21"),
    Dependency("numpy", "NumPy", ("numpy",), None, blender_provides=True),
)

# ------------------------------------------------------------------------------------------ status


@dataclass(frozen=True)
class DependencyStatus:
    """Whether ``dep`` is importable, which version, and from where (the add-on's folder or elsewhere)."""

    dep: Dependency
    found: bool
    version: Optional[str] = None
    location: Optional[str] = None
    in_target: bool = False

    @property
    def version_differs(self) -> bool:
        """Found, but not the version we pin (``2.13.0+cpu`` counts as ``2.13.0``)."""
        return bool(self.found and self.dep.pin and self.version
                    and self.version.split("+")[0] != self.dep.pin)

    def describe(self) -> str:
        if not self.found:
            return f"{self.dep.label}: missing"
        where = "add-on folder" if self.in_target else ("Blender" if self.dep.blender_provides else "system")
        text = f"{self.dep.label} {self.version or '(unknown version)'} ({where})"
        if self.version_differs:
            text += f", expected {self.dep.pin}"
        return text


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dist_version(dists: Sequence[str], entries: Sequence[str]) -> Optional[str]:
    wanted = {_normalise(d) for d in dists}
    for dist in importlib.metadata.distributions(path=list(entries)):
        name = dist.metadata["Name"] if dist.metadata is not None else None
        if name and _normalise(name) in wanted:
            return dist.version
    return None


def _entry_of(origin: str, entries: Sequence[str]) -> Optional[str]:
    """The search-path entry that holds ``origin``."""
    origin = os.path.abspath(origin)
    for entry in entries:
        base = os.path.abspath(entry)
        try:
            if os.path.commonpath([base, origin]) == base:
                return entry
        except ValueError:  # different drives on Windows
            continue
    return None


def dependency_status(target: Optional[Path], search_path: Optional[Sequence[str]] = None,
                      deps: Sequence[Dependency] = DEPENDENCIES) -> list[DependencyStatus]:
    """Find each dependency the way ``import`` would once ``target`` is appended to the search path.

    Nothing is imported: modules are located with ``PathFinder.find_spec`` and versions come from the
    installed distributions' metadata, so this is cheap enough for a preferences panel.
    """
    importlib.invalidate_caches()
    tstr = str(target) if target is not None else None
    base = [p for p in (sys.path if search_path is None else search_path) if p != tstr]
    entries = base + ([tstr] if tstr else [])
    result = []
    for dep in deps:
        try:
            spec = importlib.machinery.PathFinder.find_spec(dep.module, entries)
        except (ImportError, ValueError):
            spec = None
        origin = None
        if spec is not None:
            origin = spec.origin if spec.origin not in (None, "namespace") else \
                next(iter(spec.submodule_search_locations or []), None)
        if origin is None:
            result.append(DependencyStatus(dep, False))
            continue
        entry = _entry_of(origin, entries)
        version = _dist_version(dep.dists, [entry] if entry else entries) or _dist_version(dep.dists, entries)
        result.append(DependencyStatus(dep, True, version, origin, entry is not None and entry == tstr))
    return result


def missing_dependencies(statuses: Sequence[DependencyStatus]) -> list[str]:
    """Labels of the dependencies that are not importable."""
    return [s.dep.label for s in statuses if not s.found]


# ---------------------------------------------------------------------------------- search path

def add_site_dir(site_dir: Path) -> bool:
    """Append ``site_dir`` to ``sys.path`` (Blender's own packages keep priority); True if it was added.

    ``.pth`` files are deliberately not processed: they could run code in Blender's process.
    """
    path = str(site_dir)
    importlib.invalidate_caches()
    if path in sys.path:
        return False
    sys.path.append(path)
    return True


def remove_site_dir(site_dir: Path) -> None:
    """Take ``site_dir`` off ``sys.path`` (modules already imported stay loaded)."""
    path = str(site_dir)
    while path in sys.path:
        sys.path.remove(path)
    importlib.invalidate_caches()


def loaded_from(site_dir: Path) -> list[str]:
    """Top-level modules this process already imported from ``site_dir`` (then a restart is needed)."""
    base = os.path.abspath(site_dir) + os.sep
    names = set()
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and os.path.abspath(path).startswith(base):
            names.add(name.partition(".")[0])
    return sorted(names)


# ------------------------------------------------------------------------------ staging and swap

def staging_dir(site_dir: Path) -> Path:
    return site_dir.with_name(site_dir.name + STAGING_SUFFIX)


def has_pending(site_dir: Path) -> bool:
    """A finished install waits in the staging folder (it could not replace the old one while in use)."""
    return (staging_dir(site_dir) / MARKER).is_file()


def activate_staged(site_dir: Path) -> bool:
    """Move a finished staging folder into place; False if one is pending but could not be moved yet.

    Call it before ``add_site_dir`` on add-on enable: on Windows the old folder cannot be renamed while one
    of its DLLs is loaded, so a new install may have to wait for the next start of Blender.
    """
    staged = staging_dir(site_dir)
    if not (staged / MARKER).is_file():
        return True
    old = site_dir.with_name(site_dir.name + OLD_SUFFIX)
    shutil.rmtree(old, ignore_errors=True)
    moved_old = False
    try:
        if site_dir.exists():
            os.replace(site_dir, old)
            moved_old = True
        os.replace(staged, site_dir)
    except OSError:
        if moved_old and not site_dir.exists():
            try:
                os.replace(old, site_dir)
            except OSError:
                pass
        return False
    shutil.rmtree(old, ignore_errors=True)
    importlib.invalidate_caches()
    return True


def prune_blender_packages(target: Path, names: Sequence[str] = BLENDER_PROVIDED) -> list[str]:
    """Delete the packages Blender provides (numpy) from ``target``; returns what was removed."""
    removed = []
    if not target.is_dir():
        return removed
    for name in names:
        pattern = re.compile(rf"^{re.escape(name)}(\.libs|-[^/\\]*\.(dist-info|data))?$", re.IGNORECASE)
        for entry in sorted(target.iterdir()):
            if pattern.match(entry.name):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed.append(entry.name)
    return removed


def blender_numpy_version() -> Optional[str]:
    """The numpy version of the running interpreter (Blender's), read from metadata without importing it."""
    try:
        return importlib.metadata.version("numpy")
    except importlib.metadata.PackageNotFoundError:
        return None


def write_constraints(path: Path, numpy_version: Optional[str], installed_in: Optional[Path] = None) -> None:
    """pip constraints: numpy held at Blender's version, and whatever earlier steps already installed."""
    lines = [f"numpy=={numpy_version}"] if numpy_version else []
    if installed_in is not None and installed_in.is_dir():
        seen = set()
        for dist in importlib.metadata.distributions(path=[str(installed_in)]):
            name = dist.metadata["Name"] if dist.metadata is not None else None
            if name and _normalise(name) not in seen and _normalise(name) not in BLENDER_PROVIDED:
                seen.add(_normalise(name))
                lines.append(f"{name}=={dist.version}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


# ------------------------------------------------------------------------------------ commands

@dataclass(frozen=True)
class PipStep:
    """One pip invocation with a label for the UI and its share of the whole install."""

    label: str
    command: list[str]
    weight: float = 1.0


def python_env(external: bool = False) -> dict[str, str]:
    """Environment for a child Python: UTF-8, unbuffered; Blender's own interpreter is isolated from the
    user's PYTHONPATH and user site (as Blender itself is); an external one keeps the user's environment."""
    env = dict(os.environ)
    env.pop("PYTHONHOME", None)
    if not external:
        env.pop("PYTHONPATH", None)
        env["PYTHONNOUSERSITE"] = "1"
    env.update({"PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "PIP_NO_INPUT": "1"})
    return env


def popen_flags() -> dict:
    """No console window pops up on Windows."""
    return {"creationflags": subprocess.CREATE_NO_WINDOW} if os.name == "nt" else {}


_FIND_PIP = (
    "import importlib.util, glob, os\n"
    "if importlib.util.find_spec('pip'): print('MODULE')\n"
    "else:\n"
    "    import ensurepip\n"
    "    w = sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled', 'pip-*.whl')))\n"
    "    print('WHEEL ' + w[-1] if w else 'NONE')\n"
)


def find_pip(python: str, timeout: float = 60.0) -> list[str]:
    """How to run pip with ``python``: ``-m pip``, or pip straight from the ``ensurepip`` wheel (which
    needs no install into Blender's folder). Raises :class:`SetupError` when neither exists."""
    try:
        out = subprocess.run([python, "-s", "-c", _FIND_PIP], capture_output=True, text=True, timeout=timeout,
                             env=python_env(), **popen_flags())
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SetupError(f"Could not run Blender's Python ({python}): {err}.") from None
    answer = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    if answer == "MODULE":
        return [python, "-s", "-m", "pip"]
    if answer.startswith("WHEEL "):
        return [python, "-s", os.path.join(answer[6:], "pip")]  # pip runs from inside its wheel
    raise SetupError(f"Blender's Python ({python}) has no pip and no ensurepip wheel to run it from, so "
                     "dependencies cannot be installed automatically. Set an external Python interpreter "
                     "with PyTorch instead (see the README).")


def pip_install_command(pip: Sequence[str], target: Path, requirements: Sequence[str], *,
                        index_args: Sequence[str] = (), constraints: Optional[Path] = None,
                        no_deps: bool = False) -> list[str]:
    """``pip install --target`` with binary wheels only (nobody needs a compiler), no prompts, no colour, and
    no copy of the downloads left in pip's cache (~370 MB the user would never see nor need again)."""
    cmd = [*pip, "install", "--target", str(target), "--upgrade", "--only-binary=:all:", "--no-input",
           "--no-cache-dir", "--disable-pip-version-check", "--no-warn-script-location", "--progress-bar", "off"]
    if no_deps:
        cmd.append("--no-deps")
    if constraints is not None:
        cmd += ["--constraint", str(constraints)]
    return cmd + list(index_args) + list(requirements)


def build_install_steps(pip: Sequence[str], target: Path, variant: str, constraints: Path, *,
                        platform: str = sys.platform) -> list[PipStep]:
    """The pip commands for our pinned set: PyTorch from the PyTorch index (CPU build without its declared
    dependencies, whose run-time part is pinned in the next step; CUDA 12.6 build with them), the image
    libraries from PyPI, then MediaPipe without its unused dependency tree."""
    if variant not in TORCH_INDEX:
        raise ValueError(f"unknown PyTorch build {variant!r}; choose one of {', '.join(TORCH_INDEX)}")
    if variant == "cuda" and platform == "darwin":
        raise SetupError("The CUDA build of PyTorch does not exist for macOS: choose the CPU build "
                         "(it uses Apple's GPU through MPS where available).")
    torch_weight = 0.8 if variant == "cuda" else 0.6
    return [
        PipStep(f"PyTorch {TORCH_VERSION} ({variant.upper()})",
                pip_install_command(pip, target, [f"torch=={TORCH_VERSION}"], constraints=constraints,
                                    index_args=["--index-url", TORCH_INDEX[variant]], no_deps=variant == "cpu"),
                torch_weight),
        PipStep("OpenCV, scikit-image and MediaPipe's needs",
                pip_install_command(pip, target, PYPI_REQUIREMENTS, constraints=constraints),
                0.9 - torch_weight),
        PipStep("MediaPipe",
                pip_install_command(pip, target, NO_DEPS_REQUIREMENTS, constraints=constraints, no_deps=True),
                0.1),
    ]


# ----------------------------------------------------------------------------- pip output


def _file_label(location: str) -> str:
    """'https://.../torch-2.13.0%2Bcpu-cp311-...whl' -> 'torch 2.13.0+cpu'."""
    from urllib.parse import unquote
    name = unquote(location.rsplit("/", 1)[-1])
    for ext in (".whl", ".tar.gz", ".zip"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    parts = name.split("-")
    return f"{parts[0]} {parts[1]}" if len(parts) >= 2 else name


_NETWORK_WORDS = ("NewConnectionError", "Failed to establish", "Temporary failure in name resolution",
                  "Max retries exceeded", "Could not fetch URL", "ConnectTimeout", "ProxyError",
                  "SSLError", "Name or service not known", "getaddrinfo failed")


@dataclass
class PipOutputParser:
    """Turns pip's output lines into (fraction of this step, stage text), and remembers the errors."""

    collected: int = 0
    fetched: int = 0
    errors: list[str] = field(default_factory=list)
    network_trouble: bool = False
    last_line: str = ""

    def feed(self, line: str) -> Optional[tuple[float, str]]:
        text = line.strip()
        if not text:
            return None
        self.last_line = text
        if any(word in text for word in _NETWORK_WORDS):
            self.network_trouble = True
        if text.startswith("ERROR:"):
            self.errors.append(text[6:].strip())
            return None
        m = re.match(r"Collecting (\S+)", text)
        if m:
            self.collected += 1
            return self._fraction(), f"Resolving {m.group(1)}"
        m = re.match(r"(Downloading|Using cached) (\S+)(?: \(([^)]*)\))?", text)
        if m:
            self.fetched += 1
            size = f" ({m.group(3)})" if m.group(3) else ""
            verb = "Downloading" if m.group(1) == "Downloading" else "Using cached"
            return self._fraction(), f"{verb} {_file_label(m.group(2))}{size}"
        m = re.match(r"Processing (\S+)", text)  # a local wheel (--find-links) or a cached download
        if m:
            self.fetched += 1
            return self._fraction(), f"Unpacking {_file_label(m.group(1))}"
        m = re.match(r"Installing collected packages: (.*)", text)
        if m:
            count = len([p for p in m.group(1).split(",") if p.strip()])
            return 0.9, f"Installing {count} package{'s' if count != 1 else ''}"
        if text.startswith("Successfully installed"):
            return 1.0, "Installed"
        return None

    def _fraction(self) -> float:
        return 0.85 * (1.0 - 0.85 ** (self.collected + self.fetched))

    def summary(self, label: str, returncode: int) -> str:
        """A one-paragraph explanation of a failed step."""
        seen: list[str] = []
        for e in self.errors:
            if e not in seen:
                seen.append(e)
        detail = "; ".join(seen) or self.last_line or "no output"
        if len(detail) > 500:
            detail = detail[:500] + "..."
        text = f"Installing {label} failed (pip exit code {returncode}): {detail}"
        joined = " ".join(seen).lower()
        if self.network_trouble:
            text += (" — pip could not reach the package index: check the internet connection "
                     "(or proxy) and try again.")
        elif "no space left" in joined:
            text += " — the disk is full: free some space and try again."
        elif "long path" in joined:
            text += (" — Windows refused a long file name: enable long paths (see the link in the log) "
                     "and try again.")
        elif "no matching distribution" in joined:
            text += (" — no release of it exists for this Python and platform "
                     f"(Python {sys.version_info.major}.{sys.version_info.minor}, {sys.platform}).")
        return text


# ----------------------------------------------------------------------------------- running


def _terminate(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=TERMINATE_GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _pump(stream, lines: "queue.Queue[Optional[bytes]]") -> None:
    for raw in iter(stream.readline, b""):
        lines.put(raw)
    lines.put(None)


def run_logged(command: Sequence[str], log, on_line: Callable[[str], None], cancel: CancelLike = None,
               env: Optional[dict] = None, poll: float = 0.1) -> int:
    """Run ``command``; every output line goes to ``log`` and ``on_line``. Cancel terminates it within
    ``poll`` seconds (then :class:`SetupCancelled`). Returns the exit code."""
    log.write(f"\n$ {subprocess.list2cmdline(list(command))}\n")
    log.flush()
    try:
        proc = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, **popen_flags())
    except OSError as err:
        raise SetupError(f"Could not run {command[0]}: {err}.") from None
    lines: "queue.Queue[Optional[bytes]]" = queue.Queue()
    reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True, name="pifuhd-pip-output")
    reader.start()
    try:
        while True:
            if is_cancelled(cancel):
                _terminate(proc)
                log.write("-- cancelled by the user --\n")
                raise SetupCancelled("Installation cancelled; the previous installation (if any) is unchanged.")
            try:
                raw = lines.get(timeout=poll)
            except queue.Empty:
                continue
            if raw is None:
                break
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            log.write(text + "\n")
            log.flush()
            on_line(text)
        return proc.wait()
    finally:
        _terminate(proc)
        proc.stdout.close()


@dataclass(frozen=True)
class InstallReport:
    """What an install did: where, the log, and whether Blender must restart to use it."""

    site_dir: Path
    log_path: Path
    activated: bool
    restart_needed: bool
    removed: tuple[str, ...] = ()

    def message(self) -> str:
        if not self.activated:
            return "Dependencies installed; restart Blender to finish (the old ones are still in use)."
        if self.restart_needed:
            return "Dependencies installed; restart Blender to use the new versions."
        return "Dependencies installed."


def open_log(log_dir: Path, stem: str) -> tuple[Path, "object"]:
    """A new timestamped log file (the oldest ones beyond ``LOG_KEEP`` are removed)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    old = sorted(log_dir.glob(f"{stem}-*.log"))
    for path in old[: max(0, len(old) - LOG_KEEP + 1)]:
        path.unlink(missing_ok=True)
    path = log_dir / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    n = 1
    while path.exists():
        n += 1
        path = log_dir / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}-{n}.log"
    return path, open(path, "w", encoding="utf-8", errors="replace")


StepsFactory = Callable[[Path, Path], list[PipStep]]


def install_dependencies(site_dir: Path, make_steps: StepsFactory, *, log_dir: Path,
                         numpy_version: Optional[str] = None, progress: Optional[ProgressFn] = None,
                         cancel: CancelLike = None, env: Optional[dict] = None) -> InstallReport:
    """Run ``make_steps(staging_dir, constraints_file)``'s pip commands into a staging folder, remove
    Blender's packages from it, then swap it in for ``site_dir``.

    Raises :class:`SetupError` (with ``log_path``) on failure and :class:`SetupCancelled` on cancel; either
    way the staging folder is removed and ``site_dir`` is unchanged.
    """
    site_dir = Path(site_dir)
    report = progress or (lambda f, s: None)
    staged = staging_dir(site_dir)
    constraints = site_dir.with_name("pip-constraints.txt")
    log_path, log = open_log(Path(log_dir), "install")
    finished = False
    try:
        log.write(f"PIFuHD add-on: installing dependencies into {site_dir}\n"
                  f"Python {sys.version.split()[0]} on {sys.platform}; numpy kept at Blender's "
                  f"{numpy_version or '(none found)'}\n")
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir(parents=True, exist_ok=True)
        steps = make_steps(staged, constraints)
        total = sum(s.weight for s in steps) or 1.0
        done = 0.0
        for number, step in enumerate(steps, 1):
            write_constraints(constraints, numpy_version, staged)
            parser = PipOutputParser()
            start, share = done / total, step.weight / total
            prefix = f"{number}/{len(steps)} {step.label}"
            report(start, prefix)

            def on_line(text: str, start=start, share=share, prefix=prefix, parser=parser) -> None:
                update = parser.feed(text)
                if update is not None:
                    report(start + share * update[0], f"{prefix}: {update[1]}")

            code = run_logged(step.command, log, on_line, cancel, env)
            if code != 0:
                raise SetupError(parser.summary(step.label, code))
            done += step.weight
        removed = tuple(prune_blender_packages(staged))
        if removed:
            log.write(f"\nRemoved Blender's own packages from the install: {', '.join(removed)}\n")
        (staged / MARKER).write_text(json.dumps({"installed": time.strftime("%Y-%m-%d %H:%M:%S"),
                                                 "steps": [s.label for s in steps]}), encoding="utf-8")
        finished = True
        restart = bool(loaded_from(site_dir))
        activated = activate_staged(site_dir)
        log.write("\nSuccess." + ("" if activated else " Waiting for a restart of Blender to take effect.") + "\n")
        report(1.0, "Installed")
        return InstallReport(site_dir, log_path, activated, restart, removed)
    except SetupCancelled as err:
        raise SetupCancelled(str(err), log_path) from None
    except SetupError as err:
        log.write(f"\nFAILED: {err}\n")
        raise SetupError(f"{err} Full log: {log_path}", log_path) from None
    except OSError as err:
        log.write(f"\nFAILED: {err}\n")
        raise SetupError(f"Installing the dependencies failed: {err}. Full log: {log_path}", log_path) from None
    finally:
        log.close()
        if not finished:
            shutil.rmtree(staged, ignore_errors=True)


def default_steps(python: str, variant: str) -> StepsFactory:
    """The real install's steps for Blender's interpreter ``python`` (pip is located when the job runs)."""
    def make(target: Path, constraints: Path) -> list[PipStep]:
        return build_install_steps(find_pip(python), target, variant, constraints)
    return make


# ------------------------------------------------------------------------- interpreter checks

_PROBE = r"""
import importlib, json, platform, sys
sys.path.extend(json.loads(sys.argv[1]))
out = {"python": platform.python_version(), "executable": sys.executable, "modules": {}}
for name in json.loads(sys.argv[2]):
    try:
        mod = importlib.import_module(name)
        out["modules"][name] = {"version": str(getattr(mod, "__version__", "") or ""), "error": None}
    except BaseException as err:
        out["modules"][name] = {"version": None, "error": (type(err).__name__ + ": " + str(err))[:300]}
if out["modules"].get("torch", {}).get("error", "x") is None:
    import torch
    out["cuda"] = bool(torch.cuda.is_available())
    out["cuda_version"] = torch.version.cuda
    mps = getattr(torch.backends, "mps", None)
    out["mps"] = bool(mps is not None and mps.is_available())
print("PIFUHD-PROBE " + json.dumps(out))
"""

REQUIRED_MODULES = ("torch", "numpy", "cv2", "skimage", "mediapipe")


@dataclass(frozen=True)
class PythonCheck:
    """The answer to 'can this interpreter run the backend?' — ``message`` is for the user."""

    ok: bool
    message: str
    python: Optional[str] = None
    info: Optional[dict] = None


def resolve_interpreter(path: str) -> Path:
    """The interpreter a user meant: a file as given, or the python inside an environment folder."""
    p = Path(os.path.expanduser(path.strip()))
    if p.is_dir():
        for rel in ("python.exe", "Scripts/python.exe", "bin/python3", "bin/python"):
            if (p / rel).is_file():
                return p / rel
    return p


def probe_interpreter(python: str, modules: Sequence[str] = REQUIRED_MODULES, append_paths: Sequence[str] = (),
                      *, external: bool = True, timeout: float = 180.0) -> dict:
    """Import ``modules`` in a child ``python`` (with ``append_paths`` on its path) and report versions.
    Raises :class:`SetupError` when it cannot run or does not answer."""
    args = [python] + ([] if external else ["-s"]) + ["-c", _PROBE, json.dumps(list(append_paths)),
                                                       json.dumps(list(modules))]
    try:
        out = subprocess.run(args, capture_output=True, timeout=timeout, env=python_env(external), **popen_flags())
    except subprocess.TimeoutExpired:
        raise SetupError(f"{python} did not answer within {timeout:.0f} s.") from None
    except OSError as err:
        raise SetupError(f"{python} could not be started: {err}.") from None
    for line in reversed(out.stdout.decode("utf-8", "replace").splitlines()):
        if line.startswith("PIFUHD-PROBE "):
            return json.loads(line[len("PIFUHD-PROBE "):])
    tail = [ln for ln in out.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    raise SetupError(f"{python} is not a working Python interpreter (exit code {out.returncode}"
                     + (f": {tail[-1].strip()}" if tail else "") + ").")


def validate_python(path: str, *, modules: Sequence[str] = REQUIRED_MODULES, timeout: float = 180.0) -> PythonCheck:
    """Check an external interpreter for the backend: it exists, runs, is Python 3.9+, and imports torch.
    Other missing modules are reported as what to install, but only torch is required to say ok."""
    if not path or not path.strip():
        return PythonCheck(False, "No external interpreter set: the add-on uses Blender's Python with the "
                                  "dependencies installed above.")
    python = resolve_interpreter(path)
    if not python.exists():
        return PythonCheck(False, f"Python interpreter not found: {python}.")
    if python.is_dir():
        return PythonCheck(False, f"{python} is a folder without a Python interpreter in it: choose the "
                                  "python (python.exe) file of the environment.")
    if os.name != "nt" and not os.access(python, os.X_OK):
        return PythonCheck(False, f"{python} is not executable: choose the environment's python program.")
    try:
        info = probe_interpreter(str(python), modules, timeout=timeout)
    except SetupError as err:
        return PythonCheck(False, str(err), str(python))
    version = info.get("python", "?")
    if tuple(int(x) for x in re.findall(r"\d+", version)[:2]) < (3, 9):
        return PythonCheck(False, f"{python} is Python {version}; the backend needs Python 3.9 or newer.",
                           str(python), info)
    mods = info.get("modules", {})
    torch = mods.get("torch", {})
    if torch.get("error"):
        return PythonCheck(False, f"Python {version} found, but it cannot import torch ({torch['error']}). "
                                  "Install PyTorch into that environment, or clear this field to use "
                                  "Blender's Python with the add-on's dependencies.", str(python), info)
    gpu = " with CUDA" if info.get("cuda") else (" with Apple MPS" if info.get("mps") else ", CPU only")
    message = f"Python {version}, PyTorch {torch.get('version')}{gpu}."
    absent = [name for name, m in mods.items() if name != "torch" and m.get("error")]
    if absent:
        message += (f" Missing: {', '.join(absent)} — install them into that environment "
                    "(opencv-python-headless, scikit-image, mediapipe) before reconstructing.")
    return PythonCheck(True, message, str(python), info)
