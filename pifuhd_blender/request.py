"""From the panel's settings to a worker request, and the last result kept for reuse — without bpy.

The panel's values (``scene.pifuhd``, declared once in ``props.py``) arrive here as a plain mapping;
:func:`options_from_settings` turns them into the backend's one options type (checked there, so a value out
of range is refused with a message, never clamped), and :func:`build_request` makes the worker payload and
the key under which its result may be reused (same photo file or pixels, same model file, same options).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .backend_parts import Options, OptionsError

#: The panel's device identifiers -> the options' device names.
DEVICES = {"AUTO": "auto", "CPU": "cpu", "GPU": "gpu"}


class RequestError(Exception):
    """The settings cannot make a request (a photo is missing, an option is out of range); the message says
    what to do."""


@dataclass
class Request:
    """One reconstruction as the worker gets it (``payload``), the reuse ``key``, and what the object records."""

    payload: dict
    key: tuple
    source: str
    name: str
    options: Options


def file_identity(path: str) -> tuple:
    """(real path, size, modification time): changes when the file does."""
    st = os.stat(path)
    return (os.path.realpath(path), st.st_size, st.st_mtime_ns)


def options_from_settings(settings: Mapping[str, Any]) -> Options:
    """The panel's values (``props.settings_values``) -> validated :class:`Options`; :class:`RequestError`
    with the options' own message for a value out of range."""
    back = str(settings.get("back_filepath") or "")
    colors = bool(settings.get("use_colors", True))
    try:
        return Options(
            resolution=int(settings["resolution"]), device=DEVICES.get(settings.get("device", "AUTO"), "?"),
            remove_background=bool(settings.get("remove_background", True)),
            cleanup=bool(settings.get("use_cleanup", False)),
            color_fill=bool(settings.get("use_color_fill", False)) and colors,
            budget=str(settings.get("poly_budget", "FULL")).lower(),
            back_photo=(back or None) if colors and settings.get("use_color_fill") else None,
        ).validate()
    except OptionsError as err:
        raise RequestError(str(err)) from None


def photo_from_file(path: str) -> tuple[dict, tuple, str, str]:
    """(payload fields, key, source, object name) for a photo file; :class:`RequestError` when it is not one."""
    if os.path.isdir(path):
        raise RequestError(f"{path} is a folder, not a photo: choose the photo file itself in the PIFuHD panel.")
    if not os.path.isfile(path):
        raise RequestError(f"Photo not found: {path}. Choose the photo again in the PIFuHD panel.")
    return {"photo": path}, ("file",) + file_identity(path), path, Path(path).stem


def build_request(photo: dict, photo_key: tuple, source: str, name: str, checkpoint: str,
                  options: Options) -> Request:
    """The worker payload and the reuse key for one reconstruction."""
    back_key = None
    if options.back_photo is not None:
        back = os.fspath(options.back_photo)
        if os.path.isdir(back) or not os.path.isfile(back):
            raise RequestError(f"Back photo not found: {back}. Choose it again in the PIFuHD panel, or clear it.")
        back_key = file_identity(back)
    payload = dict(photo, checkpoint=checkpoint, options=options.to_dict())
    key = (photo_key, file_identity(checkpoint), back_key, options.to_json())
    return Request(payload, key, source, f"PIFuHD {name}", options)


@dataclass
class CachedResult:
    key: tuple
    arrays: dict
    info: dict
    warnings: list = field(default_factory=list)


class ResultCache:
    """The last finished result, reused when the same request comes again (Redo with another height)."""

    def __init__(self) -> None:
        self.last: CachedResult | None = None

    def get(self, key: tuple) -> CachedResult | None:
        return self.last if self.last is not None and self.last.key == key else None

    def put(self, key: tuple, arrays: dict, info: dict, warnings: list) -> CachedResult:
        self.last = CachedResult(key, dict(arrays), dict(info), list(warnings))
        return self.last

    def clear(self) -> None:
        self.last = None
