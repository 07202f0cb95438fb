"""Square crops in photo pixels: the official full-body rule from BODY_25 keypoints, and cut-out alpha.

A crop is ``(x, y, side)``: the top-left corner and side of a square in photo pixels (x right, y down). It
may extend past the photo; the input transform pads those parts with zeros, as the official code does.
"""
from __future__ import annotations

import numpy as np

from ..errors import NoPersonError
from ..input_transform import default_crop

FOOT_POINTS = (11, 19, 21, 22)   # RAnkle, LBigToe, LHeel, RBigToe: any of them sure -> the feet are in view
FOOT_SURE = 0.5                  # confidence above which a foot point counts as seen
BOX_CONF = 0.2                   # points counted in the keypoint box (feet branch)
REACH_CONF = 0.5                 # points counted in the reach from the mid-hip (no-feet branch)
BOX_MARGIN = 0.65                # half-side = this x the keypoint box's larger side (feet branch)
REACH_MARGIN = 1.45              # half-side = this x the farthest point's distance (no-feet branch)
REACH_DROP = 0.05                # no-feet branch: the centre moves down by this share of the half-side
MID_HIP = 8


def fullbody_crop(keypoints: np.ndarray) -> tuple[int, int, int]:
    """The official evaluation's full-body square for BODY_25 ``keypoints`` [25, 3] (x_px, y_px, conf).

    Feet in view (any of RAnkle, LBigToe, LHeel, RBigToe with conf > 0.5): centred on the box of all points
    with conf > 0.2, half-side 0.65 x the box's larger side. Otherwise: centred on the mid-hip, half-side
    1.45 x the farthest point with conf > 0.5, centre lowered by 5% of the half-side. Centre and half-side
    are truncated to integers; the result is ``(cx - r, cy - r, 2 r)``.
    Raises :class:`NoPersonError` when too few points are confident to make a crop.
    """
    k = np.asarray(keypoints, dtype=np.float64)
    if k.shape != (25, 3):
        raise ValueError(f"expected BODY_25 keypoints [25, 3], got {k.shape}")
    conf = k[:, 2]
    if (conf[list(FOOT_POINTS)] > FOOT_SURE).any():
        pts = k[conf > BOX_CONF, :2]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        centre = (lo + hi) / 2.0
        half = BOX_MARGIN * float((hi - lo).max())
    else:
        centre = k[MID_HIP, :2].copy()
        pts = k[conf > REACH_CONF, :2]
        if len(pts) == 0:
            raise NoPersonError("The person's body points are too uncertain to place a crop: use a clearer "
                                "photo of the whole person, or give the crop by hand.")
        half = REACH_MARGIN * float(np.sqrt(((pts - centre) ** 2).sum(axis=1)).max())
        centre[1] += REACH_DROP * half
    cx, cy, r = int(centre[0]), int(centre[1]), int(half)
    if r <= 0:
        raise NoPersonError("The person's body points collapse to a single spot: use a clearer photo of "
                            "the whole person, or give the crop by hand.")
    return cx - r, cy - r, 2 * r


def has_cutout_alpha(image: np.ndarray) -> bool:
    """True for an RGBA photo [H, W, 4] whose alpha is partly transparent and partly opaque (> 127)."""
    if image.ndim != 3 or image.shape[2] != 4:
        return False
    opaque = image[:, :, 3] > 127
    return bool(opaque.any() and not opaque.all())


def alpha_crop(image: np.ndarray) -> tuple[int, int, int]:
    """Crop around the opaque extent of a cut-out RGBA photo (the engine's rule for cut-outs)."""
    return default_crop(image)


def contains(crop: tuple[int, int, int], mask: np.ndarray) -> bool:
    """True when every True pixel of ``mask`` [H, W] lies inside the square ``crop``."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return True
    x, y, side = crop
    return bool(xs.min() >= x and ys.min() >= y and xs.max() < x + side and ys.max() < y + side)
