"""Reading a photo from disk into an RGB(A) uint8 array, robustly.

Decoded with Pillow from the file's bytes (so any path works, non-ASCII included). The result is in the
*photo frame*: EXIF orientation applied (phone photos), x right, y down. PNG, JPEG, WebP, TIFF, BMP (and
GIF, first frame); 1/8/16-bit; greyscale, palette, RGB, RGBA, CMYK (JPEG/TIFF) are all turned into uint8
RGB [H, W, 3], or RGBA [H, W, 4] when the file has a real (not fully opaque) alpha channel.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np

from .errors import ImageError

MIN_SIDE = 128               # shorter side in pixels below which a photo is refused
MAX_PIXELS = 150_000_000     # larger images are refused before decoding (a 50 MP photo is fine)
FORMATS = "PNG, JPEG, WebP, TIFF, BMP"

# Magic bytes of formats people try that Pillow cannot read here, for a helpful message.
_KNOWN_UNSUPPORTED = {b"ftypheic": "HEIC", b"ftypheix": "HEIC", b"ftypmif1": "HEIF", b"ftypavif": "AVIF"}


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Photo at ``path`` -> uint8 [H, W, 3] RGB or [H, W, 4] RGBA in the EXIF-rotated photo frame.

    Raises :class:`ImageError` naming the file when it is missing, empty, not an image, truncated or damaged,
    too small (short side under ``MIN_SIDE`` px) or too large.
    """
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not a photo.")
    if not path.is_file():
        raise ImageError(f"Photo not found: {path}")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ImageError(f"{path} could not be read ({err.strerror or err}).") from None
    return decode_image(data, source=str(path))


def decode_image(data: bytes, source: str = "image") -> np.ndarray:
    """Encoded file bytes -> uint8 RGB(A) array in the photo frame (see :func:`load_image`).

    ``source`` names the file in error messages.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) == 0:
        raise ImageError(f"{source} is empty (0 bytes): choose another photo.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError(_not_an_image(data, source)) from None
    except Image.DecompressionBombError:
        raise ImageError(f"{source} is too large to open safely: use a photo under "
                         f"{MAX_PIXELS // 1_000_000} megapixels.") from None
    except Exception as err:  # the header itself is cut short or garbled
        raise ImageError(f"{source} is damaged or incomplete (truncated?): {err}. "
                         "Save or download the photo again.") from None
    w, h = im.size
    if w * h > MAX_PIXELS:
        raise ImageError(f"{source} is too large ({w}x{h} pixels, {w * h / 1e6:.0f} MP): "
                         f"use a photo under {MAX_PIXELS // 1_000_000} megapixels.")
    _check_size(w, h, source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im.load()
            ImageOps.exif_transpose(im, in_place=True)
    except MemoryError:
        raise ImageError(f"{source}: not enough memory to open this {w}x{h} photo.") from None
    except Exception as err:  # any decoder failure means the file is damaged
        raise ImageError(f"{source} is damaged or incomplete (truncated?): {err}. "
                         "Save or download the photo again.") from None
    arr = _to_rgb_uint8(im, source)
    _check_size(arr.shape[1], arr.shape[0], source)
    return arr


def _not_an_image(data: bytes, source: str) -> str:
    head = data[:64]
    for magic, name in _KNOWN_UNSUPPORTED.items():
        if magic in head:
            return f"{source} is a {name} image, which this program cannot read: convert it to JPEG or PNG."
    if len(data) < 64:
        return f"{source} is not an image ({len(data)} bytes): use a {FORMATS} file."
    return f"{source} is not an image this program can read ({FORMATS}), or it is damaged."


def _check_size(w: int, h: int, source: str) -> None:
    if min(w, h) < MIN_SIDE:
        raise ImageError(f"{source} is too small ({w}x{h} pixels): the shorter side must be at least "
                         f"{MIN_SIDE} pixels. Use a larger photo of the person.")


def _to_rgb_uint8(im, source: str) -> np.ndarray:
    """A loaded PIL image of any mode -> uint8 RGB, or RGBA when the alpha is not fully opaque."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return as_rgb_uint8(np.asarray(im), source=source, bgr=False)
    if mode == "CMYK":
        return _as_array(_cmyk_to_rgb(im))
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = _as_array(im.convert("RGBA") if mode != "RGBA" else im)
        if rgba[:, :, 3].min() < 255:
            return rgba
        return np.ascontiguousarray(rgba[:, :, :3])
    return _as_array(im.convert("RGB") if mode != "RGB" else im)


def _as_array(im, rows: int = 512) -> np.ndarray:
    """PIL image -> new writable uint8 array, copied in bands of rows (no second full-size buffer)."""
    w, h = im.size
    out = np.empty((h, w, len(im.getbands())), dtype=np.uint8)
    for y in range(0, h, rows):
        band = np.asarray(im.crop((0, y, w, min(y + rows, h))))
        out[y:y + band.shape[0]] = band.reshape(band.shape[0], w, -1)
    return out


def _cmyk_to_rgb(im):
    """CMYK -> RGB, through the embedded ICC profile when there is one (else Pillow's plain formula)."""
    icc = im.info.get("icc_profile")
    if icc:
        try:
            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except Exception:  # a broken or unusual profile: fall back to the plain conversion
            pass
    return im.convert("RGB")


def as_rgb_uint8(img: np.ndarray, source: str = "image", bgr: bool = True) -> np.ndarray:
    """Normalise a decoded array to uint8 RGB / RGBA. ``bgr``: channels come in OpenCV's BGR(A) order.

    uint16 (and 32-bit integer up to 65535) is scaled to 8 bits, float is read as [0, 1], grey is expanded.
    """
    if img.dtype in (np.uint16, np.int32, np.uint32, np.int64) and img.size and img.max() <= 65535 \
            and img.min() >= 0:
        img = (img.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif img.dtype in (np.float32, np.float64):
        img = (np.clip(np.nan_to_num(img), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif img.dtype == np.bool_:
        img = img.astype(np.uint8) * 255
    elif img.dtype != np.uint8:
        raise ImageError(f"{source}: unsupported pixel type {img.dtype}.")
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3:
        raise ImageError(f"{source}: expected an image array [H, W] or [H, W, C], got shape {img.shape}.")
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
    _check_size(img.shape[1], img.shape[0], source)
    return np.ascontiguousarray(img)
