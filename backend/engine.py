"""The reconstruction engine's network step: loading a model, and network inputs -> features -> occupancy
field -> surface (:func:`extract_surface`).

Everything here works on arrays; nothing touches Blender. The surface is in the normalised cube frame
(x right, y up, z towards the camera, [-1, 1]). Photo -> finished person (preparation, clean-up, colour,
decimation) is composed in one place only: ``backend.pipeline``.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .checkpoint import build_network, read_checkpoint
from .device import resolve_device, resolve_precision
from .errors import ImageError, InputSizeError, PIFuHDError
from .image_io import MIN_SIDE, load_image
from .input_transform import NetworkInputs
from .networks import NETWORK_STATES, FeatureMaps, LevelOptions, PIFuHD
from .progress import Reporter
from .surface import EvaluationCounter, IndexToCube, marching_cubes, sample_coarse_to_fine, sample_dense

LEVEL = 0.5
DENSE_CHUNK = 100_000      # points per query in dense mode: the batch size the official outputs were made with
# Points per query in coarse-to-fine mode: bounds memory, and keeps each query short (the released network:
# ~0.15 s on a quiet 2-core CPU, ~1.3 s on a heavily shared one) for cancel to act quickly. On a CPU, 8 k
# points ran 1.4x faster than 4 k on a loaded machine (demo and released MLPs; per-call overhead), near the
# best 4 k on a quiet one (cache: 4 k / 50 k / 100 k ran at 826 k / 474 k / 369 k points/s there).
SPARSE_CHUNK = {"cuda": 131_072, "mps": 32_768, "cpu": 8_192}
MIN_BATCH = 4_096          # smallest batch a group-normed MLP sees in coarse-to-fine mode

# Share of this step's progress per stage (the field dominates).
STAGES = {"networks": (0.0, 0.2), "field": (0.2, 0.97), "mesh": (0.97, 1.0)}


@dataclass
class Model:
    """A loaded PIFuHD network on its device, ready for :func:`reconstruct`."""

    net: PIFuHD
    device: torch.device
    path: Path
    coarse: LevelOptions
    fine: LevelOptions
    dtype: torch.dtype = torch.float32   # what the networks compute in (weights, features, queries)

    @property
    def input_sizes(self) -> tuple[int, int]:
        """(coarse, fine) network input sizes in pixels this model reads (512 / 1024 for the release)."""
        return int(self.coarse.load_size), int(self.fine.load_size)

    @property
    def network_state(self) -> str:
        """The module state the network runs in: ``"official"`` or ``"eval"`` (see :func:`load_model`)."""
        return self.net.state

    def describe(self) -> str:
        n = sum(p.numel() for p in self.net.parameters())
        precision = "" if self.dtype == torch.float32 else f", {str(self.dtype).removeprefix('torch.')}"
        return f"PIFuHD {self.path.name} ({n / 1e6:.1f} M parameters) on {self.device}{precision}"


def load_model(path: str | os.PathLike, device: str | torch.device = "auto", *,
               network_state: str = "official", precision: str = "fp32") -> Model:
    """Load a PIFuHD checkpoint (the official ``pifuhd.pt`` layout) safely onto ``device``.

    ``device``: 'auto' (CUDA, then Apple MPS, then CPU), 'gpu', 'cpu', 'cuda[:i]', 'mps'.
    ``network_state``: ``"official"`` (default) runs the networks as the official inference script does:
    the coarse level in eval mode, the fine level in training mode, so its BatchNorms (image filter, and
    MLP when it has them) normalise with the current batch's statistics; this is what the released model
    was validated with. ``"eval"``: every module in eval mode (stored running statistics). Models without
    BatchNorm in the fine level (the demo model) give the same results in both. No state ever changes the
    stored weights, so repeated reconstructions are identical.
    ``precision``: 'fp32' (default), 'fp16' (GPU only) or 'bf16' (GPU, or a CPU with native bfloat16): the
    weights, image filters and point queries run in it; marching cubes and colours stay in float32.
    Raises :class:`CheckpointError` for a missing, damaged, unsafe or foreign file, :class:`PIFuHDError`
    for an unknown ``network_state`` or a precision the device cannot run.
    """
    if network_state not in NETWORK_STATES:
        raise PIFuHDError(f"network_state must be one of {', '.join(NETWORK_STATES)} (got {network_state!r}).")
    dev = resolve_device(device)
    dtype = resolve_precision(precision, dev)
    ckpt = read_checkpoint(path)
    net = build_network(ckpt)
    del ckpt
    net.set_state(network_state)
    try:
        net = net.to(dev, dtype)
    except RuntimeError as err:
        raise PIFuHDError(f"Could not move the model to {dev} ({err}). Try the CPU device.") from None
    return Model(net=net, device=dev, path=Path(path), coarse=net.netG.opt, fine=net.opt, dtype=dtype)


class NetworkField:
    """The fine-level occupancy as a field over grid indices (see ``surface.sampling``).

    Each call is one network query with all the given points in one batch. As in the official code, a
    group-normed MLP (and, in the official network state, a batch-normed fine MLP) takes its statistics
    over the batch, so batch composition matters a little (see :func:`batch_dependent`). With
    ``min_batch`` > 0, a call with fewer points is padded with a fixed sample of earlier query points
    (their outputs dropped), so small batches see statistics like the large ones. The sample is taken from
    the first batch of at least ``min_batch`` points, or gathered from the small batches until there is one.
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
        if self.min_batch:
            context = self._context
            if n >= self.min_batch:
                pick = np.random.default_rng(n).choice(n, self.min_batch, replace=False)
                self._context = points[pick]
            else:
                if context is not None:
                    points = np.concatenate([points, context[: self.min_batch - n]])
                if context is None or len(context) < self.min_batch:   # small batches only so far: gather
                    grown = points[:n] if context is None else np.concatenate([context, points[:n]])
                    self._context = grown[-self.min_batch:]
        t = torch.from_numpy(np.ascontiguousarray(points.T)).to(self.model.device)[None]
        pred, _ = self.model.net.query(self.maps, t, self.calib)
        return pred[0, 0, :n].float().cpu().numpy()


def batch_dependent(model: Model) -> bool:
    """True when a point's prediction depends on the other points queried with it: group-normed MLPs, and
    a batch-normed fine MLP in the official network state (training-mode batch statistics)."""
    return model.net.batch_dependent()


def as_image(image: str | os.PathLike | np.ndarray) -> np.ndarray:
    """Path or array -> uint8 RGB(A) array, with clear errors (:class:`ImageError`)."""
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ImageError("The image array must be uint8 with shape [H, W, 3] (RGB) or [H, W, 4] (RGBA).")
    if min(arr.shape[:2]) < MIN_SIDE:
        raise ImageError(f"The image array is too small ({arr.shape[1]}x{arr.shape[0]} pixels): the shorter "
                         f"side must be at least {MIN_SIDE} pixels.")
    return arr


def check_input_sizes(model: Model, inputs: NetworkInputs) -> None:
    """Refuse network inputs made for other input sizes than ``model``'s (its ``load_size``s): fed at the
    wrong size the networks make plausible-looking nonsense. Raises :class:`InputSizeError`."""
    want, got = model.input_sizes, inputs.sizes
    if got != want:
        raise InputSizeError(f"These network inputs are {got[0]}/{got[1]} pixels, but {model.path.name} reads "
                             f"{want[0]}/{want[1]}: prepare the photo for this model "
                             f"(prepare_photo(..., coarse_size={want[0]}, fine_size={want[1]}), or "
                             "PreparedPhoto.inputs_at), or let backend.run do it.")


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


@dataclass
class Surface:
    """The raw surface of one reconstruction, in the normalised cube frame: vertices [V, 3] float32, faces
    [F, 3] int32 (counter-clockwise from outside), field points evaluated, seconds per stage."""

    vertices: np.ndarray
    faces: np.ndarray
    evaluations: int
    seconds: dict[str, float]


def extract_surface(model: Model, inputs: NetworkInputs, *, resolution: int, dense: bool = False,
                    chunk: int | None = None, report: Reporter | None = None) -> Surface:
    """Networks -> occupancy field -> marching cubes: the surface of ``inputs`` at ``resolution`` grid points
    per axis (checked by ``backend.options``; this low-level step trusts it). dense: every grid point in
    the official order and batches; else coarse-to-fine. ``report`` gets stages ``networks``, ``surface``,
    ``mesh`` and may cancel (:class:`Cancelled`). Colours, clean-up and the rest are ``backend.pipeline``'s.

    Raises :class:`InputSizeError` for inputs made at other sizes than the model's, :class:`PIFuHDError`
    when the device runs out of memory.

    The networks run in the model's module state (``model.network_state``, chosen in :func:`load_model`):
    by default the official script's (fine level with batch statistics), or all-eval. In coarse-to-fine
    mode a batch-dependent network (see :func:`batch_dependent`) sees small batches padded with earlier
    query points, so its values stay close to those of the dense evaluation.
    """
    check_input_sizes(model, inputs)
    report = report or Reporter()
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    maps = compute_features(model, inputs, report.slice(*STAGES["networks"], stage="networks"))
    seconds["networks"] = time.perf_counter() - t

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
                                           chunk=chunk or SPARSE_CHUNK.get(model.device.type, SPARSE_CHUNK["cpu"]),
                                           report=field_report)
    except torch.OutOfMemoryError:
        raise PIFuHDError(f"Out of memory on {model.device} while evaluating the surface: "
                          "lower the resolution or choose the CPU device.") from None
    seconds["field"] = time.perf_counter() - t
    evaluations = counter.count
    del counter, field, maps               # the feature maps are done with: free them before marching cubes

    t = time.perf_counter()
    verts, faces = marching_cubes(volume, LEVEL)
    del volume
    report.slice(*STAGES["mesh"], stage="mesh").update(1.0)
    seconds["marching_cubes"] = time.perf_counter() - t
    return Surface(verts, faces, evaluations, seconds)
