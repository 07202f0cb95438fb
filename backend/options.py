"""The reconstruction options: one type for every door (CLI flags, Python API, the add-on's worker payload),
with every range and vocabulary checked here and nowhere else.

Pure Python (no numpy, no torch): Blender builds these before any dependency is installed, and the worker
protocol carries them as JSON (:meth:`Options.to_json` / :meth:`Options.from_json`).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .errors import OptionsError

MIN_RESOLUTION = 16     # grid points per axis below which the surface is a blob, not a person
MAX_RESOLUTION = 1024   # 1024^3 coarse-to-fine already needs several GB; more is refused, never clamped
DEFAULT_RESOLUTION = 256

#: Devices by name: 'auto' (CUDA, then Apple MPS, then CPU), 'gpu' (CUDA or MPS, an error without one),
#: 'cpu', 'cuda' (or 'cuda:N'), 'mps'.
DEVICES = ("auto", "cpu", "cuda", "mps", "gpu")
#: Arithmetic of the networks: full float32 (the official), or half precision on a GPU.
PRECISIONS = ("fp32", "fp16", "bf16")
#: The networks' normalisation state: 'official' (the fine level's batch norm in training-mode batch
#: statistics, as the official evaluation runs it) or 'eval' (stored running statistics).
NETWORK_STATES = ("official", "eval")
#: Polygon budgets: name -> triangles (None: keep every face). A budget may also be a number of triangles.
BUDGETS: dict[str, int | None] = {"mobile": 10_000, "game": 30_000, "high": 100_000, "full": None}
MIN_FACES = 100         # a numeric budget below this is not a person any more
#: Pieces of the mesh kept by the clean-up: the largest, and any with at least this share of its area
#: (a hand or foot that came out detached).
CLEAN_MIN_PIECE = 0.05


@dataclass(frozen=True)
class Options:
    """How to reconstruct one photo. Every front end maps its settings to this; :meth:`validate` checks them.

    resolution: grid points per axis, MIN_RESOLUTION..MAX_RESOLUTION. device: one of :data:`DEVICES`.
    precision: one of :data:`PRECISIONS`. network_state: one of :data:`NETWORK_STATES`.
    crop: (x, y, side) square in photo pixels (side > 0; may extend past the photo) or None (automatic).
    detect: prepare the photo (find the person, official crop, mask, keypoints, preview); off: the photo is
    used as it is (crop from ``crop``, a cut-out's alpha, or the whole photo). remove_background: with
    ``detect``, replace everything but the person with grey. dense: evaluate every grid point (official,
    slow). cleanup: keep the person's piece (and pieces of at least CLEAN_MIN_PIECE of it), close small
    holes. color_fill: photo colour only where the camera sees the surface, the rest filled along it.
    budget: a :data:`BUDGETS` name or a number of triangles (>= MIN_FACES) to decimate to.
    back_photo: path of a photo of the person's back (a cut-out PNG, or a photo prepared with ``detect``)
    that colours the back; needs ``color_fill``.
    """

    resolution: int = DEFAULT_RESOLUTION
    device: str = "auto"
    precision: str = "fp32"
    network_state: str = "official"
    crop: tuple[int, int, int] | None = None
    detect: bool = True
    remove_background: bool = True
    dense: bool = False
    cleanup: bool = False
    color_fill: bool = False
    budget: str | int = "full"
    back_photo: str | None = None

    def validate(self) -> "Options":
        """Check every field; returns self, or raises :class:`OptionsError` saying what to change."""
        if isinstance(self.resolution, bool) or not isinstance(self.resolution, int):
            raise OptionsError(f"The resolution must be a whole number (got {self.resolution!r}).")
        if not MIN_RESOLUTION <= self.resolution <= MAX_RESOLUTION:
            raise OptionsError(f"The resolution must be between {MIN_RESOLUTION} and {MAX_RESOLUTION} grid "
                               f"points per axis (got {self.resolution}); 256 is a good start.")
        device = str(self.device).strip().lower()
        if device not in DEVICES and not (device.startswith("cuda:") and device[5:].isdigit()):
            raise OptionsError(f"Unknown device {self.device!r}: use one of {', '.join(DEVICES)} (or cuda:N).")
        _one_of("precision", self.precision, PRECISIONS)
        _one_of("network state", self.network_state, NETWORK_STATES)
        if self.crop is not None:
            crop = tuple(self.crop)
            if len(crop) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in crop):
                raise OptionsError("The crop must be three whole numbers X Y SIDE in photo pixels "
                                   f"(got {self.crop!r}).")
            if crop[2] <= 0:
                raise OptionsError(f"The crop's side must be a positive number of pixels (got {crop[2]}).")
        for name in ("detect", "remove_background", "dense", "cleanup", "color_fill"):
            if not isinstance(getattr(self, name), bool):
                raise OptionsError(f"{name} must be true or false (got {getattr(self, name)!r}).")
        if isinstance(self.budget, str):
            _one_of("polygon budget", self.budget, tuple(BUDGETS))
        elif isinstance(self.budget, bool) or not isinstance(self.budget, int) or self.budget < MIN_FACES:
            raise OptionsError(f"The polygon budget must be one of {', '.join(BUDGETS)} or a number of "
                               f"triangles of at least {MIN_FACES} (got {self.budget!r}).")
        if self.back_photo is not None:
            if not isinstance(self.back_photo, (str, os.PathLike)) or not str(self.back_photo):
                raise OptionsError(f"The back photo must be a file path (got {self.back_photo!r}).")
            if not self.color_fill:
                raise OptionsError("A back photo colours the back through the colour fill: turn the colour "
                                   "fill on (--color-fill) or leave the back photo out.")
        return self

    @property
    def target_faces(self) -> int | None:
        """Triangles to decimate to, or None to keep the full mesh."""
        return BUDGETS[self.budget] if isinstance(self.budget, str) else int(self.budget)

    def replace(self, **changes: Any) -> "Options":
        """A validated copy with ``changes``."""
        return replace(self, **changes).validate()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (crop as a list, back photo as a string)."""
        data = asdict(self)
        data["crop"] = None if self.crop is None else [int(v) for v in self.crop]
        data["back_photo"] = None if self.back_photo is None else os.fspath(self.back_photo)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Options":
        """Options from :meth:`to_dict`'s layout, validated; unknown names are refused (a typo is an error,
        not a silent default)."""
        if not isinstance(data, dict):
            raise OptionsError(f"The options must be a JSON object (got {type(data).__name__}).")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise OptionsError(f"Unknown option(s) {', '.join(unknown)}: the known ones are "
                               f"{', '.join(sorted(known))}.")
        values = dict(data)
        if isinstance(values.get("crop"), list):
            values["crop"] = tuple(values["crop"])
        return cls(**values).validate()

    @classmethod
    def from_json(cls, text: str) -> "Options":
        try:
            data = json.loads(text)
        except ValueError as err:
            raise OptionsError(f"The options are not valid JSON ({err}).") from None
        return cls.from_dict(data)


def _one_of(what: str, value: Any, vocabulary: tuple[str, ...]) -> None:
    if value not in vocabulary:
        raise OptionsError(f"Unknown {what} {value!r}: use one of {', '.join(vocabulary)}.")
