"""Timings of the mesh operations on a ~500k-vertex mesh (the analytic figure of tests/support/meshes.py,
marching cubes; about what the engine makes at resolution 256-512): colour fill with a 1024 px front
image, cleaning, and decimation to 30k faces (quadric when fast-simplification is installed, and the
numpy clustering fallback). Run: ``.venv/bin/python benchmarks/bench_meshops.py [vertices]``."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.mesh import Mesh  # noqa: E402
from backend.meshops import clean_mesh, colorize, decimate, quadric_available  # noqa: E402
from tests.support import meshes as M  # noqa: E402


def timed(label: str, fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    print(f"{label:<44} {time.perf_counter() - t:7.2f} s", flush=True)
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    v, f = timed(f"build test mesh (~{n // 1000}k vertices)", M.figure_mesh_large, n)
    print(f"  {len(v)} vertices, {len(f)} faces")
    photo = timed("render 1024 px front photo", M.render, M.front_camera(1024))[:, :, :3]
    calib = np.diag([1.0, -1.0, 1.0, 1.0])
    timed("colorize, front only (visibility + fill)", colorize, (v, f), photo, calib, through=False)
    colors = timed("colorize (+ through colours on the back)", colorize, (v, f), photo, calib)
    mesh = Mesh(v, f, colors)
    timed("clean_mesh", clean_mesh, mesh)
    timed("clean_mesh, smooth_iterations=3", clean_mesh, mesh, smooth_iterations=3)
    if quadric_available():
        timed("decimate -> 30k faces (quadric)", decimate, mesh, 30_000, method="quadric")
        timed("decimate -> 10k faces (quadric)", decimate, mesh, 10_000, method="quadric")
    else:
        print("decimate (quadric): fast-simplification not installed")
    timed("decimate -> 30k faces (cluster fallback)", decimate, mesh, 30_000, method="cluster")


if __name__ == "__main__":
    main()
