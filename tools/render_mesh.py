"""Render a reconstructed mesh (.obj from ``python -m backend reconstruct``) to a PNG with Blender Workbench.

Headless, about a second: the mesh is placed as the add-on places it (Z up, facing -Y, feet on the floor,
1.75 m) and shown side by side from the front, a three-quarter view and the back (``--views``: turns in
degrees about the vertical, 180 = from behind), with its vertex colours.

    .venv/bin/python tools/render_mesh.py out/example.obj docs/example.png

(Run it as its own process: Workbench needs an OpenGL context through EGL, and bpy's renderer aborts
the whole process when none is available.)
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.mesh import read_obj  # noqa: E402
from pifuhd_blender.placement import place_in_scene, srgb_to_linear  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mesh", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--size", type=int, default=512, help="height of the image in pixels")
    parser.add_argument("--views", type=float, nargs="+", default=[0.0, 35.0, 180.0],
                        help="turn of each copy about the vertical, degrees (0 = facing the camera)")
    args = parser.parse_args(argv)

    import bpy

    mesh_in = read_obj(args.mesh)
    cube, colours, faces = mesh_in.vertices, mesh_in.colors, mesh_in.faces
    verts, _ = place_in_scene(cube, target_height=1.75)
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    scene = bpy.context.scene
    mesh = bpy.data.meshes.new("person")
    mesh.from_pydata(verts.tolist(), [], faces.tolist())
    attr = mesh.color_attributes.new("Col", "FLOAT_COLOR", "POINT")
    rgba = np.concatenate([srgb_to_linear(colours), np.ones((len(colours), 1), np.float32)], 1)
    attr.data.foreach_set("color", rgba.astype(np.float32).ravel())
    mesh.color_attributes.active_color = attr
    mesh.shade_smooth()
    ob = bpy.data.objects.new("person", mesh)
    scene.collection.objects.link(ob)
    n = len(args.views)
    for i, yaw in enumerate(args.views):  # one copy per view, 1.2 m apart
        ob_i = ob if i == 0 else ob.copy()
        if i:
            scene.collection.objects.link(ob_i)
        ob_i.rotation_euler = (0.0, 0.0, math.radians(yaw))
        ob_i.location = (1.2 * (i - (n - 1) / 2), 0.0, 0.0)
    cam_data = bpy.data.cameras.new("cam")
    cam_data.type = "ORTHO"
    cam_data.ortho_scale = max(2.0, 1.2 * n + 0.4) if n > 1 else 2.0  # image width, metres (height: 2 m)
    cam = bpy.data.objects.new("cam", cam_data)
    cam.location = (0.0, -6.0, 0.9)
    cam.rotation_euler = (math.radians(90), 0.0, 0.0)
    scene.collection.objects.link(cam)
    scene.camera = cam
    scene.render.engine = "BLENDER_WORKBENCH"
    shading = scene.display.shading
    shading.light = "STUDIO"
    shading.color_type = "VERTEX"
    scene.display.render_aa = "8"
    scene.render.resolution_x = round(args.size * cam_data.ortho_scale / 2.0)
    scene.render.resolution_y = args.size
    scene.render.image_settings.file_format = "PNG"
    args.png.parent.mkdir(parents=True, exist_ok=True)
    scene.render.filepath = str(args.png.resolve())
    bpy.ops.render.render(write_still=True)
    print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
