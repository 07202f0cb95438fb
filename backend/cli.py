"""Command line: ``python -m backend reconstruct PHOTO --checkpoint CKPT --out OUT.obj``.

By default the photo is prepared first (person found, official full-body crop, background replaced with
grey) and a preview of the network inputs is saved beside the mesh; ``--no-detect`` skips that.

Exit codes: 0 success, 2 bad usage, 3 unusable photo, 4 unusable model file, 5 no person found,
6 other reconstruction failure (e.g. out of memory), 130 interrupted.
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

EXIT_OK, EXIT_USAGE, EXIT_IMAGE, EXIT_CHECKPOINT, EXIT_NO_PERSON, EXIT_FAILED, EXIT_INTERRUPTED = 0, 2, 3, 4, 5, 6, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backend", description="PIFuHD: one photo -> a 3D person.")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("reconstruct", help="reconstruct the person in a photo as a coloured mesh")
    rec.add_argument("photo", help="the photo (PNG, JPEG, ...)")
    rec.add_argument("--checkpoint", required=True, help="PIFuHD checkpoint (pifuhd.pt or compatible)")
    rec.add_argument("--out", required=True, help="output mesh, .obj or .ply")
    rec.add_argument("--resolution", type=int, default=256, help="grid points per axis (default 256)")
    rec.add_argument("--device", default="auto", help="auto (default), cpu, cuda, mps")
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
    rec.add_argument("--color-fill", action="store_true",
                     help="photo colour only where the camera sees the surface; fill the back from it")
    rec.add_argument("--clean", action="store_true",
                     help="keep only the person's piece (drop floating bits), close small holes")
    rec.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


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


def run_reconstruct(args: argparse.Namespace) -> int:
    from . import load_model, reconstruct, save_mesh
    from .errors import CheckpointError, ImageError, NoPersonError, PIFuHDError

    out_suffix = args.out.lower().rsplit(".", 1)[-1]
    if out_suffix not in ("obj", "ply"):
        print(f"error: --out must end in .obj or .ply (got {args.out})", file=sys.stderr)
        return EXIT_USAGE
    start = time.perf_counter()
    update, close = _progress_bar(args.quiet)
    try:
        prepared = None if args.no_detect else _prepare(args)   # before the model: a bad photo fails fast
        model = load_model(args.checkpoint, device=args.device)
        inputs = None if prepared is None else _inputs_for(prepared, model, args)
        mesh = reconstruct(args.photo, model, resolution=args.resolution,
                           crop=tuple(args.crop) if args.crop else None, dense=args.dense, progress=update,
                           color_fill=args.color_fill,
                           inputs=inputs)
        if mesh.is_empty:
            raise PIFuHDError("The network found no surface in this photo: check that a whole person is "
                              "visible, or try another crop.")
        if args.clean:
            from .meshops import clean_mesh

            mesh = clean_mesh(mesh)
        save_mesh(mesh, args.out)
    except ImageError as err:
        return _fail(close, err, EXIT_IMAGE)
    except CheckpointError as err:
        return _fail(close, err, EXIT_CHECKPOINT)
    except NoPersonError as err:
        code = _fail(close, err, EXIT_NO_PERSON)
        print("hint: --no-detect --crop X Y SIDE reconstructs without person detection.", file=sys.stderr)
        return code
    except PIFuHDError as err:
        return _fail(close, err, EXIT_FAILED)
    except KeyboardInterrupt:
        return _fail(close, "interrupted; nothing was written", EXIT_INTERRUPTED)
    close()
    seconds = time.perf_counter() - start
    print(f"{args.out}: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces, {seconds:.1f} s "
          f"({model.device}, resolution {args.resolution})")
    return EXIT_OK


def _prepare(args: argparse.Namespace, coarse_size: int = 512, fine_size: int = 1024):
    """Photo preparation for the CLI: prints what was found, saves the preview, returns the PreparedPhoto."""
    from . import prepare_photo

    with _native_logs_hidden():
        prepared = prepare_photo(args.photo, remove_background=not args.keep_background,
                                 crop=tuple(args.crop) if args.crop else None,
                                 coarse_size=coarse_size, fine_size=fine_size)
    x, y, side = prepared.crop
    print(f"person found: crop x={x} y={y} side={side} ({prepared.crop_source}), background "
          f"{'replaced' if prepared.background_removed else 'kept'}", file=sys.stderr)
    for warning in prepared.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not args.no_preview:
        path = args.preview or str(Path(args.out).with_suffix(".preview.png"))
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)  # the mesh's folder may not exist yet
            prepared.save_preview(path)
            print(f"preview of the network inputs: {path}", file=sys.stderr)
        except OSError as err:
            print(f"warning: could not save the preview {path} ({err})", file=sys.stderr)
    return prepared


def _inputs_for(prepared, model, args: argparse.Namespace):
    """The prepared inputs, redone at the model's input sizes if they are not the usual 512 / 1024."""
    sizes = (model.coarse.load_size, model.fine.load_size)
    if (prepared.inputs.image_512.shape[-1], prepared.inputs.image_1024.shape[-1]) != sizes:
        return prepared.inputs_at(args.photo, *sizes)       # same crop and mask: no second detection
    return prepared.inputs


@contextlib.contextmanager
def _native_logs_hidden():
    """Hide what native code (MediaPipe's C++ logging) writes to stderr meanwhile; replay it on a crash."""
    from .errors import PIFuHDError

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
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
    print(f"error: {err}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "reconstruct":
        return run_reconstruct(args)
    return EXIT_USAGE
