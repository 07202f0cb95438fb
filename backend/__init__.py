"""PIFuHD inference, our own implementation: one photo of a person -> a coloured 3D mesh.

Public API::

    import backend
    model = backend.load_model("pifuhd.pt", device="auto")
    photo = backend.prepare_photo("photo.jpg")            # find the person, crop, remove the background
    mesh = backend.reconstruct("photo.jpg", model, inputs=photo.inputs, resolution=256)
    backend.save_mesh(mesh, "person.obj")

Data flows one way: photo -> preparation -> input transform -> networks -> occupancy field -> marching
cubes -> colours. This package never imports Blender.

The public names are loaded on first use, so light modules (``backend.errors``, ``backend.fileio``,
``backend.placement``) can be imported where torch is not installed yet (e.g. Blender before the
add-on has installed its dependencies).
"""
from __future__ import annotations

import importlib

_PUBLIC = {
    "Model": "engine", "load_model": "engine", "reconstruct": "engine",
    "Mesh": "mesh", "save_mesh": "mesh",
    "PreparedPhoto": "photo", "prepare_photo": "photo",
    "PIFuHDError": "errors", "CheckpointError": "errors", "ImageError": "errors",
    "NoPersonError": "errors", "Cancelled": "errors",
}
__all__ = list(_PUBLIC)
__version__ = "0.1.0"


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'backend' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
