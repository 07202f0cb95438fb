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
