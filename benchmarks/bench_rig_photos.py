"""The auto-rig on real photos, as a user would meet it: each photo reconstructed in Blender by the add-on with
the demo model (quality 256, Clean Up, Color Fill), rigged (Humanoid) with each weight method, then posed:
each upper arm raised 60° sideways, the left knee bent 60°, the head turned 45°.

Real photos have no exact truth, so this measures what tears: edges stretched past 2x and 3x (and the worst
stretch) per pose. On real photos the demo model gives arms held out from the body fins centimetres deep
(it was trained on generated people only), the case ``pifuhd_blender/silhouette.py`` is for.
``--render FOLDER`` writes a Workbench render (front) of each photo with its left arm raised, one person per
method, left to right (``--render-pose knee``: another pose, by a word of its name).

Run: ``python benchmarks/bench_rig_photos.py [--photos a.jpg,b.jpg] [--methods AUTO,PARTS] [--render out/]``
(default: photos of ``../shared/photos`` with arms held out from the body, a leg folded, a side view, when that
folder is there).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

PHOTOS = REPO.parent / "shared" / "photos"
DEFAULT = ("cgi_woman_apose_plain.jpg", "yoga_warrior_beach.jpg", "ryota_rgba.png", "yoga_tree_white.jpg",
           "coco_000000000785_skier.jpg")
#: pose -> (Humanoid bone, axis in Blender's frame, degrees); the person faces -Y, their left is +X
POSES = {
    "left arm raised 60°": ("LeftUpperArm", (0.0, 1.0, 0.0), -60.0),
    "right arm raised 60°": ("RightUpperArm", (0.0, 1.0, 0.0), 60.0),
    "left knee bent 60°": ("LeftLowerLeg", (1.0, 0.0, 0.0), 60.0),
    "head turned 45°": ("Head", (0.0, 0.0, 1.0), 45.0),
}


def pose_and_measure(bpy, package: str, source, method: str) -> list[dict]:
    """Rig a copy of the reconstruction ``source`` with weights ``method``; per pose the edges' stretch,
    the posed mesh (Blender's frame), its faces and colours."""
    from importlib import import_module

    from training.rig_truth import (edge_stretch, evaluated_world_positions, mesh_faces, rest_pose, turn_bone,
                                    vertex_colors)

    rig, placement = import_module(f"{package}.rig"), import_module(f"{package}.placement")
    ob = source.copy()
    ob.data = source.data.copy()
    ob.name = f"{source.name} {method}"
    bpy.context.scene.collection.objects.link(ob)
    arm, _info = rig.rig_object(bpy.context, ob, weights=method)
    faces, colors = mesh_faces(ob), vertex_colors(ob, placement)
    rest = evaluated_world_positions(bpy, ob)
    rows = []
    for pose, (bone, axis, degrees) in POSES.items():
        rest_pose(bpy, arm)
        turn_bone(bpy, arm, bone, axis, degrees)
        posed = evaluated_world_positions(bpy, ob)
        stretch = edge_stretch(rest, posed, faces)
        rows.append({"pose": pose, "method": method, "over2": int((stretch > 2).sum()),
                     "over3": int((stretch > 3).sum()), "worst": float(stretch.max()), "posed": posed,
                     "faces": faces, "colors": colors})
    rest_pose(bpy, arm)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default="", help="comma-separated photo files (default: shared photos)")
    parser.add_argument("--methods", default="AUTO,PARTS")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--render", type=Path, default=None, help="folder for the renders (arm raised)")
    parser.add_argument("--render-pose", default="left arm", help="the pose to render: a word of its name "
                        f"(one of: {', '.join(POSES)})")
    args = parser.parse_args()
    photos = [Path(p) for p in args.photos.split(",") if p] or [PHOTOS / name for name in DEFAULT]
    photos = [p for p in photos if p.is_file()]
    if not photos:
        sys.exit(f"no photos: pass --photos (the default ones live in {PHOTOS})")
    shown = [k for k, pose in enumerate(POSES) if args.render_pose in pose]
    if not shown:
        sys.exit(f"--render-pose {args.render_pose!r} names no pose (one of: {', '.join(POSES)})")
    from importlib import import_module

    from addon_session import install_addon, reconstruct
    from bench_rig_example import write_posed_obj

    bpy, package = install_addon()
    placement = import_module(f"{package}.placement")
    print("| photo | weights | " + " | ".join(POSES) + " |")
    print("|---|---|" + "---|" * len(POSES))
    for photo in photos:
        source = reconstruct(bpy, photo, args.resolution)
        objs = []
        for method in args.methods.split(","):
            rows = pose_and_measure(bpy, package, source, method)
            print(f"| {photo.name} | {method} | " + " | ".join(
                f"{r['over2']:,} / {r['over3']:,} ({r['worst']:.1f}x)" for r in rows) + " |", flush=True)
            if args.render is not None:
                args.render.mkdir(parents=True, exist_ok=True)
                obj = args.render / f"{photo.stem}_{method.lower()}_{args.render_pose.replace(' ', '_')}.obj"
                write_posed_obj(rows[shown[0]], placement, None, obj)
                objs.append(obj)
        if objs:
            # its own process: Workbench needs an OpenGL context, and a failing one aborts the whole process
            subprocess.run([sys.executable, str(REPO / "tools" / "render_mesh.py"), *map(str, objs),
                            str(args.render / f"rig_{photo.stem}.png"), "--views", "0", "--size", "420"],
                           check=True)
    print("cells: edges stretched past 2x / past 3x (the worst stretch)")


if __name__ == "__main__":
    main()
    if "bpy" in sys.modules:
        import os
        sys.stdout.flush()
        os._exit(0)
