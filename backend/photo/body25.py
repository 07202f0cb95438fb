"""OpenPose BODY_25 keypoint layout, and the mapping from MediaPipe's 33 pose landmarks to it.

Keypoints are float [25, 3] rows ``(x, y, confidence)``, x and y in photo pixels (x right, y down, origin at
the top-left corner of the EXIF-rotated photo), confidence in [0, 1]. MediaPipe's "left" is the subject's
left, as OpenPose's is.
"""
from __future__ import annotations

import numpy as np

from ..keypoints import BODY25_NAMES

NAMES = BODY25_NAMES
INDEX = {name: i for i, name in enumerate(NAMES)}

# BODY_25 index -> MediaPipe landmark index; a pair means the midpoint of the two landmarks.
# MediaPipe has one "foot index" point per foot: it stands for both the big and the small toe.
FROM_MEDIAPIPE: tuple[int | tuple[int, int], ...] = (
    0, (11, 12), 12, 14, 16, 11, 13, 15, (23, 24),
    24, 26, 28, 23, 25, 27, 5, 2, 8, 7,
    31, 31, 29, 32, 32, 30,
)

HEAD = tuple(INDEX[n] for n in ("Nose", "REye", "LEye", "REar", "LEar"))
FEET = tuple(INDEX[n] for n in ("RAnkle", "LAnkle", "LBigToe", "LHeel", "RBigToe", "RHeel"))

# Limbs for drawing: pairs of BODY_25 indices.
SKELETON = ((1, 8), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12),
            (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21),
            (11, 22), (22, 23), (11, 24))


def from_mediapipe(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """MediaPipe landmarks [33, >=4] (x, y normalised to [0, 1] of the image, z, visibility) -> BODY_25 [25, 3].

    x, y are scaled to photo pixels (``width`` x ``height``); confidence is MediaPipe's visibility, the lower
    of the two for midpoints, and 0 for points outside the photo.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim != 2 or lm.shape[0] != 33 or lm.shape[1] < 4:
        raise ValueError(f"expected MediaPipe landmarks [33, 4], got {lm.shape}")
    xy = lm[:, :2] * (width, height)
    vis = lm[:, 3]
    out = np.zeros((25, 3))
    for i, src in enumerate(FROM_MEDIAPIPE):
        if isinstance(src, tuple):
            a, b = src
            out[i, :2] = (xy[a] + xy[b]) / 2.0
            out[i, 2] = min(vis[a], vis[b])
        else:
            out[i, :2] = xy[src]
            out[i, 2] = vis[src]
    inside = (out[:, 0] >= 0) & (out[:, 0] < width) & (out[:, 1] >= 0) & (out[:, 1] < height)
    out[~inside, 2] = 0.0
    return out
