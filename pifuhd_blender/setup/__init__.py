"""Set-up of what the add-on needs at run time: its Python dependencies and the PIFuHD weights.

Logic (no bpy): :mod:`.deps` (status, pip install into the extension's user folder), :mod:`.weights`
(licence, resumable download, install from file, verification), :mod:`.jobs` (background jobs).
Blender glue: :mod:`.ui`, imported only when one of the functions below is used.

These are the hooks ``pifuhd_blender/preferences.py`` looks up here:

- ``preference_properties() -> dict``: ``accepted_licence``, ``download_urls``, ``python_path``,
  ``torch_build`` (merged into the AddonPreferences; ``model_path`` stays the preferences' own);
- ``register()`` / ``unregister()``: the operators, and the dependencies on ``sys.path``;
- ``draw_preferences(layout, prefs, context)`` (``(prefs, context, layout)`` works too);
- ``worker_environment(prefs) -> {"python": str | None, "append_paths": [...]}``;
- ``installed_model_path(prefs) -> str | None``;

plus ``missing_dependencies()``, ``site_packages_dir()`` and ``user_dir()`` for messages and tools.
"""
from __future__ import annotations

_UI_NAMES = ("preference_properties", "worker_environment", "installed_model_path", "missing_dependencies",
             "site_packages_dir", "installed_model_file", "user_dir")


def register() -> None:
    """Register the operators; put the installed dependencies on ``sys.path``."""
    from . import ui
    ui.register()


def unregister() -> None:
    """Stop running set-up jobs, unregister, and take the dependencies off ``sys.path``."""
    from . import ui
    ui.unregister()


def draw_preferences(layout, prefs, context) -> None:
    """Draw the Dependencies and Model sections into ``layout`` (``prefs``: the AddonPreferences)."""
    from . import ui
    ui.draw_preferences(layout, prefs, context)


def __getattr__(name: str):
    if name in _UI_NAMES:
        from . import ui
        return getattr(ui, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
