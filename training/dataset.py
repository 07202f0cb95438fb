"""Training examples: rendered people as network inputs, their frames, and points with exact labels.

Frames
------
*World*: metres (see ``bodies.py``). *Cube*: the engine's normalised cube (x right, y up, z towards
the camera, [-1, 1]^3) for the crop that ``backend.input_transform.default_crop`` picks from the
render's alpha: image NDC (align_corners=True over the ``size``-pixel network input) with y flipped.
Orthographic and isotropic, so ``cube = scale * world + offset`` with offset_z = 0 (the pelvis axis,
the turn's axis, sits at depth 0).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from backend.input_transform import crop_square, default_crop, prepare_inputs

from .bodies import Shape
from .people import sample_person
from .render import Camera, background, flatten, frame_camera, front_hits, normal_maps, render


@dataclass(frozen=True)
class CubeFrame:
    """World -> cube map: ``cube = scale * world + offset`` (scale: cube units per metre; offset [3])."""

    scale: float
    offset: tuple[float, float, float]

    def to_cube(self, p: np.ndarray) -> np.ndarray:
        """World points [N, 3] metres -> cube points [N, 3]."""
        return p * self.scale + np.asarray(self.offset)

    def to_world(self, p: np.ndarray) -> np.ndarray:
        """Cube points [N, 3] -> world points [N, 3] metres."""
        return (p - np.asarray(self.offset)) / self.scale


def cube_frame(camera: Camera, crop: tuple[int, int, int], size: int) -> CubeFrame:
    """The map from world metres to the cube of ``crop`` (x, y, side px) resized to ``size`` px.

    cv2.resize puts output pixel j's centre at crop coordinate (j + 0.5) * side / size (pixel k covering
    [k, k+1)); NDC -1 and +1 are the centres of output pixels 0 and size-1 (align_corners=True).
    """
    x0, y0, side = crop
    k = size / side
    a = camera.ppm * k * 2.0 / (size - 1)
    bx = ((camera.u0 - x0) * k - 0.5) * 2.0 / (size - 1) - 1.0
    by = ((camera.v0 - y0) * k - 0.5) * 2.0 / (size - 1) - 1.0
    return CubeFrame(float(a), (float(bx), float(-by), 0.0))


def cube_sdf(shape: Shape, frame: CubeFrame, p_cube: np.ndarray) -> np.ndarray:
    """Implicit value in cube units [N] (negative inside) at cube points [N, 3]."""
    return shape.sdf(frame.to_world(p_cube)) * frame.scale


def surface_points(shape: Shape, n: int, rng: np.random.Generator, iters: int = 3) -> np.ndarray:
    """About ``n`` world points [M, 3] on the surface (|f| < 1e-4 m), roughly uniform by area.

    Points drawn in the bounding box near the surface are moved by Newton steps along the gradient.
    """
    lo, hi = shape.bounds(0.02)
    pts = []
    total = 0
    while total < n:
        p = rng.uniform(lo, hi, (4 * n, 3))
        f = shape.sdf(p)
        p = p[np.abs(f) < 0.03]
        for _ in range(iters):
            f = shape.sdf(p)
            g = np.stack([(shape.sdf(p + e) - shape.sdf(p - e)) / 2e-4 for e in np.eye(3) * 1e-4], 1)
            p = p - (f / np.maximum((g * g).sum(1), 1e-6))[:, None] * g
        p = p[np.abs(shape.sdf(p)) < 1e-4]
        pts.append(p)
        total += len(p)
    return np.concatenate(pts)[:n]


def stored_image(t: torch.Tensor) -> np.ndarray:
    """A network input [1, 3, S, S] in [-1, 1] -> the uint8 [S, S, 3] RGB image the dataset stores."""
    return ((t[0].permute(1, 2, 0).numpy() * 0.5 + 0.5) * 255).round().astype(np.uint8)


def network_image(img: np.ndarray) -> torch.Tensor:
    """A stored uint8 [S, S, 3] RGB image (any strides: mirrored views welcome) -> the network input
    [1, 3, S, S] float32 in [-1, 1] (the inverse of :func:`stored_image`)."""
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float()[None] / 127.5 - 1.0


@dataclass
class Example:
    """One training person. images: uint8 [2, S, S, 3] network inputs at the coarse size (0: cut-out over
    grey, the alpha path; 1: the opaque photo on its backdrop, same crop). surface: [M, 3] world points."""

    seed: int
    images: np.ndarray
    frame: CubeFrame
    surface: np.ndarray


def make_example(seed: int, size: int, render_size: int) -> Example:
    """Render person ``seed`` at ``render_size`` px, crop by its alpha, and prepare ``size`` px inputs."""
    shape = sample_person(seed)
    rng = np.random.default_rng([int(seed), 7])
    camera = frame_camera(shape, render_size, rng)
    rgba = render(shape, camera, background(render_size, rng))
    crop = default_crop(rgba)
    cut = prepare_inputs(rgba, crop, size, 2 * size).image_512
    photo = prepare_inputs(flatten(rgba), crop, size, 2 * size).image_512
    imgs = np.stack([stored_image(t) for t in (cut, photo)])
    surf = surface_points(shape, 8000, np.random.default_rng([int(seed), 11]))
    return Example(seed, imgs, cube_frame(camera, crop, size), surf.astype(np.float32))


@dataclass
class Detail:
    """What the normal networks and the fine level train on, for one person (same render and crop as its
    :class:`Example`). fine_images: uint8 [2, 2S, 2S, 3], the fine-level inputs (0: cut-out over grey,
    1: the opaque photo); normals: int8 [2, S, S, 3] = round(127 * unit normal), front then back, in the
    camera frame (x right, y up, z towards the camera; see ``render.normal_maps``), at the coarse size S."""

    seed: int
    fine_images: np.ndarray
    normals: np.ndarray


def _resize_map(m: np.ndarray, crop: tuple[int, int, int], size: int) -> np.ndarray:
    """A per-pixel map [H, W, C] of the render cropped like the network inputs (zeros outside the render) and
    area-averaged to ``size`` px."""
    import cv2

    return cv2.resize(crop_square(m, crop, 0), (size, size), interpolation=cv2.INTER_AREA)


def make_detail(seed: int, size: int, render_size: int) -> Detail:
    """Render person ``seed`` as :func:`make_example` does, plus its fine inputs and normal maps."""
    shape = sample_person(seed)
    rng = np.random.default_rng([int(seed), 7])
    camera = frame_camera(shape, render_size, rng)
    hits = front_hits(shape, camera)
    rgba = render(shape, camera, background(render_size, rng), hits=hits)
    crop = default_crop(rgba)
    fine = [prepare_inputs(img, crop, size, 2 * size).image_1024 for img in (rgba, flatten(rgba))]
    images = np.stack([stored_image(t) for t in fine])
    normals = np.stack([np.round(127 * _resize_map(m, crop, size)).astype(np.int8)
                        for m in normal_maps(shape, camera, hits)])
    return Detail(seed, images, normals)


def _cached(path: Path, make, save) -> object:
    """``make()`` once, saved atomically to ``path`` by ``save(tmp_path, value)``."""
    value = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    save(tmp, value)
    os.replace(tmp, path)
    return value


def load_or_make_detail(seed: int, size: int, render_size: int, cache: Path) -> Detail:
    """:func:`make_detail` cached as ``cache/d<seed>_<size>_<render_size>.npz``."""
    path = cache / f"d{seed}_{size}_{render_size}.npz"
    if path.is_file():
        z = np.load(path)
        return Detail(seed, z["fine_images"], z["normals"])
    return _cached(path, lambda: make_detail(seed, size, render_size),
                   lambda tmp, d: np.savez_compressed(tmp, fine_images=d.fine_images, normals=d.normals))


def load_or_make(seed: int, size: int, render_size: int, cache: Path) -> Example:
    """:func:`make_example` cached as ``cache/p<seed>_<size>_<render_size>.npz``."""
    path = cache / f"p{seed}_{size}_{render_size}.npz"
    if path.is_file():
        z = np.load(path)
        return Example(seed, z["images"], CubeFrame(float(z["scale"]), tuple(z["offset"].tolist())), z["surface"])
    return _cached(path, lambda: make_example(seed, size, render_size),
                   lambda tmp, ex: np.savez(tmp, images=ex.images, scale=ex.frame.scale,
                                            offset=np.array(ex.frame.offset), surface=ex.surface))


def sample_points(ex: Example, shape: Shape, n: int, rng: np.random.Generator,
                  sigmas: tuple[float, float] = (0.012, 0.05), uniform_share: float = 0.2
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Training points in the cube [n, 3] float32 and exact occupancy labels [n] float32 (1 inside).

    Shares: ``uniform_share`` uniform in [-1, 1]^3; the rest split evenly between surface points jittered
    by isotropic Gaussians of std ``sigmas`` (cube units; the person is about 1.6 tall).
    """
    n_uni = int(n * uniform_share)
    n_near = n - n_uni
    surf = ex.frame.to_cube(ex.surface[rng.integers(len(ex.surface), size=n_near)].astype(np.float64))
    sig = np.where(np.arange(n_near) % 2 == 0, sigmas[0], sigmas[1])[:, None]
    near = surf + rng.normal(size=(n_near, 3)) * sig
    uni = rng.uniform(-1, 1, (n_uni, 3))
    pts = np.clip(np.concatenate([near, uni]), -1, 1)
    labels = (cube_sdf(shape, ex.frame, pts) < 0).astype(np.float32)
    return pts.astype(np.float32), labels


_LOADERS = {"p": load_or_make, "d": load_or_make_detail}


def _make_cached(args: tuple[str, int, int, int, str]) -> int:
    kind, seed, size, render_size, cache = args
    _LOADERS[kind](seed, size, render_size, Path(cache))
    return seed


def prepare_dataset(seeds: list[int], size: int, render_size: int, cache: Path, workers: int = 2,
                    log=print, detail: bool = False) -> list:
    """Make (or read from ``cache``) the :class:`Example` of each of ``seeds`` (with ``detail``: its
    :class:`Detail`), rendering with ``workers`` processes."""
    import multiprocessing as mp

    kind = "d" if detail else "p"
    todo = [s for s in seeds if not (cache / f"{kind}{s}_{size}_{render_size}.npz").is_file()]
    if todo:
        log(f"rendering {len(todo)} people at {render_size} px with {workers} processes")
        jobs = [(kind, s, size, render_size, str(cache)) for s in todo]
        if workers > 1:
            with mp.get_context("spawn").Pool(workers) as pool:
                for k, _ in enumerate(pool.imap_unordered(_make_cached, jobs, chunksize=4)):
                    if (k + 1) % 20 == 0:
                        log(f"  {k + 1}/{len(todo)}")
        else:
            for job in jobs:
                _make_cached(job)
    return [_LOADERS[kind](s, size, render_size, cache) for s in seeds]
