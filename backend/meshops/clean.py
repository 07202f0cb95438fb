"""One call that makes a reconstruction clean: the person's piece only, no degenerate faces, small holes
closed, optionally smoothed."""
from __future__ import annotations

import numpy as np

from ..mesh import Mesh
from .components import keep_largest as keep_largest_piece
from .degenerate import remove_degenerate
from .holes import fill_holes
from .smooth import taubin_smooth
from .topology import compact

MAX_HOLE_EDGES = 500  # larger rims (e.g. where the person leaves the reconstruction volume) stay open


def clean_mesh(mesh: Mesh, *, keep_largest: bool = True, min_component_fraction: float | None = None,
               max_hole_edges: int = MAX_HOLE_EDGES, smooth_iterations: int = 0) -> Mesh:
    """A cleaned copy of ``mesh`` (same frame; colours carried along).

    Steps: weld coincident vertices, collapse zero-area faces, drop duplicate faces; with ``keep_largest``
    keep the piece with the largest area (and any piece with at least ``min_component_fraction`` of it, e.g.
    0.05 to keep a hand that came out detached); close holes whose rim has at most ``max_hole_edges`` edges
    (0: none); ``smooth_iterations`` Taubin steps (0: none; 2-5 soften the voxel staircase); drop unused
    vertices. ``info['clean']`` counts what was done.
    """
    v, f, (c,) = remove_degenerate(mesh.vertices, mesh.faces, mesh.colors)
    faces_in = len(mesh.faces)
    degenerate = faces_in - len(f)
    dropped = 0
    if keep_largest:
        f, dropped = keep_largest_piece(v, f, min_component_fraction)
        v, f, (c,), _ = compact(v, f, c)
    holes = 0
    if max_hole_edges >= 3:
        v, f, c, holes = fill_holes(v, f, c, max_hole_edges)
    if smooth_iterations > 0:
        v = taubin_smooth(v, f, smooth_iterations)
    v, f, (c,), _ = compact(v, f, c)
    info = dict(mesh.info)
    info["clean"] = {"degenerate_faces_removed": int(degenerate), "pieces_dropped": int(dropped),
                     "holes_closed": int(holes), "smooth_iterations": int(smooth_iterations),
                     "faces_before": int(faces_in), "faces_after": int(len(f))}
    return Mesh(np.asarray(v, np.float32), f, c, frame=mesh.frame, info=info)
