"""Decimation to a triangle budget, colours kept.

Quadric edge collapse from ``fast-simplification`` (MIT; prebuilt wheels for Windows, macOS and Linux)
when it is installed: 1M -> 30k faces in about 2 s. Without it, vertex clustering (:mod:`.clustering`),
pure numpy, lower quality. Colours of the decimated vertices come from the original vertices nearest to
each, averaged over about as many as each new vertex stands for (at most 16), so patterns do not alias
into noise.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..mesh import Mesh
from ..options import BUDGETS
from .clustering import cluster_decimate
from .degenerate import remove_degenerate

# Triangle budgets offered to users: name -> faces (None: keep every face); spelled once, in backend.options.
PRESETS: dict[str, int | None] = BUDGETS
MAX_COLOR_NEIGHBOURS = 16


def quadric_available() -> bool:
    """Whether fast-simplification (quadric edge collapse) can be imported."""
    try:
        import fast_simplification  # noqa: F401
    except ImportError:
        return False
    return True


def transfer_colors(src_vertices: np.ndarray, src_colors: np.ndarray, dst_vertices: np.ndarray) -> np.ndarray:
    """Colours [V', 3] float32 at ``dst_vertices`` [V', 3]: the mean colour of the k source vertices nearest
    to each, k = V / V' (clipped to 1..16), the share of the original surface each new vertex stands for."""
    k = int(np.clip(round(len(src_vertices) / max(len(dst_vertices), 1)), 1, MAX_COLOR_NEIGHBOURS))
    _, idx = cKDTree(src_vertices).query(dst_vertices, k=k)
    idx = idx.reshape(len(dst_vertices), k)
    return src_colors[idx].mean(axis=1).astype(np.float32)


def _quadric(vertices: np.ndarray, faces: np.ndarray, target: int, aggressiveness: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """Quadric edge collapse towards ``target`` faces. One run stops after a fixed number of sweeps (1M ->
    10k ends near 24k), so it is run again on its own result, up to four times, until within 2%."""
    import fast_simplification
    verts, faces = np.asarray(vertices, np.float64), np.asarray(faces, np.int32)
    for _ in range(4):
        verts, faces = fast_simplification.simplify(verts, faces, target_count=target, agg=aggressiveness)
        faces = np.asarray(faces, np.int32)
        if len(faces) <= target * 1.02:
            break
    return np.asarray(verts, np.float32), faces


def decimate(mesh: Mesh, target_faces: int | str | None, *, method: str = "auto",
             aggressiveness: float = 7.0) -> Mesh:
    """``mesh`` reduced to about ``target_faces`` triangles (within a few percent), in the same frame.

    target_faces: a count, a :data:`PRESETS` name, or None (unchanged). method: 'auto' (quadric when
    fast-simplification is installed, else clustering), 'quadric' or 'cluster'. aggressiveness: the quadric
    simplifier's speed/quality trade-off (0-10, 7 is its default). A mesh already within the budget is
    returned unchanged. ``info['decimation']`` records the method and counts.
    """
    if isinstance(target_faces, str):
        if target_faces not in PRESETS:
            raise ValueError(f"unknown preset {target_faces!r}: choose one of {sorted(PRESETS)}")
        target_faces = PRESETS[target_faces]
    if target_faces is None or len(mesh.faces) <= target_faces:
        return mesh
    if target_faces < 4:
        raise ValueError("target_faces must be at least 4")
    if method == "auto":
        method = "quadric" if quadric_available() else "cluster"
    if method == "quadric":
        verts, faces = _quadric(mesh.vertices, mesh.faces, int(target_faces), aggressiveness)
        colors = transfer_colors(mesh.vertices, mesh.colors, verts)
    elif method == "cluster":
        verts, faces, colors = cluster_decimate(mesh.vertices, mesh.faces, mesh.colors, int(target_faces))
    else:
        raise ValueError(f"unknown method {method!r}: 'auto', 'quadric' or 'cluster'")
    verts, faces, (colors,) = remove_degenerate(verts, faces, colors)   # collapses leave a few slivers
    info = dict(mesh.info)
    info["decimation"] = {"method": method, "faces_before": int(len(mesh.faces)), "faces_after": int(len(faces)),
                          "target": int(target_faces)}
    return Mesh(verts, faces, colors, frame=mesh.frame, info=info)
