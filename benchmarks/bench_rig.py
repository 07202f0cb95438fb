"""Auto-rig against exact re-posed truth (issue 11): generated people the demo model never saw are
reconstructed in their own pose (A), rigged by ``rig.rig_object`` with each weight method, posed like the
generator's joint turns (pose B), and compared with the generator's exact body in pose B.

Per person, weight method and pose it prints (see ``training/rig_truth.py``):
(a) part accuracy: share of vertices whose heaviest bone is their true body part's;
(b) leak: share of vertices that move more than 1 cm although their body part should not move;
(c) symmetric Chamfer distance posed mesh <-> exact posed body, over the same at rest;
(d) edges stretched past 2x (and 3x), and the largest stretch.

Two stages, because torch and bpy are best not loaded together: ``--prepare`` reconstructs the people and
meshes the exact bodies into ``--cache`` (numpy files); the default run rigs and measures in bpy.

Run: ``python benchmarks/bench_rig.py --prepare && python benchmarks/bench_rig.py [--methods AUTO,NEAREST]``
"""
from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

CACHE = REPO / "out" / "bench_rig"


def prepare(seeds, cache: Path, resolution: int) -> None:
    """Reconstruct each person and mesh its exact body at rest and in every pose B (cube frame)."""
    import backend
    from training import rig_truth as rt

    cache.mkdir(parents=True, exist_ok=True)
    model = backend.load_model(REPO / "models" / "demo" / "pifuhd_demo.pt", device="cpu")
    for seed in seeds:
        path = cache / f"{seed}.pkl"
        if path.is_file():
            continue
        case = rt.reconstruct_case(model, seed, resolution)
        exact = {"rest": rt.exact_mesh(case.shape, case.frame)}
        for pose in rt.POSES:
            exact[pose] = rt.exact_mesh(rt.posed_shape(case, pose), case.frame)
        with open(path, "wb") as fh:
            pickle.dump({"case": case, "exact": exact}, fh)
        m = case.shape.meta
        print(f"prepared {seed}: {m['pose']}, {m['bottom']}, {len(case.vertices):,} vertices", flush=True)


def measure(bpy, package: str, data: dict, method: str) -> list[dict]:
    """Rig the case with ``method`` and pose it like the generator: one dict of measures per pose."""
    from importlib import import_module

    from mathutils import Matrix, Vector

    from training import rig_truth as rt
    from training.people import moved_parts, nearest_parts

    rig, scene_object = import_module(f"{package}.rig"), import_module(f"{package}.scene_object")
    placement = import_module(f"{package}.paths").load_placement()
    case = data["case"]
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    bpy.context.scene.cursor.location = (0.0, 0.0, 0.0)
    ob = scene_object.build_person(bpy.context, case.vertices, case.faces, None, name=f"person {case.seed}",
                                   target_height=case.height_m, provenance={}, keypoints=case.keypoints)
    _world, place = placement.place_in_scene(case.vertices, case.height_m)
    arm, info = rig.rig_object(bpy.context, ob, weights=method)
    names = [b.name for b in arm.data.bones]
    weights = rig.read_weights(ob, names)
    # the rig may have cut the mesh (separated touching parts): label the vertices it has now
    faces = np.empty(len(ob.data.polygons) * 3, np.int32)
    ob.data.polygons.foreach_get("vertices", faces)
    faces = faces.reshape(-1, 3)

    def world_positions():
        ev = ob.evaluated_get(bpy.context.evaluated_depsgraph_get())
        me = ev.to_mesh()
        co = np.empty(len(me.vertices) * 3, np.float32)
        me.vertices.foreach_get("co", co)
        ev.to_mesh_clear()
        m = np.asarray(ob.matrix_world)
        return co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]

    rest = world_positions()
    cube = ((rest - np.asarray(place.offset)) / place.scale) @ placement.CUBE_TO_BLENDER   # the inverse rotation
    parts = nearest_parts(case.shape, case.frame.to_world(cube))
    accuracy = rt.part_accuracy(weights, names, parts)
    exact_rest = place.apply(data["exact"]["rest"][0])
    rest_chamfer = rt.chamfer(rest, exact_rest)
    rows = []
    for pose, turns in rt.POSES.items():
        for pb in arm.pose.bones:
            pb.matrix_basis = Matrix.Identity(4)
        bpy.context.view_layer.update()
        for turn in turns:
            axis = placement.cube_to_blender(rt.axis_in_cube(case.shape, turn.axis)[None])[0]
            pb = arm.pose.bones[rig_name(arm, rt.bone_for(turn))]
            head = Vector(pb.head)
            spin = Matrix.Rotation(np.radians(turn.degrees), 4, Vector(axis.tolist()))
            pb.matrix = Matrix.Translation(head) @ spin @ Matrix.Translation(-head) @ pb.matrix
            bpy.context.view_layer.update()
        posed = world_positions()
        exact_posed = place.apply(data["exact"][pose][0])
        stretch = rt.edge_stretch(rest, posed, faces)
        rows.append({"pose": pose, "accuracy": accuracy,
                     "leak": rt.leak(rest, posed, parts, moved_parts(turns)),
                     "chamfer_ratio": rt.chamfer(posed, exact_posed) / rest_chamfer,
                     "over2": int((stretch > 2).sum()), "over3": int((stretch > 3).sum()),
                     "worst": float(stretch.max()), "weights": info["weights"]})
        print("   ", info["weights"], flush=True)
    return rows


def rig_name(arm, humanoid: str) -> str:
    return humanoid if humanoid in arm.pose.bones else "mixamorig:" + humanoid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true", help="reconstruct the people and mesh the truth")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--seeds", default="")
    parser.add_argument("--methods", default="AUTO,NEAREST")
    args = parser.parse_args()
    from training import rig_truth as rt
    seeds = [int(s) for s in args.seeds.split(",") if s] or list(rt.BENCH_SEEDS)
    if args.prepare:
        prepare(seeds, args.cache, args.resolution)
        return
    missing = [s for s in seeds if not (args.cache / f"{s}.pkl").is_file()]
    if missing:
        subprocess.run([sys.executable, __file__, "--prepare", "--cache", str(args.cache), "--resolution",
                        str(args.resolution), "--seeds", ",".join(map(str, missing))], check=True)
    from addon_session import install_addon
    bpy, package = install_addon()
    methods = args.methods.split(",")
    print("| person | weights | pose | part accuracy | leak | posed/rest Chamfer | edges > 2x | > 3x | worst |")
    print("|---|---|---|---|---|---|---|---|---|")
    totals: dict[str, list[dict]] = {m: [] for m in methods}
    for seed in seeds:
        with open(args.cache / f"{seed}.pkl", "rb") as fh:
            data = pickle.load(fh)
        meta = data["case"].shape.meta
        who = f"{seed} ({meta['pose'].replace('_', ' ')}, {meta['bottom'].replace('_', ' ')})"
        for method in methods:
            for row in measure(bpy, package, data, method):
                totals[method].append(row)
                print(f"| {who} | {method} | {row['pose']} | {100 * row['accuracy']:.1f} % | "
                      f"{100 * row['leak']:.2f} % | {row['chamfer_ratio']:.2f} | {row['over2']} | {row['over3']} | "
                      f"{row['worst']:.1f}x |", flush=True)
    print()
    print("| weights | part accuracy, worst | leak, worst | posed/rest Chamfer, worst | edges > 3x, total |")
    print("|---|---|---|---|---|")
    for method, rows in totals.items():
        if rows:
            print(f"| {method} | {100 * min(r['accuracy'] for r in rows):.1f} % | "
                  f"{100 * max(r['leak'] for r in rows):.2f} % | {max(r['chamfer_ratio'] for r in rows):.2f} | "
                  f"{sum(r['over3'] for r in rows)} |")


if __name__ == "__main__":
    main()
    if "bpy" in sys.modules:
        import os
        sys.stdout.flush()
        os._exit(0)
