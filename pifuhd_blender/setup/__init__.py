"""Set-up of what the add-on needs at run time: its Python dependencies and the PIFuHD weights.

Logic (no bpy): :mod:`.deps` (status, pip install into the extension's user folder), :mod:`.weights`
(licence, resumable download, install from file, verification), :mod:`.jobs` (background jobs).
Blender glue: :mod:`.ui`. ``pifuhd_blender/preferences.py`` uses the names below: the preference
properties merged into the AddonPreferences, the operators' registration, the preferences' Dependencies and
Model sections, how to start the worker, and where the installed model is.
"""
from __future__ import annotations

from .ui import (draw_preferences, installed_model_file, installed_model_path, missing_dependencies,
                 preference_properties, register, site_packages_dir, unregister, user_dir, worker_environment)

__all__ = ["draw_preferences", "installed_model_file", "installed_model_path", "missing_dependencies",
           "preference_properties", "register", "site_packages_dir", "unregister", "user_dir",
           "worker_environment"]
