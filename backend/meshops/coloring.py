"""Vertex colours that hold up from every side: photo colour where the camera sees the vertex, filled
along the surface elsewhere, and optionally a photo of the back for the back.

All inputs and outputs are in the engine's normalised cube frame (x right, y up, z towards the camera)
with sRGB colours in [0, 1]. Compare :func:`backend.colors.vertex_colors`, which samples the photo for
every vertex (so the back shows the front, and the silhouette smears).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..mesh import Mesh
from .back_photo import BackFit, align_back_photo, person_mask
from .color_fill import fill_colors
from .sampling import as_rgb, bilinear
from .topology import vertex_normals
from .visibility import front_view, rasterize_depth, visible_weights

GRAZING = (0.05, 0.3)  # cosine to the camera: below the first no photo colour, above the second all photo
FRONTAL_COS = 0.8      # fill sources facing the camera less than this are handicapped (shading, stretch)
HANDICAP = 0.03        # the handicap of the most oblique fill source, cube units (~3 cm on a person)


@dataclass
class ColorResult:
    """colors: [V, 3] float32 sRGB in [0, 1]; front_weight / back_weight: [V] float32 in [0, 1], how much of
    each vertex's colour comes from the front / back photo (the rest is filled); back_fit: the back photo's
    alignment, or None."""

    colors: np.ndarray
    front_weight: np.ndarray
    back_weight: np.ndarray
    back_fit: BackFit | None


def _arrays(mesh: Mesh | tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(mesh, Mesh):
        return mesh.vertices, mesh.faces
    vertices, faces = mesh
    return np.asarray(vertices, np.float32).reshape(-1, 3), np.asarray(faces, np.int64).reshape(-1, 3)


def colorize_details(mesh: Mesh | tuple[np.ndarray, np.ndarray], image, calib, back_image=None, *,
                     back_mask: np.ndarray | None = None, front_mask: np.ndarray | None = None,
                     grazing: tuple[float, float] = GRAZING, blend_iterations: int = 30,
                     frontal_cos: float = FRONTAL_COS, handicap: float = HANDICAP) -> ColorResult:
    """See :func:`colorize`; also returns the per-vertex photo weights and the back photo's fit."""
    vertices, faces = _arrays(mesh)
    n = len(vertices)
    zeros = np.zeros(n, np.float32)
    if n == 0 or len(faces) == 0:
        return ColorResult(np.full((n, 3), 0.5, np.float32), zeros, zeros.copy(), None)
    rgb = as_rgb(image)
    if rgb.shape[0] != rgb.shape[1]:
        raise ValueError(f"the front image must be the square network input, got {rgb.shape[:2]}")
    normals = vertex_normals(vertices, faces)
    view = front_view(calib, rgb.shape[0])
    depth = rasterize_depth(vertices, faces, view)
    wf = visible_weights(vertices, faces, view, mask=front_mask, grazing=grazing, normals=normals, depth=depth)
    photo = np.zeros((n, 3), np.float32)
    seen = wf > 0
    photo[seen] = bilinear(rgb, view.project(vertices[seen])[:, :2])
    wb, fit = zeros.copy(), None
    if back_image is not None:
        mask = person_mask(back_image, back_mask)
        fit = align_back_photo(vertices, faces, mask)
        back_rgb = as_rgb(back_image)
        wb = visible_weights(vertices, faces, fit.view(), mask=mask, grazing=grazing, normals=normals)
        seen_b = wb > 0
        photo[seen_b] = bilinear(back_rgb, fit.view().project(vertices[seen_b])[:, :2])
    weight = np.maximum(wf, wb)                      # the two are never both > 0 (opposite facing tests)
    # Every fully trusted vertex is a fill source, so small parts seen only obliquely (shoes, the top of
    # the shoulders) keep their own colour; but oblique sources start with a handicap, so where a frontal
    # view of the same part is about as near, its colour wins (the photo darkens towards the outline).
    cos = np.abs(normals[:, 2])
    t = np.clip((cos - grazing[1]) / max(frontal_cos - grazing[1], 1e-9), 0.0, 1.0)
    filled = fill_colors(vertices, faces, photo, weight >= 0.999, blend_iterations=blend_iterations,
                         handicap=handicap * (1.0 - t * t * (3.0 - 2.0 * t)))
    colors = filled + weight[:, None] * (photo - filled)
    return ColorResult(np.clip(colors, 0.0, 1.0).astype(np.float32), wf, wb, fit)


def colorize(mesh: Mesh | tuple[np.ndarray, np.ndarray], image, calib, back_image=None, *,
             back_mask: np.ndarray | None = None, front_mask: np.ndarray | None = None,
             grazing: tuple[float, float] = GRAZING, blend_iterations: int = 30) -> np.ndarray:
    """Per-vertex colours [V, 3] float32 (sRGB in [0, 1]) for a cube-frame mesh.

    mesh: a :class:`Mesh` or (vertices [V, 3], faces [F, 3]) in the normalised cube frame, faces
    counter-clockwise from outside. image: the front network input, [1, 3, S, S] tensor in [-1, 1] (as
    ``NetworkInputs.image_1024``) or an [S, S, 3] uint8 / float [0, 1] array; calib: its [1, 4, 4] or [4, 4]
    cube -> image NDC calibration. A vertex takes the photo's colour where it faces the camera (cosine above
    ``grazing[1]``, blended down to ``grazing[0]``) and no nearer surface hides it (z-buffer at the image's
    resolution); every other vertex gets colour filled along the surface from the seen ones
    (:mod:`.color_fill`). front_mask: optional bool [S, S] person pixels of the front image.

    back_image: optional photo of the person's back (uint8 [H, W, 3|4] of any size), with its person mask
    ``back_mask`` (bool [H, W]) or an alpha channel; it is aligned to the mesh's silhouette
    (:mod:`.back_photo`) and colours the vertices it sees.
    """
    return colorize_details(mesh, image, calib, back_image, back_mask=back_mask, front_mask=front_mask,
                            grazing=grazing, blend_iterations=blend_iterations).colors
