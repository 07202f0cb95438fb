"""Connectivity and per-element geometry of triangle meshes, shared by the other mesh operations.

Conventions: vertices [V, 3] float (any frame, any unit), faces [F, 3] int (counter-clockwise seen from
outside). An *edge* is an unordered vertex pair stored sorted (a < b); a *half-edge* is the ordered pair
(faces[f, i], faces[f, (i + 1) % 3]) of one face.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse


def halfedges(faces: np.ndarray) -> np.ndarray:
    """Directed half-edges [3F, 2] int64 in face order: rows 3f..3f+2 belong to face f."""
    f = np.asarray(faces, dtype=np.int64)
    return np.stack([f, np.roll(f, -1, axis=1)], axis=2).reshape(-1, 2)


def edge_keys(pairs: np.ndarray, n_vertices: int) -> np.ndarray:
    """One int64 per vertex pair [N, 2]: ``a * V + b`` (direction kept; sort the pair first for edges)."""
    return pairs[:, 0].astype(np.int64) * int(n_vertices) + pairs[:, 1]


def edge_index(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mesh's edges and which half-edges lie on them: (edges [E, 2] int64 with a < b, sorted;
    edge of each half-edge [3F] (rows of :func:`halfedges`); number of half-edges on each edge [E])."""
    he = halfedges(faces)
    if not len(he):
        return np.zeros((0, 2), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    n = int(he.max()) + 1
    keys = edge_keys(np.sort(he, axis=1), n)
    uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return np.stack(np.divmod(uniq, n), axis=1), inverse.ravel(), counts


def unique_edges(faces: np.ndarray) -> np.ndarray:
    """Unordered edges [E, 2] int64 (a < b), each once, sorted."""
    he = np.sort(halfedges(faces), axis=1)
    if not len(he):
        return np.zeros((0, 2), np.int64)
    n = int(he.max()) + 1
    keys = np.unique(edge_keys(he, n))
    return np.stack(np.divmod(keys, n), axis=1)


def edge_matrix(edges: np.ndarray, n_vertices: int, weights: np.ndarray | None = None) -> sparse.csr_matrix:
    """Symmetric [V, V] csr with ``weights`` [E] (default 1) at both (a, b) and (b, a) of each edge [E, 2]
    (edges unique, as :func:`unique_edges` gives)."""
    w = np.ones(len(edges)) if weights is None else np.asarray(weights, np.float64)
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    order = np.argsort(rows * int(n_vertices) + cols, kind="stable")
    indptr = np.zeros(n_vertices + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n_vertices), out=indptr[1:])
    return sparse.csr_matrix((np.concatenate([w, w])[order], cols[order], indptr), shape=(n_vertices, n_vertices))


def adjacency(faces: np.ndarray, n_vertices: int) -> sparse.csr_matrix:
    """Symmetric vertex adjacency [V, V] (float64, 1 where an edge joins two vertices)."""
    return edge_matrix(unique_edges(faces), n_vertices)


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unnormalised face normals [F, 3] float64 (length = twice the triangle's area)."""
    v = np.asarray(vertices, dtype=np.float64)
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    return np.cross(b - a, c - a)


def face_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Triangle areas [F] float64, in the vertices' unit squared."""
    return 0.5 * np.linalg.norm(face_normals(vertices, faces), axis=1)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals [V, 3] float64 (zero for unreferenced vertices)."""
    fn = face_normals(vertices, faces)
    idx = np.asarray(faces, np.int64).ravel()
    out = np.stack([np.bincount(idx, weights=np.repeat(fn[:, k], 3), minlength=len(vertices))
                    for k in range(3)], axis=1)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norm, out=np.zeros_like(out), where=norm > 0)


def vertex_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """A third of the area of the faces around each vertex [V] float64 (its share of the surface)."""
    area = face_areas(vertices, faces) / 3.0
    return np.bincount(np.asarray(faces, np.int64).ravel(), weights=np.repeat(area, 3),
                       minlength=len(vertices))


def boundary_halfedges(faces: np.ndarray, n_vertices: int | None = None) -> np.ndarray:
    """Half-edges [B, 2] on edges that only one face uses: the rims of holes (a closed mesh has none)."""
    _, inverse, counts = edge_index(faces)
    return halfedges(faces)[counts[inverse] == 1]


def compact(vertices: np.ndarray, faces: np.ndarray, *attributes: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
    """Drop vertices no face uses. Returns (vertices, faces, attributes, old->new index [V] with -1 for dropped)."""
    used = np.zeros(len(vertices), bool)
    used[np.asarray(faces).ravel()] = True
    remap = np.full(len(vertices), -1, np.int64)
    remap[used] = np.arange(int(used.sum()))
    new_faces = remap[faces].astype(np.int32) if len(faces) else np.zeros((0, 3), np.int32)
    return vertices[used], new_faces, [a[used] for a in attributes], remap


def is_watertight(faces: np.ndarray, n_vertices: int) -> bool:
    """True when every half-edge appears once and its reverse once: every edge is shared by exactly two
    faces, with consistent orientation (a closed, oriented 2-manifold along its edges)."""
    if len(faces) == 0:
        return False
    he = halfedges(faces)
    _, inverse, counts = edge_index(faces)
    if (counts != 2).any():
        return False
    forward = np.where(he[:, 0] < he[:, 1], 1.0, -1.0)             # the two must run opposite ways
    return bool((np.bincount(inverse, weights=forward, minlength=len(counts)) == 0).all())
