"""Decimation without compiled dependencies: vertex clustering with quadric-placed representatives.

Vertices are binned into cubic cells of side ``h``; each occupied cell becomes one vertex, placed where
the squared distances to the planes of its original faces add up least (Lindstrom's out-of-core
simplification), with colours averaged over the cell. Faces whose corners fall in fewer than three cells
vanish, and duplicates go. ``h`` is found by bisection so the face count lands near the target. Quality
is below quadric edge collapse (:mod:`.decimate` prefers fast-simplification) and the result can have
non-manifold edges; it is the fallback where that package is not installed.
"""
from __future__ import annotations

import numpy as np

from .degenerate import drop_duplicate_faces
from .topology import compact, face_normals


def _cluster(vertices: np.ndarray, h: float) -> tuple[np.ndarray, int]:
    """Cell id [V] (dense, 0..C-1) and cell count for cell side ``h``."""
    cell = np.floor((vertices - vertices.min(axis=0)) / h).astype(np.int64)
    dims = cell.max(axis=0) + 1
    key = (cell[:, 0] * dims[1] + cell[:, 1]) * dims[2] + cell[:, 2]
    _, ids = np.unique(key, return_inverse=True)
    return ids.ravel(), int(ids.max()) + 1


def _faces(faces: np.ndarray, ids: np.ndarray) -> np.ndarray:
    f = ids[faces]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0])]
    return drop_duplicate_faces(f)


def _representatives(vertices: np.ndarray, faces: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
    """Per cell, the point minimising the summed squared distances to its faces' planes (area-weighted),
    regularised towards the cell's vertex mean; [n, 3] float64."""
    v = vertices.astype(np.float64)
    fn = face_normals(v, faces)                        # length = 2 * area
    area = np.linalg.norm(fn, axis=1)
    unit = fn / np.maximum(area, 1e-30)[:, None]
    d = -np.einsum("ij,ij->i", unit, v[faces[:, 0]])
    quad = np.einsum("i,ij,ik->ijk", area, unit, unit).reshape(-1, 9)   # area * n n^T
    lin = (area * d)[:, None] * unit                                        # area * d n
    count = np.bincount(ids, minlength=n).astype(np.float64)
    mean = np.stack([np.bincount(ids, weights=v[:, k], minlength=n) for k in range(3)], 1) / count[:, None]
    a = np.zeros((n, 9))
    b = np.zeros((n, 3))
    for corner in range(3):                            # each face's quadric goes to its corners' cells
        cid = ids[faces[:, corner]]
        for k in range(9):
            a[:, k] += np.bincount(cid, weights=quad[:, k], minlength=n)
        for k in range(3):
            b[:, k] += np.bincount(cid, weights=lin[:, k], minlength=n)
    a = a.reshape(n, 3, 3)
    scale = np.trace(a, axis1=1, axis2=2)[:, None, None]
    reg = 1e-3 * np.maximum(scale, 1e-30) * np.eye(3)
    # minimise x^T A x + 2 b^T x + reg |x - mean|^2  ->  (A + reg) x = reg mean - b
    rhs = (reg @ mean[:, :, None])[:, :, 0] - b
    return np.linalg.solve(a + reg, rhs[:, :, None])[:, :, 0]


def cluster_decimate(vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray, target_faces: int,
                     iterations: int = 14) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vertices [V', 3] float32, faces [F', 3] int32, colours [V', 3] float32) with F' near target_faces."""
    v = np.asarray(vertices, np.float64)
    extent = v.max(axis=0) - v.min(axis=0)
    area = 0.5 * np.linalg.norm(face_normals(v, faces), axis=1).sum()
    h0 = np.sqrt(2.0 * area / max(target_faces, 1))     # a cell per ~2 target faces' worth of area
    lo, hi = np.log(h0 / 8), np.log(min(h0 * 8, float(extent.max())))
    best = None
    for _ in range(iterations):
        h = float(np.exp(0.5 * (lo + hi)))
        ids, n = _cluster(v, h)
        f = _faces(np.asarray(faces, np.int64), ids)
        if best is None or abs(len(f) - target_faces) < abs(len(best[1]) - target_faces):
            best = (ids, f, n)
        if abs(len(f) - target_faces) <= 0.01 * target_faces:
            break
        if len(f) > target_faces:
            lo = np.log(h)
        else:
            hi = np.log(h)
    ids, f, n = best
    pos = _representatives(v, np.asarray(faces, np.int64), ids, n)
    count = np.bincount(ids, minlength=n)[:, None]
    col = np.stack([np.bincount(ids, weights=colors[:, k], minlength=n) for k in range(3)], 1) / count
    pos, f, (col,), _ = compact(pos, f, col)
    return pos.astype(np.float32), f, col.astype(np.float32)
