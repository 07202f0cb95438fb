"""PIFuHD Reconstruct: one photo of a person -> a clothed, coloured 3D human in Blender.

View3D > Sidebar > PIFuHD, or from a script::

    bpy.context.scene.pifuhd.quality = '384'       # every setting lives on the panel (scene.pifuhd)
    bpy.ops.pifuhd.reconstruct(filepath="/photos/me.jpg", checkpoint="/models/pifuhd.pt")

The add-on is thin: the reconstruction (``backend``, bundled beside it) runs in a separate worker
process, and this package only turns the worker's arrays into a Blender object. Modules that import bpy
are imported in :func:`register`, so ``worker.py``, ``client.py`` and ``paths.py`` stay usable without
Blender.
"""

_MODULES = ("props", "preferences", "scene_object", "operators", "rig", "bake", "export", "panel")


def _modules():
    import importlib
    return [importlib.import_module(f"{__package__}.{name}") for name in _MODULES]


def register():
    for module in _modules():
        module.register()


def unregister():
    from .session import SESSION
    SESSION.shutdown()  # end the worker process with the add-on
    for module in reversed(_modules()):
        module.unregister()
