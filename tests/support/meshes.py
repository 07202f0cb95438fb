"""Meshes and photos with known truth for the mesh-operation tests and benchmarks.

Everything is in the engine's normalised cube frame (x right, y up, z towards the camera). Meshes come
from scikit-image marching cubes of an analytic signed distance, wound counter-clockwise from outside.

``figure``: a simple person made of capsules and a sphere: a T-shirt (torso above the waist and upper
arms), skin (head, neck, forearms), trousers (legs and hips). Its left arm bends forward and crosses in front of the chest, ~0.09 cube units in front
of it, so the chest behind the forearm is hidden from the front camera. The shirt has a red disc (a
"logo") on the front only and a yellow band on the back only, so a front photo cannot know the back.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage import measure

SHIRT = np.array([0.20, 0.35, 0.80])
SKIN = np.array([0.90, 0.70, 0.55])
TROUSERS = np.array([0.20, 0.55, 0.25])
LOGO = np.array([0.85, 0.15, 0.15])
BAND = np.array([0.95, 0.85, 0.20])
LOGO_CENTRE, LOGO_RADIUS = (0.0, 0.27), 0.06    # (x, y) on the chest front
BAND_Y = (0.0, 0.1)                             # y range on the back of the shirt
WAIST = -0.05                                   # the shirt ends here (y); trousers below

# (start, end, radius, material): 0 shirt, 1 skin, 2 trousers.
PARTS = [
    ((0.0, -0.1, 0.0), (0.0, 0.33, 0.0), 0.17, 0),       # torso
    ((0.0, 0.45, 0.0), (0.0, 0.55, 0.0), 0.06, 1),       # neck
    ((0.0, 0.65, 0.0), (0.0, 0.65, 0.0), 0.12, 1),       # head
    ((-0.08, -0.15, 0.0), (-0.09, -0.82, 0.0), 0.07, 2),  # right leg
    ((0.08, -0.15, 0.0), (0.09, -0.82, 0.0), 0.07, 2),   # left leg
    ((-0.2, 0.38, 0.0), (-0.31, 0.02, 0.0), 0.045, 0),   # right arm, hanging (sleeve, then skin)
    ((-0.31, 0.02, 0.0), (-0.34, -0.25, 0.02), 0.04, 1),
    ((0.2, 0.38, 0.0), (0.24, 0.12, 0.2), 0.045, 0),     # left upper arm (sleeve), forward
    ((0.24, 0.12, 0.2), (-0.06, 0.1, 0.3), 0.04, 1),     # left forearm, across the chest
]
FOREARM = PARTS[-1]


def _capsules(p: np.ndarray) -> np.ndarray:
    """Distance [N, P] from points [N, 3] to each part's surface (negative inside)."""
    out = np.empty((len(p), len(PARTS)))
    for k, (a, b, r, _) in enumerate(PARTS):
        a, b = np.asarray(a), np.asarray(b)
        ab = b - a
        t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
        out[:, k] = np.linalg.norm(p - (a + t[:, None] * ab), axis=1) - r
    return out


def figure_sdf(p: np.ndarray) -> np.ndarray:
    """Signed distance [N] (cube units, negative inside) of the figure at cube points [N, 3]."""
    return _capsules(np.asarray(p, np.float64)).min(axis=1)


def figure_material(p: np.ndarray) -> np.ndarray:
    """Material [N] int of surface points: 0 shirt, 1 skin, 2 trousers (the nearest part's; the shirt
    ends at the waist)."""
    p = np.asarray(p, np.float64)
    mat = np.array([m for *_, m in PARTS])[_capsules(p).argmin(axis=1)]
    mat[(mat == 0) & (p[:, 1] < WAIST) & (np.abs(p[:, 0]) < 0.2)] = 2
    return mat


def figure_albedo(p: np.ndarray, material: np.ndarray | None = None) -> np.ndarray:
    """True colour [N, 3] (sRGB in [0, 1]) of surface points [N, 3], front logo and back band included."""
    p = np.asarray(p, np.float64)
    mat = figure_material(p) if material is None else material
    out = np.array([SHIRT, SKIN, TROUSERS])[mat]
    shirt = mat == 0
    logo = shirt & (p[:, 2] > 0) & (np.hypot(p[:, 0] - LOGO_CENTRE[0], p[:, 1] - LOGO_CENTRE[1]) < LOGO_RADIUS)
    band = shirt & (p[:, 2] < 0) & (p[:, 1] > BAND_Y[0]) & (p[:, 1] < BAND_Y[1])
    out[logo] = LOGO
    out[band] = BAND
    return out


def _evaluate(sdf, axes: list[np.ndarray], index: np.ndarray | None = None) -> np.ndarray:
    """``sdf`` at grid points (all of them, or flat indices ``index``), in chunks; float32."""
    shape = [len(a) for a in axes]
    flat = np.arange(np.prod(shape)) if index is None else index
    out = np.empty(len(flat), np.float32)
    for s in range(0, len(flat), 500_000):
        i, j, k = np.unravel_index(flat[s:s + 500_000], shape)
        out[s:s + 500_000] = sdf(np.stack([axes[0][i], axes[1][j], axes[2][k]], axis=1))
    return out


def mesh_from_sdf(sdf, lo, hi, spacing: float, coarse: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes of ``sdf`` (points [N, 3] -> [N], a true distance) on a grid over [lo, hi].

    coarse > 1 evaluates a grid ``coarse`` times sparser first and then only the fine points near the
    surface (exact for a 1-Lipschitz distance): large meshes in seconds. Returns vertices [V, 3] float32
    and faces [F, 3] int32, counter-clockwise seen from outside."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    axes = [np.arange(a, b + spacing, spacing) for a, b in zip(lo, hi)]
    shape = tuple(len(a) for a in axes)
    if coarse <= 1:
        vol = _evaluate(sdf, axes).reshape(shape)
    else:
        rough = _evaluate(sdf, [a[::coarse] for a in axes]).reshape([len(a[::coarse]) for a in axes])
        vol = rough
        for axis, n in enumerate(shape):
            vol = np.repeat(vol, coarse, axis=axis).take(np.arange(n), axis=axis)
        vol = np.ascontiguousarray(vol).ravel()
        band = np.nonzero(np.abs(vol) <= (2.0 + coarse) * spacing)[0]
        vol[band] = _evaluate(sdf, axes, band)
        vol = vol.reshape(shape)
    verts, faces, _, _ = measure.marching_cubes(vol, 0.0, spacing=(spacing,) * 3)
    verts = verts + lo
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    if np.einsum("ij,ij->i", a, np.cross(b, c)).sum() < 0:
        faces = faces[:, ::-1]
    return verts.astype(np.float32), np.ascontiguousarray(faces, dtype=np.int32)


def figure_mesh(spacing: float = 0.012) -> tuple[np.ndarray, np.ndarray]:
    """The figure as a closed mesh (~60k vertices at the default spacing)."""
    return mesh_from_sdf(figure_sdf, (-0.45, -0.95, -0.25), (0.45, 0.8, 0.4), spacing)


def sphere_mesh(radius: float = 0.5, spacing: float = 0.02, centre=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """A closed sphere mesh."""
    c = np.asarray(centre, np.float64)
    sdf = lambda p: np.linalg.norm(p - c, axis=1) - radius  # noqa: E731
    return mesh_from_sdf(sdf, c - radius - 2 * spacing, c + radius + 2 * spacing, spacing)


@dataclass(frozen=True)
class Camera:
    """Orthographic camera over a ``size`` (w, h) image: pixel (row i, column j) sees the cube ray at
    ``x = sx * (j - cx)``, ``y = -(i - cy) / scale``; ``back`` looks from -z (then sx = -1 / scale, mirrored)."""

    scale: float
    cx: float
    cy: float
    size: tuple[int, int]
    back: bool = False


def front_camera(size: int) -> Camera:
    """The network input's camera: NDC = cube (y flipped), NDC -1..1 over pixel centres 0..size-1."""
    half = (size - 1) / 2.0
    return Camera(half, half, half, (size, size))


def render(camera: Camera, sdf=figure_sdf, albedo=figure_albedo, background=(0.5, 0.5, 0.5)
           ) -> np.ndarray:
    """Unlit RGBA uint8 [h, w, 4]: the albedo of the first surface along each pixel-centre ray (sphere
    tracing), alpha 255 there, ``background`` elsewhere."""
    w, h = camera.size
    ii, jj = np.mgrid[0:h, 0:w]
    sx = (-1.0 if camera.back else 1.0) / camera.scale
    xy = np.stack([(jj.ravel() - camera.cx) * sx, -(ii.ravel() - camera.cy) / camera.scale], axis=1)
    direction = 1.0 if camera.back else -1.0                       # ray direction along z
    z = np.full(len(xy), -direction * 1.0)
    alive = np.arange(len(xy))
    hit = np.zeros(len(xy), bool)
    # Only rays near the figure's xy footprint can hit it.
    near = np.min(np.stack([_capsules(np.column_stack([xy, np.full(len(xy), zz)])).min(axis=1)
                            for zz in (-0.2, 0.0, 0.3)]), axis=0) < 0.4
    alive = alive[near]
    for _ in range(200):
        if not len(alive):
            break
        d = sdf(np.column_stack([xy[alive], z[alive]]))
        done = d < 1e-4
        hit[alive[done]] = True
        alive = alive[~done]
        z[alive] += direction * np.maximum(d[~done], 1e-4)
        alive = alive[np.abs(z[alive]) < 1.0]
    rgba = np.empty((h * w, 4), np.float64)
    rgba[:, :3] = background
    rgba[:, 3] = 0.0
    pts = np.column_stack([xy[hit], z[hit]])
    rgba[hit, :3] = albedo(pts)
    rgba[hit, 3] = 1.0
    return (np.clip(rgba, 0, 1) * 255 + 0.5).astype(np.uint8).reshape(h, w, 4)


def figure_mesh_large(vertices: int = 500_000) -> tuple[np.ndarray, np.ndarray]:
    """The figure with about ``vertices`` vertices (benchmarks: 500k in ~20 s on one core)."""
    spacing = 0.012 * np.sqrt(18_000 / vertices)
    return mesh_from_sdf(figure_sdf, (-0.45, -0.95, -0.25), (0.45, 0.8, 0.4), spacing, coarse=4)


def box_grid(lo, hi, n):
    """Closed triangulated surface of an axis-aligned box: vertices on an n^3 lattice's surface, faces."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    idx = {}
    verts, faces = [], []

    def vid(i, j, k):
        key = (i, j, k)
        if key not in idx:
            idx[key] = len(verts)
            verts.append(lo + (hi - lo) * np.array([i, j, k]) / n)
        return idx[key]

    for axis in range(3):
        for side in (0, n):
            for a in range(n):
                for b in range(n):
                    def corner(da, db):
                        c = [0, 0, 0]
                        c[axis] = side
                        c[(axis + 1) % 3] = a + da
                        c[(axis + 2) % 3] = b + db
                        return vid(*c)
                    q = [corner(0, 0), corner(1, 0), corner(1, 1), corner(0, 1)]
                    if side == 0:
                        q = q[::-1]
                    faces += [(q[0], q[1], q[2]), (q[0], q[2], q[3])]
    return np.array(verts), np.array(faces)
