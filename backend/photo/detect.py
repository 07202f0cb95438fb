"""Person detection with MediaPipe Pose (0.10.21, legacy solutions API, bundled full model), offline.

Works on a *detection copy*: the photo scaled down so its longer side is at most ``DETECT_SIDE`` pixels,
RGB uint8. MediaPipe finds one person per call; to notice several, the person found is painted out and the
search runs again (a few tens of milliseconds per extra call). ``mediapipe`` is imported lazily, on first use.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import PIFuHDError

DETECT_SIDE = 1024        # longer side of the detection copy, in pixels
MAX_PEOPLE = 3            # how many people the search looks for at most
SURE = 0.5                # landmark visibility / mask probability counted as "sure"
HIDE_GROW = 0.02          # painting a person out grows their mask by this share of the image diagonal
NEW_PERSON_OVERLAP = 0.5  # a later find whose sure points mostly fall on an earlier person is the same one

INSTALL_HINT = ("Photo preparation needs MediaPipe 0.10.21 (it ships the pose model): "
                "pip install --no-deps mediapipe==0.10.21, plus protobuf, absl-py, attrs, flatbuffers and "
                "matplotlib (see requirements.txt). Or skip detection (--no-detect) and give a crop.")


class MediaPipeMissing(PIFuHDError, ImportError):
    """MediaPipe (0.10.21) is not installed: a PIFuHDError for front ends, an ImportError (``name`` set) for
    callers that fall back to using the photo as it is."""


@dataclass
class Detection:
    """One person found in the detection copy (``h`` x ``w`` pixels).

    landmarks: [33, 4] MediaPipe image landmarks (x, y normalised to [0, 1] of the image, z relative depth,
    visibility). world: [33, 4] MediaPipe world landmarks (x, y, z in metres, hip-centred, y down;
    visibility). probability: [h, w] float32 person-mask probability in [0, 1].
    """

    landmarks: np.ndarray
    world: np.ndarray
    probability: np.ndarray

    def height_px(self) -> float:
        """Height in detection pixels of the box around the sure landmarks (the official "tallest" measure)."""
        sure = self.landmarks[:, 3] > SURE
        if not sure.any():
            return 0.0
        y = self.landmarks[sure, 1] * self.probability.shape[0]
        return float(y.max() - y.min())


def downscale(image: np.ndarray, max_side: int = DETECT_SIDE) -> np.ndarray:
    """``image`` [H, W, C] shrunk (area averaging) so its longer side is at most ``max_side``; never enlarged."""
    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return image
    size = (max(int(round(w * scale)), 1), max(int(round(h * scale)), 1))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class PoseDetector:
    """A reusable MediaPipe Pose (static images, ``model_complexity=1``, segmentation on); thread-safe."""

    def __init__(self) -> None:
        self._pose = None
        self._lock = threading.Lock()

    def _get(self):
        if self._pose is None:
            os.environ.setdefault("GLOG_minloglevel", "2")   # MediaPipe's C++ log chatter on stderr
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            try:
                from mediapipe.python.solutions import pose as mp_pose
            except ImportError as err:
                raise MediaPipeMissing(f"{INSTALL_HINT} ({err})", name="mediapipe") from None
            # Complexity 0 and 2 would download their models at run time; 1 is inside the wheel.
            self._pose = mp_pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=True)
        return self._pose

    def detect(self, rgb: np.ndarray) -> Detection | None:
        """The person MediaPipe picks in ``rgb`` (uint8 [h, w, 3]), or None when it finds nobody."""
        with self._lock:
            result = self._get().process(np.ascontiguousarray(rgb))
        if result.pose_landmarks is None:
            return None
        lm = np.array([(p.x, p.y, p.z, p.visibility) for p in result.pose_landmarks.landmark], np.float32)
        world = np.array([(p.x, p.y, p.z, p.visibility) for p in result.pose_world_landmarks.landmark],
                         np.float32)
        prob = np.array(result.segmentation_mask, dtype=np.float32)  # copy: MediaPipe's buffer is read-only
        return Detection(landmarks=lm, world=world, probability=prob)

    def close(self) -> None:
        """Free MediaPipe's graph (it is rebuilt on next use)."""
        with self._lock:
            if self._pose is not None:
                self._pose.close()
                self._pose = None


_DETECTOR = PoseDetector()


def detector() -> PoseDetector:
    """The process-wide detector (building MediaPipe's graph costs ~0.2-0.7 s, so it is kept)."""
    return _DETECTOR


def find_people(rgb: np.ndarray, max_people: int = MAX_PEOPLE,
                pose: PoseDetector | None = None) -> list[Detection]:
    """Everyone found in ``rgb`` (uint8 [h, w, 3] detection copy), in the order found, at most ``max_people``.

    After each find the person is painted out (their grown mask filled with the photo's median colour) and
    the search repeats, until nobody new turns up.
    """
    pose = pose or detector()
    work = rgb
    people: list[Detection] = []
    taken = np.zeros(rgb.shape[:2], dtype=bool)
    for _ in range(max_people):
        det = pose.detect(work)
        if det is None or (people and _mostly_on(det, taken)):
            break
        people.append(det)
        if len(people) == max_people:
            break
        region = _grow(det.probability > SURE, HIDE_GROW)
        taken |= region
        work = work.copy() if work is rgb else work
        work[region] = np.median(rgb[::8, ::8].reshape(-1, 3), axis=0).astype(np.uint8)
    return people


def _grow(mask: np.ndarray, share: float) -> np.ndarray:
    h, w = mask.shape
    r = max(int(share * np.hypot(h, w)), 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def _mostly_on(det: Detection, taken: np.ndarray) -> bool:
    """True when most of ``det``'s sure landmarks lie on pixels already taken by an earlier person."""
    h, w = taken.shape
    sure = det.landmarks[:, 3] > SURE
    xy = det.landmarks[sure, :2] * (w, h)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    if not inside.any():
        return True
    px = xy[inside].astype(int)
    return bool(taken[px[:, 1], px[:, 0]].mean() > NEW_PERSON_OVERLAP)
