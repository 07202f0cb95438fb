"""Photos as float RGB arrays, and bilinear lookups at pixel coordinates.

Pixel coordinates: u right, v down, pixel centres at integers (as in :mod:`.visibility`).
"""
from __future__ import annotations

import numpy as np


def as_rgb(image) -> np.ndarray:
    """Any photo form -> float32 [H, W, 3] sRGB values in [0, 1].

    Accepts the network input tensor [1, 3, S, S] (or [3, S, S]) in [-1, 1], uint8 [H, W, 3|4] (alpha
    dropped), or float [H, W, 3] already in [0, 1].
    """
    if hasattr(image, "detach"):                                     # torch tensor, network input
        from ..input_transform import network_to_unit
        t = image.detach().float().cpu()
        t = t[0] if t.dim() == 4 else t
        return np.ascontiguousarray(network_to_unit(t).permute(1, 2, 0).numpy().clip(0, 1), dtype=np.float32)
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"expected an image [H, W, 3|4], got shape {arr.shape}")
    rgb = arr[:, :, :3]
    if arr.dtype == np.uint8:
        return rgb.astype(np.float32) / 255.0
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def bilinear(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Values [N, C] of ``image`` [H, W, C] at pixel coordinates ``uv`` [N, 2] (clamped to the border)."""
    h, w = image.shape[:2]
    u = np.clip(np.asarray(uv[:, 0], np.float64), 0, w - 1)
    v = np.clip(np.asarray(uv[:, 1], np.float64), 0, h - 1)
    j0 = np.minimum(np.floor(u).astype(np.int64), w - 2 if w > 1 else 0)
    i0 = np.minimum(np.floor(v).astype(np.int64), h - 2 if h > 1 else 0)
    j1, i1 = np.minimum(j0 + 1, w - 1), np.minimum(i0 + 1, h - 1)
    fu, fv = (u - j0)[:, None], (v - i0)[:, None]
    top = image[i0, j0] * (1 - fu) + image[i0, j1] * fu
    bottom = image[i1, j0] * (1 - fu) + image[i1, j1] * fu
    return (top * (1 - fv) + bottom * fv).astype(np.float32)
