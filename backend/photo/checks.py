"""Warnings about how the person is framed: head or feet cut off by the photo edge, several people, a
person too small for detail. They never stop the preparation; front ends show them to the user."""
from __future__ import annotations

import numpy as np

from .body25 import FEET, HEAD, INDEX

EDGE_ROWS = 2              # a mask reaching this many rows from the top/bottom edge touches it
SMALL_CROP = 256           # a crop side (photo pixels) under this is enlarged > 4x for the 1024 input


def framing_warnings(keypoints: np.ndarray, mask: np.ndarray, photo_size: tuple[int, int]) -> list[str]:
    """Head / feet cut-off warnings from BODY_25 ``keypoints`` [25, 3] (photo pixels; coordinates kept for
    points outside the photo) and the person ``mask`` (bool, the photo at any uniform scale: the detection
    copy's model mask is best, as edge refinement can bleed into the ground).

    ``photo_size``: (width, height) of the photo in pixels.
    """
    w, h = photo_size
    out = []
    in_mask = keypoints.copy()
    in_mask[:, :2] *= (mask.shape[1] / w, mask.shape[0] / h)
    if _outside(keypoints[list(HEAD), :2], w, h).any() or _touches(mask, in_mask, top=True):
        out.append("The head seems cut off by the top edge of the photo: the reconstruction will miss it. "
                   "Use a photo that shows the whole person.")
    if _outside(keypoints[list(FEET), :2], w, h).any() or _touches(mask, in_mask, top=False):
        out.append("The feet seem cut off by the bottom edge of the photo: the legs will end there. "
                   "Use a photo that shows the whole person, head to toe.")
    return out


def people_warning(count: int) -> list[str]:
    """A warning when ``count`` > 1 people were found (the tallest one is used)."""
    if count <= 1:
        return []
    return [f"{count} people found in the photo; using the tallest. For another person, crop the photo "
            "to them first."]


def size_warning(crop_side: int, fine_size: int = 1024) -> list[str]:
    """A warning when the crop is so small that the fine input (``fine_size`` px) is mostly enlargement."""
    if crop_side >= SMALL_CROP:
        return []
    return [f"The person is small in this photo (crop of {crop_side} pixels, enlarged "
            f"{fine_size / crop_side:.0f}x): expect a coarse result. A closer or larger photo gives more detail."]


def _outside(xy: np.ndarray, w: int, h: int) -> np.ndarray:
    return (xy[:, 0] < 0) | (xy[:, 0] >= w) | (xy[:, 1] < 0) | (xy[:, 1] >= h)


def _touches(mask: np.ndarray, keypoints: np.ndarray, top: bool) -> bool:
    """True when the mask reaches the top (head) or bottom (feet) edge near the head's / feet's columns.

    ``keypoints`` are already in the mask's pixels.
    """
    h, w = mask.shape
    if top:
        rows = mask[:EDGE_ROWS]
        cols = keypoints[list(HEAD), 0]
        ears = keypoints[[INDEX["REar"], INDEX["LEar"]], 0]
        reach = max(abs(ears[0] - ears[1]), 0.02 * w)
    else:
        rows = mask[h - EDGE_ROWS:]
        cols = keypoints[list(FEET), 0]
        reach = 0.05 * w
    lo, hi = int(max(cols.min() - reach, 0)), int(min(cols.max() + reach + 1, w))
    return bool(hi > lo and rows[:, lo:hi].any())
