"""The add-on end to end with a trained model and a person whose truth we know.

The demo model (models/demo) reconstructs a generated person it never saw (a T-pose, orange T-shirt, dark
skirt, shoes pointing at the camera) through ``bpy.ops.pifuhd.reconstruct``. The object must stand on the
floor at the target height, face Blender's front view (-Y: the shoes point there), keep the photo's left
and right, and carry the garment colours where the camera saw them.
"""
from __future__ import annotations

import numpy as np
import pytest

from pifuhd_blender.placement import linear_to_srgb
from tests.conftest import REPO

SEED = 900003           # training.people.TEST_SEEDS: never used in training
HEIGHT = 1.75
CHECKPOINT = REPO / "models" / "demo" / "pifuhd_demo.pt"


@pytest.fixture(scope="module")
def person(bpy, installed_addon, tmp_path_factory, panel_settings):
    import cv2

    from training.people import TEST_SEEDS
    from training.render import render_person

    assert SEED in TEST_SEEDS
    shape, _, rgba = render_person(SEED, 1024)
    photo = tmp_path_factory.mktemp("demo") / "person.png"
    cv2.imwrite(str(photo), rgba[:, :, [2, 1, 0, 3]])
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    bpy.context.scene.cursor.location = (0.0, 0.0, 0.0)
    panel_settings(resolution=96, device='CPU', target_height=HEIGHT, use_colors=True, remove_background=True)
    result = bpy.ops.pifuhd.reconstruct(filepath=str(photo), checkpoint=str(CHECKPOINT))
    assert result == {'FINISHED'}
    ob = bpy.context.view_layer.objects.active
    mw = np.asarray(ob.matrix_world)
    co = np.empty(len(ob.data.vertices) * 3, np.float32)
    ob.data.vertices.foreach_get("co", co)
    verts = co.reshape(-1, 3) @ mw[:3, :3].T + mw[:3, 3]
    attr = ob.data.color_attributes.active_color
    col = np.empty(len(attr.data) * 4, np.float32)
    attr.data.foreach_get("color", col)
    return {"verts": verts, "srgb": linear_to_srgb(col.reshape(-1, 4)[:, :3]), "meta": shape.meta,
            "alpha": rgba[:, :, 3]}


def band(verts: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Vertices whose height is between lo and hi (fractions of the object's height)."""
    z = verts[:, 2] / verts[:, 2].max()
    return (z >= lo) & (z < hi)


def test_upright_on_the_floor_at_the_target_height(person):
    v = person["verts"]
    assert v[:, 2].min() == pytest.approx(0.0, abs=1e-3)
    assert v[:, 2].max() == pytest.approx(HEIGHT, rel=0.01)


def test_faces_the_front_view(person):
    """The shoes point at the camera in the photo, so in Blender they must reach further to -Y than the shins."""
    v = person["verts"]
    feet, shins = v[band(v, 0.0, 0.04)], v[band(v, 0.1, 0.2)]
    assert feet[:, 1].min() < shins[:, 1].min() - 0.03


def test_left_and_right_as_in_the_photo(person):
    """A T-pose spans X (not Y); the mesh's left/right mass balance matches the photo's."""
    v = person["verts"]
    span = v.max(0) - v.min(0)
    assert span[0] > 2 * span[1]
    alpha = person["alpha"] > 127
    xs = np.nonzero(alpha)[1]
    photo_skew = xs.mean() - 0.5 * (xs.min() + xs.max())
    mesh_skew = v[:, 0].mean() - 0.5 * (v[:, 0].min() + v[:, 0].max())
    if abs(photo_skew) > 2:  # pixels: only meaningful when the photo is visibly asymmetric
        assert np.sign(mesh_skew) == np.sign(photo_skew)


def test_garment_colours_on_the_visible_side(person):
    v, c = person["verts"], person["srgb"]
    top = np.array(person["meta"]["colours"]["top"].colour)
    skirt = np.array(person["meta"]["colours"]["bottom"].colour)
    assert person["meta"]["colours"]["top"].pattern == "plain" and np.linalg.norm(top - skirt) > 0.4

    def front(sel: np.ndarray) -> np.ndarray:
        sel = sel & (np.abs(v[:, 0]) < 0.08)
        return sel & (v[:, 1] < np.median(v[sel, 1]))  # the half nearer the camera (-Y)

    chest = np.median(c[front(band(v, 0.66, 0.74))], axis=0)
    skirt_seen = np.median(c[front(band(v, 0.36, 0.44))], axis=0)
    assert np.linalg.norm(chest - top) < np.linalg.norm(chest - skirt)
    assert np.linalg.norm(skirt_seen - skirt) < np.linalg.norm(skirt_seen - top)
    assert c.max() <= 1.0 and c.min() >= 0.0
