"""The triangle mesh the engine returns, and writing it to OBJ / PLY files atomically."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .fileio import atomic_write


@dataclass
class Mesh:
    """A coloured triangle mesh.

    vertices: [V, 3] float32, in the frame named by ``frame`` (the engine returns the normalised cube:
    x right, y up, z towards the camera, within [-1, 1]); faces: [F, 3] int32, counter-clockwise seen from
    outside (positive signed volume); colors: [V, 3] float32 in [0, 1], sRGB-encoded values from the photo.
    """

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray
    frame: str = "normalised_cube"
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.vertices = np.ascontiguousarray(self.vertices, dtype=np.float32).reshape(-1, 3)
        self.faces = np.ascontiguousarray(self.faces, dtype=np.int32).reshape(-1, 3)
        self.colors = np.ascontiguousarray(self.colors, dtype=np.float32).reshape(-1, 3)

    @property
    def is_empty(self) -> bool:
        return len(self.faces) == 0

    def signed_volume(self) -> float:
        """Volume enclosed (positive when faces point outward); exact for closed meshes."""
        v = self.vertices.astype(np.float64)
        a, b, c = v[self.faces[:, 0]], v[self.faces[:, 1]], v[self.faces[:, 2]]
        return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _colour_bytes(colors: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(colors * 255.0), 0, 255).astype(np.uint8)


def write_obj(mesh: Mesh, path: Path) -> None:
    """Wavefront OBJ with per-vertex colours as the common ``v x y z r g b`` extension (1-based faces)."""
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        fh.write("# PIFuHD reconstruction; vertex colours are sRGB in [0, 1]\n")
        np.savetxt(fh, np.hstack([mesh.vertices, mesh.colors]), fmt="v %.6f %.6f %.6f %.4f %.4f %.4f")
        np.savetxt(fh, mesh.faces + 1, fmt="f %d %d %d")


def read_obj(path: str | os.PathLike) -> Mesh:
    """A mesh from an OBJ file as :func:`write_obj` writes them (``v x y z [r g b]``, triangles ``f a b c``
    with optional ``/vt/vn`` parts, 1-based); colours default to mid grey where the file has none."""
    verts, faces = [], []
    with open(path, encoding="ascii", errors="replace") as fh:
        for line in fh:
            if line.startswith("v "):
                values = [float(x) for x in line.split()[1:7]]
                verts.append(values + [0.5] * (6 - len(values)) if len(values) < 6 else values)
            elif line.startswith("f "):
                faces.append([int(x.split("/")[0]) - 1 for x in line.split()[1:4]])
    v = np.asarray(verts, np.float32).reshape(-1, 6)
    return Mesh(v[:, :3].copy(), np.asarray(faces, np.int64).reshape(-1, 3), v[:, 3:6].copy())


def write_ply(mesh: Mesh, path: Path) -> None:
    """Binary little-endian PLY with uchar RGB per vertex."""
    vdtype = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"), ("b", "u1")])
    verts = np.empty(len(mesh.vertices), dtype=vdtype)
    for i, axis in enumerate("xyz"):
        verts[axis] = mesh.vertices[:, i]
    rgb = _colour_bytes(mesh.colors)
    for i, ch in enumerate("rgb"):
        verts[ch] = rgb[:, i]
    fdtype = np.dtype([("n", "u1"), ("i", "<i4", (3,))])
    faces = np.empty(len(mesh.faces), dtype=fdtype)
    faces["n"] = 3
    faces["i"] = mesh.faces
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment PIFuHD reconstruction\n"
        f"element vertex {len(verts)}\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\n"
        f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    with open(path, "wb") as fh:
        fh.write(header.encode("ascii"))
        fh.write(verts.tobytes())
        fh.write(faces.tobytes())


WRITERS = {".obj": write_obj, ".ply": write_ply}


def save_mesh(mesh: Mesh, path: str | os.PathLike) -> Path:
    """Write ``mesh`` to ``path`` (.obj or .ply); the file appears complete or not at all."""
    path = Path(path)
    writer = WRITERS.get(path.suffix.lower())
    if writer is None:
        raise ValueError(f"unsupported mesh format {path.suffix!r}: use .obj or .ply")
    with atomic_write(path) as tmp:
        writer(mesh, tmp)
    return path
