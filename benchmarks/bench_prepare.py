"""Photo preparation benchmark: prints figures, asserts nothing.

For every photo in the shared photo folder (``$PIFUHD_SHARED/photos``, else ``../shared/photos``, else the
copies in ``tests/data/photos``), scaled so its longer side is 1024 px: the median wall time of
``prepare_photo`` over a few warm runs, with and without GrabCut edge refinement, split into its steps; then
the median over the photos, the cold start (import MediaPipe + build its graph + first photo) and the
process's peak memory. ``--big`` adds one 48-megapixel photo (the issue's "very large photo" case).

Run: ``python benchmarks/bench_prepare.py [--repeats 3] [--big] [--photos DIR]``
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.image_io import load_image  # noqa: E402
from backend.photo import prepare_photo  # noqa: E402

STEPS = ("detect", "mask", "inputs", "preview")


def photo_dir() -> Path:
    shared = Path(os.environ.get("PIFUHD_SHARED", REPO.parent / "shared")) / "photos"
    return shared if shared.is_dir() else REPO / "tests" / "data" / "photos"


def at_1024(photo: np.ndarray) -> np.ndarray:
    h, w = photo.shape[:2]
    scale = 1024 / max(h, w)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(photo, (round(w * scale), round(h * scale)), interpolation=interp)


def timed(photo: np.ndarray, repeats: int, refine: bool) -> dict[str, float]:
    """Median seconds per step (and in total) of ``repeats`` warm runs."""
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        p = prepare_photo(photo, refine_edges=refine)
        runs.append({**{s: p.seconds[s] for s in STEPS}, "total": time.perf_counter() - t})
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--photos", type=Path, default=None)
    parser.add_argument("--big", action="store_true", help="also time a 48 MP photo")
    args = parser.parse_args()
    folder = args.photos or photo_dir()
    names = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in (".jpg", ".jpeg", ".png") and not p.stem.endswith("_mask"))
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; photos from {folder}")

    t = time.perf_counter()
    first = at_1024(load_image(names[0]))
    prepare_photo(first)
    print(f"cold start (import MediaPipe, build its graph, first photo): {time.perf_counter() - t:.2f} s")

    header = f"{'photo @1024':<34}{'refine':>7}" + "".join(f"{s:>9}" for s in STEPS) + f"{'total':>9}"
    print(header + "   (ms, median of %d)" % args.repeats)
    totals: dict[bool, list[float]] = {True: [], False: []}
    for path in names:
        photo = at_1024(load_image(path))
        for refine in (True, False):
            m = timed(photo, args.repeats, refine)
            totals[refine].append(m["total"])
            print(f"{path.name:<34}{'on' if refine else 'off':>7}"
                  + "".join(f"{1000 * m[s]:9.0f}" for s in STEPS) + f"{1000 * m['total']:9.0f}")
    for refine in (True, False):
        print(f"median per photo at 1024 px, edge refinement {'on ' if refine else 'off'}: "
              f"{1000 * statistics.median(totals[refine]):.0f} ms over {len(names)} photos")

    if args.big:
        photo = load_image(names[0])
        factor = int(np.ceil(np.sqrt(48e6 / (photo.shape[0] * photo.shape[1]))))
        big = cv2.resize(photo, (photo.shape[1] * factor, photo.shape[0] * factor))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "big.jpg"
            cv2.imwrite(str(path), cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
            del big
            t = time.perf_counter()
            p = prepare_photo(path)
            steps = ", ".join(f"{k} {v:.2f}" for k, v in p.seconds.items() if k != "total")
            print(f"{p.photo_size[0]}x{p.photo_size[1]} photo from file: {time.perf_counter() - t:.2f} s "
                  f"({steps})")
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
