"""Render reconstructed meshes (.obj from ``python -m backend reconstruct``) to a PNG with Blender Workbench.

Headless, about a second: each mesh is placed as the add-on places it (Z up, facing -Y, feet on the floor,
1.75 m) and shown side by side from the front, a three-quarter view and the back (``--views``: turns in
degrees about the vertical, 180 = from behind), with its vertex colours. Several meshes: each in every view,
left to right, mesh by mesh.

    .venv/bin/python tools/render_mesh.py out/example.obj docs/example.png
    .venv/bin/python tools/render_mesh.py before.obj after.obj compare.png --views 0 --spacing 1.4

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
    parser.add_argument("paths", type=Path, nargs="+", metavar="MESH... PNG",
                        help="one or more meshes (.obj, cube frame), then the image to write")
    parser.add_argument("--size", type=int, default=512, help="height of the image in pixels")
    parser.add_argument("--views", type=float, nargs="+", default=[0.0, 35.0, 180.0],
                        help="turn of each copy about the vertical, degrees (0 = facing the camera)")
    parser.add_argument("--spacing", type=float, default=None,
                        help="metres between the copies' centres (default: the widest copy's width + 0.15, at "
                             "least 1.2, so arms spread wide do not overlap)")
    args = parser.parse_args(argv)
    if len(args.paths) < 2:
        parser.error("give at least one mesh and the image to write")
    meshes, png = args.paths[:-1], args.paths[-1]

    import bpy
    from mathutils import Vector

    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    scene = bpy.context.scene
    copies = [copy for path in meshes for copy in _person_copies(bpy, scene, path, args.views)]
    n = len(copies)
    if args.spacing is None:
        bpy.context.view_layer.update()
        widths = [np.ptp([(ob.matrix_world @ Vector(c)).x for c in ob.bound_box]) for ob in copies]
        args.spacing = max(1.2, max(widths) + 0.15)
    for i, ob in enumerate(copies):  # side by side, ``spacing`` apart
        ob.location = (args.spacing * (i - (n - 1) / 2), 0.0, 0.0)
    cam_data = bpy.data.cameras.new("cam")
    cam_data.type = "ORTHO"
    cam_data.ortho_scale = max(2.0, args.spacing * n + 0.4) if n > 1 else 2.0  # image width, m (height: 2 m)
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
    png.parent.mkdir(parents=True, exist_ok=True)
    scene.render.filepath = str(png.resolve())
    bpy.ops.render.render(write_still=True)
    print(f"wrote {png}")
    return 0


def _person_copies(bpy, scene, path: Path, views: list[float]) -> list:
    """The mesh at ``path`` placed as the add-on places it, with its vertex colours: one object per view,
    turned ``views`` degrees about the vertical, linked to ``scene``."""
    mesh_in = read_obj(path)
    cube, colours, faces = mesh_in.vertices, mesh_in.colors, mesh_in.faces
    verts, _ = place_in_scene(cube, target_height=1.75)
    mesh = bpy.data.meshes.new("person")
    mesh.from_pydata(verts.tolist(), [], faces.tolist())
    attr = mesh.color_attributes.new("Col", "FLOAT_COLOR", "POINT")
    rgba = np.concatenate([srgb_to_linear(colours), np.ones((len(colours), 1), np.float32)], 1)
    attr.data.foreach_set("color", rgba.astype(np.float32).ravel())
    mesh.color_attributes.active_color = attr
    mesh.shade_smooth()
    ob = bpy.data.objects.new(path.stem, mesh)
    scene.collection.objects.link(ob)
    copies = []
    for i, yaw in enumerate(views):
        ob_i = ob if i == 0 else ob.copy()
        if i:
            scene.collection.objects.link(ob_i)
        ob_i.rotation_euler = (0.0, 0.0, math.radians(yaw))
        copies.append(ob_i)
    return copies


if __name__ == "__main__":
    raise SystemExit(main())
