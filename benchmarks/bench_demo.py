"""End-to-end benchmark with a realistic field: the committed demo model on the bundled example photo.

Prints figures, asserts nothing:
- field evaluations of the coarse-to-fine extraction against the dense grid (every one of res^3 grid
  points) at resolution 256 and 512; the dense run itself is timed at --dense-upto and below, and the two
  volumes are compared there (the demo model's field does not depend on the batch, so they must agree);
- time per stage of one reconstruction: photo preparation (and, for a cut-out, the same photo made opaque,
  which adds person detection and segmentation), networks (image filters), field evaluation,
  marching cubes, colour (projection, and the colour fill), and building the Blender object (when ``bpy``
  is importable).

Run: ``python benchmarks/bench_demo.py [--device cpu] [--dense-upto 256] [--photo examples/person.png]``
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import backend  # noqa: E402
from backend.engine import LEVEL, SPARSE_CHUNK, DENSE_CHUNK, NetworkField, compute_features  # noqa: E402
from backend.image_io import load_image  # noqa: E402
from backend.meshops import colorize  # noqa: E402
from backend.progress import Reporter  # noqa: E402
from backend.surface import EvaluationCounter, sample_coarse_to_fine, sample_dense  # noqa: E402

CHECKPOINT = REPO / "models" / "demo" / "pifuhd_demo.pt"


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def extraction(model: backend.Model, inputs, resolutions: list[int], dense_upto: int) -> None:
    maps = compute_features(model, inputs, Reporter())
    print(f"{'resolution':>10} {'coarse-to-fine':>16} {'dense grid':>14} {'ratio':>7} {'c2f time':>9} {'dense time':>11}")
    for res in resolutions:
        field = EvaluationCounter(NetworkField(model, maps, inputs.calib, res))
        chunk = SPARSE_CHUNK.get(model.device.type, 8192)
        sparse, t_sparse = timed(sample_coarse_to_fine, field, res, level=LEVEL, chunk=chunk)
        n_sparse = field.count
        dense_time = "-"
        if res <= dense_upto:
            field = EvaluationCounter(NetworkField(model, maps, inputs.calib, res))
            dense, t_dense = timed(sample_dense, field, res, chunk=DENSE_CHUNK)
            assert field.count == res ** 3
            sparse = np.asarray(sparse)   # the whole volume (coarse-to-fine stores a box of it)
            differ = (sparse > LEVEL) != (dense > LEVEL)
            dense_time = f"{t_dense:9.1f} s"
            if differ.any():   # last-bit float differences between batch sizes sit right at the level
                off = float(np.abs(dense[differ] - LEVEL).max())
                dense_time += f" ({int(differ.sum())} grid point(s) inside/outside differ, {off:.0e} from the level)"
        print(f"{res:>10} {n_sparse:>16,} {res ** 3:>14,} {res ** 3 / n_sparse:>6.1f}x {t_sparse:>7.1f} s {dense_time:>11}",
              flush=True)


def stages(model: backend.Model, photo: np.ndarray, resolution: int) -> None:
    prepared, t_prep = timed(backend.prepare_photo, photo, coarse_size=model.coarse.load_size,
                             fine_size=model.fine.load_size)
    mesh = backend.reconstruct(photo, model, resolution=resolution, inputs=prepared.inputs)
    sec = mesh.info["seconds"]
    _, t_fill = timed(colorize, mesh, prepared.inputs.image_1024, prepared.inputs.calib)
    rows = [("photo preparation (prepare_photo)", t_prep), ("networks (image filters)", sec["networks"]),
            ("field evaluation (coarse-to-fine)", sec["field"]), ("marching cubes", sec["marching_cubes"]),
            ("colour: projection", sec["colors"]), ("colour: fill (meshops.colorize)", t_fill)]
    try:
        import bpy  # noqa: F401

        from pifuhd_blender import scene_object

        bpy.ops.wm.read_factory_settings(use_empty=True)
        ob, t_obj = timed(scene_object.build_person, bpy.context, mesh.vertices, mesh.faces, mesh.colors,
                          name="person", target_height=1.75, provenance={})
        rows.append(("Blender object (build_person)", t_obj))
    except ImportError:
        rows.append(("Blender object (bpy not importable)", float("nan")))
    total = sum(t for _, t in rows if t == t)
    if photo.shape[2] == 4:   # a cut-out skips person detection: time it on the same person, opaque
        alpha = photo[:, :, 3:4].astype(np.float32) / 255.0
        opaque = (photo[:, :, :3] * alpha + np.array([90.0, 120.0, 150.0]) * (1 - alpha)).astype(np.uint8)
        backend.prepare_photo(opaque, coarse_size=model.coarse.load_size, fine_size=model.fine.load_size)
        _, t_opaque = timed(backend.prepare_photo, opaque, coarse_size=model.coarse.load_size,
                            fine_size=model.fine.load_size)
    print(f"\nstages at resolution {resolution} ({len(mesh.vertices):,} vertices, {mesh.info['evaluations']:,} "
          f"evaluations):")
    for label, t in rows:
        print(f"  {label:<40} {t:8.2f} s  {100 * t / total:5.1f} %")
    print(f"  {'total':<40} {total:8.2f} s")
    if photo.shape[2] == 4:
        print(f"  (the same photo made opaque: preparation with person detection and cut-out {t_opaque:.2f} s, "
              "second call)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--photo", type=Path, default=REPO / "examples" / "person.png")
    ap.add_argument("--resolutions", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--dense-upto", type=int, default=256, help="run the dense grid up to this resolution")
    ap.add_argument("--stage-resolution", type=int, default=256)
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    model = backend.load_model(CHECKPOINT, device=args.device)
    photo = load_image(args.photo)
    print(f"demo model on {model.device}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"photo {args.photo.name}")
    prepared = backend.prepare_photo(photo, coarse_size=model.coarse.load_size, fine_size=model.fine.load_size)
    extraction(model, prepared.inputs, args.resolutions, args.dense_upto)
    stages(model, photo, args.stage_resolution)


if __name__ == "__main__":
    main()
