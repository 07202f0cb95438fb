"""Where the add-on's parts live, without bpy: the backend package beside it, and the placement module.

In the built extension the backend is bundled as ``<add-on>/backend``; in a development checkout it is
the repository's ``backend/`` next to ``pifuhd_blender/``.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ADDON_DIR = Path(__file__).resolve().parent
_PLACEMENT_MODULE = "pifuhd_blender_placement"


def backend_root() -> Path:
    """The folder that holds the ``backend`` package (goes on the worker's PYTHONPATH)."""
    if (ADDON_DIR / "backend" / "__init__.py").is_file():
        return ADDON_DIR
    return ADDON_DIR.parent


def load_placement():
    """``backend/placement.py`` loaded on its own: pure numpy, so Blender never imports torch through
    ``backend/__init__.py``."""
    module = sys.modules.get(_PLACEMENT_MODULE)
    path = backend_root() / "backend" / "placement.py"
    if module is not None and Path(module.__file__) == path:
        return module
    spec = importlib.util.spec_from_file_location(_PLACEMENT_MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[_PLACEMENT_MODULE] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module
