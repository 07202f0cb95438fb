"""PIFuHD inference, our own implementation: one photo of a person -> a coloured 3D mesh.

Public API::

    import backend
    options = backend.Options(resolution=256, cleanup=True, color_fill=True)   # checked in one place
    model = backend.load_model_for("pifuhd.pt", options)   # device, precision, network state
    result = backend.run("photo.jpg", model, options)      # find the person, crop, ..., colour, decimate
    backend.save_mesh(result.mesh, "person.obj")

Data flows one way, composed once in ``backend.pipeline``: photo -> preparation -> input transform ->
networks -> occupancy field -> marching cubes -> clean-up -> colours -> decimation. This package never
imports Blender.

The public names are loaded on first use, so light modules (``backend.errors``, ``backend.fileio``,
``backend.options``) can be imported where torch is not installed yet (e.g. Blender before the
add-on has installed its dependencies).
"""
from __future__ import annotations

import importlib

_PUBLIC = {
    "Model": "engine", "load_model": "engine",
    "Options": "options", "OptionsError": "errors", "InputSizeError": "errors",
    "run": "pipeline", "Reconstruction": "pipeline", "reconstruct": "pipeline", "load_model_for": "pipeline",
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
