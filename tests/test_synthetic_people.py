"""The synthetic people generator: determinism, exact inside/outside, renders that match the geometry,
and the world -> cube map that the demo model was trained with."""
from __future__ import annotations

import numpy as np
import pytest

from backend.input_transform import default_crop, prepare_inputs
from training.bodies import Ellipsoid, Frustum, RoundCone, smooth_min
from training.dataset import cube_frame, sample_points, surface_points
from training.evaluate import components_and_closed, gt_field, mesh_occupancy
from training.people import sample_person
from training.render import HIT_TOLERANCE_PX, background, frame_camera, front_hits, normal_maps, render, render_person

SEEDS = (3, 17, 900015)


def ray_min(shape, xy: np.ndarray, step: float = 1e-3) -> np.ndarray:
    """Smallest implicit value along the camera ray through world (X, Y) [N, 2]: dense samples every
    ``step`` metres, then a golden-section search around the best sample (metres, [N])."""
    lo, hi = shape.bounds(0.01)
    zs = np.arange(lo[2], hi[2], step)
    best = np.empty(len(xy))
    zbest = np.empty(len(xy))
    for k in range(0, len(xy), 64):
        part = xy[k:k + 64]
        pts = np.concatenate([np.column_stack([part, np.full(len(part), z)]) for z in zs])
        f = shape.sdf(pts).reshape(len(zs), len(part))
        zbest[k:k + 64] = zs[f.argmin(axis=0)]
    a, b = zbest - step, zbest + step
    g = (np.sqrt(5) - 1) / 2
    for _ in range(30):
        c, d = b - g * (b - a), a + g * (b - a)
        fc = shape.sdf(np.column_stack([xy, c]))
        fd = shape.sdf(np.column_stack([xy, d]))
        left = fc < fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
    best = shape.sdf(np.column_stack([xy, 0.5 * (a + b)]))
    return best


def ray_occupied(shape, xy: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
    """Whether the camera ray through world (X, Y) [N, 2] comes within ``tolerance`` metres of the shape."""
    return ray_min(shape, xy) < tolerance


def test_same_seed_same_person_and_image():
    a, b = sample_person(42), sample_person(42)
    assert {k: v for k, v in a.meta.items()} == {k: v for k, v in b.meta.items()}
    pts = np.random.default_rng(0).uniform(-1, 2, (500, 3))
    np.testing.assert_array_equal(a.sdf(pts), b.sdf(pts))
    _, cam_a, img_a = render_person(42, 192)
    _, cam_b, img_b = render_person(42, 192)
    assert cam_a == cam_b
    np.testing.assert_array_equal(img_a, img_b)
    assert sample_person(43).meta != a.meta


def test_people_vary():
    metas = [sample_person(s).meta for s in range(40)]
    heights = [m["height_m"] for m in metas]
    assert min(heights) < 1.25 and max(heights) > 1.7
    assert {m["pose"] for m in metas} == {"arms_down", "a_pose", "t_pose", "hands_on_hips", "walking"}
    assert {"skirt", "dress", "loose_trousers"} <= {m["bottom"] for m in metas}
    assert "jacket" in {m["top"] for m in metas}
    assert max(abs(m["turn_deg"]) for m in metas) > 15


def test_primitive_signs_are_exact():
    e = Ellipsoid(np.zeros(3), np.array([1.0, 2.0, 3.0]))
    p = np.array([[0.99, 0, 0], [1.01, 0, 0], [0, 1.99, 0], [0, 2.01, 0], [0, 0, 2.99], [0, 0, 3.01]])
    assert list(e(p) < 0) == [True, False, True, False, True, False]
    c = RoundCone(np.zeros(3), np.array([0.0, 1.0, 0.0]), 0.2, 0.1)
    p = np.array([[0.19, 0, 0], [0.21, 0, 0], [0.149, 0.5, 0], [0.151, 0.5, 0], [0, 1.099, 0], [0, 1.101, 0]])
    assert list(c(p) < 0) == [True, False, True, False, True, False]
    f = Frustum(0.0, 0.0, 1.0, 0.0, 0.1, 0.3, 0.5)
    p = np.array([[0.199, 0.5, 0], [0.201, 0.5, 0], [0, 0.5, 0.099], [0, 0.5, 0.101], [0, 1.01, 0], [0, -0.01, 0]])
    assert list(f(p) < 0) == [True, False, True, False, False, False]
    a, b = np.array([-1.0, 0.0, 0.5, 2.0]), np.array([0.0, 0.01, 0.6, -1.0])
    assert (smooth_min(a, b, 0.1) <= np.minimum(a, b)).all()
    np.testing.assert_array_equal(smooth_min(a, b, 0.0), np.minimum(a, b))


@pytest.mark.parametrize("seed", SEEDS)
def test_known_points_inside_and_outside(seed):
    shape = sample_person(seed)
    H = shape.meta["height_m"]
    head = next(p.prim for p in shape.parts if p.name == "head")
    chest = next(p.prim for p in shape.parts if p.name == "chest")
    wrist = next(p.prim for p in shape.parts if p.name == "forearm+1").b
    inside_body = np.array([head.c, chest.c, wrist])
    outside_body = np.array([[0, H * 1.2, 0], [0, H * 0.5, 0.6], [0, H * 0.5, -0.6], [1.5, H * 0.5, 0]])
    assert shape.inside(shape.to_world(inside_body)).all()
    assert not shape.inside(shape.to_world(outside_body)).any()
    # the turn is a rotation about the vertical axis: world and body frames agree on the sign
    pts = np.random.default_rng(seed).uniform(-0.5, 0.5, (2000, 3)) + [0, H / 2, 0]
    np.testing.assert_allclose(shape.to_body(shape.to_world(pts)), pts, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_render_alpha_matches_projected_occupancy(seed):
    shape = sample_person(seed)
    rng = np.random.default_rng(seed)
    cam = frame_camera(shape, 256, rng)
    rgba = render(shape, cam, background(256, rng))
    alpha = rgba[:, :, 3]
    assert set(np.unique(alpha)) == {0, 255}
    ii, jj = np.nonzero(np.ones_like(alpha, bool))
    # all pixels on and near the silhouette, plus a random sample of the rest
    edge = np.zeros_like(alpha, bool)
    a = alpha > 0
    edge[1:-1, 1:-1] = (a[1:-1, 1:-1] != a[:-2, 1:-1]) | (a[1:-1, 1:-1] != a[2:, 1:-1]) \
        | (a[1:-1, 1:-1] != a[1:-1, :-2]) | (a[1:-1, 1:-1] != a[1:-1, 2:])
    pick = np.nonzero(edge.ravel())[0]
    pick = np.concatenate([pick, rng.choice(len(ii), 300, replace=False)])
    uv = np.stack([jj[pick] + 0.5, ii[pick] + 0.5], 1)
    # the renderer's definition: the pixel-centre ray meets the shape grown by HIT_TOLERANCE_PX pixel
    truth = ray_occupied(shape, cam.unproject(uv), HIT_TOLERANCE_PX / cam.ppm)
    agree = truth == a.ravel()[pick]
    assert agree.mean() > 0.995, f"{(~agree).sum()} of {len(pick)} pixels disagree"


def test_normal_maps_are_in_the_camera_frame():
    """Front normals agree with the slope of the visible surface's depth (x right, y up, z towards the
    camera: catches a flipped y or a left/right swap); back normals are those of the far side."""
    shape = sample_person(900002)
    cam = frame_camera(shape, 384, np.random.default_rng(0))
    hits = front_hits(shape, cam)
    front, back = normal_maps(shape, cam, hits)
    alpha = render(shape, cam, hits=hits)[:, :, 3] > 0
    assert ((np.abs(front).sum(-1) > 0) == alpha).all() and ((np.abs(back).sum(-1) > 0) == alpha).all()
    np.testing.assert_allclose(np.linalg.norm(front[alpha], axis=-1), 1.0, atol=1e-4)
    # depth z(u, v) of the front surface; normal ~ (-dz/dX, -dz/dY, 1) with X = u / ppm, Y = -v / ppm
    depth = np.full(alpha.shape, np.nan)
    depth[hits.ii, hits.jj] = hits.p[:, 2]
    dz_du = (depth[1:-1, 2:] - depth[1:-1, :-2]) / 2 * cam.ppm
    dz_dv = (depth[2:, 1:-1] - depth[:-2, 1:-1]) / 2 * cam.ppm
    slope = np.stack([-dz_du, dz_dv, np.ones_like(dz_du)], -1)
    slope /= np.linalg.norm(slope, axis=-1, keepdims=True)
    inner = front[1:-1, 1:-1]
    ok = np.isfinite(slope).all(-1) & (np.abs(dz_du) < 2) & (np.abs(dz_dv) < 2)   # smooth, not an edge
    assert ok.sum() > 2000
    agree = (slope[ok] * inner[ok]).sum(-1)
    assert np.percentile(agree, 10) > 0.97     # (y flipped: 0.85 at the 25th percentile)
    # the front faces the camera, the back faces away; a vertical cylinder-like body part turns its left
    # side the same way seen from either side: front and back x components go together
    assert np.median(front[alpha][:, 2]) > 0.5 and np.median(back[alpha][:, 2]) < -0.5
    assert np.corrcoef(front[alpha][:, 0], back[alpha][:, 0])[0, 1] > 0.5


def test_cube_frame_maps_network_pixels_onto_the_person():
    shape, cam, rgba = render_person(900015, 512)
    crop = default_crop(rgba)
    size = 256
    frame = cube_frame(cam, crop, size)
    # alpha through the same crop and resize as the network input
    alpha = prepare_inputs(np.dstack([rgba[:, :, 3:]] * 3 + [np.full_like(rgba[:, :, 3:], 255)]), crop, size,
                           2 * size).image_512[0, 0].numpy() > 0
    from scipy.ndimage import binary_erosion
    sure_in, sure_out = binary_erosion(alpha, iterations=2), binary_erosion(~alpha, iterations=2)
    rng = np.random.default_rng(0)
    for mask, expected in ((sure_in, True), (sure_out & np.roll(~sure_out, 3, 0), False)):
        ii, jj = np.nonzero(mask)
        k = rng.choice(len(ii), min(150, len(ii)), replace=False)
        ndc = np.stack([-1 + 2 * jj[k] / (size - 1), -1 + 2 * ii[k] / (size - 1)], 1)
        cube = np.column_stack([ndc[:, 0], -ndc[:, 1], np.zeros(len(k))])
        world = frame.to_world(cube)[:, :2]
        assert (ray_occupied(shape, world) == expected).all()
    # and the person fills PERSON_FILL of the crop: y extent in the cube is about 1.6
    surf = frame.to_cube(surface_points(shape, 3000, rng))
    assert 1.5 < max(np.ptp(surf[:, 0]), np.ptp(surf[:, 1])) < 1.65


def test_training_labels_are_exact_and_mixed():
    from training.dataset import make_example

    ex = make_example(5, 128, 256)
    shape = sample_person(5)
    pts, lab = sample_points(ex, shape, 4000, np.random.default_rng(1))
    assert pts.shape == (4000, 3) and (np.abs(pts) <= 1).all()
    assert 0.1 < lab.mean() < 0.7
    np.testing.assert_array_equal(lab > 0.5, shape.inside(ex.frame.to_world(pts.astype(np.float64))))


def test_mesh_measures_on_the_exact_surface():
    from skimage import measure

    from backend.surface.grid import index_to_cube_matrix

    shape, cam, rgba = render_person(17, 256)
    frame = cube_frame(cam, default_crop(rgba), 256)
    res = 64
    field = gt_field(shape, frame, res)
    verts, faces, _, _ = measure.marching_cubes(field, 0.0)
    m = index_to_cube_matrix(res)
    verts = verts @ m[:3, :3].T + m[:3, 3]
    occ = mesh_occupancy(verts, faces, res)
    truth = field < 0
    assert (occ & truth).sum() / (occ | truth).sum() > 0.97
    n, closed = components_and_closed(faces, len(verts))
    assert n >= 1 and isinstance(closed, bool)
    two = np.concatenate([faces, faces + len(verts)])
    assert components_and_closed(two, 2 * len(verts))[0] == 2 * n


def test_hip_probe_poses_flex_the_left_thigh_forward_and_turn_it_out():
    # the hip probes (rig_truth.HIP_POSES, benchmarks/rig_diagnosis.py --hip) turn the left thigh about the hip
    # joint: flexed, the knee comes forward (+z, body frame); turned out, it goes to the person's left (+x),
    # up by the same turn either way; the right leg and the torso stay
    from training.people import repose
    from training.rig_truth import HIP_POSES

    shape = sample_person(900130)
    rest = {k: np.asarray(v) for k, v in shape.meta["joints"].items()}
    thigh = np.linalg.norm(rest["knee+1"] - rest["hip+1"])
    for pose, axis in (("left hip flexed 60°", 2), ("left hip out 60°", 0)):
        posed = {k: np.asarray(v) for k, v in repose(shape, HIP_POSES[pose]).meta["joints"].items()}
        step = posed["knee+1"] - rest["knee+1"]
        assert step[axis] > 0.8 * np.sin(np.radians(60.0)) * thigh, pose
        assert step[1] > 0.4 * thigh, pose                      # 1 - cos 60° = 0.5 of the thigh, upwards
        assert np.allclose(posed["hip+1"], rest["hip+1"]) and np.allclose(posed["knee-1"], rest["knee-1"])
