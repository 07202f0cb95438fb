"""The cube -> Blender placement: axes, handedness, size, floor and centre (pure numpy, no bpy)."""
from __future__ import annotations

import numpy as np
import pytest

from pifuhd_blender.placement import (CUBE_TO_BLENDER, PlacementError, cube_to_blender, image_pixels_to_photo,
                               linear_to_srgb, place_in_scene, rgba, srgb_to_linear)


def box_mesh(lo=(-0.3, -0.9, -0.2), hi=(0.3, 0.8, 0.25)):
    """A closed box with outward counter-clockwise faces, in cube coordinates."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], float)
    verts = lo + corners * (hi - lo)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))], np.int32)
    return verts.astype(np.float32), faces


def signed_volume(verts, faces):
    v = verts.astype(np.float64)
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def test_axes_named_mapping():
    # cube x (image right) -> Blender +X; cube y (up) -> Blender +Z; cube +z (towards the camera) -> Blender -Y
    assert np.allclose(cube_to_blender([[1, 0, 0]]), [[1, 0, 0]])
    assert np.allclose(cube_to_blender([[0, 1, 0]]), [[0, 0, 1]])
    assert np.allclose(cube_to_blender([[0, 0, 1]]), [[0, -1, 0]])


def test_mapping_is_a_proper_rotation():
    assert np.allclose(CUBE_TO_BLENDER @ CUBE_TO_BLENDER.T, np.eye(3))
    assert np.isclose(np.linalg.det(CUBE_TO_BLENDER), 1.0)


def test_face_side_ends_towards_minus_y():
    """A 'nose' vertex in front of the body (cube +z) must end on the -Y side of the placed body."""
    verts, _ = box_mesh()
    nose = np.array([[0.0, 0.6, 0.45]], np.float32)      # in front of the box, at head height
    world, _ = place_in_scene(np.vstack([verts, nose]), 1.75)
    body_y = world[:-1, 1]
    assert world[-1, 1] < body_y.min() - 1e-6
    assert world[-1, 2] > np.median(world[:-1, 2])        # and it stays high up: the head is on top


def test_winding_kept():
    verts, faces = box_mesh()
    assert signed_volume(verts, faces) > 0
    world, _ = place_in_scene(verts, 1.8)
    assert signed_volume(world, faces) > 0


@pytest.mark.parametrize("target", [0.5, 1.75, 2.1])
def test_height_floor_and_centre(target):
    verts, _ = box_mesh()
    world, placement = place_in_scene(verts, target, center=(1.5, -2.0))
    assert world.dtype == np.float32
    assert abs((world[:, 2].max() - world[:, 2].min()) - target) < 1e-5
    assert abs(world[:, 2].min()) < 1e-6
    centre = (world[:, :2].min(axis=0) + world[:, :2].max(axis=0)) / 2
    assert np.allclose(centre, [1.5, -2.0], atol=1e-5)
    assert np.isclose(placement.source_height, 1.7)


def test_placement_matrix_matches_points():
    verts, _ = box_mesh()
    world, placement = place_in_scene(verts, 1.75, center=(0.2, 0.3), floor=0.1)
    homog = np.hstack([verts, np.ones((len(verts), 1))]) @ placement.matrix().T
    assert np.allclose(homog[:, :3], world, atol=1e-5)
    assert abs(world[:, 2].min() - 0.1) < 1e-6


@pytest.mark.parametrize("verts, height", [
    (np.zeros((0, 3), np.float32), 1.75),                        # empty
    (np.array([[0, 0.5, 0], [1, 0.5, 1]], np.float32), 1.75),    # flat: no height
    (np.array([[0, 0, 0], [0, np.nan, 0]], np.float32), 1.75),   # not finite
    (box_mesh()[0], 0.0),                                        # bad target
])
def test_unplaceable_input_gives_clear_error(verts, height):
    with pytest.raises(PlacementError):
        place_in_scene(verts, height)


def test_colours_to_linear_rgba():
    lin = srgb_to_linear(np.array([[0.0, 0.5, 1.0]], np.float32))
    assert np.allclose(lin, [[0.0, 0.21404, 1.0]], atol=1e-4)
    out = rgba(lin)
    assert out.shape == (1, 4) and out[0, 3] == 1.0 and out.dtype == np.float32


def test_linear_srgb_round_trip():
    x = np.linspace(0, 1, 101, dtype=np.float32)
    assert np.allclose(srgb_to_linear(linear_to_srgb(x)), x, atol=1e-5)


def test_scene_image_pixels_become_a_top_down_photo():
    # 2x3 RGBA image whose bottom row (Blender's first row) is red, top row blue
    px = np.zeros((3, 2, 4), np.float32)
    px[0, :, 0] = 1.0
    px[2, :, 2] = 1.0
    px[..., 3] = 1.0
    photo = image_pixels_to_photo(px.ravel(), 2, 3, 4)
    assert photo.shape == (3, 2, 4) and photo.dtype == np.uint8
    assert tuple(photo[0, 0]) == (0, 0, 255, 255)      # top row: blue
    assert tuple(photo[2, 1]) == (255, 0, 0, 255)      # bottom row: red
    lin = image_pixels_to_photo(np.full(12, 0.21404, np.float32), 2, 2, 3, linear=True)
    assert lin.shape == (2, 2, 3) and abs(int(lin[0, 0, 0]) - 128) <= 1
