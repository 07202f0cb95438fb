"""Orthographic rendering of a synthetic person (sphere tracing of its implicit function).

Camera convention (PIFuHD's): orthographic, looking along -z from +z, the person facing +z. Pixel
coordinates (u, v): u right, v down, continuous, pixel (i, j) covering [j, j+1) x [i, i+1) so its centre
is (j + 0.5, i + 0.5). A world point (X, Y, Z) metres projects to ``u = u0 + ppm * X``,
``v = v0 - ppm * Y`` (ppm: pixels per metre); Z is the depth towards the camera.

The RGBA image has alpha 255 exactly where the ray through the pixel centre meets the shape (sphere
tracing: comes within ``HIT_TOLERANCE_PX`` = 1/20 pixel of it), 0 elsewhere (no anti-aliasing, so alpha
is the projected occupancy); the colour of transparent pixels is the
background (plain or textured), so :func:`flatten` gives an opaque photo of the person on it.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .bodies import GROUPS, Shape

LIGHT = np.array([-0.45, 0.6, 0.75]) / np.linalg.norm([-0.45, 0.6, 0.75])   # key light direction (world)
HIT_TOLERANCE_PX = 0.05  # a ray hits where it comes this close (in pixels) to the surface
FILL = np.array([0.6, 0.1, 0.5]) / np.linalg.norm([0.6, 0.1, 0.5])         # fill light direction


@dataclass(frozen=True)
class Camera:
    """Orthographic camera: image ``size`` px square; ``ppm`` px per metre; (u0, v0) = pixel coords of X=Y=0."""

    size: int
    ppm: float
    u0: float
    v0: float

    def project(self, p: np.ndarray) -> np.ndarray:
        """World points [N, 3] (metres) -> pixel coordinates [N, 2] (u, v)."""
        return np.stack([self.u0 + self.ppm * p[:, 0], self.v0 - self.ppm * p[:, 1]], axis=1)

    def unproject(self, uv: np.ndarray) -> np.ndarray:
        """Pixel coordinates [N, 2] -> world (X, Y) [N, 2] metres."""
        return np.stack([(uv[:, 0] - self.u0) / self.ppm, (self.v0 - uv[:, 1]) / self.ppm], axis=1)


def frame_camera(shape: Shape, size: int, rng: np.random.Generator | None = None,
                 fill: float | None = None) -> Camera:
    """A camera whose image holds the whole person: its bounding box's larger side spans ``fill`` of the
    image (random in [0.58, 0.7] when None), placed with a random offset that keeps a PERSON_FILL=0.8
    square crop around it inside the image."""
    rng = rng or np.random.default_rng(0)
    lo, hi = shape.bounds()
    fill = float(rng.uniform(0.58, 0.7)) if fill is None else fill
    extent = max(hi[0] - lo[0], hi[1] - lo[1])
    ppm = fill * size / extent
    slack = max(0.0, (1.0 - fill / 0.8) * size / 2 - 2)
    du, dv = rng.uniform(-slack, slack, 2) * 0.8
    cx, cy = 0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1])
    return Camera(size, ppm, size / 2 + du - ppm * cx, size / 2 + dv + ppm * cy)


def _trace(shape: Shape, xy: np.ndarray, z0: float | np.ndarray, z1: float, eps: float, max_steps: int = 160,
           direction: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sphere-trace rays at world (X, Y) [N, 2] from z0 (scalar or [N]) to z1 (metres), along -z
    (``direction`` -1: from the camera into the scene) or +z (1: from behind the person towards the camera).

    Returns hit (bool [N]), z of the hit (or z1) [N], and the smallest implicit value seen [N].
    """
    n = len(xy)
    z = np.broadcast_to(np.asarray(z0, dtype=np.float64), (n,)).copy()
    hit = np.zeros(n, bool)
    fmin = np.full(n, np.inf)
    active = np.arange(n)
    for _ in range(max_steps):
        if not len(active):
            break
        p = np.column_stack([xy[active], z[active]])
        f = shape.sdf(p)
        fmin[active] = np.minimum(fmin[active], f)
        done = f < eps
        hit[active[done]] = True
        z[active[~done]] += direction * np.maximum(0.7 * f[~done], 0.5 * eps)
        keep = ~done & ((z[active] > z1) if direction < 0 else (z[active] < z1))
        active = active[keep]
    return hit, z, fmin


def _normals(shape: Shape, p: np.ndarray, h: float) -> np.ndarray:
    """Unit gradients [N, 3] of the implicit function at world points [N, 3] (central differences, step h)."""
    grads = []
    for axis in range(3):
        e = np.zeros(3)
        e[axis] = h
        grads.append(shape.sdf(p + e) - shape.sdf(p - e))
    g = np.stack(grads, axis=1)
    return g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)


def albedo(shape: Shape, p_world: np.ndarray) -> np.ndarray:
    """Garment/skin colour [N, 3] in [0, 1] at surface points (patterns in the body frame)."""
    colours = shape.meta["colours"]
    group = shape.material(p_world)
    pb = shape.to_body(p_world)
    out = np.zeros((len(p_world), 3))
    for gi, name in enumerate(GROUPS):
        sel = group == gi
        if not sel.any():
            continue
        gar = colours[name]
        c1, c2 = np.array(gar.colour), np.array(gar.colour2)
        x, y, z = pb[sel, 0], pb[sel, 1], pb[sel, 2]
        per = gar.period
        if gar.pattern == "stripes":
            second = np.sin(2 * np.pi * y / per) > 0.3
        elif gar.pattern == "vstripes":
            second = np.sin(2 * np.pi * np.arctan2(x, z + 1e-9) * 0.15 / per * 6) > 0.4
        elif gar.pattern == "checks":
            second = (np.floor(x / per) + np.floor(y / per) + np.floor(z / per)) % 2 == 1
        elif gar.pattern == "dots":
            q = np.stack([x, y], 1) / per
            second = np.linalg.norm(q - np.round(q), axis=1) < 0.25
        else:
            second = np.zeros(len(x), bool)
        out[sel] = np.where(second[:, None], c2, c1)
    return out


def background(size: int, rng: np.random.Generator, textured: bool | None = None) -> np.ndarray:
    """A uint8 RGB [size, size, 3] backdrop: a plain colour, or (textured) gradients, stripes and noise."""
    textured = bool(rng.random() < 0.5) if textured is None else textured
    base = rng.uniform(0.1, 0.95, 3)
    if not textured:
        img = np.broadcast_to(base, (size, size, 3)).copy()
    else:
        yy, xx = np.mgrid[0:size, 0:size] / size
        ang = rng.uniform(0, np.pi)
        freq = rng.uniform(3, 25)
        wave = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (np.cos(ang) * xx + np.sin(ang) * yy))
        other = rng.uniform(0.1, 0.95, 3)
        noise = cv2.resize(rng.random((8, 8, 3)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
        grain = rng.random((size, size, 1)) * 0.15
        img = base * (1 - wave[..., None]) + other * wave[..., None]
        img = 0.6 * img + 0.3 * noise + grain + 0.2 * (yy[..., None] - 0.5)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@dataclass(frozen=True)
class Hits:
    """Where the pixel-centre rays meet the person's front surface: pixel rows ``ii`` and columns ``jj`` [N],
    world points ``p`` [N, 3] (metres) and unit outward normals ``n`` [N, 3] (world = camera frame)."""

    ii: np.ndarray
    jj: np.ndarray
    p: np.ndarray
    n: np.ndarray


def front_hits(shape: Shape, camera: Camera) -> Hits:
    """Trace every pixel of ``camera``'s image (coarse pass every 4th pixel, then the pixels near a coarse
    ray that came close to the shape)."""
    size = camera.size
    lo, hi = shape.bounds(margin=0.01)
    px = 1.0 / camera.ppm                         # metres per pixel
    empty = Hits(np.zeros(0, int), np.zeros(0, int), np.zeros((0, 3)), np.zeros((0, 3)))
    uv_lo = camera.project(np.array([[lo[0], hi[1], 0.0]]))[0]
    uv_hi = camera.project(np.array([[hi[0], lo[1], 0.0]]))[0]
    j0, i0 = (np.floor(uv_lo) - 1).astype(int).clip(0, size)
    j1, i1 = (np.ceil(uv_hi) + 1).astype(int).clip(0, size)
    if j1 <= j0 or i1 <= i0:
        return empty
    step = 4
    ci, cj = np.mgrid[i0:i1:step, j0:j1:step]
    cxy = camera.unproject(np.stack([cj.ravel() + 0.5, ci.ravel() + 0.5], 1))
    chit, cz, fmin = _trace(shape, cxy, hi[2], lo[2], eps=0.5 * px)
    near = (fmin < 3.0 * step * px).reshape(ci.shape)
    near = cv2.dilate(near.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    # Start depth of the fine rays: the nearest coarse hit around them (a coarse miss there: the box front).
    zmap = np.where(chit, cz + 2.0 * step * px, hi[2]).reshape(ci.shape).astype(np.float32)
    zmap = cv2.dilate(zmap, np.ones((3, 3), np.uint8))
    cand = np.zeros((i1 - i0, j1 - j0), bool)
    zst = np.full((i1 - i0, j1 - j0), hi[2])
    up = np.repeat(np.repeat(near, step, 0), step, 1)[: i1 - i0, : j1 - j0]
    zup = np.repeat(np.repeat(zmap, step, 0), step, 1)[: i1 - i0, : j1 - j0]
    cand[: up.shape[0], : up.shape[1]] = up
    zst[: zup.shape[0], : zup.shape[1]] = np.minimum(zup, hi[2])
    ii, jj = np.nonzero(cand)
    z_start = zst[ii, jj]
    ii, jj = ii + i0, jj + j0
    xy = camera.unproject(np.stack([jj + 0.5, ii + 0.5], 1))
    hit, z, _ = _trace(shape, xy, z_start, lo[2], eps=HIT_TOLERANCE_PX * px)
    p = np.column_stack([xy[hit], z[hit]])
    return Hits(ii[hit], jj[hit], p, _normals(shape, p, 0.5 * px))


def render(shape: Shape, camera: Camera, bg: np.ndarray | None = None, hits: Hits | None = None) -> np.ndarray:
    """RGBA uint8 [size, size, 4] of ``shape`` seen by ``camera`` over ``bg`` (uint8 RGB; default mid grey).

    Shading: two directional lights, ambient and a one-sample occlusion term; colours from
    :func:`albedo`. Alpha is 255 where the pixel-centre ray hits the shape. ``hits``: the
    :func:`front_hits` of this shape and camera when the caller has them already.
    """
    size = camera.size
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[:, :, :3] = 128 if bg is None else bg
    hits = front_hits(shape, camera) if hits is None else hits
    if not len(hits.p):
        return rgba
    lo, hi = shape.bounds(margin=0.01)
    p, n = hits.p, hits.n
    occ_d = 0.03 * (hi[1] - lo[1])
    ao = np.clip(shape.sdf(p + occ_d * n) / occ_d, 0.0, 1.0)
    light = 0.28 * (0.5 + 0.5 * ao) + 0.62 * np.clip(n @ LIGHT, 0, 1) + 0.18 * np.clip(n @ FILL, 0, 1)
    colour = albedo(shape, p) * light[:, None]
    rgba[hits.ii, hits.jj, :3] = (np.clip(colour, 0, 1) * 255).astype(np.uint8)
    rgba[hits.ii, hits.jj, 3] = 255
    return rgba


def normal_maps(shape: Shape, camera: Camera, hits: Hits | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Front and back normal maps, float32 [size, size, 3] each, in the camera frame (x right, y up,
    z towards the camera; unit vectors, 0 where the ray misses): the outward normal of the first surface
    the pixel-centre ray meets (front) and of the last one (back: traced from behind the person; its
    normals point away from the camera, z < 0 mostly). The targets of the demo model's normal networks.
    """
    size = camera.size
    front = np.zeros((size, size, 3), np.float32)
    back = np.zeros((size, size, 3), np.float32)
    hits = front_hits(shape, camera) if hits is None else hits
    if not len(hits.p):
        return front, back
    front[hits.ii, hits.jj] = hits.n
    lo, hi = shape.bounds(margin=0.01)
    px = 1.0 / camera.ppm
    hit, z, _ = _trace(shape, hits.p[:, :2], lo[2], hi[2], eps=HIT_TOLERANCE_PX * px, max_steps=240, direction=1)
    p = np.column_stack([hits.p[hit, :2], z[hit]])
    back[hits.ii[hit], hits.jj[hit]] = _normals(shape, p, 0.5 * px)
    return front, back


def flatten(rgba: np.ndarray) -> np.ndarray:
    """Opaque RGB uint8 [H, W, 3] photo: the person over the background kept in the transparent pixels."""
    return np.ascontiguousarray(rgba[:, :, :3])


def render_person(seed: int, size: int = 1024, textured: bool | None = None) -> tuple[Shape, Camera, np.ndarray]:
    """The person of ``seed`` rendered at ``size`` px with a framing and backdrop drawn from the same seed."""
    from .people import sample_person

    shape = sample_person(seed)
    rng = np.random.default_rng([int(seed), 7])
    camera = frame_camera(shape, size, rng)
    return shape, camera, render(shape, camera, background(size, rng, textured))
