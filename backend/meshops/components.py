"""Connected pieces of a mesh, and keeping the person's piece (the largest by surface area)."""
from __future__ import annotations

import numpy as np
from scipy.sparse.csgraph import connected_components

from .topology import adjacency, face_areas


def face_components(faces: np.ndarray, n_vertices: int) -> tuple[int, np.ndarray]:
    """(number of pieces, piece label [F] of each face); faces sharing a vertex are in one piece."""
    if len(faces) == 0:
        return 0, np.zeros(0, np.int64)
    _, labels = connected_components(adjacency(faces, n_vertices), directed=False)
    pieces, dense = np.unique(labels[np.asarray(faces)[:, 0]], return_inverse=True)   # unused vertices: none
    return len(pieces), dense.ravel()


def keep_largest(vertices: np.ndarray, faces: np.ndarray, min_fraction: float | None = None,
                 outside: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Faces of the largest piece by area, plus any piece with at least ``min_fraction`` of its area
    (None: the largest only) that lies mostly where the person is: ``outside`` (optional bool [V]) marks
    vertices that are not, and a piece with more than half its faces' corners there is dropped (a blob the
    networks made in the background). Returns (kept faces [F', 3], number of pieces dropped). Vertices of
    dropped pieces stay in the array, unused (compact afterwards)."""
    n, labels = face_components(faces, len(vertices))
    if n <= 1:
        return faces, 0
    area = np.bincount(labels, weights=face_areas(vertices, faces), minlength=n)
    keep = area >= area.max() * min_fraction if min_fraction is not None else np.zeros(n, bool)
    if outside is not None:
        corners_out = np.asarray(outside, bool)[np.asarray(faces)].mean(axis=1)
        keep &= np.bincount(labels, weights=corners_out, minlength=n) <= 0.5 * np.bincount(labels, minlength=n)
    keep[np.argmax(area)] = True
    return faces[keep[labels]], int(n - keep.sum())
