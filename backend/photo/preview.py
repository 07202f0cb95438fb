"""A picture of exactly what the networks will see: the fine (1024) and coarse (512) inputs, de-normalised
from the prepared tensors, with the person's mask outline and BODY_25 skeleton drawn on top, and a short
text panel (crop, people, warnings). RGB uint8; the fine input on the left at full size."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import cv2
import numpy as np

from ..input_transform import NetworkInputs, crop_square, from_network_tensor
from .body25 import SKELETON

OUTLINE = (0, 255, 0)
JOINT = (255, 60, 60)
BONE = (255, 200, 0)
TEXT = (235, 235, 235)
PANEL = (40, 40, 40)
SHOWN_CONF = 0.2       # keypoints at or below this confidence are not drawn


def draw_preview(inputs: NetworkInputs, mask: np.ndarray | None, keypoints: np.ndarray | None,
                 lines: list[str]) -> np.ndarray:
    """uint8 RGB [F, F + F/2, 3] (F = fine input size): fine input left, coarse input top right, text below it.

    mask: bool [H, W] in the photo frame (outline drawn); keypoints: BODY_25 [25, 3] in photo pixels.
    """
    fine, coarse = from_network_tensor(inputs.image_1024), from_network_tensor(inputs.image_512)
    F, C = fine.shape[0], coarse.shape[0]
    contours = _mask_contours(mask, inputs.crop, F) if mask is not None else []
    for img in (fine, coarse):
        s = img.shape[0] / F
        thick = max(int(round(2 * s)), 1)
        if contours:
            cv2.polylines(img, [np.round(c * s).astype(np.int32) for c in contours], True, OUTLINE, thick,
                          cv2.LINE_AA)
        if keypoints is not None:
            _draw_skeleton(img, _to_crop_pixels(keypoints, inputs.crop, img.shape[0]), thick)
    out = np.zeros((F, F + C, 3), dtype=np.uint8)
    out[:, :F] = fine
    out[:C, F:] = coarse
    out[C:, F:] = PANEL
    _write(out[C:, F:], [f"left: fine input {F}px, top right: coarse input {C}px"] + lines)
    return out


def save_preview(preview: np.ndarray, path: str | os.PathLike) -> Path:
    """Write the RGB preview as a PNG (encoded in memory, so any path works) atomically: the file appears
    complete or not at all. Returns the path."""
    from ..fileio import atomic_write

    path = Path(path)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(preview[:, :, :3]), cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode the preview for {path}")
    with atomic_write(path) as tmp:
        tmp.write_bytes(buf.tobytes())
    return path


def _mask_contours(mask: np.ndarray, crop: tuple[int, int, int], size: int) -> list[np.ndarray]:
    """Outline of ``mask`` inside the crop, as float [N, 1, 2] point arrays in ``size``-pixel input coordinates."""
    window = crop_square(mask.view(np.uint8), crop)
    scale = size / crop[2]
    if window.shape[0] > 2 * size:   # outline detail beyond the input's resolution is invisible anyway
        window = cv2.resize(window, (2 * size, 2 * size), interpolation=cv2.INTER_AREA)
        scale = 0.5
    contours, _ = cv2.findContours(window, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [(c.astype(np.float64) + 0.5) * scale for c in contours]


def _to_crop_pixels(keypoints: np.ndarray, crop: tuple[int, int, int], size: int) -> np.ndarray:
    """BODY_25 photo pixels -> pixels of a ``size`` input made from ``crop``; confidence kept."""
    x, y, side = crop
    out = keypoints.astype(np.float64).copy()
    out[:, 0] = (out[:, 0] - x) * size / side
    out[:, 1] = (out[:, 1] - y) * size / side
    return out


def _draw_skeleton(img: np.ndarray, kp: np.ndarray, thick: int) -> None:
    shown = kp[:, 2] > SHOWN_CONF
    pts = np.round(kp[:, :2]).astype(np.int32)
    for a, b in SKELETON:
        if shown[a] and shown[b]:
            cv2.line(img, tuple(pts[a]), tuple(pts[b]), BONE, thick, cv2.LINE_AA)
    for i in np.nonzero(shown)[0]:
        cv2.circle(img, tuple(pts[i]), 2 * thick + 1, JOINT, -1, cv2.LINE_AA)


def _write(panel: np.ndarray, lines: list[str]) -> None:
    """Wrapped ASCII text, top-down, in the panel (cv2's fonts have no other characters)."""
    width = max(panel.shape[1] // 9, 20)
    y = 22
    for line in lines:
        ascii_line = line.encode("ascii", "replace").decode("ascii")
        for part in textwrap.wrap(ascii_line, width) or [""]:
            if y > panel.shape[0] - 6:
                return
            cv2.putText(panel, part, (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45, TEXT, 1, cv2.LINE_AA)
            y += 18
