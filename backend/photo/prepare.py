"""``prepare_photo``: any photo in, the person's crop, mask, keypoints and network inputs out.

photo -> (EXIF-rotated, RGB(A) uint8) -> detection copy (<= 1024 px, RGBA composited over grey) ->
MediaPipe pose (tallest person) -> BODY_25 keypoints -> official full-body crop (or the alpha's extent for a
cut-out) -> person mask (GrabCut-refined) -> background replaced the official way -> network inputs + preview.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ImageError, NoPersonError
from ..image_io import as_rgb_uint8, load_image
from ..input_transform import GREY, NetworkInputs, composite_over_grey
from . import body25
from .checks import framing_warnings, people_warning, size_warning
from .crop import alpha_crop, fullbody_crop, has_cutout_alpha
from .detect import DETECT_SIDE, MAX_PEOPLE, SURE, downscale, find_people
from .inputs import network_inputs
from .mask import probability_to_mask, refine_with_grabcut
from .preview import draw_preview, save_preview


@dataclass
class PreparedPhoto:
    """A photo made ready for :func:`backend.reconstruct` (pass ``inputs=prepared.inputs``).

    All pixel coordinates are in the *photo frame*: the photo after EXIF rotation, x right, y down, origin at
    the top-left corner, in pixels of the full-size photo (``photo_size`` = (width, height)).

    crop: (x, y, side) square in photo pixels (may extend past the photo; padded with black as officially).
    mask: bool [H, W], True on the person (the cut-out's alpha > 127 for a cut-out photo).
    keypoints: float [25, 3] OpenPose BODY_25 (x, y, confidence); points outside the photo have confidence 0
    but keep their estimated coordinates.
    landmarks: float [33, 4] MediaPipe image landmarks (x, y in photo pixels, z relative depth in the same
    pixel scale, smaller = nearer the camera, visibility).
    world_landmarks: float [33, 4] MediaPipe world landmarks (x, y, z in metres, origin midway between the
    hips; x to the image's right, y down, z away from the camera; visibility) for placing an armature.
    inputs: the network inputs (512 and 1024 images, calibration, crop). preview: uint8 RGB picture of the
    inputs with the mask outline and keypoints (see :mod:`backend.photo.preview`).
    warnings: things the user should know (head/feet cut off, several people, small person).
    people: how many people were found (the tallest is used). crop_source: 'keypoints', 'alpha' or 'user'.
    background_removed: whether the background was replaced with grey. seconds: time per step.
    """

    crop: tuple[int, int, int]
    mask: np.ndarray
    keypoints: np.ndarray
    landmarks: np.ndarray
    world_landmarks: np.ndarray
    inputs: NetworkInputs
    preview: np.ndarray
    photo_size: tuple[int, int]
    warnings: list[str] = field(default_factory=list)
    people: int = 1
    crop_source: str = "keypoints"
    background_removed: bool = True
    source: str = "image"
    seconds: dict[str, float] = field(default_factory=dict)

    def inputs_at(self, image: str | os.PathLike | np.ndarray, coarse_size: int, fine_size: int) -> NetworkInputs:
        """The same crop and background treatment as ``inputs``, at other network input sizes (a model whose
        ``load_size`` differs from the sizes this photo was prepared for), without detecting again.
        image: the photo this was prepared from (path or array, as given to :func:`prepare_photo`)."""
        photo, _ = _load(image)
        if (photo.shape[1], photo.shape[0]) != tuple(self.photo_size):
            raise ValueError(f"not the prepared photo: {photo.shape[1]}x{photo.shape[0]} px, "
                             f"prepared {self.photo_size[0]}x{self.photo_size[1]}")
        cutout = has_cutout_alpha(photo)
        return _inputs(photo, self.crop, self.mask, self.background_removed and not cutout, cutout,
                       coarse_size, fine_size)

    def save_preview(self, path: str | os.PathLike) -> Path:
        """Write the preview as a PNG at ``path`` and return the path."""
        return save_preview(self.preview, path)


def prepare_photo(image: str | os.PathLike | np.ndarray, *, remove_background: bool = True,
                  refine_edges: bool = True, crop: tuple[int, int, int] | None = None,
                  coarse_size: int = 512, fine_size: int = 1024, detect_side: int = DETECT_SIDE,
                  max_people: int = MAX_PEOPLE, preview_path: str | os.PathLike | None = None) -> PreparedPhoto:
    """Find the person in ``image`` and prepare the network inputs (see :class:`PreparedPhoto`).

    image: a path, or an array [H, W] / [H, W, 3|4] RGB(A) (uint8, uint16 or float in [0, 1]).
    remove_background: replace everything but the person with 0.5 grey (the official treatment of
    transparent pixels), and where the crop runs past the photo's edge fill with grey too (officially
    black: a band the networks can take for part of the body); a cut-out RGBA photo always keeps its own
    alpha, with the same grey edges. refine_edges: refine the pose
    model's mask with GrabCut (~0.1-0.3 s). crop: (x, y, side) to use instead of the automatic crop.
    coarse_size / fine_size: the networks' input sizes (the model's ``load_size``). detect_side: longer side
    of the copy the detector sees. preview_path: also save the preview PNG there.

    Raises :class:`ImageError` for an unusable photo, :class:`NoPersonError` when nobody is found.
    """
    t0 = time.perf_counter()
    seconds: dict[str, float] = {}
    photo, source = _load(image)
    H, W = photo.shape[:2]
    seconds["load"] = _lap(t0)

    t = time.perf_counter()
    small = downscale(photo, detect_side)
    if small.shape[2] == 4:
        small = composite_over_grey(small)
    people = find_people(small, max_people=max_people)
    if not people:
        raise NoPersonError(f"No person found in {source}. Use a photo where one person is clearly visible, "
                            "ideally head to toe, or skip detection and give the crop by hand.")
    person = max(people, key=lambda d: d.height_px())
    keypoints = body25.from_mediapipe(person.landmarks, W, H)
    seconds["detect"] = _lap(t)

    t = time.perf_counter()
    cutout = has_cutout_alpha(photo)
    if cutout:
        mask = photo[:, :, 3] > 127
    elif refine_edges:
        mask = refine_with_grabcut(photo[:, :, :3], person.probability)
    else:
        mask = probability_to_mask(person.probability, (W, H))
    seconds["mask"] = _lap(t)

    if crop is not None:
        crop_source, crop = "user", tuple(int(v) for v in crop)
        if len(crop) != 3 or crop[2] <= 0:
            raise ImageError(f"The crop must be (x, y, side) with side > 0, got {crop}.")
    elif cutout:
        crop_source, crop = "alpha", alpha_crop(photo)
    else:
        crop_source, crop = "keypoints", fullbody_crop(keypoints)

    t = time.perf_counter()
    replace = remove_background and not cutout
    notes = []
    if replace and not mask.any():
        replace = False
        notes.append("The person could not be separated from the background, so the background was kept.")
    inputs = _inputs(photo, crop, mask, replace, cutout, coarse_size, fine_size)
    seconds["inputs"] = _lap(t)

    model_mask = mask if cutout else person.probability > SURE
    warnings = (people_warning(len(people)) + framing_warnings(keypoints, model_mask, (W, H))
                + size_warning(crop[2], fine_size) + notes)
    t = time.perf_counter()
    lines = [f"photo {W}x{H}, crop x={crop[0]} y={crop[1]} side={crop[2]} ({crop_source})",
             f"people found: {len(people)}; background " + ("replaced" if replace or cutout else "kept")]
    preview = draw_preview(inputs, mask, keypoints, lines + [f"warning: {w}" for w in warnings])
    seconds["preview"] = _lap(t)
    seconds["total"] = _lap(t0)

    landmarks = person.landmarks.astype(np.float64)
    landmarks[:, 0] *= W
    landmarks[:, 1] *= H
    landmarks[:, 2] *= W
    result = PreparedPhoto(
        crop=crop, mask=mask, keypoints=keypoints, landmarks=landmarks,
        world_landmarks=person.world.astype(np.float64), inputs=inputs, preview=preview,
        photo_size=(W, H), warnings=warnings, people=len(people), crop_source=crop_source,
        background_removed=replace or cutout, source=source, seconds=seconds)
    if preview_path is not None:
        result.save_preview(preview_path)
    return result


def _inputs(photo: np.ndarray, crop: tuple[int, int, int], mask: np.ndarray, replace: bool, cutout: bool,
            coarse_size: int, fine_size: int) -> NetworkInputs:
    """The network inputs: the background replaced by grey through ``mask`` when ``replace``, a cut-out's
    own alpha otherwise; where the crop leaves the photo, grey when the background is grey, else black."""
    return network_inputs(photo, crop, mask if replace else None, coarse_size, fine_size,
                          pad=GREY if replace or cutout else 0)


def _load(image: str | os.PathLike | np.ndarray) -> tuple[np.ndarray, str]:
    """(uint8 [H, W, 3|4] RGB(A) photo in the photo frame, how to name it in messages)."""
    if isinstance(image, (str, os.PathLike)):
        return load_image(image), str(image)
    return as_rgb_uint8(np.asarray(image), source="the image", bgr=False), "the image"


def _lap(start: float) -> float:
    return time.perf_counter() - start
