"""Marching cubes on a sampled volume, returning the mesh in the normalised cube frame."""
from __future__ import annotations

import numpy as np
from skimage import measure

from .grid import EVAL_CALIB, index_to_cube_matrix


def marching_cubes(volume: np.ndarray, level: float = 0.5, calib: np.ndarray = EVAL_CALIB
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Iso-surface of ``volume`` [res]^3 (indexed i, j, k as in ``grid.py``; inside > ``level``).

    Returns vertices [V, 3] float32 in the normalised cube frame and faces [F, 3] int32 wound so that
    they face outward (positive signed volume for a closed surface). An empty pair when the volume
    does not cross ``level``.
    """
    lo, hi = float(np.nanmin(volume)), float(np.nanmax(volume))
    if not (lo <= level <= hi) or lo == hi:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32)
    verts, faces, _, _ = measure.marching_cubes(volume, level)
    m = index_to_cube_matrix(volume.shape[0], calib)
    verts = verts.astype(np.float64) @ m[:3, :3].T + m[:3, 3]
    # skimage winds triangles clockwise seen from outside (the high side) in index space, and a
    # mirroring index->cube map (the y flip) reverses that once more. Wind them counter-clockwise
    # seen from outside in the cube frame. (The official extraction returns the reverse of this.)
    if np.linalg.det(m[:3, :3]) > 0:
        faces = faces[:, ::-1]
    return verts.astype(np.float32), np.ascontiguousarray(faces, dtype=np.int32)
