"""Texture atlas for the colour bake, without bpy: charts and packing by ``xatlas`` (when installed), and the
measurements that compare atlases (islands, share of the texture used).

UVs are per face corner, ``[F, 3, 2]`` floats in [0, 1] (U right, V up, Blender's convention), for a
triangle mesh ``faces [F, 3]``. ``xatlas`` is optional: :func:`available` says whether it imports, and the
bake falls back to Blender's own unwrap when it does not.
"""
from __future__ import annotations

import numpy as np

from .mesh_smoothing import umbrella_smooth


def available() -> bool:
    """Whether the ``xatlas`` package imports in this Python."""
    try:
        import xatlas  # noqa: F401
    except ImportError:
        return False
    return True


def atlas_uvs(vertices: np.ndarray, faces: np.ndarray, size: int, padding: int = 4,
              smoothing: int = 10) -> np.ndarray:
    """Per-corner UVs [F, 3, 2] from xatlas for the triangle mesh (vertices [V, 3] in any unit, faces [F, 3]):
    charts cut where the surface folds (found on a copy smoothed ``smoothing`` times, see :func:`smoothed`),
    packed into a ``size`` x ``size`` texture with ``padding`` texels between charts, charts rotated to fit.
    Raises ImportError without xatlas, ValueError when its output does not match the input faces."""
    import xatlas

    v = np.ascontiguousarray(smoothed(vertices, faces, smoothing) if smoothing else vertices, dtype=np.float32)
    f = np.ascontiguousarray(faces, dtype=np.uint32)
    atlas = xatlas.Atlas()
    atlas.add_mesh(v, f)
    charts = xatlas.ChartOptions()
    charts.max_cost = 4.0          # larger charts than the default 2 (fewer seams); distortion stays small
    pack = xatlas.PackOptions()
    pack.resolution = int(size)
    pack.padding = int(padding)
    pack.bilinear = True
    pack.rotate_charts = True
    pack.blockAlign = False
    pack.bruteForce = False
    atlas.generate(charts, pack)
    vmapping, indices, uvs = atlas[0]
    indices = np.asarray(indices, dtype=np.int64).reshape(-1, 3)
    if indices.shape != f.shape or not np.array_equal(np.asarray(vmapping)[indices], f.astype(np.int64)):
        raise ValueError("xatlas changed the mesh's faces; its UVs cannot be mapped back")
    return np.asarray(uvs, dtype=np.float64)[indices]


def uv_islands(faces: np.ndarray, uv: np.ndarray, decimals: int = 6) -> int:
    """Number of UV islands: groups of faces joined by corners that share both the vertex and its UV."""
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    n = len(f)
    key = np.c_[f.reshape(-1), np.round(np.asarray(uv).reshape(-1, 2), decimals)]
    _, corner_id = np.unique(key, axis=0, return_inverse=True)
    corner_id = corner_id.reshape(-1)
    face_of = np.repeat(np.arange(n), 3)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first = np.full(corner_id.max() + 1, -1, dtype=np.int64)
    for c, fi in zip(corner_id, face_of):
        if first[c] < 0:
            first[c] = fi
        else:
            a, b = find(fi), find(first[c])
            if a != b:
                parent[a] = b
    return len({find(i) for i in range(n)})


def barycentric(points: np.ndarray, tri: np.ndarray, eps: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric weights [N, 3] of 2-D ``points`` [N, 2] in triangles ``tri`` [N, 3, 2] (or one triangle
    [3, 2] for all points), and a bool [N]: False where a triangle is degenerate (its weights are not valid)."""
    p, t = np.asarray(points, np.float64), np.asarray(tri, np.float64)
    a, b, c = t[..., 0, :], t[..., 1, :], t[..., 2, :]
    det = (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (c[..., 0] - a[..., 0]) * (b[..., 1] - a[..., 1])
    ok = np.broadcast_to(np.abs(det) > eps, p.shape[:-1])
    det = np.where(np.abs(det) > eps, det, 1.0)
    w1 = ((p[:, 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (c[..., 0] - a[..., 0]) * (p[:, 1] - a[..., 1])) / det
    w2 = ((b[..., 0] - a[..., 0]) * (p[:, 1] - a[..., 1]) - (p[:, 0] - a[..., 0]) * (b[..., 1] - a[..., 1])) / det
    return np.stack([1 - w1 - w2, w1, w2], axis=1), ok


def centroid_texels(uv: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For UV triangles [F, 3, 2] in a ``size`` x ``size`` texture: the texel (x, y) [F, 2] nearest each
    centroid, the barycentric weights [F, 3] of that texel's centre in its triangle, and a bool [F]: the
    centre lies well inside (every weight above 0.05), where a bake shows the triangle's own colours."""
    uv = np.asarray(uv, np.float64)
    texel = np.clip(np.round(uv.mean(axis=1) * size - 0.5).astype(int), 0, size - 1)
    bary, ok = barycentric((texel + 0.5) / size, uv)
    return texel, bary, ok & (bary.min(axis=1) > 0.05)


def texture_use(uv: np.ndarray, size: int) -> float:
    """Share of a ``size`` x ``size`` texture's texels whose centre lies inside some UV triangle."""
    tri = np.asarray(uv, dtype=np.float64).reshape(-1, 3, 2) * size - 0.5   # texel-centre coordinates
    covered = np.zeros((size, size), bool)
    lo = np.clip(np.floor(tri.min(axis=1)).astype(int), 0, size - 1)
    hi = np.clip(np.ceil(tri.max(axis=1)).astype(int), 0, size - 1)
    for t, (x0, y0), (x1, y1) in zip(tri, lo, hi):
        xs, ys = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
        bary, ok = barycentric(np.stack([xs.ravel(), ys.ravel()], axis=1), t)
        inside = ok & (bary.min(axis=1) >= 0)
        covered[ys.ravel()[inside], xs.ravel()[inside]] = True
    return float(covered.mean())


def smoothed(vertices: np.ndarray, faces: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Vertices [V, 3] after ``iterations`` rounds of halfway-to-the-neighbours averaging (umbrella
    Laplacian): marching-cubes staircase noise makes a chart packer cut hundreds of tiny charts; charts are
    found on the smoothed copy, whose triangles are the same."""
    return umbrella_smooth(vertices, faces, iterations)
