"""Network inputs for a prepared photo, built from the crop's window only (memory-light for big photos).

Bit-identical to :func:`backend.input_transform.prepare_inputs` on the whole photo (with the mask as its
alpha): every step of the official transform is per pixel or per window, so only the part of the photo that
the crop covers is composited, in stripes of rows, and then handed to ``prepare_inputs``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import ImageError
from ..input_transform import NetworkInputs, composite_over_grey, crop_to_world, prepare_inputs

STRIPE_ROWS = 64    # rows composited at a time (float64 scratch: ~100 bytes per pixel of a stripe)


def network_inputs(photo: np.ndarray, crop: tuple[int, int, int], mask: np.ndarray | None = None,
                   coarse_size: int = 512, fine_size: int = 1024) -> NetworkInputs:
    """The official network inputs for ``photo`` (uint8 [H, W, 3|4] RGB(A)) and ``crop`` (x, y, side) px.

    ``mask`` (bool [H, W], optional): the person; it becomes the alpha channel (255 person, 0 elsewhere), so
    the background turns 0.5 grey the way the official code treats transparent pixels. Without it an RGBA
    photo's own alpha is used, and an RGB photo is used as it is.
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
    inputs = prepare_inputs(rgb, (x - x0, y - y0, side), coarse_size, fine_size)
    return dataclasses.replace(inputs, crop=(x, y, side), photo_size=(W, H),
                               calib_world=crop_to_world((x, y, side), W, H))


def _over_grey(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8 RGB [h, w, 3] + alpha [h, w] -> uint8 RGB composited over grey the official way, in stripes."""
    out = np.empty(rgb.shape, dtype=np.uint8)
    for r in range(0, rgb.shape[0], STRIPE_ROWS):
        rows = slice(r, r + STRIPE_ROWS)
        out[rows] = composite_over_grey(np.dstack([rgb[rows], alpha[rows]]))
    return out
