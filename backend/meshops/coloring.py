"""Vertex colours that hold up from every side: photo colour where the camera sees the vertex; on the back
of the same body part, the photo's colour at the same pixel where it agrees with the colour the part's
visible sides carry (garments mostly look alike front and back, a print on the chest does not); filled
along the surface elsewhere; and optionally a photo of the back for the back.

All inputs and outputs are in the engine's normalised cube frame (x right, y up, z towards the camera)
with sRGB colours in [0, 1]. Compare :func:`backend.colors.vertex_colors`, which samples the photo for
every vertex (so the back shows the front, and the silhouette smears).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..keypoints import head_mask
from ..mesh import Mesh
from .back_photo import BackFit, align_back_photo, person_mask
from .color_fill import fill_colors
from .sampling import as_rgb, bilinear
from .topology import vertex_normals
from .visibility import facing_weight, front_view, rasterize_depth, through_weights, visible_weights

GRAZING = (0.05, 0.3)  # cosine to the camera: below the first no photo colour, above the second all photo
FRONTAL_COS = 0.8      # fill sources facing the camera less than this are handicapped (shading, stretch)
HANDICAP = 0.03        # the handicap of the most oblique fill source, cube units (~3 cm on a person)
CHROMA_TOLERANCE = 0.15   # a through colour (front photo on the back) is kept only where it agrees with the
BRIGHTNESS_RATIO = 2.5    # colour the sides would give: chromaticity within this, brightness within this factor


@dataclass
class ColorResult:
    """colors: [V, 3] float32 sRGB in [0, 1]; front_weight / back_weight / through_weight: [V] float32 in
    [0, 1], how much of each vertex's colour comes from the front photo where the camera sees the vertex,
    from the back photo, and from the front photo at the vertex's pixel on the back of the same body part
    (the rest is filled); back_fit: the back photo's alignment, or None."""

    colors: np.ndarray
    front_weight: np.ndarray
    back_weight: np.ndarray
    through_weight: np.ndarray
    back_fit: BackFit | None


def _arrays(mesh: Mesh | tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(mesh, Mesh):
        return mesh.vertices, mesh.faces
    vertices, faces = mesh
    return np.asarray(vertices, np.float32).reshape(-1, 3), np.asarray(faces, np.int64).reshape(-1, 3)


def row_end_colors(rgb: np.ndarray, coverage: np.ndarray, inset: int = 4, width: int = 4
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The colour at the two ends of each pixel's run of ``coverage`` along its image row: (left, right),
    float [H, W, 3] each (meaningful where ``coverage``), the mean of ``width`` pixels of ``rgb`` [H, W, 3]
    starting ``inset`` pixels inside the run's end (never past its middle). The ends of a run are the
    person's sides at that height, seen obliquely but in colour."""
    h, w = coverage.shape
    cov = np.asarray(coverage, bool)
    cols = np.arange(w)
    first = cov & ~np.pad(cov, ((0, 0), (1, 0)))[:, :w]          # a run starts here
    last = cov & ~np.pad(cov, ((0, 0), (0, 1)))[:, 1:]           # a run ends here
    start = np.maximum.accumulate(np.where(first, cols, -1), axis=1)
    end = np.minimum.accumulate(np.where(last, cols, w)[:, ::-1], axis=1)[:, ::-1]
    csum = np.concatenate([np.zeros((h, 1, 3)), np.cumsum(rgb, axis=1, dtype=np.float64)], axis=1)
    rows = np.arange(h)[:, None]
    middle = np.clip((start + end) // 2, 0, w - 1)

    def mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:          # mean of columns a .. b-1
        a = np.clip(a, 0, w - 1)
        b = np.clip(b, a + 1, w)
        return (csum[rows, b] - csum[rows, a]) / (b - a)[..., None]

    a = np.minimum(start + inset, middle)
    b = np.maximum(end - inset + 1, middle + 1)
    return mean(a, np.minimum(a + width, middle + 1)), mean(np.maximum(b - width, middle), b)


def similar_colors(a: np.ndarray, b: np.ndarray, chroma_tolerance: float = CHROMA_TOLERANCE,
                   brightness_ratio: float = BRIGHTNESS_RATIO) -> np.ndarray:
    """bool [N]: colours ``a`` and ``b`` [N, 3] (sRGB in [0, 1]) look like the same material under different
    light: chromaticities (rgb / sum) within ``chroma_tolerance`` (largest channel difference) and
    brightnesses (channel sums) within a factor ``brightness_ratio``. Shading changes brightness, not hue."""
    sa, sb = a.sum(axis=1) + 0.03, b.sum(axis=1) + 0.03        # + a little: near-black pixels are noise
    chroma = np.abs(a / sa[:, None] - b / sb[:, None]).max(axis=1)
    return (chroma <= chroma_tolerance) & (np.abs(np.log(sa / sb)) <= np.log(brightness_ratio))


def colorize_details(mesh: Mesh | tuple[np.ndarray, np.ndarray], image, calib, back_image=None, *,
                     back_mask: np.ndarray | None = None, front_mask: np.ndarray | None = None,
                     grazing: tuple[float, float] = GRAZING, blend_iterations: int = 30,
                     frontal_cos: float = FRONTAL_COS, handicap: float = HANDICAP,
                     through: bool = True, keypoints: np.ndarray | None = None) -> ColorResult:
    """See :func:`colorize`; also returns the per-vertex photo weights and the back photo's fit."""
    vertices, faces = _arrays(mesh)
    n = len(vertices)
    zeros = np.zeros(n, np.float32)
    if n == 0 or len(faces) == 0:
        return ColorResult(np.full((n, 3), 0.5, np.float32), zeros, zeros.copy(), zeros.copy(), None)
    rgb = as_rgb(image)
    if rgb.shape[0] != rgb.shape[1]:
        raise ValueError(f"the front image must be the square network input, got {rgb.shape[:2]}")
    normals = vertex_normals(vertices, faces)
    view = front_view(calib, rgb.shape[0])
    depth = rasterize_depth(vertices, faces, view)
    wf = visible_weights(vertices, faces, view, mask=front_mask, grazing=grazing, normals=normals, depth=depth)
    wb, fit = zeros.copy(), None
    back_rgb = back_view = None
    if back_image is not None:
        mask = person_mask(back_image, back_mask)
        fit = align_back_photo(vertices, faces, mask)
        back_rgb, back_view = as_rgb(back_image), fit.view()
        wb = visible_weights(vertices, faces, back_view, mask=mask, grazing=grazing, normals=normals)
    wt = zeros.copy()
    if through:
        wt = through_weights(vertices, faces, view, mask=front_mask, grazing=grazing, normals=normals,
                             depth=depth)
        wt[wb > 0] = 0.0                                        # a real photo of the back wins
        wt[head_mask(vertices, keypoints)] = 0.0                # the face is not on the back of the head
    photo = np.zeros((n, 3), np.float32)
    uv = view.project(vertices)[:, :2]
    seen = (wf > 0) | (wt > 0)
    photo[seen] = bilinear(rgb, uv[seen])
    if wt.any():
        # keep a through colour only where it agrees with the colour at either end of its row of the
        # silhouette: a print on the chest or the face (the back of the head is hair) stays off the back
        left, right = row_end_colors(rgb, np.isfinite(depth) if front_mask is None
                                     else np.isfinite(depth) & np.asarray(front_mask, bool))
        idx = np.nonzero(wt > 0)[0]
        j, i = np.rint(uv[idx]).astype(np.int64).T
        agree = similar_colors(photo[idx], left[i, j]) | similar_colors(photo[idx], right[i, j])
        wt[idx[~agree]] = 0.0
    if back_rgb is not None:
        seen_b = wb > 0
        photo[seen_b] = bilinear(back_rgb, back_view.project(vertices[seen_b])[:, :2])
    weight = np.maximum(np.maximum(wf, wb), wt)                 # never two > 0 (facing tests, wt[wb > 0] = 0)
    # Oblique fill sources start with a handicap, so where a frontal view of the same part is about as
    # near, its colour wins (the photo darkens towards the outline); every fully trusted vertex is still a
    # source, so small parts seen only obliquely (shoes, the top of the shoulders) keep their own colour.
    lag = handicap * (1.0 - facing_weight(np.abs(normals[:, 2]), (grazing[1], frontal_cos)))
    filled = fill_colors(vertices, faces, photo, weight >= 0.999, blend_iterations=blend_iterations,
                         handicap=lag)
    colors = filled + weight[:, None] * (photo - filled)
    return ColorResult(np.clip(colors, 0.0, 1.0).astype(np.float32), wf, wb, wt, fit)


def colorize(mesh: Mesh | tuple[np.ndarray, np.ndarray], image, calib, back_image=None, *,
             back_mask: np.ndarray | None = None, front_mask: np.ndarray | None = None,
             grazing: tuple[float, float] = GRAZING, blend_iterations: int = 30,
             through: bool = True, keypoints: np.ndarray | None = None) -> np.ndarray:
    """Per-vertex colours [V, 3] float32 (sRGB in [0, 1]) for a cube-frame mesh.

    mesh: a :class:`Mesh` or (vertices [V, 3], faces [F, 3]) in the normalised cube frame, faces
    counter-clockwise from outside. image: the front network input, [1, 3, S, S] tensor in [-1, 1] (as
    ``NetworkInputs.image_1024``) or an [S, S, 3] uint8 / float [0, 1] array; calib: its [1, 4, 4] or [4, 4]
    cube -> image NDC calibration. A vertex takes the photo's colour where it faces the camera (cosine above
    ``grazing[1]``, blended down to ``grazing[0]``) and no nearer surface hides it (z-buffer at the image's
    resolution). through: a vertex on the back of the same body part (the first solid along its pixel's
    ray, :func:`.visibility.through_weights`) takes the photo's colour at its pixel where that agrees with
    the colour the part's visible sides carry (:func:`similar_colors`), so patterns continue round the back
    and a chest print or the face does not. Every other vertex gets colour filled along the surface from
    these (:mod:`.color_fill`). front_mask: optional bool [S, S] person pixels of the front image.
    keypoints: optional BODY_25 keypoints [25, 3] in the cube frame (``Reconstruction.keypoints``); with them
    the head takes no through colour (:func:`backend.keypoints.head_mask`): the front of a head is a face,
    its back is hair, so the back of the head is filled from the head's sides and top instead.

    back_image: optional photo of the person's back (uint8 [H, W, 3|4] of any size), with its person mask
    ``back_mask`` (bool [H, W]) or an alpha channel; it is aligned to the mesh's silhouette
    (:mod:`.back_photo`) and colours the vertices it sees.
    """
    return colorize_details(mesh, image, calib, back_image, back_mask=back_mask, front_mask=front_mask,
                            grazing=grazing, blend_iterations=blend_iterations, through=through,
                            keypoints=keypoints).colors
