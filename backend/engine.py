"""The reconstruction engine: photo -> network inputs -> features -> occupancy field -> mesh -> colours.

Everything here works on arrays; nothing touches Blender. The mesh comes back in the normalised cube
frame (x right, y up, z towards the camera, [-1, 1]); ``placement.py`` puts it into a scene.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .checkpoint import build_network, read_checkpoint
from .colors import vertex_colors
from .device import resolve_device, resolve_precision
from .errors import ImageError, PIFuHDError
from .image_io import load_image
from .input_transform import NetworkInputs, prepare_inputs
from .mesh import Mesh
from .networks import FeatureMaps, LevelOptions, PIFuHD
from .progress import CancelFn, ProgressFn, Reporter
from .surface import EvaluationCounter, IndexToCube, marching_cubes, sample_coarse_to_fine, sample_dense

LEVEL = 0.5
DENSE_CHUNK = 100_000      # points per query in dense mode: the batch size the official outputs were made with
# Points per query in coarse-to-fine mode: bounds memory, and keeps each query short (the released network:
# ~0.15 s on a quiet 2-core CPU, ~1.3 s on a heavily shared one) for cancel to act quickly. On a CPU, 8 k
# points ran 1.4x faster than 4 k on a loaded machine (demo and released MLPs; per-call overhead), near the
# best 4 k on a quiet one (cache: 4 k / 50 k / 100 k ran at 826 k / 474 k / 369 k points/s there).
SPARSE_CHUNK = {"cuda": 131_072, "mps": 32_768, "cpu": 8_192}
MIN_BATCH = 4_096          # smallest batch a group-normed MLP sees in coarse-to-fine mode

# Share of the progress bar per stage (the field dominates).
STAGES = {"prepare": (0.0, 0.02), "networks": (0.02, 0.2), "field": (0.2, 0.95), "mesh": (0.95, 1.0)}


@dataclass
class Model:
    """A loaded PIFuHD network on its device, ready for :func:`reconstruct`."""

    net: PIFuHD
    device: torch.device
    path: Path
    coarse: LevelOptions
    fine: LevelOptions
    dtype: torch.dtype = torch.float32   # what the networks compute in (weights, features, queries)

    def describe(self) -> str:
        n = sum(p.numel() for p in self.net.parameters())
        precision = "" if self.dtype == torch.float32 else f", {str(self.dtype).removeprefix('torch.')}"
        return f"PIFuHD {self.path.name} ({n / 1e6:.1f} M parameters) on {self.device}{precision}"


def load_model(path: str | os.PathLike, device: str | torch.device = "auto", *, precision: str = "fp32") -> Model:
    """Load a PIFuHD checkpoint (the official ``pifuhd.pt`` layout) safely onto ``device``.

    ``device``: 'auto' (CUDA, then Apple MPS, then CPU), 'gpu', 'cpu', 'cuda[:i]', 'mps'.
    ``precision``: 'fp32' (default), 'fp16' (GPU only) or 'bf16' (GPU, or a CPU with native bfloat16): the
    weights, image filters and point queries run in it; marching cubes and colours stay in float32.
    Raises :class:`CheckpointError` for a missing, damaged, unsafe or foreign file, :class:`PIFuHDError`
    for a precision the device cannot run.
    """
    dev = resolve_device(device)
    dtype = resolve_precision(precision, dev)
    ckpt = read_checkpoint(path)
    net = build_network(ckpt)
    del ckpt
    try:
        net = net.to(dev, dtype)
    except RuntimeError as err:
        raise PIFuHDError(f"Could not move the model to {dev} ({err}). Try the CPU device.") from None
    return Model(net=net, device=dev, path=Path(path), coarse=net.netG.opt, fine=net.opt, dtype=dtype)


class NetworkField:
    """The fine-level occupancy as a field over grid indices (see ``surface.sampling``).

    Each call is one network query with all the given points in one batch. As in the official code, a
    group-normed MLP takes its statistics over the batch, so batch composition matters a little. With
    ``min_batch`` > 0, a call with fewer points is padded with a fixed sample of earlier query points
    (their outputs dropped), so small batches see statistics like the large ones.
    """

    def __init__(self, model: Model, maps: FeatureMaps, calib: torch.Tensor, res: int, min_batch: int = 0):
        self.model, self.maps, self.res, self.min_batch = model, maps, res, min_batch
        self.calib = calib.to(model.device, torch.float32)
        self.to_cube = IndexToCube(res, calib[0].cpu().numpy().astype(np.float64))
        self._context: np.ndarray | None = None

    def __call__(self, index: np.ndarray) -> np.ndarray:
        return self.query(self.to_cube(index))

    @torch.no_grad()
    def query(self, points: np.ndarray) -> np.ndarray:
        """Fine occupancy [N] at cube points [N, 3]."""
        n = len(points)
        if self.min_batch and n >= self.min_batch:
            pick = np.random.default_rng(n).choice(n, self.min_batch, replace=False)
            self._context = points[pick]
        elif self.min_batch and self._context is not None:
            points = np.concatenate([points, self._context[: self.min_batch - n]])
        t = torch.from_numpy(np.ascontiguousarray(points.T)).to(self.model.device)[None]
        pred, _ = self.model.net.query(self.maps, t, self.calib)
        return pred[0, 0, :n].float().cpu().numpy()


def batch_dependent(model: Model) -> bool:
    """True when a point's prediction depends on the other points queried with it (group-normed MLPs)."""
    return "group" in (model.coarse.mlp_norm, model.fine.mlp_norm)


def as_image(image: str | os.PathLike | np.ndarray) -> np.ndarray:
    """Path or array -> uint8 RGB(A) array, with clear errors."""
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ImageError("The image array must be uint8 with shape [H, W, 3] (RGB) or [H, W, 4] (RGBA).")
    return arr


@torch.no_grad()
def compute_features(model: Model, inputs: NetworkInputs, report: Reporter) -> FeatureMaps:
    """Run the normal nets and both image filters on the device (cancel checked between layers).

    The networks run in the model's precision; the feature maps come back in float32, so that point
    lookups (``grid_sample``) place points to a fraction of a pixel (bf16 would round a pixel position
    near 511 to a multiple of 2) and the point MLPs take float32 features (they cast to their own precision).
    """
    try:
        maps = model.net.filter(inputs.image_512.to(model.device, model.dtype),
                                inputs.image_1024.to(model.device, model.dtype), on_step=report.update)
    except torch.OutOfMemoryError:
        raise PIFuHDError(f"Out of memory on {model.device} while running the networks: "
                          "close other GPU programs or choose the CPU device.") from None
    maps.coarse, maps.fine = maps.coarse.float(), maps.fine.float()
    if model.device.type == "cuda":   # hand the filters' scratch back before the field stage
        torch.cuda.empty_cache()
    return maps


def reconstruct(image: str | os.PathLike | np.ndarray, model: Model, *, resolution: int = 256,
                crop: tuple[int, int, int] | None = None, dense: bool = False,
                progress: ProgressFn | Callable[[float, str], None] | None = None,
                cancel: CancelFn = None, inputs: NetworkInputs | None = None,
                chunk: int | None = None, color_fill: bool = False) -> Mesh:
    """Reconstruct the person in ``image`` as a coloured mesh in the normalised cube frame.

    image: a path, or uint8 [H, W, 3|4] RGB(A). crop: (x, y, side) in photo pixels; default: the alpha's
    extent for cut-outs, else the whole photo. resolution: grid points per axis. dense: evaluate every
    grid point (the official, slow way) instead of coarse-to-fine. progress(fraction, stage) is called as
    work advances; cancel() returning True (or an Event being set) stops within about a second with
    :class:`Cancelled`. ``inputs`` lets a caller pass prepared inputs (photo preparation) instead.
    color_fill: colour from the photo only where the camera sees a vertex, and fill hidden and back
    surfaces along the surface from what it sees (``meshops.colorize``); off: every vertex takes the
    photo colour straight along the view axis (the official photo-colour path).

    The mesh's ``info`` records how it was made: ``evaluations`` (field points queried), ``seconds`` per
    stage (``prepare``, ``networks``, ``field``, ``marching_cubes``, ``colors``, ``total``), the device,
    checkpoint, crop and options.
    """
    if resolution < 8 or resolution > 1024:
        raise PIFuHDError(f"resolution must be between 8 and 1024 (got {resolution}).")
    report = Reporter(progress, cancel)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    stage = report.slice(*STAGES["prepare"], stage="prepare")
    if inputs is None:
        photo = as_image(image)
        inputs = prepare_inputs(photo, crop, model.coarse.load_size, model.fine.load_size)
    stage.update(1.0)
    timings["prepare"] = time.perf_counter() - t0

    t = time.perf_counter()
    maps = compute_features(model, inputs, report.slice(*STAGES["networks"], stage="networks"))
    timings["networks"] = time.perf_counter() - t

    t = time.perf_counter()
    min_batch = MIN_BATCH if (batch_dependent(model) and not dense) else 0
    field = NetworkField(model, maps, inputs.calib, resolution, min_batch=min_batch)
    field_report = report.slice(*STAGES["field"], stage="surface")
    counter = EvaluationCounter(field)
    try:
        if dense:
            volume = sample_dense(counter, resolution, chunk=chunk or DENSE_CHUNK, report=field_report)
        else:
            volume = sample_coarse_to_fine(counter, resolution, level=LEVEL,
                                           chunk=chunk or SPARSE_CHUNK.get(model.device.type, 8_192),
                                           report=field_report)
    except torch.OutOfMemoryError:
        raise PIFuHDError(f"Out of memory on {model.device} while evaluating the surface: "
                          "lower the resolution or choose the CPU device.") from None
    timings["field"] = time.perf_counter() - t

    t = time.perf_counter()
    mesh_report = report.slice(*STAGES["mesh"], stage="mesh")
    verts, faces = marching_cubes(volume, LEVEL)
    del volume
    mesh_report.update(0.6)
    timings["marching_cubes"] = time.perf_counter() - t

    t = time.perf_counter()
    if color_fill:
        from .meshops import colorize

        colors = colorize((verts, faces), inputs.image_1024, inputs.calib)
    else:
        colors = vertex_colors(verts, inputs.image_1024.to(model.device), inputs.calib)
    mesh_report.update(1.0)
    timings["colors"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return Mesh(verts, faces, colors, info={
        "resolution": resolution, "dense": dense, "color_fill": color_fill, "crop": tuple(inputs.crop),
        "photo_size": tuple(inputs.photo_size), "evaluations": counter.count, "seconds": timings,
        "device": str(model.device), "checkpoint": str(model.path),
    })

