"""The auto-rig on the bundled example, as a game developer uses it (issue 11): ``examples/person.png``
reconstructed with the panel's game-ready settings (Draft quality 256, Clean Up, Color Fill, 30k Game budget),
built and rigged by the add-on (Humanoid bones; body-part weights, the default, against Blender's bone heat),
then posed: the left upper arm raised 60° sideways, the left knee bent 60°, the head turned 45°.

Which vertices should stay still is decided by exact truth, not by the weights measured: the example photo
is the generator's person ``training.people.EXAMPLE_SEED`` (hands on hips, a skirt; never trained on), so
every vertex's true body part is known (``training.people.nearest_parts``: the nearest primitive of the exact
body; the skirt, shirt and hips are the torso's, her hands are the hands' even where they rest on the hips).
The generator turns a limb and everything below it and nothing else, so per pose it prints the share of the
torso's vertices (skirt included; those below the hip joints separately) and of the legs with no turned part
moving more than 1 cm, the share of the turned parts' vertices left more than 5 cm from where their bone
takes them, the benchmark's leak (share of all vertices), edges stretched past 2x and 3x, and the Chamfer
distance to the exact re-posed body over the same at rest (not for the head: the generator cannot
turn it). ``--render`` writes Workbench renders of the example with the arm raised (front and side; bone heat
left, body parts right) through ``tools/render_mesh.py``.

Two stages, because torch and bpy are best not loaded together: ``--prepare`` reconstructs the example and
meshes the exact bodies into ``--cache``; the default run rigs and measures in bpy (and prepares first when
the cache is missing).

Run: ``python benchmarks/bench_rig_example.py [--resolution 256] [--render docs/images]``
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

CACHE = REPO / "out" / "bench_rig_example"
EXAMPLE = REPO / "examples" / "person.png"
CHECKPOINT = REPO / "models" / "demo" / "pifuhd_demo.pt"
#: The panel's settings a game developer changes from the defaults (props.py): the 30k Game budget. Clean Up
#: and Color Fill are on by default; the quality is set by --resolution (the panel's default is 256).
GAME_SETTINGS = {"use_cleanup": True, "use_color_fill": True, "use_colors": True, "remove_background": True,
                 "poly_budget": "GAME", "device": "CPU"}
ARM = "left arm raised 60°"
LEGS = {f"{s}{side}" for s in ("thigh", "shin", "foot") for side in ("+1", "-1")}


def game_options(resolution: int):
    """The ``backend.Options`` the panel sends with the game-ready settings (through the add-on's own
    settings -> options step)."""
    from pifuhd_blender.request import options_from_settings

    return options_from_settings({**GAME_SETTINGS, "resolution": resolution})


def prepare(path: Path, resolution: int, exact: bool = True) -> None:
    """Reconstruct the example with the game-ready options and mesh its exact bodies into ``path``."""
    import backend
    from training import rig_truth as rt
    from training.people import EXAMPLE_SEED

    options = game_options(resolution)
    model = backend.load_model_for(CHECKPOINT, options)
    path.parent.mkdir(parents=True, exist_ok=True)
    case = rt.save_case(model, EXAMPLE_SEED, path, resolution, options=options, photo=EXAMPLE, exact=exact)
    print(f"prepared the example at {resolution}: {len(case.vertices):,} vertices, {len(case.faces):,} faces",
          flush=True)


def load(path: Path, resolution: int, exact: bool = True) -> dict:
    """The prepared example (made in a separate process when ``path`` is missing)."""
    if not path.is_file():
        code = (f"import sys; sys.path[:0] = [{str(HERE)!r}, {str(REPO)!r}]\n"
                f"from bench_rig_example import prepare; from pathlib import Path\n"
                f"prepare(Path({str(path)!r}), {resolution}, {exact})")
        subprocess.run([sys.executable, "-c", code], check=True)
    with open(path, "rb") as fh:
        return pickle.load(fh)


def still_shares(row: dict, shape) -> dict:
    """Share of each region that should stay still and moves more than 1 cm, for a row of
    ``rig_truth.measure_in_blender``: ``torso`` (skirt and shirt included), ``below_hips`` (the torso below the
    hip joints: hips and skirt), ``other_legs`` (the legs with no turned part)."""
    from training import rig_truth as rt

    rest, posed, parts, moving = row["rest"], row["posed"], np.asarray(row["parts"]), row["moving"]
    hip_y = min(shape.meta["joints"]["hip+1"][1], shape.meta["joints"]["hip-1"][1])
    below = np.where((parts == "torso") & (row["body_y"] < hip_y), "below_hips", "")
    turned_legs = {p[-2:] for p in LEGS & moving}          # "+1" / "-1"
    other = {p for p in LEGS if p[-2:] not in turned_legs}
    return {"torso": rt.moved_share(rest, posed, row["parts"], {"torso"}),
            "below_hips": rt.moved_share(rest, posed, list(below), {"below_hips"}),
            "other_legs": rt.moved_share(rest, posed, row["parts"], other)}


def measure(bpy, package: str, data: dict, methods: list[str], poses: dict | None = None) -> dict[str, list[dict]]:
    """Rig the prepared example with the add-on (module ``package``) with each weight method and pose it
    (``poses``: name -> joint turns, default every pose of ``rig_truth``); rows of measures per method."""
    from training import rig_truth as rt

    poses = {**rt.POSES, **rt.RIG_ONLY_POSES} if poses is None else poses
    rows = {}
    for method in methods:
        rows[method] = rt.measure_in_blender(bpy, package, data["case"], data["exact"], method, poses=poses)
        for row in rows[method]:
            row.update(still_shares(row, data["case"].shape))
    return rows


def percent(share: float) -> str:
    return "—" if np.isnan(share) else f"{100 * share:.2f} %"


def print_table(rows: dict[str, list[dict]]) -> None:
    print("| pose | weights | torso & skirt moved | of it below the hips | other legs moved | leak (all) "
          "| turned parts left behind | edges > 2x / > 3x (worst) | posed/rest Chamfer |")
    print("|---|---|---|---|---|---|---|---|---|")
    poses = [r["pose"] for r in next(iter(rows.values()))]
    for pose in poses:
        for method, method_rows in rows.items():
            r = next(x for x in method_rows if x["pose"] == pose)
            chamfer = "—" if np.isnan(r["chamfer_ratio"]) else f"{r['chamfer_ratio']:.2f}"
            cells = [pose, method, percent(r["torso"]), percent(r["below_hips"]), percent(r["other_legs"]),
                     percent(r["leak"]), f"{100 * r['behind']:.1f} %",
                     f"{r['over2']:,} / {r['over3']:,} ({r['worst']:.1f}x)",
                     "—" if np.isnan(r["chamfer_ratio"]) else f"{r['chamfer_ratio']:.2f}"]
            print("| " + " | ".join(cells) + " |", flush=True)


def write_posed_obj(row: dict, placement, place, path: Path) -> None:
    """The posed mesh of ``row`` (Blender's frame) back in the cube frame's axes (what
    ``tools/render_mesh.py`` reads), as OBJ; ``place``: the placement to undo (None: axes only)."""
    from backend.mesh import Mesh, write_obj

    posed = row["posed"] if place is None else (row["posed"] - np.asarray(place.offset)) / place.scale
    cube = posed @ placement.CUBE_TO_BLENDER          # Blender (x, -z, y) back to x, y up, z forward
    colors = row["colors"] if row["colors"] is not None else np.full((len(cube), 3), 0.7, np.float32)
    write_obj(Mesh(cube.astype(np.float32), row["faces"].astype(np.int32), colors.astype(np.float32)), path)


def render(rows: dict[str, list[dict]], case, folder: Path, size: int) -> list[Path]:
    """Front and side renders of the example with the arm raised, one person per weight method (left to
    right in ``rows``' order): ``folder/rig_example_front.png`` and ``rig_example_side.png``."""
    from pifuhd_blender import placement

    _world, place = placement.place_in_scene(case.vertices, case.height_m)
    objs = []
    for method, method_rows in rows.items():
        obj = CACHE / f"posed_{method.lower()}.obj"
        obj.parent.mkdir(parents=True, exist_ok=True)
        write_posed_obj(next(r for r in method_rows if r["pose"] == ARM), placement, place, obj)
        objs.append(obj)
    out = []
    for name, view in (("front", 0.0), ("side", -90.0)):   # side: her left, the raised arm
        png = folder / f"rig_example_{name}.png"
        # its own process: Workbench needs an OpenGL context, and a failing one aborts the whole process
        subprocess.run([sys.executable, str(REPO / "tools" / "render_mesh.py"), *map(str, objs), str(png),
                        "--views", str(view), "--size", str(size), "--spacing", "1.4"], check=True)
        out.append(png)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true", help="only reconstruct the example and mesh the truth")
    parser.add_argument("--cache", type=Path, default=None, help="the prepared example (a .pkl)")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--methods", default="AUTO,PARTS")
    parser.add_argument("--render", type=Path, default=None, help="folder for the front and side renders")
    parser.add_argument("--size", type=int, default=480, help="height of the renders in pixels")
    args = parser.parse_args()
    path = args.cache or CACHE / f"example_{args.resolution}.pkl"
    if args.prepare:
        prepare(path, args.resolution)
        return
    data = load(path, args.resolution)
    case = data["case"]
    print(f"the bundled example at {args.resolution} ({case.shape.meta['pose'].replace('_', ' ')}, "
          f"{case.shape.meta['bottom']}), game-ready: {len(case.vertices):,} vertices, {len(case.faces):,} faces")
    from addon_session import install_addon
    rows = measure(*install_addon(), data, args.methods.split(","))
    print_table(rows)
    if args.render is not None:
        render(rows, case, args.render, args.size)


if __name__ == "__main__":
    main()
    if "bpy" in sys.modules:
        import os
        sys.stdout.flush()
        os._exit(0)
