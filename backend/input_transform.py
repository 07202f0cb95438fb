"""From a photo and a square crop to the network inputs, exactly as the official evaluation prepares them.

Frames
------
*Photo pixels*: x right, y down, origin at the top-left pixel's corner of the (EXIF-rotated) photo.
A *crop* is ``(x, y, side)`` in photo pixels; it may extend past the photo (zero padding, i.e. black).
*Image NDC* of the crop: x right, y down, [-1, 1] from edge to edge (pixel centres at the ends, as
``align_corners=True`` sampling treats them).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from .surface.grid import B_MAX, B_MIN, EVAL_CALIB

GREY = 127  # a clear pixel composited over 0.5 grey the official way (255 * 0.5, truncated)
PERSON_FILL = 0.8  # with an alpha-only crop, the person's taller side fills this share of the square


@dataclass
class NetworkInputs:
    """What the networks and the extraction need for one photo.

    image_512 / image_1024: [1, 3, S, S] float32 RGB in [-1, 1]; calib: [1, 4, 4] cube -> image NDC;
    calib_world: [4, 4] float64 map from the normalised cube to photo-width NDC (the official ``calib_world``);
    crop: (x, y, side) in photo pixels; photo_size: (width, height) in pixels.
    """

    image_512: torch.Tensor
    image_1024: torch.Tensor
    calib: torch.Tensor
    calib_world: np.ndarray
    crop: tuple[int, int, int]
    photo_size: tuple[int, int]
    b_min: np.ndarray
    b_max: np.ndarray

    @property
    def sizes(self) -> tuple[int, int]:
        """(coarse, fine) image sizes in pixels, e.g. (512, 1024)."""
        return int(self.image_512.shape[-1]), int(self.image_1024.shape[-1])


def composite_over_grey(rgba: np.ndarray) -> np.ndarray:
    """RGBA uint8 [H,W,4] -> RGB uint8 [H,W,3] the official way.

    Colour is un-premultiplied by alpha (+1e-8), then blended over 0.5 grey, ``a*c + 0.5*(1-a)``, in float64,
    and truncated to uint8 (so opaque pixels can lose one level, as the official code does).
    """
    im = rgba.astype(np.float64) / 255.0
    alpha = im[:, :, 3:]
    colour = im[:, :, :3] / (alpha + 1e-8)
    out = alpha * colour + 0.5 * (1.0 - alpha)
    return (255.0 * out).astype(np.uint8)


def crop_square(image: np.ndarray, crop: tuple[int, int, int], fill: int = 0) -> np.ndarray:
    """The ``side x side`` window at (x, y) of ``image`` [H,W,C]; parts outside the photo are ``fill``
    (zeros, officially)."""
    x, y, side = (int(v) for v in crop)
    h, w = image.shape[:2]
    out = np.full((side, side) + image.shape[2:], fill, dtype=image.dtype)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + side, w), min(y + side, h)
    if x1 > x0 and y1 > y0:
        out[y0 - y:y1 - y, x0 - x:x1 - x] = image[y0:y1, x0:x1]
    return out


def to_network_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 RGB [S,S,3] -> float32 [1,3,S,S] in [-1,1]: ``(v/255 - 0.5) / 0.5``."""
    t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div(255)
    return t.sub(0.5).div(0.5).unsqueeze(0)


def from_network_tensor(t: torch.Tensor) -> np.ndarray:
    """Network input [1, 3, S, S] (or [3, S, S]) in [-1, 1] -> uint8 RGB [S, S, 3] (the inverse of
    :func:`to_network_tensor`, rounded to the nearest level)."""
    t = t.detach().float().cpu()
    t = t[0] if t.dim() == 4 else t
    return np.clip(network_to_unit(t).permute(1, 2, 0).numpy() * 255.0 + 0.5, 0, 255).astype(np.uint8)


def network_to_unit(t: torch.Tensor) -> torch.Tensor:
    """Values of a network input (or a sample of it) in [-1, 1] -> colour values in [0, 1] (sRGB as in the photo)."""
    return t * 0.5 + 0.5


def crop_to_world(crop: tuple[int, int, int], width: int, height: int) -> np.ndarray:
    """The official ``calib_world``: scale ``width / side`` and the shift of the crop centre from the photo
    centre, both in units of half the photo width (y down)."""
    x, y, side = crop
    scale = width / side
    half = float(width // 2)
    m = np.eye(4) * scale
    m[3, 3] = 1.0
    m[0, 3] = -scale * (x + side // 2 - width // 2) / half
    m[1, 3] = scale * (y + side // 2 - height // 2) / half
    return m


def square_around(box: tuple[float, float, float, float], fill: float = PERSON_FILL) -> tuple[int, int, int]:
    """A square crop centred on ``box`` (x0, y0, x1, y1 in pixels) whose larger side fills ``fill`` of it."""
    x0, y0, x1, y1 = box
    side = max(int(round(max(x1 - x0, y1 - y0) / fill)), 1)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    return int(round(cx - side / 2.0)), int(round(cy - side / 2.0)), side


def default_crop(image: np.ndarray) -> tuple[int, int, int]:
    """Crop when the caller gives none: around the alpha channel's opaque extent (RGBA with some transparency),
    else the square that holds the whole photo, centred."""
    h, w = image.shape[:2]
    if image.ndim == 3 and image.shape[2] == 4:
        alpha = image[:, :, 3] > 127
        if alpha.any() and not alpha.all():
            ys, xs = np.nonzero(alpha)
            return square_around((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    side = max(h, w)
    return (w - side) // 2, (h - side) // 2, side


def prepare_inputs(image: np.ndarray, crop: tuple[int, int, int] | None = None,
                   coarse_size: int = 512, fine_size: int = 1024, *, pad: int = 0) -> NetworkInputs:
    """Photo uint8 [H,W,3|4] RGB(A) + crop -> :class:`NetworkInputs` (see the module docstring for frames).

    pad: the value (0-255) of the crop's parts outside the photo: 0 (black) as officially; photo
    preparation passes :data:`GREY` when it has replaced the background, since beyond the photo's edge is
    background too (a network can take a black band for part of the person)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError("image must be uint8 [H, W, 3] RGB or [H, W, 4] RGBA")
    h, w = image.shape[:2]
    if crop is None:
        crop = default_crop(image)
    crop = tuple(int(v) for v in crop)
    if len(crop) != 3 or crop[2] <= 0:
        raise ValueError("crop must be (x, y, side) with side > 0")
    rgb = composite_over_grey(image) if image.shape[2] == 4 else image
    window = crop_square(rgb, crop, pad)
    small = cv2.resize(window, (coarse_size, coarse_size))
    large = cv2.resize(window, (fine_size, fine_size))
    return NetworkInputs(
        image_512=to_network_tensor(small),
        image_1024=to_network_tensor(large),
        calib=torch.from_numpy(EVAL_CALIB.astype(np.float32)).unsqueeze(0),
        calib_world=crop_to_world(crop, w, h),
        crop=crop,
        photo_size=(w, h),
        b_min=B_MIN.copy(),
        b_max=B_MAX.copy(),
    )
