"""Body keypoints from photo pixels to the normalised cube frame, where the reconstructed mesh lives.

Pure numpy: no torch, no cv2 (tests use it without torch).

Frames
------
*Photo pixels* (``PreparedPhoto.keypoints``): x right, y down, continuous coordinates with the origin at the
photo's top-left *corner* (MediaPipe's normalised coordinates times the photo size), so pixel ``i`` spans
``[i, i + 1)`` and its centre is ``i + 0.5``.

*Network input*: the ``side x side`` crop window whose top-left pixel is photo pixel ``(x, y)``, resized to
``S x S`` with ``cv2.resize`` (bilinear, pixel centres aligned: a continuous crop coordinate ``c`` lands at
``c * S / side``, i.e. at pixel index ``c * S / side - 0.5``). The networks and the vertex colours sample that
image with ``grid_sample(align_corners=True)``: NDC -1 and +1 are the centres of the first and last pixels,
so index ``j`` is NDC ``-1 + 2 j / (S - 1)`` (x right, y down).

*Normalised cube*: the image NDC with y flipped (``EVAL_CALIB = diag(1, -1, 1)``): x right, y up. A keypoint
has no depth, so only cube x and y are known.

Hence, for the fine input (S = 1024, the image the surface detail and the colours come from)::

    u = -1 + 2 * ((px - x) * S / side - 0.5) / (S - 1)      cube x = u
    v = -1 + 2 * ((py - y) * S / side - 0.5) / (S - 1)      cube y = -v

The crop's centre maps to exactly (0, 0). The coarse input (S = 512) differs by under 1/S, far below a
keypoint's accuracy.
"""
from __future__ import annotations

import numpy as np

from .ndc import index_to_ndc, ndc_to_index

#: The OpenPose BODY_25 keypoint layout: row i of a [25, 3] keypoint array is ``BODY25_NAMES[i]``. "L" and "R"
#: are the subject's own left and right.
BODY25_NAMES = ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip",
                "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
                "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")

FINE_SIZE = 1024  # the fine network input's side, pixels


def photo_to_cube(keypoints: np.ndarray, crop: tuple[int, int, int], size: int = FINE_SIZE) -> np.ndarray:
    """BODY_25 keypoints [N, 3] (x, y in photo pixels, confidence) -> [N, 3] float64 (cube x, cube y,
    confidence) for the network input made from ``crop`` = (x, y, side) resized to ``size`` pixels.

    Confidences pass through unchanged (0 for a keypoint the detector did not see); coordinates that are not
    finite give confidence 0 and coordinates 0.
    """
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 3)
    x0, y0, side = (float(v) for v in crop)
    if side <= 0 or size < 2:
        raise ValueError(f"crop side and input size must be positive (got side={side}, size={size})")
    out = np.empty_like(kp)
    out[:, 0] = _pixels_to_ndc(kp[:, 0] - x0, side, size)
    out[:, 1] = -_pixels_to_ndc(kp[:, 1] - y0, side, size)
    out[:, 2] = kp[:, 2]
    bad = ~np.isfinite(out).all(axis=1)
    out[bad] = 0.0
    return out


def cube_to_photo(points: np.ndarray, crop: tuple[int, int, int], size: int = FINE_SIZE) -> np.ndarray:
    """The inverse of :func:`photo_to_cube` for the coordinates: cube (x, y, ...) [N, >=2] -> photo pixels
    [N, 2] (x right, y down, corner origin). Used to make synthetic keypoints with known truth."""
    pts = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    x0, y0, side = (float(v) for v in crop)
    px = x0 + _ndc_to_pixels(pts[:, 0], side, size)
    py = y0 + _ndc_to_pixels(-pts[:, 1], side, size)
    return np.stack([px, py], axis=1)


def _pixels_to_ndc(c: np.ndarray, side: float, size: int) -> np.ndarray:
    """Continuous crop coordinate (corner origin, crop pixels) -> align_corners NDC of the resized input."""
    return index_to_ndc(c * size / side - 0.5, size)


def _ndc_to_pixels(ndc: np.ndarray, side: float, size: int) -> np.ndarray:
    return (ndc_to_index(ndc, size) + 0.5) * side / size


NOSE, NECK = BODY25_NAMES.index("Nose"), BODY25_NAMES.index("Neck")
CHIN = 0.45         # the chin: this share of the way from the nose keypoint down to the neck keypoint
HEAD_HALF_WIDTH = 0.8   # the head's half-width at most: this many nose-to-neck lengths either side of the nose


def head_mask(points: np.ndarray, keypoints: np.ndarray | None, min_confidence: float = 0.3) -> np.ndarray:
    """bool [N]: the cube points [N, >=2] (x right, y up) on the head, above the chin and beside the nose by
    at most :data:`HEAD_HALF_WIDTH` nose-to-neck lengths, from BODY_25 keypoints [25, 3] in the cube frame
    (:func:`photo_to_cube`). All False without keypoints, or when the nose or the neck is below
    ``min_confidence`` or the nose is not above the neck (a person upside down or lying)."""
    pts = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    out = np.zeros(len(pts), dtype=bool)
    if keypoints is None:
        return out
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 3)
    nose, neck = kp[NOSE], kp[NECK]
    length = nose[1] - neck[1]
    if min(nose[2], neck[2]) < min_confidence or length <= 0:
        return out
    return (pts[:, 1] > nose[1] - CHIN * length) & (np.abs(pts[:, 0] - nose[0]) < HEAD_HALF_WIDTH * length)
