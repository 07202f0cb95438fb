"""Where the auto-rig's body-part weights go wrong, against the generator's exact truth (no bpy: the add-on's
numpy modules on the cached cases of ``bench_rig.py --prepare``).

Per person it prints: the joints placed from the photo's keypoints against the generator's true joints (cm,
split into the image plane X/Z and the depth Y), the part accuracy of the weights as the rig makes them, with
the generator's limb joints (all, or one group at a time), with each vertex put into its true limb or the torso
before the cut (a ceiling for better labels alone, :func:`truth_limbs`), by the nearest bone segment alone, then a
confusion table (true part -> heaviest bone's part) and where the errors lie (distance to the nearest true
joint; the generator's primitive nearest each wrong vertex). ``--measure`` prints ``bench_rig.py``'s
measures instead, with linear blend skinning in numpy (they agree with Blender's to about 0.1), in seconds;
``--true-limbs [knee,...]`` with the generator's limb joints (all, or the kinds named); ``--hip`` adds the hip
probes (``rig_truth.HIP_POSES``: the left thigh flexed and turned out 60°, exact bodies meshed once and cached
beside the case); ``--case FILE`` measures another prepared case (the bundled example:
``out/bench_rig_example/example_256.pkl`` from ``bench_rig_example.py --prepare``), with the head turn and,
per pose, the torso's share moved and the turned parts left behind.

Run: ``python benchmarks/rig_diagnosis.py [--measure [--true-limbs [knee,...]] [--hip]] [--seeds 900103,...]`` after
``bench_rig.py --prepare``.
"""
from __future__ import annotations

import argparse
import contextlib
import pickle
import sys
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from pifuhd_blender import part_weights as pw, placement, skeleton  # noqa: E402
from training import rig_truth as rt  # noqa: E402
from training.people import CHAINS, nearest_parts, repose  # noqa: E402

FALLOFF = 0.03   # as rig.FALLOFF (rig.py needs bpy)

#: skeleton joint -> generator joint (side appended: "+1" the person's left)
TRUE_JOINT = {"shoulder": "shoulder", "elbow": "elbow", "wrist": "wrist", "hip": "hip", "knee": "knee",
              "ankle": "ankle"}


def true_joints(case, place) -> dict[str, np.ndarray]:
    """The generator's joints in Blender's frame (the placed mesh's), named as the skeleton names them."""
    shape, frame = case.shape, case.frame
    out = {}
    for ours, theirs in TRUE_JOINT.items():
        for side, sign in (("l", "+1"), ("r", "-1")):
            body = np.asarray(shape.meta["joints"][theirs + sign], dtype=np.float64)[None]
            out[f"{ours}_{side}"] = place.apply(frame.to_cube(shape.to_world(body)))[0]
    prims = {p.name: p.prim for p in shape.parts}
    for side, sign in (("l", "+1"), ("r", "-1")):
        hand = prims["hand" + sign]
        out[f"hand_{side}"] = place.apply(frame.to_cube(shape.to_world(hand.b[None])))[0]
        foot = prims["foot" + sign]
        out[f"toe_{side}"] = place.apply(frame.to_cube(shape.to_world(foot.b[None])))[0]
        out[f"ball_{side}"] = place.apply(frame.to_cube(shape.to_world((0.3 * foot.a + 0.7 * foot.b)[None])))[0]
    return out


def primitive_names(case, cube: np.ndarray) -> list[str]:
    p = case.shape.to_body(case.frame.to_world(cube))
    values = np.stack([part.prim(p) for part in case.shape.parts])
    return [case.shape.parts[i].name for i in np.argmin(values, axis=0)]


def bones_of(skel):
    """(order, heads, tails, parents) as ``rig.build_armature`` makes them (Humanoid names)."""
    bones = skel.bones("HUMANOID")
    order = [b[0] for b in bones]
    heads = np.array([b[2] for b in bones], dtype=np.float64)
    tails = np.array([b[3] for b in bones], dtype=np.float64)
    parents = [order.index(b[1]) if b[1] else None for b in bones]
    return order, heads, tails, parents


def skin(verts, tris, skel):
    """(bone order, weights, vertices, faces) of the rig's body-part skin, the mesh cut as the rig cuts it."""
    order, heads, tails, parents = bones_of(skel)
    skin = pw.body_part_skin(verts, tris, heads, tails, order, parents, height=skel.height,
                             falloff=FALLOFF * skel.height)
    return order, skin.weights, skin.vertices, skin.faces


def true_parts(case, place, verts) -> np.ndarray:
    """Each placed vertex's true body part (see ``training.people.nearest_parts``)."""
    cube = ((verts - np.asarray(place.offset)) / place.scale) @ placement.CUBE_TO_BLENDER
    return np.asarray(nearest_parts(case.shape, case.frame.to_world(cube)))


def with_joints(skel, joints: dict) -> skeleton.Skeleton:
    """``skel`` with some joints replaced."""
    j = dict(skel.joints)
    j.update(joints)
    return skeleton.Skeleton(j, height=skel.height)


def _rotation(axis, degrees):
    k = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    a = np.radians(degrees)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * K @ K


def measure(case, exact, place, skel, poses: dict | None = None) -> list[dict]:
    """``training.rig_truth.measure_in_blender`` without Blender: linear blend skinning in numpy. ``poses``:
    name -> joint turns (default ``rig_truth.POSES``; a pose without an exact body gets a nan Chamfer ratio).
    Each row also has ``behind`` (``rig_truth.left_behind``) and ``torso`` (share of the torso's vertices,
    skirt included, that move more than 1 cm)."""
    order, heads, tails, parents = bones_of(skel)
    world, _ = placement.place_in_scene(case.vertices, case.height_m)
    order, w, v, f = skin(world.astype(np.float64), case.faces, skel)
    parts = list(true_parts(case, place, v))
    accuracy = rt.part_accuracy(w, order, parts)
    rest_chamfer = rt.chamfer(v, place.apply(exact["rest"][0])) if "rest" in exact else float("nan")
    rows = []
    for pose, turns in (rt.POSES if poses is None else poses).items():
        moved = np.zeros_like(v)
        rigid = v.copy()
        for turn in turns:
            axis = placement.cube_to_blender(rt.axis_in_cube(case.shape, turn.axis)[None])[0]
            b0 = order.index(rt.bone_for(turn))
            chain = {b0}
            for b, p in enumerate(parents):       # parents come first
                if p in chain:
                    chain.add(b)
            R = _rotation(axis, turn.degrees)
            target = (v - heads[b0]) @ R.T + heads[b0]
            share = w[:, sorted(chain)].sum(axis=1, keepdims=True)
            moved += share * (target - v)
            sel = np.isin(np.asarray(parts), sorted(rt.turned_parts([turn])))
            rigid[sel] = target[sel]
        posed = v + moved
        stretch = rt.edge_stretch(v, posed, f)
        ratio = rt.chamfer(posed, place.apply(exact[pose][0])) / rest_chamfer if pose in exact else float("nan")
        rows.append({"pose": pose, "accuracy": accuracy,
                     "leak": rt.leak(v, posed, parts, rt.turned_parts(turns)),
                     "behind": rt.left_behind(rigid, posed, parts, rt.turned_parts(turns)),
                     "torso": rt.moved_share(v, posed, parts, {"torso"}),
                     "chamfer_ratio": ratio,
                     "over2": int((stretch > 2).sum()), "over3": int((stretch > 3).sum()),
                     "worst": float(stretch.max()), "rest": v, "posed": posed, "rigid": rigid, "parts": parts,
                     "weights": w, "order": order, "faces": f})
    return rows


#: a body part -> the limb bone whose part it is (Humanoid names; the torso's and head's parts have none)
PART_LIMB_BONE = {part: bone for bone, part in rt.BONE_PART.items()
                  if part not in ("torso", "head") and not bone.endswith("Toes")}


def limb_of(part: str) -> str:
    """The limb a body part belongs to ("arm+1", "leg-1": ``people.CHAINS``), or "body" for the torso and head."""
    kind = part.rstrip("+-1")
    for limb, chain in zip(("arm", "leg"), CHAINS):
        if kind in chain:
            return limb + part[len(kind):]
    return "body"


@contextlib.contextmanager
def truth_limbs(case, place, order: list[str]):
    """While inside, the rig's skin (:func:`skin`) puts each vertex whose limb (or the body) the rig got wrong
    into its true limb's part (or the torso) before the mesh is cut: joints, planes, cut and fades stay the
    rig's. A ceiling for anything that only tells limbs from the torso better (a probe, not a method)."""
    cut = pw.separate

    def separate(vertices, faces, heads, tails, parents, radii, part, *args, **kwargs):
        truth = true_parts(case, place, np.asarray(vertices))
        part = np.array(part, copy=True)
        for i, (p, t) in enumerate(zip(part, truth)):
            if limb_of("torso" if p < 0 else rt.BONE_PART[order[p]]) != limb_of(t):
                part[i] = order.index(PART_LIMB_BONE[t]) if t in PART_LIMB_BONE else -1
        return cut(vertices, faces, heads, tails, parents, radii, part, *args, **kwargs)

    pw.separate = separate
    try:
        yield
    finally:
        pw.separate = cut


def heaviest_parts(w, order):
    return np.asarray([rt.BONE_PART[order[b]] for b in np.argmax(w, axis=1)])


def nearest_segment(verts, skel) -> np.ndarray:
    """Each vertex's part by its nearest bone segment alone (a ceiling for joint-only rules)."""
    order, heads, tails, _parents = bones_of(skel)
    return np.asarray([rt.BONE_PART[order[b]] for b in skeleton.segment_distances(verts, heads, tails)
                       .argmin(axis=1)])


def load(path: Path):
    """(data, placed vertices, faces, placement, the rig's skeleton) of one cached case."""
    with open(path, "rb") as fh:
        data = pickle.load(fh)
    case = data["case"]
    world, place = placement.place_in_scene(case.vertices, case.height_m)
    verts = world.astype(np.float64)
    tris = np.asarray(case.faces)
    kp = np.asarray(case.keypoints, dtype=np.float64).reshape(-1, 3)
    wkp = place.apply(np.c_[kp[:, :2], np.zeros(len(kp))])
    local_kp = np.c_[wkp[:, 0], wkp[:, 2], kp[:, 2]]
    return data, verts, tris, place, skeleton.estimate_skeleton(verts, tris, local_kp)


def hip_exact(path: Path, data: dict) -> dict:
    """The exact bodies of ``rig_truth.HIP_POSES`` (pose -> cube-frame (vertices, faces)) for the case at
    ``path``: meshed from the generator on first use (seconds per pose), then read from ``<case>.hip.pkl``
    beside it."""
    cache = path.with_suffix(".hip.pkl")
    if cache.is_file():
        with open(cache, "rb") as fh:
            exact = pickle.load(fh)
        if set(exact) == set(rt.HIP_POSES):
            return exact
    case = data["case"]
    exact = {pose: rt.exact_mesh(repose(case.shape, turns), case.frame) for pose, turns in rt.HIP_POSES.items()}
    with open(cache, "wb") as fh:
        pickle.dump(exact, fh)
    return exact


def measure_row(path: Path, true_limbs: str = "", hip: bool = False) -> None:
    """One table row per pose; ``true_limbs``: the generator's joints instead of the rig's for these joint
    kinds (comma-separated, e.g. ``knee``; ``all``: every limb joint)."""
    data, verts, tris, place, skel = load(path)
    case = data["case"]
    if true_limbs:
        kinds = set(true_limbs.split(","))
        skel = with_joints(skel, {k: p for k, p in true_joints(case, place).items()
                                  if "all" in kinds or k.split("_")[0] in kinds})
    poses = {**rt.POSES, **rt.RIG_ONLY_POSES, **(rt.HIP_POSES if hip else {})}
    exact = {**data["exact"], **(hip_exact(path, data) if hip else {})}
    for row in measure(case, exact, place, skel, poses):
        print(f"| {case.seed} | {row['pose']} | {100 * row['accuracy']:.1f} % | {100 * row['leak']:.2f} % | "
              f"{100 * row['torso']:.2f} % | {100 * row['behind']:.1f} % | {row['chamfer_ratio']:.2f} | "
              f"{row['over2']} | {row['over3']} | {row['worst']:.1f}x |", flush=True)


def diagnose(path: Path) -> None:
    data, verts, tris, place, skel = load(path)
    case = data["case"]
    tj = true_joints(case, place)
    meta = case.shape.meta
    print(f"\n## {case.seed} ({meta['pose']}, {meta['bottom']}, {meta['top']}), height {skel.height:.2f} m, "
          f"{len(verts):,} vertices, turn {meta['turn_deg']:.0f} deg")
    print("joint errors, cm (image plane XZ / depth Y):", ", ".join(
        f"{k} {100 * np.hypot(*(skel.joints[k] - tj[k])[[0, 2]]):.1f}/{100 * (skel.joints[k] - tj[k])[1]:+.1f}"
        for k in sorted(tj)))

    def accuracy(joints: dict) -> float:
        order, w, v, _f = skin(verts, tris, with_joints(skel, joints))
        return float(np.mean(heaviest_parts(w, order) == true_parts(case, place, v)))

    print(f"accuracy: as rigged {100 * accuracy({}):.1f} %, with the generator's limb joints "
          f"{100 * accuracy(tj):.1f} %;", ", ".join(
              f"true {group}: {100 * accuracy({k: p for k, p in tj.items() if k.split('_')[0] in group.split()}):.1f} %"
              for group in ("shoulder elbow wrist", "hand", "hip", "knee", "ankle ball toe")))
    order = bones_of(skel)[0]
    with truth_limbs(case, place, order):
        ideal, ideal_true = accuracy({}), accuracy(tj)
    print(f"with each vertex in its true limb or the torso (the rig's cut, planes and fades): {100 * ideal:.1f} %, "
          f"with the generator's limb joints too {100 * ideal_true:.1f} %")
    truth0 = true_parts(case, place, verts)
    print(f"nearest bone segment alone: {100 * np.mean(nearest_segment(verts, skel) == truth0):.1f} %, with the "
          f"generator's limb joints {100 * np.mean(nearest_segment(verts, with_joints(skel, tj)) == truth0):.1f} %")
    order, w, verts, _f = skin(verts, tris, skel)
    truth, pred = true_parts(case, place, verts), heaviest_parts(w, order)
    print("confusion (true -> heaviest bone's part, at least 0.3 % of vertices):")
    for (t, p), n in Counter(zip(truth, pred)).most_common():
        if t != p and n >= 0.003 * len(verts):
            print(f"  {t:>12} -> {p:<12} {n:6d} ({100 * n / len(verts):.1f} %)")
    wrong = pred != truth
    joints = np.array(list(tj.values()))
    dj = np.linalg.norm(verts[:, None] - joints[None], axis=2).min(axis=1)
    bins = [0, 0.03, 0.06, 0.1, 0.2, 9]
    print("wrong vertices by distance to the nearest true joint (m):",
          ", ".join(f"<{b}: {n}" for b, n in zip(bins[1:], np.histogram(dj[wrong], bins)[0])))
    cube = ((verts - np.asarray(place.offset)) / place.scale) @ placement.CUBE_TO_BLENDER
    prim = np.asarray(primitive_names(case, cube))
    print("wrong vertices by nearest primitive:", ", ".join(
        f"{k} {n}" for k, n in Counter(prim[wrong]).most_common(12)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=REPO / "out" / "bench_rig")
    parser.add_argument("--seeds", default="")
    parser.add_argument("--case", type=Path, action="append", default=[],
                        help="a prepared case file instead (e.g. out/bench_rig_example/example_256.pkl)")
    parser.add_argument("--measure", action="store_true", help="the benchmark's measures (numpy skinning)")
    parser.add_argument("--true-limbs", nargs="?", const="all", default="",
                        help="with --measure: the generator's limb joints (all, or the kinds named: knee,wrist,...)")
    parser.add_argument("--hip", action="store_true",
                        help="with --measure: the hip probes too (rig_truth.HIP_POSES, exact bodies cached)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s] or list(rt.BENCH_SEEDS)
    for path in args.case or [args.cache / f"{seed}.pkl" for seed in seeds]:
        seed = path.stem
        if path.is_file():
            if args.measure:
                measure_row(path, args.true_limbs, args.hip)
            else:
                diagnose(path)
        else:
            print(f"{seed}: not prepared")


if __name__ == "__main__":
    main()
