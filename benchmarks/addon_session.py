"""Helpers for the benchmarks that drive the add-on in ``bpy`` (the wheel): install the add-on built from the
working tree into a throw-away user folder, and reconstruct a photo with the demo model, as a user would."""
from __future__ import annotations

import os
import sys
import tempfile
from importlib import import_module
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = REPO / "models" / "demo" / "pifuhd_demo.pt"
EXAMPLE = REPO / "examples" / "person.png"


def install_addon():
    """Build and enable the add-on in an isolated Blender user folder; returns (bpy, module name)."""
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="pifuhd-bench-"))
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import bpy

    import build_addon
    zip_path = build_addon.build(Path(tempfile.mkdtemp(prefix="pifuhd-bench-dist-")))
    result = bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default",
                                                      enable_on_install=True)
    assert result == {'FINISHED'}, result
    return bpy, f"bl_ext.user_default.{build_addon.read_manifest()['id']}"


def addon_module(package: str, name: str):
    return import_module(f"{package}.{name}")


def reconstruct(bpy, photo: Path = EXAMPLE, resolution: int = 256, height: float = 1.75):
    """A fresh scene with ``photo`` reconstructed by the demo model on the CPU; returns the mesh object."""
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    bpy.context.scene.cursor.location = (0.0, 0.0, 0.0)
    settings = bpy.context.scene.pifuhd          # the operator takes its settings from the panel
    settings.quality, settings.resolution = 'CUSTOM', resolution
    settings.device, settings.target_height = 'CPU', height
    settings.use_colors = settings.remove_background = True
    result = bpy.ops.pifuhd.reconstruct(filepath=str(photo), checkpoint=str(CHECKPOINT))
    if result != {'FINISHED'}:
        raise RuntimeError(f"reconstruction failed: {result}")
    return bpy.context.view_layer.objects.active
