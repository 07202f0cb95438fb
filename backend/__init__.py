"""PIFuHD inference, our own implementation: one photo of a person -> a coloured 3D mesh.

Public API::

    import backend
    model = backend.load_model("pifuhd.pt", device="auto")
    mesh = backend.reconstruct("photo.jpg", model, resolution=256)
    backend.save_mesh(mesh, "person.obj")

Data flows one way: photo -> input transform -> networks -> occupancy field -> marching cubes -> colours.
This package never imports Blender.
"""
from .engine import Model, load_model, reconstruct
from .errors import Cancelled, CheckpointError, ImageError, NoPersonError, PIFuHDError
from .mesh import Mesh, save_mesh
from .photo import PreparedPhoto, prepare_photo

__all__ = [
    "Model", "load_model", "reconstruct", "Mesh", "save_mesh", "prepare_photo", "PreparedPhoto",
    "PIFuHDError", "CheckpointError", "ImageError", "NoPersonError", "Cancelled",
]
__version__ = "0.1.0"
