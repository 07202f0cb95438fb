"""Fill unknown vertex colours from known ones, along the surface (never through the air).

Method: every unknown vertex first takes the colour of its geodesically nearest known vertex (multi-source
Dijkstra over the edge graph, edge lengths as weights, vertical steps costing more: garments wrap around
the body, so the back of the chest looks for its colour at chest height, not at the neck); then
a few damped Jacobi steps of Laplacian smoothing over the unknown vertices only (known ones fixed) soften
the seams where two sources' regions meet. Source colours are first lightly smoothed within the known
region, so a single noisy or shaded pixel does not spread as a streak. Parts of the mesh that no known
vertex reaches get the mean known colour (or mid grey when nothing is known): never black.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from .topology import edge_matrix, unique_edges

FALLBACK = (0.5, 0.5, 0.5)  # sRGB grey when no colour is known at all
VERTICAL_COST = 3.0         # a step along y (up) costs this many times a horizontal one (see fill_colors)


def _edge_graph(vertices: np.ndarray, faces: np.ndarray, vertical_cost: float
                ) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """(edge-length graph, 0/1 adjacency), both symmetric [V, V] csr; the y (up) component of each edge
    counts ``vertical_cost`` times."""
    e = unique_edges(faces)
    n = len(vertices)
    step = vertices[e[:, 0]].astype(np.float64) - vertices[e[:, 1]]
    step[:, 1] *= vertical_cost
    length = np.linalg.norm(step, axis=1)
    length = np.maximum(length, 1e-12)                                 # zero weights would read as no edge
    lengths = edge_matrix(e, n, length)
    ones = lengths.copy()
    ones.data[:] = 1.0
    return lengths, ones


def _smooth(colors: np.ndarray, adj: sparse.csr_matrix, rows: np.ndarray, iterations: int,
            step: float = 0.8) -> np.ndarray:
    """``iterations`` damped Jacobi steps ``c_i += step * (mean of neighbours - c_i)`` on ``rows`` only."""
    if iterations <= 0 or len(rows) == 0:
        return colors
    sub = adj[rows]
    deg = np.asarray(sub.sum(axis=1)).ravel()
    has = deg > 0
    rows, sub, deg = rows[has], sub[has], deg[has][:, None]
    out = colors.copy()
    for _ in range(iterations):
        out[rows] += step * (sub @ out / deg - out[rows])
    return out


def _nearest_with_handicap(lengths: sparse.csr_matrix, sources: np.ndarray, handicap: np.ndarray) -> np.ndarray:
    """For every vertex, the source minimising handicap + path length (-1 where none reaches): Dijkstra from
    one extra node joined to each source by an edge of its handicap, then each vertex's path is followed
    back to the source after that node (pointer jumping)."""
    n = lengths.shape[0]
    extra = sparse.csr_matrix((np.maximum(handicap, 1e-9), (np.full(len(sources), n), sources)),
                              shape=(n + 1, n + 1))
    graph = sparse.bmat([[lengths, None], [None, sparse.csr_matrix((1, 1))]], format="csr") + extra
    _, pred = dijkstra(graph, directed=True, indices=n, return_predecessors=True)
    pred = pred[:n]
    up = np.where(pred == n, np.arange(n), pred)
    up = np.where(up < 0, np.arange(n), up)                            # unreached: stays put
    for _ in range(64):
        nxt = up[up]
        if np.array_equal(nxt, up):
            break
        up = nxt
    reached = (pred >= 0) | np.isin(np.arange(n), sources)
    return np.where(reached, up, -1)


def fill_colors(vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray, known: np.ndarray, *,
                blend_iterations: int = 30, source_smoothing: int = 10,
                vertical_cost: float = VERTICAL_COST, handicap: np.ndarray | None = None) -> np.ndarray:
    """Colours [V, 3] float32: ``colors`` [V, 3] where ``known`` (bool [V]), filled elsewhere.

    Known vertices keep their colours exactly. blend_iterations: smoothing steps over the filled vertices
    (the seam blur reaches about sqrt(iterations) edges); source_smoothing: smoothing steps of the source
    colours within the known region before they spread. vertical_cost: how many times more a step up or
    down (cube y) costs than a horizontal one when finding the nearest known vertex; garments wrap around
    the body, so the colour of the back is best looked for at the same height (1 = plain geodesic).
    handicap: optional [V] distance (cube units) added to paths from each known vertex, so less reliable
    sources win only where no better one is much nearer.
    """
    colors = np.asarray(colors, dtype=np.float64)
    known = np.asarray(known, bool)
    n = len(vertices)
    out = np.empty((n, 3))
    out[known] = colors[known]
    unknown = np.nonzero(~known)[0]
    if len(unknown) == 0:
        return out.astype(np.float32)
    if not known.any():
        out[:] = FALLBACK
        return out.astype(np.float32)
    lengths, adj = _edge_graph(vertices, faces, vertical_cost)
    src_idx = np.nonzero(known)[0]
    if source_smoothing > 0:
        sub = adj[src_idx][:, src_idx]
        src_col = _smooth(colors[src_idx], sub, np.arange(len(src_idx)), source_smoothing, step=0.5)
    else:
        src_col = colors[src_idx]
    source_of = np.full(n, -1, np.int64)
    source_of[src_idx] = np.arange(len(src_idx))
    if handicap is None:
        _, _, nearest = dijkstra(lengths, directed=False, indices=src_idx, min_only=True,
                                 return_predecessors=True)
    else:
        nearest = _nearest_with_handicap(lengths, src_idx, np.asarray(handicap, np.float64)[src_idx])
    reached = nearest[unknown] >= 0
    out[unknown[reached]] = src_col[source_of[nearest[unknown[reached]]]]
    out[unknown[~reached]] = colors[known].mean(axis=0)
    out = _smooth(out, adj, unknown, blend_iterations)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
