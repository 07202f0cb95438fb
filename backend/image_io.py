"""Reading a photo from disk into an RGB(A) uint8 array (decoded from bytes, so any path works)."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .errors import ImageError

MIN_SIDE = 16


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Photo at ``path`` -> uint8 [H, W, 3] RGB or [H, W, 4] RGBA (16-bit scaled to 8, grey expanded).

    Raises :class:`ImageError` naming the file when it is missing, empty or not a decodable image.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"Photo not found: {path}")
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise ImageError(f"{path} is empty (0 bytes): choose another photo.")
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageError(f"{path} is not an image this program can read (PNG, JPEG, WebP, TIFF, BMP), "
                         "or it is damaged.")
    return as_rgb_uint8(img, source=str(path))


def as_rgb_uint8(img: np.ndarray, source: str = "image", bgr: bool = True) -> np.ndarray:
    """Normalise a decoded array to uint8 RGB / RGBA. ``bgr``: channels come in OpenCV's BGR(A) order."""
    if img.dtype == np.uint16:
        img = (img.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif img.dtype in (np.float32, np.float64):
        img = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ImageError(f"{source}: unsupported pixel type {img.dtype}.")
    if img.ndim == 2:
        img = img[:, :, None]
    channels = img.shape[2]
    if channels == 1:
        img = np.repeat(img, 3, axis=2)
    elif channels == 2:  # grey + alpha
        img = np.concatenate([np.repeat(img[:, :, :1], 3, axis=2), img[:, :, 1:]], axis=2)
    elif channels in (3, 4):
        if bgr:
            img = img[:, :, [2, 1, 0, 3][:channels]]
    else:
        raise ImageError(f"{source}: unsupported number of channels ({channels}).")
    if min(img.shape[:2]) < MIN_SIDE:
        raise ImageError(f"{source} is too small ({img.shape[1]}x{img.shape[0]} pixels).")
    return np.ascontiguousarray(img)
