"""Marching cubes on a sampled volume, returning the mesh in the normalised cube frame."""
from __future__ import annotations

import numpy as np
from skimage import measure

from .grid import EVAL_CALIB, index_to_cube_matrix
from .volume import CroppedVolume, crossing_box


def marching_cubes(volume: np.ndarray | CroppedVolume, level: float = 0.5, calib: np.ndarray = EVAL_CALIB
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Iso-surface of ``volume`` [res]^3 (indexed i, j, k as in ``grid.py``; inside > ``level``).

    Returns vertices [V, 3] float32 in the normalised cube frame and faces [F, 3] int32 wound so that
    they face outward (positive signed volume for a closed surface). An empty pair when the volume
    does not cross ``level``.

    Marching cubes runs on the box of cells that cross ``level`` (:func:`volume.crossing_box`), whatever
    holds the volume: a dense array and a :class:`CroppedVolume` with the same values give the same mesh,
    bit for bit (vertex positions are rounded to float32 by the marching in the box's own indices).
    """
    if isinstance(volume, CroppedVolume):
        block, origin, res = volume.block, np.asarray(volume.origin), volume.res
    else:
        block, origin, res = volume, np.zeros(3, np.int64), volume.shape[0]
    box = crossing_box(block, level)
    if box is None:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32)
    lo = np.maximum(box[0] + origin, 0)                               # full-volume indices
    hi = np.minimum(box[1] + origin, np.asarray(volume.shape) - 1)
    if (lo < origin).any() or (hi >= origin + block.shape).any():     # a crossing at the block's edge: the
        return marching_cubes(np.asarray(volume), level, calib)       # volume breaks its promise; be exact
    sub = block[tuple(slice(a, b + 1) for a, b in zip(lo - origin, hi - origin))]
    verts, faces, _, _ = measure.marching_cubes(np.ascontiguousarray(sub), level)
    m = index_to_cube_matrix(res, calib)
    verts = (verts.astype(np.float64) + lo) @ m[:3, :3].T + m[:3, 3]
    # skimage winds triangles clockwise seen from outside (the high side) in index space, and a
    # mirroring index->cube map (the y flip) reverses that once more. Wind them counter-clockwise
    # seen from outside in the cube frame. (The official extraction returns the reverse of this.)
    if np.linalg.det(m[:3, :3]) > 0:
        faces = faces[:, ::-1]
    return verts.astype(np.float32), np.ascontiguousarray(faces, dtype=np.int32)
