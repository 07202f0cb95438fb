"""Command line: ``python -m backend reconstruct PHOTO --checkpoint CKPT --out OUT.obj``.

Exit codes: 0 success, 2 bad usage, 3 unusable photo, 4 unusable model file, 5 no person found,
6 other reconstruction failure (e.g. out of memory), 130 interrupted.
"""
from __future__ import annotations

import argparse
import sys
import time
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
    rec.add_argument("--dense", action="store_true", help="evaluate every grid point (slow, official)")
    rec.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _progress_bar(quiet: bool):
    if quiet:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=1000, unit="‰", bar_format="{desc:<10}{percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
               file=sys.stderr)

    def update(fraction: float, stage: str) -> None:
        bar.set_description_str(stage, refresh=False)
        bar.update(int(fraction * 1000) - bar.n)

    return update, bar.close


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
        model = load_model(args.checkpoint, device=args.device)
        mesh = reconstruct(args.photo, model, resolution=args.resolution,
                           crop=tuple(args.crop) if args.crop else None, dense=args.dense, progress=update)
        if mesh.is_empty:
            raise PIFuHDError("The network found no surface in this photo: check that a whole person is "
                              "visible, or try another crop.")
        save_mesh(mesh, args.out)
    except ImageError as err:
        return _fail(close, err, EXIT_IMAGE)
    except CheckpointError as err:
        return _fail(close, err, EXIT_CHECKPOINT)
    except NoPersonError as err:
        return _fail(close, err, EXIT_NO_PERSON)
    except PIFuHDError as err:
        return _fail(close, err, EXIT_FAILED)
    except KeyboardInterrupt:
        return _fail(close, "interrupted; nothing was written", EXIT_INTERRUPTED)
    close()
    seconds = time.perf_counter() - start
    print(f"{args.out}: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces, {seconds:.1f} s "
          f"({model.device}, resolution {args.resolution})")
    return EXIT_OK


def _fail(close, err, code: int) -> int:
    close()
    print(f"error: {err}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "reconstruct":
        return run_reconstruct(args)
    return EXIT_USAGE
