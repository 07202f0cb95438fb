"""Putting the engine's mesh into a 3D scene (Blender's conventions): frame, real-world size, floor, colours.

Pure numpy, no bpy: the add-on imports it inside Blender (where torch is never imported), and tests use it
without Blender. The engine returns cube-frame data only; this module is the add-on's step into the scene.

Frames
------
*Normalised cube* (what ``backend.pipeline.run`` returns): x to the person's left as seen in the photo
(image right), y up, z towards the camera, all within [-1, 1].

*Blender world*: Z up, and Blender's front view (numpad 1) looks along +Y, so something that faces the
viewer of the front view faces -Y. The mapping that stands the person up and turns them towards the front
view is::

    X = x        (image right stays screen right in the front view)
    Y = -z       (towards the camera becomes towards the front viewer, -Y)
    Z = y        (up stays up)

:data:`CUBE_TO_BLENDER` is that matrix. Its determinant is +1 (a proper rotation, no mirror), so faces that
wind counter-clockwise seen from outside still do, and normals still point outwards.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Rows give Blender X, Y, Z in terms of cube x, y, z: ``blender = CUBE_TO_BLENDER @ cube``.
CUBE_TO_BLENDER = np.array([[1.0, 0.0, 0.0],
                            [0.0, 0.0, -1.0],
                            [0.0, 1.0, 0.0]])

DEFAULT_HEIGHT = 1.75  # metres: a plausible adult when the user gives no height


class PlacementError(ValueError):
    """The mesh cannot be placed (empty, or with no height); the message says so in user terms."""


@dataclass(frozen=True)
class Placement:
    """The similarity transform applied: ``world = scale * (CUBE_TO_BLENDER @ cube) + offset``."""

    scale: float
    offset: tuple[float, float, float]
    source_height: float  # the mesh's height in cube units, before scaling

    def matrix(self) -> np.ndarray:
        """The same transform as a 4x4 matrix (cube frame -> Blender world), e.g. for other cube-frame data."""
        m = np.eye(4)
        m[:3, :3] = self.scale * CUBE_TO_BLENDER
        m[:3, 3] = self.offset
        return m

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Other cube-frame points [N, 3] (e.g. body keypoints at z = 0) -> the same Blender world frame as the
        placed mesh, float64 [N, 3]."""
        return cube_to_blender(points) * self.scale + np.asarray(self.offset)


def cube_to_blender(points: np.ndarray) -> np.ndarray:
    """Points [N, 3] in the normalised cube frame -> the same points in Blender's axes (no scaling)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    return pts @ CUBE_TO_BLENDER.T


def place_in_scene(vertices: np.ndarray, target_height: float = DEFAULT_HEIGHT,
                   center: tuple[float, float] = (0.0, 0.0), floor: float = 0.0) -> tuple[np.ndarray, Placement]:
    """Stand the person up in Blender's frame at real-world size.

    vertices: [V, 3] in the normalised cube frame. Returns (float32 [V, 3] world coordinates, the transform):
    rotated by :data:`CUBE_TO_BLENDER`, scaled uniformly so the height (Z extent) equals ``target_height``
    metres, lifted so the lowest point lies on z = ``floor``, and moved so the centre of the X/Y bounding box
    lies on ``center`` (e.g. the 3D cursor's x, y).
    """
    if not np.isfinite(target_height) or target_height <= 0:
        raise PlacementError(f"The target height must be a positive number of metres (got {target_height}).")
    pts = cube_to_blender(vertices)
    if len(pts) == 0:
        raise PlacementError("The reconstruction is empty: no surface was found in this photo.")
    if not np.isfinite(pts).all():
        raise PlacementError("The reconstruction has invalid (non-finite) coordinates.")
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    height = float(hi[2] - lo[2])
    if height <= 1e-9:
        raise PlacementError("The reconstruction is flat (it has no height), so it cannot be scaled.")
    scale = float(target_height) / height
    mid = (lo + hi) / 2.0
    offset = np.array([float(center[0]) - scale * mid[0],
                       float(center[1]) - scale * mid[1],
                       float(floor) - scale * lo[2]])
    world = pts * scale + offset
    return world.astype(np.float32), Placement(scale, tuple(float(v) for v in offset), height)


def srgb_to_linear(colors: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] (the engine's vertex colours) -> linear values, as Blender's float
    colour attributes store them (the IEC 61966-2-1 curve)."""
    c = np.clip(np.asarray(colors, dtype=np.float32), 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def rgba(colors: np.ndarray) -> np.ndarray:
    """[V, 3] colours -> [V, 4] with alpha 1 (the layout of Blender's colour attributes)."""
    c = np.asarray(colors, dtype=np.float32).reshape(-1, 3)
    return np.concatenate([c, np.ones((len(c), 1), np.float32)], axis=1)


def linear_to_srgb(values: np.ndarray) -> np.ndarray:
    """Linear values in [0, 1] -> sRGB-encoded values (the inverse of :func:`srgb_to_linear`)."""
    c = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1.0 / 2.4) - 0.055).astype(np.float32)


def image_pixels_to_photo(pixels: np.ndarray, width: int, height: int, channels: int,
                          linear: bool = False) -> np.ndarray:
    """A scene image's flat float pixels (rows from the BOTTOM up, as Blender stores them) -> a photo array
    uint8 [H, W, 3|4] with rows from the top, as the engine reads photos. ``linear``: the values are linear
    light (float images in a linear colour space) and are encoded to sRGB first; alpha is never encoded."""
    px = np.asarray(pixels, dtype=np.float32).reshape(height, width, channels)[::-1]
    if channels == 1:
        px = np.repeat(px, 3, axis=2)
    elif channels == 2:
        px = np.concatenate([np.repeat(px[:, :, :1], 3, axis=2), px[:, :, 1:]], axis=2)
    px = px[:, :, :4].copy()
    if linear:
        px[:, :, :3] = linear_to_srgb(px[:, :, :3])
    return np.clip(px * 255.0 + 0.5, 0, 255).astype(np.uint8)
