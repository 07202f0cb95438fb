"""Umbrella (neighbour-average) smoothing of per-vertex values over a triangle mesh's edges, without bpy."""
from __future__ import annotations

import numpy as np


def umbrella_smooth(values: np.ndarray, faces: np.ndarray, iterations: int, keep: float = 0.5) -> np.ndarray:
    """``values`` [V, ...] after ``iterations`` rounds of ``keep * own + (1 - keep) * mean of the neighbours``
    (neighbours: vertices sharing an edge; a vertex on no face keeps its value). Returns float64."""
    out = np.asarray(values, dtype=np.float64).copy()
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    src = np.r_[f[:, 0], f[:, 1], f[:, 2], f[:, 1], f[:, 2], f[:, 0]]
    dst = np.r_[f[:, 1], f[:, 2], f[:, 0], f[:, 0], f[:, 1], f[:, 2]]
    degree = np.bincount(src, minlength=len(out)).astype(np.float64)
    lonely = degree == 0
    degree[lonely] = 1.0
    shape = (-1,) + (1,) * (out.ndim - 1)
    for _ in range(int(iterations)):
        total = np.zeros_like(out)
        np.add.at(total, src, out[dst])
        mean = total / degree.reshape(shape)
        mean[lonely] = out[lonely]
        out = keep * out + (1.0 - keep) * mean
    return out
