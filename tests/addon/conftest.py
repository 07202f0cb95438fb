"""Shared fixtures for the add-on tests, which run Blender as a Python module (the ``bpy`` wheel).

- Blender's user folders are isolated in a temporary folder (``BLENDER_USER_RESOURCES``, set here before
  anything imports bpy), so tests never touch ~/.config/blender.
- ``addon_zip`` builds the extension once per session; ``installed_addon`` installs it with
  ``bpy.ops.extensions.package_install_files`` and enables it (the module is ``bl_ext.user_default.<id>``).
- ``clean_scene`` resets the scene (add-ons stay registered).
- bpy 4.2 / 4.5 crash or hang at interpreter exit after some operations; when bpy was imported, the run
  ends with ``os._exit`` and pytest's own exit status (measured fix, see shared/docs/blender-platform.md).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from backend.keypoints import BODY25_NAMES as BODY25

REPO = Path(__file__).resolve().parents[2]
USER_RESOURCES = tempfile.mkdtemp(prefix="pifuhd-blender-user-")
os.environ["BLENDER_USER_RESOURCES"] = USER_RESOURCES

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

_exit = {"code": 0}


def pytest_sessionfinish(session, exitstatus):
    _exit["code"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    shutil.rmtree(USER_RESOURCES, ignore_errors=True)
    if "bpy" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit["code"])


@pytest.fixture(scope="session")
def bpy():
    import bpy as module
    return module


@pytest.fixture(scope="session")
def manifest() -> dict:
    import build_addon
    return build_addon.read_manifest()


@pytest.fixture(scope="session")
def addon_zip(tmp_path_factory) -> Path:
    """The extension zip, built from the working tree into a temporary dist folder."""
    import build_addon
    return build_addon.build(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def installed_addon(bpy, addon_zip, manifest) -> str:
    """Install and enable the built zip in the isolated user repository; returns the add-on's module name."""
    result = bpy.ops.extensions.package_install_files(filepath=str(addon_zip), repo="user_default",
                                                      enable_on_install=True)
    assert result == {'FINISHED'}, result
    module = f"bl_ext.user_default.{manifest['id']}"
    assert module in bpy.context.preferences.addons, f"{module} is not enabled"
    return module


@pytest.fixture
def clean_scene(bpy):
    """An empty scene (user add-ons stay registered) with a VIEW_3D area, the 3D cursor at the origin."""
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    bpy.context.scene.cursor.location = (0.0, 0.0, 0.0)
    return bpy.context.scene


# ------------------------------------------------------------------------- game-ready: a person with known joints

#: Joints of the analytic body (tests/support/body_field.py) in the cube frame, as BODY_25 names; the subject's
#: left is +x. Toes and heels sit under the ankles in a front photo.
ANALYTIC_JOINTS = {
    "Nose": (0.0, 0.68), "Neck": (0.0, 0.40), "REye": (-0.04, 0.71), "LEye": (0.04, 0.71),
    "REar": (-0.10, 0.68), "LEar": (0.10, 0.68),
    "RShoulder": (-0.18, 0.40), "RElbow": (-0.38, 0.12), "RWrist": (-0.50, -0.12),
    "LShoulder": (0.18, 0.40), "LElbow": (0.38, 0.12), "LWrist": (0.50, -0.12),
    "MidHip": (0.0, -0.10), "RHip": (-0.08, -0.10), "RKnee": (-0.10, -0.50), "RAnkle": (-0.10, -0.82),
    "LHip": (0.08, -0.10), "LKnee": (0.10, -0.50), "LAnkle": (0.10, -0.82),
    "LBigToe": (0.10, -0.86), "LSmallToe": (0.12, -0.86), "LHeel": (0.10, -0.87),
    "RBigToe": (-0.10, -0.86), "RSmallToe": (-0.12, -0.86), "RHeel": (-0.10, -0.87),
}
PHOTO_CROP = (120, 40, 900)   # where the synthetic photo's crop was (x, y, side), for the keypoint round trip


def analytic_colours(vertices):
    """sRGB colours by body part: skin head and hands, red shirt on torso and arms (lighter to the right),
    blue trousers, with a vertical gradient so no two regions are flat."""
    import numpy as np
    x, y = vertices[:, 0], vertices[:, 1]
    colours = np.empty((len(vertices), 3), np.float32)
    colours[:, 0], colours[:, 1], colours[:, 2] = 0.85, 0.12 + 0.3 * (x + 0.6), 0.1   # shirt
    colours[y < -0.08] = (0.1, 0.2, 0.75)                            # trousers
    skin = (y > 0.5) | (np.abs(x) > 0.45)
    colours[skin] = (0.9, 0.7, 0.55)
    colours[:, 2] += 0.1 * (y + 1.0)
    return np.clip(colours, 0.0, 1.0)


@pytest.fixture(scope="session")
def analytic_person():
    """The analytic body of tests/support/body_field.py extracted with the engine's own surface code
    (coarse-to-fine sampling + marching cubes, res 128: ~10k vertices), its colours, and BODY_25 keypoints
    made from its known joints: cube -> photo pixels of a crop -> back through backend.keypoints (the path
    photo preparation's keypoints take in the worker). Everything in the cube frame."""
    import numpy as np
    from backend.keypoints import cube_to_photo, photo_to_cube
    from backend.surface import marching_cubes, sample_coarse_to_fine
    from tests.support.body_field import HANDS, grid_field

    res = 128
    volume = sample_coarse_to_fine(grid_field(res, finger_radius=0.016), res, level=0.5)
    vertices, faces = marching_cubes(volume, 0.5)
    truth = np.array([ANALYTIC_JOINTS[n] for n in BODY25])
    photo = np.c_[cube_to_photo(truth, PHOTO_CROP), np.full(len(truth), 0.9)]
    keypoints = photo_to_cube(photo, PHOTO_CROP)
    return {"vertices": vertices, "faces": faces, "colors": analytic_colours(vertices), "keypoints": keypoints,
            "truth": truth, "hands": np.array(HANDS)}


@pytest.fixture
def make_person(bpy, installed_addon, analytic_person):
    """Builds the analytic person in the scene through the add-on's own object builder (as a reconstruction
    would): make_person(keypoints=True | array | None, height=1.75) -> (object, placement)."""
    from importlib import import_module
    scene_object = import_module(f"{installed_addon}.scene_object")
    placement = import_module(f"{installed_addon}.placement")

    def make(keypoints=True, height=1.75, name="PIFuHD analytic"):
        kp = analytic_person["keypoints"] if keypoints is True else keypoints
        ob = scene_object.build_person(bpy.context, analytic_person["vertices"], analytic_person["faces"],
                                       analytic_person["colors"], name=name, target_height=height,
                                       provenance={"source_photo": "analytic body"}, keypoints=kp)
        _world, transform = placement.place_in_scene(analytic_person["vertices"], height)
        return ob, transform

    return make


@pytest.fixture
def world_positions(bpy):
    """world_positions(ob) -> the evaluated (posed, deformed) mesh's vertex positions [V, 3] in world space."""
    from training.rig_truth import evaluated_world_positions

    return lambda ob: evaluated_world_positions(bpy, ob)


@pytest.fixture(scope="session")
def panel_settings(bpy):
    """Set the panel's settings (``scene.pifuhd``), where the reconstruct operator takes them from:
    ``panel_settings(resolution=32, device='CPU', ...)``; a resolution picks the Custom quality."""
    def apply(resolution: int | None = None, **values):
        settings = bpy.context.scene.pifuhd
        if resolution is not None:
            settings.quality, settings.resolution = 'CUSTOM', resolution
        for name, value in values.items():
            setattr(settings, name, value)
        return settings
    return apply
