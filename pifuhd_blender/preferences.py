"""Add-on preferences (Edit > Preferences > Add-ons > PIFuHD) and the set-up hooks.

This module owns the preferences class: the model path and the worker's memory setting. Installing the
Python dependencies and the model is the ``setup`` sub-package's job (``setup/ui.py`` is its Blender side):
its preference properties are merged into the class, it draws its sections below ours, registers its
operators after ours, and says how to start the worker and where the installed model is.
"""
from __future__ import annotations

import os
import sys

import bpy
from bpy.props import BoolProperty, StringProperty

from . import paths
from . import setup

ADDON = __package__
WEIGHTS_LICENSE = "CC BY-NC 4.0"


def get_preferences(context=None):
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON)
    return addon.preferences if addon is not None else None


def resolve_checkpoint(context, override: str = "") -> tuple[str | None, str | None]:
    """(model path, None) or (None, what the user should do). ``override``: the operator's checkpoint."""
    if override:
        path = bpy.path.abspath(override)
        if os.path.isfile(path):
            return path, None
        return None, (f"Model file not found: {path}. Check the checkpoint path, or leave it empty to use "
                      "the model set in the add-on's preferences.")
    prefs = get_preferences(context)
    if prefs is not None and prefs.model_path:
        path = bpy.path.abspath(prefs.model_path)
        if os.path.isfile(path):
            return path, None
        return None, (f"Model file not found: {path}. Fix the model path in Edit > Preferences > Add-ons > "
                      "PIFuHD, or clear it to use the installed model.")
    path = setup.installed_model_path(prefs)
    if path and os.path.isfile(path):
        return path, None
    return None, ("No PIFuHD model is installed. Open Edit > Preferences > Add-ons > PIFuHD and use "
                  "Download Model or Install from File (or set the model file there).")


def worker_environment(context=None) -> dict:
    """How to start the worker: ``python`` (interpreter), ``prepend`` (the backend's folder, first on its
    ``sys.path``) and ``append`` (folders after it: the installed dependencies)."""
    spec = {"python": sys.executable, "prepend": [str(paths.backend_root())], "append": []}
    prefs = get_preferences(context)
    extra = setup.worker_environment(prefs)
    spec["python"] = extra["python"] or spec["python"]
    spec["append"] += [str(p) for p in extra["append_paths"]]
    return spec


def _draw(self, context) -> None:
    layout = self.layout
    box = layout.box()
    box.label(text="Model", icon='FILE_3D')
    box.prop(self, "model_path")
    if not self.model_path:
        path, _problem = resolve_checkpoint(context)
        box.label(text=f"Using: {path}" if path else "No model installed yet: download it or install it "
                                                      "from a file below.")
    row = box.row()
    row.prop(self, "keep_model_loaded")
    row.operator("pifuhd.free_memory", icon='X')
    setup.draw_preferences(layout, self, context)  # dependencies, licence, download / install from file


def make_preferences_class() -> type:
    """The preferences class, with the set-up modules' properties merged in."""
    annotations = {
        "model_path": StringProperty(
            name="Model File", subtype='FILE_PATH',
            description="The PIFuHD checkpoint (pifuhd.pt). Empty: the model installed with Download Model "
                        "or Install from File"),
        "keep_model_loaded": BoolProperty(
            name="Keep Model Loaded", default=True,
            description="Keep the reconstruction process and its model in memory between runs (the next run "
                        "starts faster); off: free the memory after each run"),
    }
    annotations.update(setup.preference_properties())
    return type("PIFUHD_AP_preferences", (bpy.types.AddonPreferences,),
                {"bl_idname": ADDON, "__annotations__": annotations, "draw": _draw})


_registered: list = []


def register() -> None:
    cls = make_preferences_class()
    bpy.utils.register_class(cls)
    _registered.append(cls)
    setup.register()


def unregister() -> None:
    setup.unregister()
    while _registered:
        bpy.utils.unregister_class(_registered.pop())
