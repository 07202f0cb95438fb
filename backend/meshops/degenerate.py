"""Remove what breaks game engines and exporters: coincident vertices, zero-area and duplicate faces,
vertices no face uses. Vertices [V, 3] (any unit), faces [F, 3] (counter-clockwise from outside),
per-vertex attributes such as colours [V, C] travel along."""
from __future__ import annotations

import numpy as np

from .topology import compact, edge_keys

AREA_EPS = 1e-12  # faces smaller than this share of the mean squared edge length count as zero-area


def weld_coincident(vertices: np.ndarray, faces: np.ndarray, *attributes: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Merge vertices with bit-identical positions (marching cubes makes some when the level meets a grid
    value exactly); attributes are averaged. Faces are renumbered, not removed."""
    v = np.ascontiguousarray(vertices, dtype=np.float32) + np.float32(0.0)   # -0.0 -> 0.0
    keys = v.view(np.dtype((np.void, v.dtype.itemsize * 3))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    if len(first) == len(v):
        return vertices, faces, list(attributes)
    inverse = inverse.ravel()
    counts = np.bincount(inverse, minlength=len(first))[:, None]
    merged = []
    for a in attributes:
        a = np.asarray(a)
        sums = np.stack([np.bincount(inverse, weights=a[:, k], minlength=len(first))
                         for k in range(a.shape[1])], axis=1)
        merged.append((sums / counts).astype(a.dtype))
    return vertices[first], inverse[faces].astype(np.int32), merged


def collapse_zero_area(vertices: np.ndarray, faces: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Faces with the zero-area ones collapsed: each such face's shortest edge is merged into one vertex
    (the surrounding faces follow it, so no hole opens); faces left with a repeated vertex are dropped."""
    f = np.asarray(faces, np.int64)
    v = np.asarray(vertices, np.float64)
    for _ in range(rounds):
        f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0])]
        if not len(f):
            break
        e = v[np.roll(f, -1, axis=1)] - v[f]                           # [F, 3, 3] edges i -> i+1
        sq = np.einsum("fij,fij->fi", e, e)
        twice_area = np.linalg.norm(np.cross(e[:, 0], e[:, 1]), axis=1)
        zero = 0.5 * twice_area <= AREA_EPS * max(float(sq.mean()), 1e-30)
        if not zero.any():
            break
        bad = f[zero]
        k = sq[zero].argmin(axis=1)
        a, b = bad[np.arange(len(bad)), k], bad[np.arange(len(bad)), (k + 1) % 3]
        remap = np.arange(len(v))
        remap[np.maximum(a, b)] = np.minimum(a, b)                      # merge the shortest edge
        for _ in range(32):                                             # follow chains of merges
            nxt = remap[remap]
            if (nxt == remap).all():
                break
            remap = nxt
        f = remap[f]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0])]
    return f.astype(np.int32)


def drop_duplicate_faces(faces: np.ndarray) -> np.ndarray:
    """Faces with repeats removed: of faces on the same three vertices keep one when all wind the same way,
    none when both windings occur (a zero-volume fin)."""
    f = np.asarray(faces, np.int64)
    if not len(f):
        return f.astype(np.int32)
    srt = np.sort(f, axis=1)
    n = int(f.max()) + 1
    key = edge_keys(srt[:, :2], n) * n + srt[:, 2] if n < 2_000_000 else None
    if key is None:
        _, group = np.unique(srt, axis=0, return_inverse=True)
    else:
        _, group = np.unique(key, return_inverse=True)
    group = group.ravel()
    rot = np.argmin(f, axis=1)                                          # winding: rotate min first
    second = f[np.arange(len(f)), (rot + 1) % 3]
    third = f[np.arange(len(f)), (rot + 2) % 3]
    parity = (second < third).astype(np.int64)
    n_groups = group.max() + 1
    both = (np.bincount(group, weights=parity, minlength=n_groups) % np.bincount(group, minlength=n_groups)) != 0
    _, first = np.unique(group, return_index=True)
    keep = np.zeros(len(f), bool)
    keep[first] = True
    keep &= ~both[group]
    return f[np.sort(np.nonzero(keep)[0])].astype(np.int32)


def remove_degenerate(vertices: np.ndarray, faces: np.ndarray, *attributes: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Weld coincident vertices, collapse zero-area faces, drop duplicate faces and unused vertices."""
    vertices, faces, attributes = weld_coincident(vertices, faces, *attributes)
    faces = drop_duplicate_faces(collapse_zero_area(vertices, faces))
    vertices, faces, attributes, _ = compact(vertices, faces, *attributes)
    return vertices, faces, attributes
