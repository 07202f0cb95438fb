"""The bake's texture atlas helpers without Blender (pifuhd_blender/uv_atlas.py): island counting, texture
use, the smoothing charts are found on, and xatlas's charts on a closed surface (skipped without xatlas)."""
from __future__ import annotations

import numpy as np
import pytest

from pifuhd_blender import uv_atlas


def sphere(n: int = 24):
    """A closed UV sphere (vertices [V, 3], triangles [F, 3]) of radius 1."""
    theta = np.linspace(0, np.pi, n + 1)[1:-1]
    phi = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    v = np.c_[np.sin(t).ravel() * np.cos(p).ravel(), np.sin(t).ravel() * np.sin(p).ravel(), np.cos(t).ravel()]
    v = np.r_[v, [[0, 0, 1], [0, 0, -1]]]
    rows, cols = len(theta), len(phi)
    top, bottom = len(v) - 2, len(v) - 1
    faces = []
    for i in range(rows - 1):
        for j in range(cols):
            a, b = i * cols + j, i * cols + (j + 1) % cols
            c, d = a + cols, b + cols
            faces += [(a, c, b), (b, c, d)]
    for j in range(cols):
        faces += [(top, j, (j + 1) % cols), (bottom, (rows - 1) * cols + (j + 1) % cols, (rows - 1) * cols + j)]
    return v, np.array(faces)


def test_islands_are_joined_by_shared_uvs_only():
    faces = np.array([[0, 1, 2], [2, 1, 3]])
    shared = np.array([[[0, 0], [1, 0], [0, 1]], [[0, 1], [1, 0], [1, 1]]], float)
    assert uv_atlas.uv_islands(faces, shared) == 1
    cut = shared.copy()
    cut[1] += 2.0                     # same vertices, other UVs: a seam along the shared edge
    assert uv_atlas.uv_islands(faces, cut) == 2


def test_texture_use_counts_covered_texels():
    half = np.array([[[0, 0], [1, 0], [0, 1]]], float)
    assert uv_atlas.texture_use(half, 64) == pytest.approx(0.5, abs=0.02)
    full = np.r_[half, [[[1, 0], [1, 1], [0, 1]]]]
    assert uv_atlas.texture_use(full, 64) == 1.0
    assert uv_atlas.texture_use(full * 0.5, 64) == pytest.approx(0.25, abs=0.01)


def test_smoothing_removes_noise_and_keeps_the_shape():
    v, f = sphere()
    noisy = v + np.random.default_rng(0).normal(0, 0.02, v.shape)
    smooth = uv_atlas.smoothed(noisy, f, 10)
    r = np.linalg.norm(smooth - smooth.mean(axis=0), axis=1)
    assert r.std() < 0.5 * np.linalg.norm(noisy, axis=1).std()
    assert 0.8 < r.mean() <= 1.0
    assert np.array_equal(uv_atlas.smoothed(v, f, 0), v)


@pytest.mark.skipif(not uv_atlas.available(), reason="xatlas is not installed")
def test_atlas_uvs_cover_the_texture_without_overlaps():
    v, f = sphere()
    v = v + np.random.default_rng(1).normal(0, 0.01, v.shape)     # marching-cubes-like roughness
    uv = uv_atlas.atlas_uvs(v, f, 256, padding=2)
    assert uv.shape == (len(f), 3, 2) and uv.min() >= 0.0 and uv.max() <= 1.0
    assert uv_atlas.uv_islands(f, uv) <= 8                       # a few charts, not one per face
    # no two triangles on the same texels: the summed areas equal the covered area (up to rasterisation)
    e1, e2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    area = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]).sum()
    assert uv_atlas.texture_use(uv, 512) == pytest.approx(area, rel=0.05)
    assert area > 0.4
