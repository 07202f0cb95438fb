"""Errors the backend raises on purpose. Each message says what went wrong and what to do about it."""
from __future__ import annotations


class PIFuHDError(Exception):
    """Base class: anything the user can act on. Front ends show ``str(err)`` as it is."""


class CheckpointError(PIFuHDError):
    """The model file is missing, unreadable, unsafe, or not a PIFuHD checkpoint."""


class ImageError(PIFuHDError):
    """The photo is missing, not an image, damaged, or unusable."""


class NoPersonError(PIFuHDError):
    """No person could be found in the photo."""


class Cancelled(PIFuHDError):
    """The caller's cancel flag was raised; the work stopped without a result."""


class OptionsError(PIFuHDError, ValueError):
    """A reconstruction option is out of range or not in its vocabulary (see ``backend.options``); nothing
    was started. Also a ``ValueError``, so callers that catch bad values keep working."""


class InputSizeError(PIFuHDError, ValueError):
    """Network inputs were made for other input sizes than the model reads (its ``load_size``s)."""
