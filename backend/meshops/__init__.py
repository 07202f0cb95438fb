"""Mesh operations for game-ready avatars (pure numpy/scipy; no Blender): colour from every side,
clean-up and decimation. Meshes are :class:`backend.mesh.Mesh` in the engine's normalised cube frame
(x right, y up, z towards the camera) unless a function says otherwise.

Modules, one job each: ``topology`` (edges, adjacency, normals, watertightness), ``visibility`` (software
z-buffer, which vertices a camera sees), ``sampling`` (photos as arrays, bilinear lookups), ``color_fill``
(colour along the surface where no photo sees), ``back_photo`` (aligning a photo of the back),
``coloring`` (the colour entry point, :func:`colorize`), ``degenerate``, ``components``, ``holes``, ``smooth``, ``clean``
(the clean-up entry point), ``decimate`` (triangle budgets; quadric via fast-simplification) and
``clustering`` (its numpy fallback).

Typical use after :func:`backend.reconstruct`::

    from backend import meshops
    mesh.colors = meshops.colorize(mesh, inputs.image_1024, inputs.calib)
    mesh = meshops.clean_mesh(mesh, smooth_iterations=2)
    mesh = meshops.decimate(mesh, meshops.PRESETS["game"])
"""
from .back_photo import BackFit, align_back_photo
from .clean import clean_mesh
from .coloring import ColorResult, colorize, colorize_details
from .decimate import PRESETS, decimate, quadric_available
from .topology import is_watertight

__all__ = ["BackFit", "ColorResult", "PRESETS", "align_back_photo", "clean_mesh", "colorize",
           "colorize_details", "decimate", "is_watertight", "quadric_available"]
