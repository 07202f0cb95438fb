"""Command line: ``python -m backend reconstruct PHOTO --checkpoint CKPT --out OUT.obj``.

A thin adapter of :func:`backend.pipeline.run`: the flags become one :class:`backend.options.Options`
(checked before any work), the photo is prepared first (so a bad photo fails before the model loads; a
preview of the network inputs is saved beside the mesh), then the model is loaded and the pipeline runs.

Exit codes: 0 success, 2 bad usage (flags, option values), 3 unusable photo, 4 unusable model file, 5 no
person found, 6 other reconstruction failure (e.g. out of memory, no surface), 7 the output could not be
written (folder not writable, ``--out`` is a folder, disk full), 8 a required Python package is missing,
130 interrupted. On any failure nothing is left behind: no mesh, no preview.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from . import interrupt
from .options import BUDGETS, DEFAULT_RESOLUTION, DEVICES, MAX_RESOLUTION, MIN_RESOLUTION, NETWORK_STATES, PRECISIONS

INTERRUPTED_MESSAGE = "error: interrupted; nothing was written"
EXIT_OK, EXIT_USAGE, EXIT_IMAGE, EXIT_CHECKPOINT, EXIT_NO_PERSON, EXIT_FAILED = 0, 2, 3, 4, 5, 6
EXIT_WRITE, EXIT_MISSING_PACKAGE, EXIT_INTERRUPTED = 7, 8, 130
#: Packages the CLI needs (import name -> what to install), for the missing-package message.
PACKAGES = {"numpy": "numpy", "torch": "torch", "cv2": "opencv-python-headless", "skimage": "scikit-image",
            "PIL": "pillow", "tqdm": "tqdm", "scipy": "scipy", "mediapipe": "mediapipe"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m backend", description="PIFuHD: one photo -> a 3D person.",
        epilog="exit codes: 0 done, 2 bad usage, 3 unusable photo, 4 unusable model file, 5 no person found, "
               "6 other failure, 7 output not writable, 8 missing Python package, 130 interrupted")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("reconstruct", help="reconstruct the person in a photo as a coloured mesh",
                         epilog=parser.epilog)
    rec.add_argument("photo", help="the photo (PNG, JPEG, ...)")
    rec.add_argument("--checkpoint", required=True, help="PIFuHD checkpoint (pifuhd.pt or compatible)")
    rec.add_argument("--out", required=True, help="output mesh, .obj or .ply")
    rec.add_argument("--resolution", type=int, default=DEFAULT_RESOLUTION,
                     help=f"grid points per axis, {MIN_RESOLUTION}-{MAX_RESOLUTION} (default {DEFAULT_RESOLUTION})")
    rec.add_argument("--device", default="auto",
                     help=f"{', '.join(DEVICES)} or cuda:N (default auto: CUDA, then Apple MPS, then CPU; "
                          "gpu: CUDA or MPS, an error without one)")
    rec.add_argument("--precision", default="fp32", choices=PRECISIONS, help="network arithmetic (default fp32)")
    rec.add_argument("--network-state", default="official", choices=NETWORK_STATES,
                     help="official (default: the official evaluation's normalisation) or eval")
    rec.add_argument("--crop", type=int, nargs=3, metavar=("X", "Y", "SIDE"),
                     help="square crop in photo pixels (default: automatic)")
    rec.add_argument("--no-detect", action="store_true",
                     help="skip photo preparation (no person detection, background kept; crop from --crop, "
                          "the alpha of a cut-out, or the whole photo)")
    rec.add_argument("--keep-background", action="store_true",
                     help="do not replace the background with grey (photo preparation still finds the crop)")
    rec.add_argument("--preview", metavar="PNG",
                     help="where to save the preview of the network inputs (default: OUT.preview.png)")
    rec.add_argument("--no-preview", action="store_true", help="do not save the preview")
    rec.add_argument("--dense", action="store_true", help="evaluate every grid point (slow, official)")
    rec.add_argument("--clean", action="store_true",
                     help="keep only the person's piece (drop floating bits), close small holes")
    rec.add_argument("--color-fill", action="store_true",
                     help="photo colour only where the camera sees the surface; fill the back from it")
    rec.add_argument("--back", metavar="PHOTO",
                     help="a photo of the person's back (a cut-out PNG, or prepared like the front) to colour "
                          "the back; implies --color-fill")
    rec.add_argument("--budget", default="full", metavar="BUDGET",
                     help=f"polygon budget: {', '.join(BUDGETS)} (default) or a number of triangles")
    rec.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def options_from_args(args: argparse.Namespace):
    """The flags as one validated :class:`Options` (raises :class:`OptionsError`)."""
    from .options import Options

    budget = int(args.budget) if str(args.budget).isdigit() else str(args.budget).lower()
    return Options(resolution=args.resolution, device=args.device, precision=args.precision,
                   network_state=args.network_state, crop=tuple(args.crop) if args.crop else None,
                   detect=not args.no_detect, remove_background=not args.keep_background, dense=args.dense,
                   cleanup=args.clean, color_fill=args.color_fill or args.back is not None, budget=budget,
                   back_photo=args.back).validate()


def _progress_bar(quiet: bool):
    """(update, close) for a progress bar on stderr that appears on the first update."""
    if quiet:
        return None, lambda: None
    from tqdm import tqdm

    state = {}

    def update(fraction: float, stage: str) -> None:
        if "bar" not in state:
            state["bar"] = tqdm(total=1000, unit="‰", file=sys.stderr,
                                bar_format="{desc:<10}{percentage:3.0f}%|{bar}| {elapsed}<{remaining}")
        bar = state["bar"]
        bar.set_description_str(stage, refresh=False)
        bar.update(int(fraction * 1000) - bar.n)

    def close() -> None:
        if "bar" in state:
            state["bar"].close()

    return update, close


def check_writable(path: Path) -> str | None:
    """None when a file can be written at ``path`` (its folder is made if missing), else what is wrong."""
    if path.is_dir():
        return f"{path} is a folder: give a file name, e.g. {path / 'person.obj'}"
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return f"cannot create the folder {folder} ({err.strerror or err})"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".pifuhd-write-test-"):
            pass
    except OSError as err:
        return f"cannot write in {folder} ({err.strerror or err}): choose another --out"
    return None


class _Outputs:
    """The files this run writes; all removed again when the run fails."""

    def __init__(self) -> None:
        self.written: list[Path] = []

    def remove(self) -> None:
        for path in self.written:
            with contextlib.suppress(OSError):
                path.unlink()
        self.written.clear()


def run_reconstruct(args: argparse.Namespace) -> int:
    from .errors import OptionsError

    out = Path(args.out)
    if out.suffix.lower() not in (".obj", ".ply"):
        print(f"error: --out must end in .obj or .ply (got {args.out})", file=sys.stderr)
        return EXIT_USAGE
    try:
        options = options_from_args(args)
    except OptionsError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    preview = None if args.no_preview or not options.detect else Path(args.preview or out.with_suffix(".preview.png"))
    for path in (out, preview):
        problem = None if path is None else check_writable(path)
        if problem:
            print(f"error: {problem}; nothing was done", file=sys.stderr)
            return EXIT_WRITE
    outputs = _Outputs()
    update, close = _progress_bar(args.quiet)
    try:
        return _reconstruct(args, options, out, preview, outputs, update, close)
    except BaseException:
        outputs.remove()
        close()
        raise


def _reconstruct(args, options, out: Path, preview: Path | None, outputs: _Outputs, update, close) -> int:
    from .errors import CheckpointError, ImageError, NoPersonError, PIFuHDError
    from .mesh import save_mesh
    from .pipeline import load_model_for, run
    interrupt.arm()                           # the libraries are loaded: Ctrl+C may now stop the run at once

    def progress(fraction: float, stage: str) -> None:
        interrupt.check()                     # a Ctrl+C Python swallowed (in a callback)
        if update is not None:
            update(fraction, stage)

    start = time.perf_counter()
    code = EXIT_OK
    try:
        prepared = _prepare(args, options, preview, outputs) if options.detect else None  # a bad photo fails fast
        model = load_model_for(args.checkpoint, options)
        result = run(args.photo, model, options, progress=progress, prepared=prepared)
        close()
        interrupt.check()
        for warning in result.warnings:
            if prepared is None or warning not in prepared.warnings:
                print(f"warning: {warning}", file=sys.stderr)
        try:
            save_mesh(result.mesh, out)
        except OSError as err:
            print(f"error: could not write {out} ({err.strerror or err}); nothing was written", file=sys.stderr)
            code = EXIT_WRITE
    except ImageError as err:
        code = _fail(close, err, EXIT_IMAGE)
    except CheckpointError as err:
        code = _fail(close, err, EXIT_CHECKPOINT)
    except NoPersonError as err:
        code = _fail(close, err, EXIT_NO_PERSON)
        print("hint: --no-detect --crop X Y SIDE reconstructs without person detection.", file=sys.stderr)
    except PIFuHDError as err:   # one that is also an ImportError names a missing package (MediaPipe)
        code = _fail(close, err, EXIT_MISSING_PACKAGE if isinstance(err, ImportError) else EXIT_FAILED)
    except OSError as err:   # the preview (disk full) or a file the pipeline reads
        code = _fail(close, f"{err.strerror or err}: {err.filename or ''}; nothing was written", EXIT_WRITE)
    if code != EXIT_OK:
        outputs.remove()
        return code
    seconds = time.perf_counter() - start
    print(f"{args.out}: {len(result.mesh.vertices)} vertices, {len(result.mesh.faces)} faces, {seconds:.1f} s "
          f"({model.device}, resolution {options.resolution})")
    return EXIT_OK


def _prepare(args: argparse.Namespace, options, preview: Path | None, outputs: _Outputs):
    """Photo preparation for the CLI: prints what was found, saves the preview, returns the PreparedPhoto."""
    from .pipeline import prepare

    with _native_logs_hidden():
        prepared = prepare(args.photo, options)
    x, y, side = prepared.crop
    print(f"person found: crop x={x} y={y} side={side} ({prepared.crop_source}), background "
          f"{'replaced' if prepared.background_removed else 'kept'}", file=sys.stderr)
    for warning in prepared.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if preview is not None:
        prepared.save_preview(preview)
        outputs.written.append(preview)
        print(f"preview of the network inputs: {preview}", file=sys.stderr)
    return prepared


@contextlib.contextmanager
def _native_logs_hidden():
    """Hide what native code (MediaPipe's C++ logging) writes to stderr meanwhile; replay it on a crash."""
    from .errors import PIFuHDError

    sys.stderr.flush()
    try:
        captured_file = tempfile.TemporaryFile()
    except OSError:       # no writable temporary folder: show the native logs rather than fail
        yield
        return
    saved = os.dup(2)
    with captured_file as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except PIFuHDError:
            raise
        except BaseException:
            _restore_stderr(saved)
            saved = None
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            if saved is not None:
                _restore_stderr(saved)


def _restore_stderr(saved: int) -> None:
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)


def _fail(close, err, code: int) -> int:
    close()
    if interrupt.pressed():              # the failure is Ctrl+C's doing (a library interrupted while loading)
        print(INTERRUPTED_MESSAGE, file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"error: {err}", file=sys.stderr)
    return code


def _missing_package(err: ModuleNotFoundError) -> str | None:
    """The install hint for a missing package the CLI needs, or None for another module."""
    top = (err.name or "").split(".")[0]
    if top not in PACKAGES:
        return None
    return (f"the Python package '{PACKAGES[top]}' is missing (import {top}): install the requirements with "
            f"`{sys.executable} -m pip install -r requirements.txt` (make venv)")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "reconstruct":
            return run_reconstruct(args)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(INTERRUPTED_MESSAGE, file=sys.stderr)
        return EXIT_INTERRUPTED
    except ModuleNotFoundError as err:
        hint = _missing_package(err)
        if hint is None:
            raise
        return _fail(lambda: None, hint, EXIT_MISSING_PACKAGE)
    except Exception:
        if not interrupt.pressed():
            raise
        print(INTERRUPTED_MESSAGE, file=sys.stderr)     # e.g. numpy's ImportError when Ctrl+C hit its loading
        return EXIT_INTERRUPTED
