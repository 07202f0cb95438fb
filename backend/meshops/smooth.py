"""Gentle smoothing that keeps the shape's size and detail: Taubin's lambda|mu filter.

Each iteration moves every vertex a fraction ``lam`` towards the mean of its neighbours, then moves it
back by ``-mu`` (> lam), which cancels the shrinking of plain Laplacian smoothing and acts as a low-pass
filter that damps the marching-cubes staircase while keeping features larger than a few edges.
Vertices on an open boundary stay fixed.
"""
from __future__ import annotations

import numpy as np

from .topology import edge_index, edge_matrix


def taubin_smooth(vertices: np.ndarray, faces: np.ndarray, iterations: int = 3, lam: float = 0.5,
                  mu: float = -0.53) -> np.ndarray:
    """Smoothed vertices [V, 3] (same dtype and frame); ``iterations`` lambda|mu pairs."""
    if iterations <= 0 or len(faces) == 0:
        return vertices
    edges, _, counts = edge_index(faces)
    adj = edge_matrix(edges, len(vertices))
    deg = np.asarray(adj.sum(axis=1)).ravel()
    movable = deg > 0
    movable[edges[counts == 1].ravel()] = False
    inv = np.zeros_like(deg)
    inv[movable] = 1.0 / deg[movable]
    v = np.asarray(vertices, np.float64).copy()
    for _ in range(iterations):
        for factor in (lam, mu):
            v += factor * ((adj @ v) * inv[:, None] - v * movable[:, None])
    return v.astype(vertices.dtype)
