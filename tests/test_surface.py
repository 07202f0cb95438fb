"""Surface extraction: grid frames, coarse-to-fine against dense, orientation, progress and cancel."""
from __future__ import annotations

import numpy as np
import pytest

from backend.errors import Cancelled
from backend.progress import Reporter
from backend.surface import (
    EvaluationCounter, index_to_cube, initial_step, marching_cubes, sample_coarse_to_fine, sample_dense,
)
from tests.support.body_field import body_occupancy, fingertips, grid_field


def sphere_field(res: int, centre, radius: float):
    def field(index):
        p = index_to_cube(index, res)
        return (1.0 / (1.0 + np.exp((np.linalg.norm(p - np.asarray(centre), axis=1) - radius) / 0.01))
                ).astype(np.float32)
    return field


def signed_volume(verts: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = (verts[faces[:, i]].astype(np.float64) for i in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def test_grid_frame_corners():
    res = 64
    corners = index_to_cube(np.array([[0, 0, 0], [res, res, res], [res // 2, 0, 0]]), res)
    # index -> image NDC is -1 + 2 i / res; the cube frame flips y (image y points down).
    np.testing.assert_array_equal(corners, [[-1, 1, -1], [1, -1, 1], [0, 1, -1]])


def test_mesh_lands_where_the_field_is_and_faces_outward():
    res, centre, radius = 64, (0.3, 0.5, -0.2), 0.25
    verts, faces = marching_cubes(sample_dense(sphere_field(res, centre, radius), res))
    np.testing.assert_allclose(verts.mean(0), centre, atol=0.01)
    np.testing.assert_allclose(np.linalg.norm(verts - centre, axis=1), radius, atol=0.01)
    assert signed_volume(verts, faces) == pytest.approx(4 / 3 * np.pi * radius ** 3, rel=0.03)


@pytest.mark.parametrize("res", [128, 100, 64])
def test_coarse_to_fine_equals_dense_on_a_body(res):
    field = grid_field(res)
    dense_count, sparse_count = EvaluationCounter(field), EvaluationCounter(field)
    dense = marching_cubes(sample_dense(dense_count, res))
    sparse = marching_cubes(sample_coarse_to_fine(sparse_count, res))
    np.testing.assert_array_equal(sparse[0], dense[0])
    np.testing.assert_array_equal(sparse[1], dense[1])
    # The thin fingers are there (every fingertip has surface within two grid cells).
    tips = np.asarray(fingertips())
    nearest = np.linalg.norm(dense[0][:, None] - tips[None], axis=2).min(0)
    assert nearest.max() < 4.0 / res
    assert sparse_count.count < dense_count.count
    if res >= 128:
        assert sparse_count.count * 20 < dense_count.count   # 2.10 M -> 87 k here (122 k before issue 12)


def test_coarse_to_fine_keeps_evaluated_values_and_every_side():
    """Evaluated points hold the field's value; the others +/-inf on the dense volume's side of the level."""
    res = 64
    field = grid_field(res)
    sparse, dense = np.asarray(sample_coarse_to_fine(field, res)), sample_dense(field, res)
    evaluated = np.isfinite(sparse)
    assert 0 < evaluated.sum() < res ** 3 / 4
    np.testing.assert_array_equal(sparse[evaluated], dense[evaluated])
    assert set(np.unique(sparse[~evaluated])) == {-np.inf, np.inf}
    np.testing.assert_array_equal(sparse > 0.5, dense > 0.5)


def blob_field(spheres, rods=(), width: float = 0.1):
    """Occupancy over grid indices: balls (centre, radius) and rods (start, end, radius), in grid units,
    with a sigmoid of the given width across the surface."""
    def field(index):
        p = np.asarray(index, np.float64)
        dist = np.full(len(p), np.inf)
        for centre, radius in spheres:
            dist = np.minimum(dist, np.linalg.norm(p - centre, axis=1) - radius)
        for a, b, radius in rods:
            a, b = np.asarray(a, float), np.asarray(b, float)
            t = np.clip((p - a) @ (b - a) / ((b - a) @ (b - a)), 0, 1)
            dist = np.minimum(dist, np.linalg.norm(p - (a + t[:, None] * (b - a)), axis=1) - radius)
        return (1 / (1 + np.exp(np.clip(dist / width, -50, 50)))).astype(np.float32)
    return field


def assert_sparse_equals_dense(field, res: int):
    sparse = sample_coarse_to_fine(field, res)
    dense = sample_dense(field, res)
    mesh, dense_mesh = marching_cubes(sparse), marching_cubes(dense)
    assert len(dense_mesh[0]) > 0
    np.testing.assert_array_equal(mesh[0], dense_mesh[0])
    np.testing.assert_array_equal(mesh[1], dense_mesh[1])
    full = np.asarray(sparse)
    np.testing.assert_array_equal(full > 0.5, dense > 0.5)
    evaluated = np.isfinite(full)
    np.testing.assert_array_equal(full[evaluated], dense[evaluated])
    return sparse


def test_stored_box_holds_blobs_far_apart_and_surface_at_the_border():
    """Coarse-to-fine stores the finest lattice over a box only: two small balls in opposite corners (one cut
    by the grid's border) need it to span the grid, and the mesh is still the dense one."""
    res = 128
    sparse = assert_sparse_equals_dense(blob_field([((-3.0, 10.0, 12.0), 14.0), ((110.0, 118.0, 100.0), 9.0)]), res)
    assert sparse.origin[0] == 0 and max(o + n for o, n in zip(sparse.origin, sparse.block.shape)) >= 118


def test_stored_box_grows_where_the_surface_leads(monkeypatch):
    """A rod thinner than the step-2 lattice's spacing (missed there) leads the finest tracking far out of the
    box of the cells split at step 2: the box grows, and the mesh is the dense one (rod included)."""
    from backend.surface import sampling
    grew = []
    room_for = sampling._Lattice.room_for

    def spy(self, points):
        larger = room_for(self, points)
        grew.append(larger is not None)
        return larger

    monkeypatch.setattr(sampling._Lattice, "room_for", spy)
    res = 128
    rod = ((40.0, 41.0, 41.0), (120.0, 41.0, 41.0), 0.7)   # axis on odd y, z: every step-2 point misses it
    sparse = assert_sparse_equals_dense(blob_field([((40.0, 42.0, 40.0), 12.0)], [rod]), res)
    assert any(grew)
    assert sparse.origin[0] + sparse.block.shape[0] > 120
    # and small where the surface is: the body's box is a fraction of the grid
    body = sample_coarse_to_fine(grid_field(res), res)
    assert body.block.size < res ** 3 / 2


def test_fingers_are_thinner_than_the_coarse_step():
    """Sanity check of the test field: sampled only on the coarsest lattice, the fingers vanish."""
    res = 128
    step = initial_step(res)
    assert step >= 4
    tips = np.asarray(fingertips())
    coarse = np.mgrid[0:res + 1:step, 0:res + 1:step, 0:res + 1:step].reshape(3, -1).T
    inside = body_occupancy(index_to_cube(coarse, res)) > 0.5
    pts = index_to_cube(coarse, res)[inside]
    near_tips = np.linalg.norm(pts[:, None] - tips[None], axis=2).min(0)
    assert near_tips.min() > 1.5 * 2.0 / res  # no coarse inside-sample near any fingertip


def test_separate_blob_found_by_the_band():
    """A small ball far from the body, smooth enough that coarse samples see its slope, is kept."""
    res = 128
    body = grid_field(res)
    ball = sphere_field(res, (0.7, 0.7, 0.0), 0.04)

    def field(index):
        return np.maximum(body(index), ball(index))

    dense = marching_cubes(sample_dense(field, res))
    sparse = marching_cubes(sample_coarse_to_fine(field, res))
    np.testing.assert_array_equal(sparse[0], dense[0])


def test_progress_is_monotonic_and_complete():
    seen = []
    sample_coarse_to_fine(grid_field(64), 64, report=Reporter(lambda f, s: seen.append(f)))
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    seen.clear()
    sample_dense(grid_field(32), 32, chunk=4096, report=Reporter(lambda f, s: seen.append(f)))
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and len(seen) == 8


@pytest.mark.parametrize("dense", [True, False])
def test_cancel_stops_after_the_current_chunk(dense):
    res, chunk = 64, 2048
    counter = EvaluationCounter(grid_field(res))
    calls = []

    def cancel():
        return len(calls) >= 3

    report = Reporter(lambda f, s: calls.append(f), cancel)
    with pytest.raises(Cancelled):
        if dense:
            sample_dense(counter, res, chunk=chunk, report=report)
        else:
            sample_coarse_to_fine(counter, res, chunk=chunk, report=report)
    assert counter.count <= 3 * chunk


def test_empty_field_gives_an_empty_mesh():
    verts, faces = marching_cubes(np.zeros((16, 16, 16), np.float32))
    assert verts.shape == (0, 3) and faces.shape == (0, 3)
