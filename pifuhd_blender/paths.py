"""Where the add-on's parts live, without bpy: the backend package beside it.

In the built extension the backend is bundled as ``<add-on>/backend``; in a development checkout it is
the repository's ``backend/`` next to ``pifuhd_blender/``.
"""
from __future__ import annotations

from pathlib import Path

ADDON_DIR = Path(__file__).resolve().parent


def backend_root() -> Path:
    """The folder that holds the ``backend`` package (goes on the worker's PYTHONPATH)."""
    if (ADDON_DIR / "backend" / "__init__.py").is_file():
        return ADDON_DIR
    return ADDON_DIR.parent
