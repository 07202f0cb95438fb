"""Auto-rig against exact re-posed truth (issue 11): generated people the demo model never saw are
reconstructed in their own pose (A), rigged by ``rig.rig_object`` with each weight method, posed like the
generator's joint turns (pose B), and compared with the generator's exact body in pose B.

Per person, weight method and pose it prints (see ``training/rig_truth.py``):
(a) part accuracy: share of vertices whose heaviest bone is their true body part's;
(b) leak: share of vertices that move more than 1 cm although their body part should not move;
(c) symmetric Chamfer distance posed mesh <-> exact posed body, over the same at rest;
(d) edges stretched past 2x (and 3x), and the largest stretch;
(e) left behind: share of the turned parts' vertices more than 5 cm from where their bone takes them.

Two stages, because torch and bpy are best not loaded together: ``--prepare`` reconstructs the people and
meshes the exact bodies into ``--cache`` (numpy files); the default run rigs and measures in bpy.

Run: ``python benchmarks/bench_rig.py --prepare && python benchmarks/bench_rig.py [--methods AUTO,PARTS]``
(PARTS: the add-on's default body-part weights; AUTO: bone heat; NEAREST: distance).
"""
from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
from pathlib import Path

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
        case = rt.save_case(model, seed, path, resolution)
        m = case.shape.meta
        print(f"prepared {seed}: {m['pose']}, {m['bottom']}, {len(case.vertices):,} vertices", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true", help="reconstruct the people and mesh the truth")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--seeds", default="")
    parser.add_argument("--methods", default="AUTO,PARTS")
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
    print("| person | weights | pose | part accuracy | leak | left behind | posed/rest Chamfer | edges > 2x | > 3x "
          "| worst |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    totals: dict[str, list[dict]] = {m: [] for m in methods}
    for seed in seeds:
        with open(args.cache / f"{seed}.pkl", "rb") as fh:
            data = pickle.load(fh)
        meta = data["case"].shape.meta
        who = f"{seed} ({meta['pose'].replace('_', ' ')}, {meta['bottom'].replace('_', ' ')})"
        for method in methods:
            for row in rt.measure_in_blender(bpy, package, data["case"], data["exact"], method):
                totals[method].append(row)
                print(f"| {who} | {method} | {row['pose']} | {100 * row['accuracy']:.1f} % | "
                      f"{100 * row['leak']:.2f} % | {100 * row['behind']:.1f} % | {row['chamfer_ratio']:.2f} | "
                      f"{row['over2']} | {row['over3']} | {row['worst']:.1f}x |", flush=True)
    print()
    print("| weights | part accuracy, worst | leak, worst | left behind, worst | posed/rest Chamfer, worst "
          "| edges > 3x, total |")
    print("|---|---|---|---|---|---|")
    for method, rows in totals.items():
        if rows:
            print(f"| {method} | {100 * min(r['accuracy'] for r in rows):.1f} % | "
                  f"{100 * max(r['leak'] for r in rows):.2f} % | {100 * max(r['behind'] for r in rows):.1f} % | "
                  f"{max(r['chamfer_ratio'] for r in rows):.2f} | "
                  f"{sum(r['over3'] for r in rows)} |")


if __name__ == "__main__":
    main()
    if "bpy" in sys.modules:
        import os
        sys.stdout.flush()
        os._exit(0)
