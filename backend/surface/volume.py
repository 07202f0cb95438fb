"""A sampled volume stored as the box where the surface is, and the box of cells that cross a level.

Coarse-to-fine sampling only learns the field near the surface; elsewhere it knows a side of the level.
Storing the whole [res]^3 grid for that (0.5 GB at 512) costs more time than the bookkeeping near the surface,
so :class:`CroppedVolume` keeps a box of it and computes the rest only when asked (``np.asarray``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np


class CroppedVolume:
    """A [res]^3 float32 volume (indexed i, j, k as in ``grid.py``) of which only a box is stored.

    ``block`` [a, b, c] (possibly a strided view) holds the grid indices ``origin + (0..a-1, 0..b-1, 0..c-1)``. Every cell of the
    volume whose corners lie on both sides of the sampling level lies inside the block: outside it the volume
    holds no surface. ``np.asarray(volume)`` builds the whole volume (``outside()`` gives the values outside
    the block; the block is pasted over it): for tests and comparisons, not needed by :func:`marching_cubes`.
    """

    def __init__(self, block: np.ndarray, origin: tuple[int, int, int], res: int,
                 outside: Callable[[], np.ndarray]):
        self.block, self.origin, self.res = block, tuple(int(o) for o in origin), int(res)
        self._outside = outside

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.res,) * 3

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float32)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        full = self._outside()
        a, b, c = self.block.shape
        i, j, k = self.origin
        full[i:i + a, j:j + b, k:k + c] = self.block
        return full if dtype is None else full.astype(dtype)


def crossing_box(block: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Inclusive index bounds (lo [3], hi [3], int64) in ``block`` of every point within one point of an
    edge whose ends lie on different sides of ``level`` (``> level`` is inside, as marching cubes counts
    it): the points of every cell that crosses the level, and a few more. None when no edge crosses."""
    inside = block > level
    lo = np.full(3, np.iinfo(np.int64).max)
    hi = np.full(3, -1)
    for d in range(3):   # edges along axis d
        if inside.shape[d] < 2:
            return None
        a = np.moveaxis(inside, d, 0)
        change = a[1:] != a[:-1]
        for axis in range(3):
            hit = np.flatnonzero(change.any(axis=tuple(x for x in range(3) if x != axis)))
            if not len(hit):
                return None
            src = (d, *[x for x in range(3) if x != d])[axis]   # the block axis this moved axis is
            lo[src] = min(lo[src], hit[0])
            hi[src] = max(hi[src], hit[-1] + (1 if axis == 0 else 0))
    return lo - 1, hi + 1
