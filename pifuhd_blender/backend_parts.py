"""The backend's pure-Python parts that the add-on uses in Blender's own process (where torch is never
imported): the options type and its error, and the BODY_25 keypoint layout. No bpy.

In the built extension the backend is bundled inside the add-on (``<add-on>/backend``); in a development
checkout it is the repository's ``backend/`` beside ``pifuhd_blender/`` (``paths.backend_root``).
"""
from __future__ import annotations

try:
    from .backend.errors import OptionsError
    from .backend.keypoints import BODY25_NAMES
    from .backend.options import Options
except ModuleNotFoundError as err:     # a development checkout: the repository's backend beside the add-on
    if not (err.name or "").endswith(".backend"):
        raise
    from backend.errors import OptionsError
    from backend.keypoints import BODY25_NAMES
    from backend.options import Options

__all__ = ["BODY25_NAMES", "Options", "OptionsError"]
