"""The sampling grid and its frames.

*Grid index* (i, j, k), each in [0, res): the array position in the field volume.
*Image NDC*: x right, y DOWN, z, each in [-1, 1); index i maps to ``-1 + 2 i / res`` on every axis
(note: res, not res - 1, as the official extraction does).
*Normalised cube* (the mesh frame the engine returns): the image NDC with y flipped by the evaluation
calibration ``diag(1, -1, 1)``, so x right, y UP, z towards the camera.
"""
from __future__ import annotations

import numpy as np

EVAL_CALIB = np.diag([1.0, -1.0, 1.0, 1.0])  # cube -> image NDC used for every query
B_MIN = np.array([-1.0, -1.0, -1.0])
B_MAX = np.array([1.0, 1.0, 1.0])


def index_to_ndc_matrix(res: int, b_min: np.ndarray = B_MIN, b_max: np.ndarray = B_MAX) -> np.ndarray:
    """4x4 float64 affine map from grid index to image NDC: ``b_min + index * (b_max - b_min) / res``."""
    m = np.eye(4)
    m[[0, 1, 2], [0, 1, 2]] = (np.asarray(b_max, float) - np.asarray(b_min, float)) / res
    m[:3, 3] = b_min
    return m


def index_to_cube_matrix(res: int, calib: np.ndarray = EVAL_CALIB) -> np.ndarray:
    """4x4 float64 affine map from grid index to the normalised cube (inverse calibration after the grid map)."""
    return np.linalg.inv(calib) @ index_to_ndc_matrix(res)


def index_to_cube(index: np.ndarray, res: int, calib: np.ndarray = EVAL_CALIB) -> np.ndarray:
    """Cube coordinates [N, 3] float32 of grid indices [N, 3] (computed in float64, then rounded once)."""
    return IndexToCube(res, calib)(index)


class IndexToCube:
    """:func:`index_to_cube` for one grid and calibration, with the calibration inverted once."""

    def __init__(self, res: int, calib: np.ndarray = EVAL_CALIB):
        m = index_to_cube_matrix(res, calib)
        self.linear, self.offset = m[:3, :3].T.copy(), m[:3, 3].copy()

    def __call__(self, index: np.ndarray) -> np.ndarray:
        pts = np.asarray(index, dtype=np.float64) @ self.linear
        pts += self.offset
        return pts.astype(np.float32)
