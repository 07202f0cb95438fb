"""Robust photo loading (backend.image_io): every format and pixel layout a user may have, EXIF orientation,
non-ASCII paths, and a clear ImageError naming the file for each kind of bad file."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from backend.errors import ImageError
from backend.image_io import MIN_SIDE, as_rgb_uint8, decode_image, load_image
from tests.conftest import REPO

PHOTOS = REPO / "tests" / "data" / "photos"
ORIENTATION = 0x0112


@pytest.fixture(scope="module")
def upright() -> np.ndarray:
    """A real photo, RGB uint8 (513 x 513, so every rotation has a distinct content layout)."""
    rgb = cv2.cvtColor(cv2.imread(str(PHOTOS / "yoga_tree_white.jpg")), cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(rgb[:, 40:])          # 513 x 473: not square, so rotations change the shape


def save(path: Path, array: np.ndarray, **params) -> Path:
    Image.fromarray(array).save(path, **params)
    return path


@pytest.mark.parametrize("suffix,params", [(".png", {}), (".bmp", {}), (".tiff", {}),
                                           (".webp", {"lossless": True}), (".gif", {})])
def test_lossless_formats_load_exactly(tmp_path, upright, suffix, params):
    source = upright if suffix != ".gif" else np.asarray(Image.fromarray(upright).quantize().convert("RGB"))
    got = load_image(save(tmp_path / f"photo{suffix}", source, **params))
    assert got.dtype == np.uint8 and got.shape == source.shape
    assert np.array_equal(got, source)


def test_jpeg_and_lossy_webp_load(tmp_path, upright):
    for suffix in (".jpg", ".webp"):
        got = load_image(save(tmp_path / f"photo{suffix}", upright, quality=90))
        assert got.shape == upright.shape
        assert np.abs(got.astype(int) - upright).mean() < 4


def test_greyscale_and_one_bit(tmp_path, upright):
    grey = cv2.cvtColor(upright, cv2.COLOR_RGB2GRAY)
    got = load_image(save(tmp_path / "grey.png", grey))
    assert got.shape == grey.shape + (3,) and np.array_equal(got[:, :, 1], grey)
    bits = load_image(save(tmp_path / "bits.png", grey > 128))
    assert set(np.unique(bits)) == {0, 255}


def test_sixteen_bit_png(tmp_path, upright):
    noise = np.random.default_rng(0).integers(-100, 101, upright.shape)   # real 16-bit values
    rgb16 = np.clip(upright.astype(np.int64) * 257 + noise, 0, 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "rgb16.png"), cv2.cvtColor(rgb16, cv2.COLOR_RGB2BGR))
    got = load_image(tmp_path / "rgb16.png")
    assert got.dtype == np.uint8 and got.shape == upright.shape
    assert np.abs(got.astype(int) - upright).max() <= 1
    cv2.imwrite(str(tmp_path / "grey16.png"), rgb16[:, :, 0])
    grey = load_image(tmp_path / "grey16.png")
    assert grey.shape == upright.shape and np.abs(grey[:, :, 0].astype(int) - upright[:, :, 0]).max() <= 1
    rgba16 = np.dstack([rgb16, np.full(rgb16.shape[:2], 65535, np.uint16)])
    rgba16[:100, :, 3] = 0
    cv2.imwrite(str(tmp_path / "rgba16.png"), cv2.cvtColor(rgba16, cv2.COLOR_RGBA2BGRA))
    rgba = load_image(tmp_path / "rgba16.png")
    assert rgba.shape == upright.shape[:2] + (4,) and rgba[:100, :, 3].max() == 0 and rgba[100:, :, 3].min() == 255


def test_cmyk_jpeg(tmp_path, upright):
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(upright).convert("CMYK").save(path, quality=95)
    assert Image.open(path).mode == "CMYK"
    got = load_image(path)
    assert got.shape == upright.shape and got.dtype == np.uint8
    assert np.abs(got.astype(int) - upright).mean() < 4


def test_alpha_kept_only_when_it_says_something(tmp_path, upright):
    rgba = np.dstack([upright, np.full(upright.shape[:2], 255, np.uint8)])
    assert load_image(save(tmp_path / "opaque.png", rgba)).shape[2] == 3       # fully opaque: plain RGB
    rgba[:, :50, 3] = 0
    got = load_image(save(tmp_path / "cutout.png", rgba))
    assert got.shape[2] == 4 and np.array_equal(got, rgba)
    palette = Image.fromarray(upright).quantize(16)
    palette.info["transparency"] = 0
    palette.save(tmp_path / "palette.png", transparency=0)
    assert load_image(tmp_path / "palette.png").shape[2] == 4


ROTATIONS = {  # EXIF orientation -> how the stored pixels relate to the upright picture
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, 1),        # stored turned 90 degrees anticlockwise; viewers turn it clockwise
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, -1),
}


@pytest.mark.parametrize("orientation", sorted(ROTATIONS))
def test_exif_orientation_is_applied(tmp_path, upright, orientation):
    stored = np.ascontiguousarray(ROTATIONS[orientation](upright))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    path = save(tmp_path / "phone.png", stored, exif=exif.tobytes())
    assert np.array_equal(load_image(path), upright)


def test_exif_rotated_jpeg_from_a_phone(tmp_path):
    """A shared photo stored sideways with the orientation tag, as phones write them."""
    photo = load_image(PHOTOS / "vlado_street.jpg")
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    path = save(tmp_path / "IMG_0001.JPG", np.ascontiguousarray(np.rot90(photo, 1)), quality=95,
                exif=exif.tobytes())
    got = load_image(path)
    assert got.shape == photo.shape
    assert np.abs(got.astype(int) - photo).mean() < 3


def test_non_ascii_path(tmp_path, upright):
    folder = tmp_path / "Фото 写真 ñ"
    folder.mkdir()
    path = save(folder / "José 人物.jpg", upright, quality=95)
    assert load_image(path).shape == upright.shape


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` but holds almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + \
        chunk(b"IEND", b"")


def test_bad_files_give_clear_errors(tmp_path, upright):
    jpeg = _encoded(upright, "JPEG")
    png = _encoded(upright, "PNG")
    cases = {
        "empty.jpg": (b"", "empty"),
        "notes.jpg": (b"these are my holiday notes, not a photo\n" * 20, "not an image"),
        "short.png": (b"hello", "not an image"),
        "truncated.jpg": (jpeg[: len(jpeg) // 3], "damaged or incomplete"),
        "truncated.png": (png[: len(png) // 2], "damaged or incomplete"),
        "garbled.jpg": (jpeg[:600] + bytes(range(256)) * 40, "damaged or incomplete"),
        "header.jpg": (b"\xff\xd8\xff\xe0 only the start of a jpeg", "damaged or incomplete"),
        "tiny.png": (_encoded(upright[:100, :300], "PNG"), "too small"),
        "phone.heic": (b"\0\0\0\x18ftypheic" + b"\0" * 200, "HEIC"),
        "huge.png": (png_header_only(20000, 20000), "too large"),
    }
    for name, (data, problem) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ImageError, match=problem) as err:
            load_image(path)
        assert name in str(err.value), name
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


def _encoded(array: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def test_minimum_size_is_128_on_the_short_side(upright):
    assert MIN_SIDE == 128
    assert decode_image(_encoded(upright[:128, :200], "PNG")).shape == (128, 200, 3)
    with pytest.raises(ImageError, match="too small"):
        decode_image(_encoded(upright[:127, :400], "PNG"), source="x.png")


def test_arrays_are_normalised(upright):
    grey16 = upright[:, :, 0].astype(np.uint16) * 257
    assert np.array_equal(as_rgb_uint8(grey16, bgr=False)[:, :, 2], upright[:, :, 0])
    as_float = upright.astype(np.float32) / 255
    assert np.array_equal(as_rgb_uint8(as_float, bgr=False), upright)
    with pytest.raises(ImageError, match="channels"):
        as_rgb_uint8(np.zeros((200, 200, 5), np.uint8))
