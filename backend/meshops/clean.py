"""One call that makes a reconstruction clean: the person's piece only, no degenerate faces, small holes
closed, optionally smoothed."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..mesh import Mesh
from .components import keep_largest as keep_largest_piece
from .degenerate import remove_degenerate
from .holes import fill_holes
from .smooth import taubin_smooth
from .topology import compact
from .visibility import front_view

MAX_HOLE_EDGES = 500  # larger rims (e.g. where the person leaves the reconstruction volume) stay open
MASK_MARGIN = 0.02    # a piece counts as the person's within this share of the image side of the person mask


def outside_person(vertices: np.ndarray, person_mask: np.ndarray, calib, margin: float = MASK_MARGIN
                   ) -> np.ndarray:
    """bool [V]: cube-frame vertices whose front projection (``calib``, the network input's [1, 4, 4] or
    [4, 4] cube -> image NDC) falls farther than ``margin`` (share of the image side) from ``person_mask``
    (bool [S, S], that input's person pixels), or outside the image."""
    mask = np.asarray(person_mask, bool)
    size = mask.shape[0]
    if not mask.any():
        return np.zeros(len(vertices), bool)
    far = ndimage.distance_transform_edt(~mask) > margin * size
    uv = np.rint(front_view(calib, size).project(vertices)[:, :2]).astype(np.int64)
    inside_image = ((uv >= 0) & (uv < size)).all(axis=1)
    out = np.ones(len(vertices), bool)
    out[inside_image] = far[uv[inside_image, 1], uv[inside_image, 0]]
    return out


def clean_mesh(mesh: Mesh, *, keep_largest: bool = True, min_component_fraction: float | None = None,
               max_hole_edges: int = MAX_HOLE_EDGES, smooth_iterations: int = 0,
               person_mask: np.ndarray | None = None, calib=None) -> Mesh:
    """A cleaned copy of ``mesh`` (same frame; colours carried along).

    Steps: weld coincident vertices, collapse zero-area faces, drop duplicate faces; with ``keep_largest``
    keep the piece with the largest area (and any piece with at least ``min_component_fraction`` of it, e.g.
    0.05 to keep a hand that came out detached, unless it lies mostly outside ``person_mask``, the bool
    [S, S] person pixels of the network input whose calibration is ``calib``: see :func:`outside_person`);
    close holes whose rim has at most ``max_hole_edges`` edges
    (0: none); ``smooth_iterations`` Taubin steps (0: none; 2-5 soften the voxel staircase); drop unused
    vertices. ``info['clean']`` counts what was done.
    """
    v, f, (c,) = remove_degenerate(mesh.vertices, mesh.faces, mesh.colors)
    faces_in = len(mesh.faces)
    degenerate = faces_in - len(f)
    dropped = 0
    if keep_largest:
        outside = None if person_mask is None else outside_person(v, person_mask, calib)
        f, dropped = keep_largest_piece(v, f, min_component_fraction, outside)
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
