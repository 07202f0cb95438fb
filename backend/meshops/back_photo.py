"""A second photo of the person's back: its person mask aligned to the mesh's silhouette seen from behind.

The back photo is taken from behind, so it is the mirror image of the front: a cube point (x, y, z) maps
to back-photo pixel ``u = -s * x + tx``, ``v = -s * y + ty`` (pixel centres at integers, v down) and is
seen there when it faces -z. Only scale and translation are fitted (same person, same pose, orthographic-
ish camera at the same height): first from the bounding boxes (scale from the height, which arms do not
change), then refined by a small pattern search that maximises the overlap (IoU) of the mask and the
mesh's silhouette at a working resolution of about 256 pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .visibility import View, back_view, rasterize_depth

WORK_SIZE = 256  # long side of the working grid for the overlap refinement, pixels


@dataclass(frozen=True)
class BackFit:
    """Back-photo alignment: scale (pixels per cube unit), (tx, ty) (pixel position of the cube origin),
    iou (overlap of the person mask and the mesh silhouette after the fit, 0..1), size (width, height)."""

    scale: float
    tx: float
    ty: float
    iou: float
    size: tuple[int, int]

    def view(self) -> View:
        return back_view(self.scale, self.tx, self.ty, self.size)


def person_mask(image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The person's pixels, bool [H, W]: ``mask`` when given, else the alpha channel (> 127) of an RGBA
    image. An opaque photo without a mask cannot be aligned: prepare it first (``backend.prepare_photo``
    gives ``.mask``)."""
    if mask is not None:
        m = np.asarray(mask, bool)
        if m.shape != np.asarray(image).shape[:2]:
            raise ValueError(f"back mask {m.shape} does not match the back photo {np.asarray(image).shape[:2]}")
    elif np.asarray(image).ndim == 3 and np.asarray(image).shape[2] == 4:
        m = np.asarray(image)[:, :, 3] > 127
    else:
        raise ValueError("the back photo needs a person mask: pass back_mask, or an RGBA cut-out")
    if not m.any():
        raise ValueError("the back photo's person mask is empty")
    return m


def _bbox_fit(vertices: np.ndarray, mask: np.ndarray) -> tuple[float, float, float]:
    """(scale, tx, ty) that maps the mesh's mirrored bounding box onto the mask's (height sets the scale)."""
    ys, xs = np.nonzero(mask)
    lo, hi = vertices[:, :2].min(axis=0).astype(np.float64), vertices[:, :2].max(axis=0).astype(np.float64)
    scale = (ys.max() - ys.min() + 1) / max(hi[1] - lo[1], 1e-9)
    tx = 0.5 * (xs.min() + xs.max()) + scale * 0.5 * (lo[0] + hi[0])
    ty = 0.5 * (ys.min() + ys.max()) + scale * 0.5 * (lo[1] + hi[1])
    return float(scale), float(tx), float(ty)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


def align_back_photo(vertices: np.ndarray, faces: np.ndarray, mask: np.ndarray, *, refine: bool = True
                     ) -> BackFit:
    """Fit the back view of the mesh (cube frame) to the person ``mask`` (bool [H, W]) of the back photo."""
    h, w = mask.shape
    s, tx, ty = _bbox_fit(vertices, mask)
    f = min(1.0, WORK_SIZE / max(h, w))
    ws, hs = max(1, round(w * f)), max(1, round(h * f))
    fx, fy = ws / w, hs / h
    target = cv2.resize(mask.astype(np.float32), (ws, hs), interpolation=cv2.INTER_AREA) > 0.5
    # Silhouette once at the initial fit on the working grid (pixel centre u -> (u + 0.5) f - 0.5) ...
    tx0, ty0 = (tx + 0.5) * fx - 0.5, (ty + 0.5) * fy - 0.5
    work = View(np.array([[-s * fx, 0, 0, tx0], [0, -s * fy, 0, ty0], [0, 0, -1.0, 0]]), (ws, hs))
    sil = np.isfinite(rasterize_depth(vertices, faces, work)).astype(np.float32)

    def warped(p: np.ndarray) -> np.ndarray:     # ... then scaled (k) and shifted (dx, dy) about the origin
        k, dx, dy = p
        m = np.array([[k, 0.0, tx0 + dx - k * tx0], [0.0, k, ty0 + dy - k * ty0]])
        return cv2.warpAffine(sil, m, (ws, hs), flags=cv2.INTER_LINEAR) > 0.5

    best = np.array([1.0, 0.0, 0.0])
    best_iou = _iou(warped(best), target)
    if refine:
        for step in (4.0, 2.0, 1.0, 0.5, 0.25):
            deltas = [np.array(d) for d in ((step / max(ws, hs) * 2, 0, 0), (0, step, 0), (0, 0, step))]
            improved = True
            while improved:
                improved = False
                for d in deltas:
                    for sign in (1.0, -1.0):
                        cand = best + sign * d
                        score = _iou(warped(cand), target)
                        if score > best_iou + 1e-9:
                            best, best_iou, improved = cand, score, True
    k, dx, dy = best
    return BackFit(scale=float(k * s), tx=float((tx0 + dx + 0.5) / fx - 0.5),
                   ty=float((ty0 + dy + 0.5) / fy - 0.5), iou=float(best_iou), size=(w, h))
