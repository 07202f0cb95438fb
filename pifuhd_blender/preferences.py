"""Add-on preferences (Edit > Preferences > Add-ons > PIFuHD) and the set-up hooks.

This module owns the preferences class: the model path and the worker's memory setting. Installing the
Python dependencies and the model is the ``setup`` sub-package's job. It plugs in through optional
functions, looked up in ``setup/__init__.py``, ``setup/deps.py`` and ``setup/weights.py`` (whichever exist;
none is imported when this module loads, and a missing one is simply skipped):

- ``register()`` / ``unregister()``: their own classes (operators), called after / before ours;
- ``preference_properties() -> dict``: extra preference properties, name -> ``bpy.props`` definition;
- ``draw_preferences(prefs, context, layout)``: their part of the preferences panel;
- ``worker_environment(prefs) -> dict``: how to start the reconstruction worker, keys (all optional)
  ``python`` (interpreter path), ``append_paths`` (folders after ``sys.path``, e.g. the installed
  dependencies), ``env`` (the whole environment for the process);
- ``installed_model_path(prefs) -> str | None``: the model installed by Download / Install from file.
"""
from __future__ import annotations

import importlib
import os
import sys

import bpy
from bpy.props import BoolProperty, StringProperty

from . import paths

ADDON = __package__
SETUP_MODULES = ("setup", "setup.deps", "setup.weights")
WEIGHTS_LICENSE = "CC BY-NC 4.0"


def setup_modules() -> list:
    """The set-up modules that exist in this build (a module that is absent is skipped)."""
    found = []
    for name in SETUP_MODULES:
        full = f"{ADDON}.{name}"
        try:
            found.append(importlib.import_module(full))
        except ModuleNotFoundError as err:
            if err.name not in (full, f"{ADDON}.setup"):
                raise  # their module exists but is broken: show it, don't hide it
    return found


def setup_hooks(name: str) -> list:
    return [getattr(m, name) for m in setup_modules() if callable(getattr(m, name, None))]


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
    for hook in setup_hooks("installed_model_path"):
        path = hook(prefs)
        if path and os.path.isfile(path):
            return str(path), None
    return None, ("No PIFuHD model is installed. Open Edit > Preferences > Add-ons > PIFuHD and use "
                  "Download Model or Install from File (or set the model file there).")


def worker_environment(context=None) -> dict:
    """How to start the worker: interpreter, sys.path folders and environment (see the module docstring)."""
    spec = {"python": sys.executable, "prepend": [str(paths.backend_root())], "append": [], "env": None}
    prefs = get_preferences(context)
    for hook in setup_hooks("worker_environment"):
        extra = hook(prefs) or {}
        spec["python"] = extra.get("python") or spec["python"]
        spec["append"] += [str(p) for p in extra.get("append_paths", ())]
        spec["env"] = extra.get("env", spec["env"])
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
    hooks = setup_hooks("draw_preferences")
    for hook in hooks:
        hook(self, context, layout)  # dependencies, licence, download / install from file
    if not hooks:
        box.label(text=f"The PIFuHD weights are licensed {WEIGHTS_LICENSE}: non-commercial use only.",
                  icon='INFO')
        layout.label(text="The dependency installer and model download are not part of this build.",
                     icon='ERROR')


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
    for hook in setup_hooks("preference_properties"):
        annotations.update(hook())
    return type("PIFUHD_AP_preferences", (bpy.types.AddonPreferences,),
                {"bl_idname": ADDON, "__annotations__": annotations, "draw": _draw})


_registered: list = []


def register() -> None:
    cls = make_preferences_class()
    bpy.utils.register_class(cls)
    _registered.append(cls)
    for hook in setup_hooks("register"):
        hook()


def unregister() -> None:
    for hook in reversed(setup_hooks("unregister")):
        hook()
    while _registered:
        bpy.utils.unregister_class(_registered.pop())
