"""Ground truth on the engine's grid and the quality measures of a reconstructed mesh.

Grid: the engine's (``backend.surface.grid``): index (i, j, k) in [0, res) maps to the cube point
``(-1 + 2i/res, 1 - 2j/res, -1 + 2k/res)`` (x right, y up, z towards the camera).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from skimage import measure

from backend.surface.grid import index_to_cube_matrix

from .bodies import Shape
from .dataset import CubeFrame

_EPS = (1.234567e-6, 2.345671e-6)  # column offset that keeps rays off mesh edges and vertices


def grid_axes(res: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cube coordinates of grid index 0..res-1 along x, y, z ([res] each)."""
    m = index_to_cube_matrix(res)
    idx = np.arange(res, dtype=np.float64)
    return m[0, 0] * idx + m[0, 3], m[1, 1] * idx + m[1, 3], m[2, 2] * idx + m[2, 3]


def gt_field(shape: Shape, frame: CubeFrame, res: int) -> np.ndarray:
    """Exact implicit value in cube units on the grid, float32 [res]^3 (i, j, k); positive far outside.

    Only points in the shape's bounding box are evaluated; the rest get +1 (outside).
    """
    xs, ys, zs = grid_axes(res)
    lo, hi = shape.bounds(margin=0.02)
    clo, chi = frame.to_cube(lo[None])[0], frame.to_cube(hi[None])[0]
    sel = [np.nonzero((a >= l) & (a <= h))[0] for a, l, h in zip((xs, ys, zs), clo, chi)]
    out = np.ones((res, res, res), np.float32)
    if not all(len(s) for s in sel):
        return out
    gx, gy, gz = np.meshgrid(xs[sel[0]], ys[sel[1]], zs[sel[2]], indexing="ij")
    pts = np.stack([gx.ravel(), gy.ravel(), gz.ravel()], 1)
    vals = (shape.sdf(frame.to_world(pts)) * frame.scale).reshape(gx.shape)
    out[np.ix_(*sel)] = vals
    return out


def mesh_occupancy(vertices: np.ndarray, faces: np.ndarray, res: int) -> np.ndarray:
    """Inside/outside (bool [res]^3) of a closed mesh (cube frame) on the grid, by ray parity along z."""
    xs, ys, zs = grid_axes(res)
    v = vertices.astype(np.float64)
    tri = v[faces]                                   # [F, 3, 3]
    # Column index space: i = (x + 1) * res / 2, j = (1 - y) * res / 2 (+ a tiny offset).
    ci = (tri[:, :, 0] + 1.0) * res / 2.0 - _EPS[0]
    cj = (1.0 - tri[:, :, 1]) * res / 2.0 - _EPS[1]
    i0, i1 = np.ceil(ci.min(1)).astype(int), np.floor(ci.max(1)).astype(int)
    j0, j1 = np.ceil(cj.min(1)).astype(int), np.floor(cj.max(1)).astype(int)
    diff = np.zeros((res, res, res + 1), np.int32)
    span = int(max((i1 - i0).max(initial=0), (j1 - j0).max(initial=0))) + 1
    for di in range(span):
        for dj in range(span):
            ti = i0 + di
            tj = j0 + dj
            ok = (ti <= i1) & (tj <= j1) & (ti >= 0) & (ti < res) & (tj >= 0) & (tj < res)
            if not ok.any():
                continue
            f = np.nonzero(ok)[0]
            px, py = ti[f].astype(np.float64), tj[f].astype(np.float64)
            a, b, c = (np.stack([ci[f, k], cj[f, k]], 1) for k in range(3))
            # barycentric coordinates of the column in the projected triangle
            d = (b[:, 1] - c[:, 1]) * (a[:, 0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (a[:, 1] - c[:, 1])
            with np.errstate(divide="ignore", invalid="ignore"):
                l1 = ((b[:, 1] - c[:, 1]) * (px - c[:, 0]) + (c[:, 0] - b[:, 0]) * (py - c[:, 1])) / d
                l2 = ((c[:, 1] - a[:, 1]) * (px - c[:, 0]) + (a[:, 0] - c[:, 0]) * (py - c[:, 1])) / d
                l3 = 1.0 - l1 - l2  # NaN for a degenerate (edge-on) triangle: never a hit below
            hit = (d != 0) & (l1 >= 0) & (l2 >= 0) & (l3 >= 0)
            f, l1, l2, l3 = f[hit], l1[hit], l2[hit], l3[hit]
            z = l1 * tri[f, 0, 2] + l2 * tri[f, 1, 2] + l3 * tri[f, 2, 2]
            k0 = np.clip(np.floor((z + 1.0) * res / 2.0).astype(int) + 1, 0, res)  # first grid z above the hit
            np.add.at(diff, (ti[f], tj[f], k0), 1)
    crossings = np.cumsum(diff[:, :, :res], axis=2)
    return (crossings % 2) == 1


def components_and_closed(faces: np.ndarray, n_vertices: int) -> tuple[int, bool]:
    """Number of connected components (by shared vertices) and whether every edge has exactly two faces."""
    if len(faces) == 0:
        return 0, False
    rows = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    cols = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    adj = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_vertices, n_vertices))
    used = np.unique(faces)
    n, labels = connected_components(adj, directed=False)
    n_comp = len(np.unique(labels[used]))
    edges = np.sort(np.stack([rows, cols], 1), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return n_comp, bool((counts == 2).all())


@dataclass
class Score:
    """Quality of one reconstruction against the exact shape (heights in cube units)."""

    iou: float
    height_true: float
    height_mesh: float
    components: int
    closed: bool

    @property
    def height_error(self) -> float:
        return abs(self.height_mesh - self.height_true) / self.height_true


def score(vertices: np.ndarray, faces: np.ndarray, shape: Shape, frame: CubeFrame, res: int) -> Score:
    """Volumetric IoU on the ``res`` grid, heights (y extent; the truth from marching cubes on the exact
    field at the same resolution), component count and closedness of the mesh."""
    field = gt_field(shape, frame, res)
    truth = field < 0
    pred = mesh_occupancy(vertices, faces, res)
    iou = float((truth & pred).sum() / max((truth | pred).sum(), 1))
    tv, _, _, _ = measure.marching_cubes(field, 0.0)
    m = index_to_cube_matrix(res)
    h_true = float((tv[:, 1].max() - tv[:, 1].min()) * abs(m[1, 1]))
    h_mesh = float(vertices[:, 1].max() - vertices[:, 1].min()) if len(vertices) else 0.0
    n, closed = components_and_closed(faces, len(vertices))
    return Score(iou, h_true, h_mesh, n, closed)
