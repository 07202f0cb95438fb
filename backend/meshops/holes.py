"""Find the rims of holes (boundary loops) and close the small ones, keeping the winding consistent.

A hole's rim is the cycle of half-edges whose reverse no face has. Following them head to tail gives the
loop v0 -> v1 -> ... -> v(k-1) -> v0 in the winding of the faces around it, so every new face must
contain the reverse half-edges v(i+1) -> v(i): a triangle (v2, v1, v0) for a loop of three, else a fan
of triangles (v(i+1), v(i), c) around a new vertex c at the loop's centroid (its colour: the loop's mean).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from .topology import boundary_halfedges


def boundary_loops(faces: np.ndarray, n_vertices: int) -> list[np.ndarray]:
    """Boundary loops, each an int64 array of vertex indices in face winding order. Where several rims
    touch at one vertex the half-edges are paired in the order found; open chains are dropped."""
    out_edges: dict[int, list[int]] = defaultdict(list)
    for a, b in boundary_halfedges(faces, n_vertices).tolist():
        out_edges[a].append(b)
    loops = []
    for start in list(out_edges):
        while out_edges.get(start):
            loop = [start]
            cur = out_edges[start].pop()
            while cur != start and out_edges.get(cur) and len(loop) <= n_vertices:
                loop.append(cur)
                cur = out_edges[cur].pop()
            if cur == start and len(loop) >= 3:
                loops.append(np.array(loop, np.int64))
    return loops


def fill_holes(vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None,
               max_edges: int = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Close every boundary loop of at most ``max_edges`` edges.

    Returns (vertices [V', 3], faces [F', 3] int32, colours [V', 3] or None, number of holes closed); new
    vertices (fan centres) are appended after the old ones.
    """
    loops = [lp for lp in boundary_loops(faces, len(vertices)) if len(lp) <= max_edges]
    if not loops:
        return vertices, faces, colors, 0
    new_faces, centres, centre_cols = [], [], []
    next_index = len(vertices)
    for loop in loops:
        if len(loop) == 3:
            new_faces.append(loop[::-1][None])
            continue
        c = next_index + len(centres)
        centres.append(vertices[loop].astype(np.float64).mean(axis=0))
        if colors is not None:
            centre_cols.append(colors[loop].astype(np.float64).mean(axis=0))
        nxt = np.roll(loop, -1)
        new_faces.append(np.stack([nxt, loop, np.full(len(loop), c)], axis=1))
    if centres:
        vertices = np.concatenate([vertices, np.asarray(centres, vertices.dtype)])
        if colors is not None:
            colors = np.concatenate([colors, np.asarray(centre_cols, colors.dtype)])
    faces = np.concatenate([faces, np.concatenate(new_faces).astype(np.int32)])
    return vertices, faces, colors, len(loops)
