"""Decimation to a triangle budget: count within 5 %, colours kept, shape within a small Hausdorff distance.

Hausdorff distance is estimated from 20k area-uniform surface samples of each mesh against the other's
samples (cKDTree both ways); bounds are relative to the bounding box diagonal (~2.0 cube units here).
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from backend.mesh import Mesh
from backend.meshops import PRESETS, decimate, quadric_available
from backend.meshops.topology import face_areas
from tests.support import meshes as M

METHODS = [pytest.param("quadric", marks=pytest.mark.skipif(not quadric_available(),
                                                             reason="fast-simplification not installed")),
           "cluster"]
HAUSDORFF = {"quadric": 0.015, "cluster": 0.02}  # share of the bbox diagonal; measured 0.009-0.010 for both
# (mostly the 20k-sample spacing, ~0.0066 of the diagonal)


@pytest.fixture(scope="module")
def figure() -> Mesh:
    v, f = M.figure_mesh(0.008)                  # ~40k vertices, ~80k faces
    return Mesh(v, f, M.figure_albedo(v).astype(np.float32))


def surface_samples(mesh: Mesh, n: int = 20_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    area = face_areas(mesh.vertices, mesh.faces)
    tri = mesh.vertices[mesh.faces[rng.choice(len(area), n, p=area / area.sum())]].astype(np.float64)
    u, w = rng.random((2, n, 1))
    flip = (u + w) > 1
    u, w = np.where(flip, 1 - u, u), np.where(flip, 1 - w, w)
    return tri[:, 0] + u * (tri[:, 1] - tri[:, 0]) + w * (tri[:, 2] - tri[:, 0])


def hausdorff(a: Mesh, b: Mesh) -> float:
    pa, pb = surface_samples(a), surface_samples(b, seed=1)
    return max(cKDTree(pb).query(pa)[0].max(), cKDTree(pa).query(pb)[0].max())


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", [10_000, 30_000])
def test_decimation_hits_the_budget_and_keeps_shape_and_colour(figure, method, target):
    out = decimate(figure, target, method=method)
    assert abs(len(out.faces) - target) <= 0.05 * target, len(out.faces)
    assert out.info["decimation"]["method"] == method
    diag = float(np.linalg.norm(figure.vertices.max(0) - figure.vertices.min(0)))
    h = hausdorff(figure, out) / diag
    assert h < HAUSDORFF[method], f"Hausdorff {h:.4f} of the diagonal"
    # colours: each decimated vertex against the nearest original vertex's colour
    _, idx = cKDTree(figure.vertices).query(out.vertices)
    err = np.linalg.norm(out.colors - figure.colors[idx], axis=1)
    assert np.median(err) < 0.02 and (err < 0.1).mean() > 0.9, (np.median(err), (err < 0.1).mean())
    assert out.signed_volume() == pytest.approx(figure.signed_volume(), rel=0.03)


def test_presets_and_small_meshes():
    assert PRESETS == {"mobile": 10_000, "game": 30_000, "high": 100_000, "full": None}
    v, f = M.sphere_mesh(0.5, 0.1)
    mesh = Mesh(v, f, np.full_like(v, 0.5))
    assert decimate(mesh, "full") is mesh and decimate(mesh, "game") is mesh   # already within budget
    with pytest.raises(ValueError, match="preset"):
        decimate(mesh, "huge")
