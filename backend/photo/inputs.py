"""Network inputs for a prepared photo, built from the crop's window only (memory-light for big photos).

Bit-identical to :func:`backend.input_transform.prepare_inputs` on the whole photo (with the mask as its
alpha): every step of the official transform is per pixel or per window, so only the part of the photo that
the crop covers is composited (in stripes of rows, through a table of the official blend) and then handed
to ``prepare_inputs``.
"""
from __future__ import annotations

import dataclasses
import functools

import cv2
import numpy as np

from ..errors import ImageError
from ..input_transform import NetworkInputs, composite_over_grey, crop_square, crop_to_world, prepare_inputs

STRIPE_ROWS = 256   # rows composited at a time


def network_inputs(photo: np.ndarray, crop: tuple[int, int, int], mask: np.ndarray | None = None,
                   coarse_size: int = 512, fine_size: int = 1024, pad: int = 0) -> NetworkInputs:
    """The official network inputs for ``photo`` (uint8 [H, W, 3|4] RGB(A)) and ``crop`` (x, y, side) px.

    ``mask`` (bool [H, W], optional): the person; it becomes the alpha channel (255 person, 0 elsewhere), so
    the background turns 0.5 grey the way the official code treats transparent pixels. Without it an RGBA
    photo's own alpha is used, and an RGB photo is used as it is. pad: the value (0-255) where the crop
    leaves the photo; 0 (black) officially, ``GREY`` from :func:`prepare_photo` when the background is
    grey, so the networks see one plain background and no black band to take for part of the body.
    """
    H, W = photo.shape[:2]
    x, y, side = (int(v) for v in crop)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + side, W), min(y + side, H)
    if side <= 0 or x1 <= x0 or y1 <= y0:
        raise ImageError(f"The crop {crop} (x, y, side) does not overlap the {W}x{H} photo.")
    window = photo[y0:y1, x0:x1]
    if mask is not None:
        rgb = _over_grey(window[:, :, :3], mask[y0:y1, x0:x1].astype(np.uint8) * np.uint8(255))
    elif window.shape[2] == 4:
        rgb = _over_grey(window[:, :, :3], window[:, :, 3])
    else:
        rgb = np.ascontiguousarray(window)
    inputs = prepare_inputs(rgb, (x - x0, y - y0, side), coarse_size, fine_size, pad=pad)
    return dataclasses.replace(inputs, crop=(x, y, side), photo_size=(W, H),
                               calib_world=crop_to_world((x, y, side), W, H))


def network_mask(mask: np.ndarray, crop: tuple[int, int, int], size: int = 1024) -> np.ndarray:
    """The person mask (bool [H, W], photo frame) as the network input of ``crop`` (x, y, side) sees it:
    bool [size, size], the crop's window (nothing where it leaves the photo) resized like the image."""
    window = crop_square(np.asarray(mask, dtype=np.uint8) * np.uint8(255), crop, fill=0)
    return cv2.resize(window, (size, size), interpolation=cv2.INTER_AREA) > 127


def _over_grey(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8 RGB [h, w, 3] + alpha [h, w] -> uint8 RGB composited over grey the official way.

    The official blend is a function of each channel's value and the pixel's alpha alone, so it is
    tabulated once for all 256 x 256 pairs (by the official function itself) and looked up, in stripes:
    opaque and clear pixels through a plain lookup table, the few soft-edged ones one by one.
    """
    table = _composite_table()
    out = np.empty(rgb.shape, dtype=np.uint8)
    for r in range(0, rgb.shape[0], STRIPE_ROWS):
        colour, a = np.ascontiguousarray(rgb[r:r + STRIPE_ROWS]), alpha[r:r + STRIPE_ROWS]
        part = cv2.LUT(colour, table[255])
        clear = a == 0
        if clear.any():
            cv2.copyTo(cv2.LUT(colour, table[0]), clear.view(np.uint8), part)   # in place, into part
        soft = ~clear & (a != 255)
        if soft.any():
            part[soft] = table[a[soft][:, None], colour[soft]]
        out[r:r + STRIPE_ROWS] = part
    return out


@functools.lru_cache(maxsize=1)
def _composite_table() -> np.ndarray:
    """uint8 [alpha, value] -> the composited value, from :func:`composite_over_grey` on every pair."""
    value, alpha = np.meshgrid(np.arange(256, dtype=np.uint8), np.arange(256, dtype=np.uint8))
    grid = np.dstack([value, value, value, alpha])
    return np.ascontiguousarray(composite_over_grey(grid)[:, :, 0])
