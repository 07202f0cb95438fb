"""Photo-pixel keypoints -> the normalised cube frame (backend/keypoints.py), checked against the pipeline's
own conventions: the crop + cv2.resize of the input transform, grid_sample(align_corners=True), and the
projection that colours the mesh."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from backend.keypoints import cube_to_photo, photo_to_cube


def test_crop_centre_is_the_origin_and_axes_point_right_and_up():
    crop = (100, 40, 600)
    kp = np.array([[400.0, 340.0, 0.9],      # the crop's centre
                   [100.0, 340.0, 0.5],      # its left edge (half a pixel outside the first pixel centre)
                   [400.0, 40.0, 0.7]])      # its top edge
    cube = photo_to_cube(kp, crop)
    assert np.allclose(cube[0, :2], 0.0, atol=1e-12)
    assert cube[1, 0] == pytest.approx(-1.0 - 1.0 / 1023) and cube[1, 1] == pytest.approx(0.0)
    assert cube[2, 1] == pytest.approx(1.0 + 1.0 / 1023)            # photo y down -> cube y up
    assert np.array_equal(cube[:, 2], kp[:, 2])                     # confidences pass through


def test_round_trip_and_bad_values():
    crop = (-37, 12, 777)
    rng = np.random.default_rng(0)
    kp = np.c_[rng.uniform(-50, 900, (25, 2)), rng.uniform(0, 1, 25)]
    for size in (512, 1024):
        back = cube_to_photo(photo_to_cube(kp, crop, size), crop, size)
        assert np.allclose(back, kp[:, :2], atol=1e-9)
    kp[3] = (np.nan, 10.0, 0.8)
    out = photo_to_cube(kp, crop)
    assert np.array_equal(out[3], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError):
        photo_to_cube(kp, (0, 0, 0))


@pytest.mark.parametrize("size, crop", [(1024, (37, -20, 700)), (512, (37, -20, 700)), (1024, (-60, 15, 1500))])
def test_matches_the_input_transform_and_grid_sample(size, crop):
    """A photo whose pixels hold their own centre coordinates (a linear ramp, which bilinear resizing and
    sampling reproduce exactly) goes through the input transform's crop + cv2.resize; sampling it the way the
    networks do at the mapped keypoint returns the keypoint's photo coordinates."""
    import torch
    from backend.input_transform import crop_square
    from backend.networks import sample_features

    width, height = 800, 900
    cols, rows = np.meshgrid(np.arange(width, dtype=np.float32) + 0.5, np.arange(height, dtype=np.float32) + 0.5)
    photo = np.dstack([cols, rows, np.zeros_like(cols)])
    window = cv2.resize(crop_square(photo, crop), (size, size))      # as prepare_inputs makes image_1024
    image = torch.from_numpy(window).permute(2, 0, 1)[None]
    rng = np.random.default_rng(1)
    x, y, side = crop
    margin = 3.0 * side / size + 2
    px = rng.uniform(max(x, 0) + margin, min(x + side, width) - margin, 50)
    py = rng.uniform(max(y, 0) + margin, min(y + side, height) - margin, 50)
    cube = photo_to_cube(np.c_[px, py, np.ones(50)], crop, size)
    ndc = torch.from_numpy(np.stack([cube[:, 0], -cube[:, 1]]).astype(np.float32))[None]   # cube -> image NDC
    sampled = sample_features(image, ndc)[0].numpy()
    assert np.abs(sampled[0] - px).max() < 0.02
    assert np.abs(sampled[1] - py).max() < 0.02


def test_mapped_keypoint_has_the_photo_colour_at_that_point():
    """The engine colours a cube point (x, y, z) with the photo colour it projects onto; a keypoint mapped to
    the cube must get the colour of the photo at the keypoint (quadrants of four colours)."""
    import torch
    from backend.colors import vertex_colors
    from backend.input_transform import prepare_inputs

    photo = np.zeros((600, 500, 3), np.uint8)
    photo[:300, :250] = (255, 0, 0)
    photo[:300, 250:] = (0, 255, 0)
    photo[300:, :250] = (0, 0, 255)
    photo[300:, 250:] = (255, 255, 0)
    crop = (-50, 0, 600)
    inputs = prepare_inputs(photo, crop, 512, 1024)
    kp = np.array([[100.0, 100.0, 1], [400.0, 120.0, 1], [120.0, 500.0, 1], [420.0, 480.0, 1]])
    cube = photo_to_cube(kp, crop)
    points = np.c_[cube[:, :2], np.zeros(4)].astype(np.float32)
    colours = vertex_colors(points, inputs.image_1024, inputs.calib)
    expected = np.array([(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0)], np.float32)
    assert np.abs(colours - expected).max() < 0.02
    assert torch.is_tensor(inputs.image_1024)


def test_placement_apply_maps_other_points_like_the_mesh():
    """Keypoints travel to Blender with the mesh's own transform (placement.Placement.apply)."""
    from pifuhd_blender.placement import place_in_scene
    rng = np.random.default_rng(2)
    verts = rng.uniform(-0.8, 0.8, (200, 3)).astype(np.float32)
    world, transform = place_in_scene(verts, 1.8, center=(0.3, -0.2))
    assert np.allclose(transform.apply(verts), world, atol=1e-5)
    nose = transform.apply([[0.0, 0.5, 0.0]])[0]
    assert nose[1] == pytest.approx(transform.offset[1])          # no depth: on the placement's Y origin
    assert nose[2] == pytest.approx(transform.scale * 0.5 + transform.offset[2])
