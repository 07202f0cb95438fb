"""Skin weights by body part, without bpy: each vertex first gets a body part (a limb segment, or the
torso/head), then weights only from the bones of that part and its neighbours in the skeleton.

Bone heat (Blender's automatic weights) spreads weight along the surface, so a hand resting on a hip, an arm
against the torso or a skirt over the legs takes weight from the wrong bones. Here a vertex belongs to a limb
segment only when it lies inside that segment's capsule: the segment (bone) grown by the limb's radius,
measured on the mesh around the bone's middle and kept within bounds set by the body's height (a skirt or
the torso next to a limb do not inflate it). Everything outside every limb capsule is torso or head. Within
its part a vertex blends the part's bone with the bones it joins (parent and children, within ``falloff`` of
the joint), so elbows and knees bend smoothly, and nothing outside the limb follows it.

Frame: any, in metres (the rig uses the mesh's local frame); bones as heads/tails [B, 3] with their names
(Humanoid or Mixamo: the part of a bone is read from its name).
"""
from __future__ import annotations

import numpy as np

from .mesh_smoothing import umbrella_smooth
from .skeleton import limit_and_normalize, segment_distances

#: Limb bone kinds (the bone name without its side and prefix) -> (radius prior as a share of the height:
#: lowest, highest) for the capsule that decides which vertices belong to that bone's segment.
LIMB_RADIUS = {
    "UpperArm": (0.022, 0.05), "LowerArm": (0.017, 0.035), "Hand": (0.018, 0.03),
    "UpperLeg": (0.04, 0.1), "LowerLeg": (0.028, 0.07), "Foot": (0.035, 0.07), "Toes": (0.03, 0.05),
}
#: Highest leg radius (share of the height) where a skirt or dress joins the legs (see :func:`skirted`): the
#: garment belongs to the hips, not the legs inside it.
SKIRTED_RADIUS = {"UpperLeg": 0.06, "LowerLeg": 0.045}
MIXAMO_KIND = {"Arm": "UpperArm", "ForeArm": "LowerArm", "Hand": "Hand", "UpLeg": "UpperLeg", "Leg": "LowerLeg",
               "Foot": "Foot", "ToeBase": "Toes"}
CAPSULE_GROWTH = 1.35     # the capsule: the measured limb radius times this (cloth folds, bumps)
EXTREMITIES = ("Hand", "Foot", "Toes")
ROOT_BLEND = 1.5          # torso vertices this many capsule radii from a shoulder or hip joint blend that limb in
ROOT_JOIN = 2.0           # a limb touching the torso farther than this (capsule radii) from its root joint is cut
SMOOTHING = 10            # rounds of weight smoothing over the mesh's edges (a blend a few edges wide)


def bone_kind(name: str) -> tuple[str, str]:
    """(side 'Left' / 'Right' / '', kind) of a bone name; limb kinds are the keys of :data:`LIMB_RADIUS`,
    anything else is its own kind (torso and head bones)."""
    base = name.split(":", 1)[1] if ":" in name else name
    for side in ("Left", "Right"):
        if base.startswith(side):
            rest = base[len(side):]
            if ":" in name:            # Mixamo
                rest = MIXAMO_KIND.get(rest, rest)
            return side, rest
    return "", base


def skirted(vertices: np.ndarray, faces: np.ndarray, left: tuple[np.ndarray, np.ndarray],
            right: tuple[np.ndarray, np.ndarray]) -> bool:
    """Whether a garment joins the two leg segments ``left`` and ``right`` ((head, tail) each, Z up, the
    camera along +Y): at most heights along them, the line of sight halfway between the legs runs through
    the mesh's interior for at least half as long as the one through a leg (a skirt or dress), where
    trousers, or legs apart, leave a gap."""
    from .skeleton import DepthProbe

    probe = DepthProbe(vertices, faces)
    jitter = np.array([0.7548776662e-6, 0.5698402910e-6])

    def inside(x: float, z: float) -> float:
        return sum(b - a for a, b in probe.intervals(x + jitter[0], z + jitter[1]))

    votes = []
    for t in (0.3, 0.5, 0.7):
        pl, pr = left[0] + t * (left[1] - left[0]), right[0] + t * (right[1] - right[0])
        mid = 0.5 * (pl + pr)
        through_leg = max(inside(pl[0], pl[2]), inside(pr[0], pr[2]))
        votes.append(through_leg > 0 and inside(mid[0], mid[2]) >= 0.5 * through_leg)
    return sum(votes) >= 2


def limb_radii(points: np.ndarray, heads: np.ndarray, tails: np.ndarray, names: list[str],
               height: float, caps: dict[str, float] | None = None) -> np.ndarray:
    """Capsule radius [B] (metres) per bone; 0 for torso and head bones. The limb's own radius is the 30th
    percentile distance from the bone's middle stretch to the vertices nearest it there, kept between the
    kind's bounds (:data:`LIMB_RADIUS` times ``height``; ``caps`` replaces upper bounds by kind, e.g.
    :data:`SKIRTED_RADIUS`), then grown by :data:`CAPSULE_GROWTH`."""
    radii = np.zeros(len(names))
    d = segment_distances(points, heads, tails)
    nearest = d.argmin(axis=1)
    for b, name in enumerate(names):
        kind = bone_kind(name)[1]
        if kind not in LIMB_RADIUS:
            continue
        lo, hi = LIMB_RADIUS[kind]
        hi = (caps or {}).get(kind, hi)
        lo, hi = lo * height, hi * height
        a, ab = heads[b], tails[b] - heads[b]
        t = ((points - a) @ ab) / max(float(ab @ ab), 1e-18)
        near = (nearest == b) & (t > 0.2) & (t < 0.8) & (d[:, b] < 2.0 * hi)
        measured = float(np.percentile(d[near, b], 30)) if near.sum() >= 8 else hi
        radii[b] = CAPSULE_GROWTH * float(np.clip(measured, lo, hi))
    return radii


def neighbours(names: list[str], parents: list[int | None]) -> list[set[int]]:
    """Per bone: itself, its parent and its children (indices)."""
    out = [{b} for b in range(len(names))]
    for b, p in enumerate(parents):
        if p is not None:
            out[b].add(p)
            out[p].add(b)
    return out


def assign_parts(points: np.ndarray, heads: np.ndarray, tails: np.ndarray, radii: np.ndarray,
                 names: list[str] | None = None) -> np.ndarray:
    """Per point: the limb bone whose capsule holds it (the one it is deepest in, relative to the radius), or
    -1 for points in no limb capsule (torso and head). With the bones' ``names``, points whose nearest bone
    is a hand or foot bone also belong to it within twice its radius when the torso's bones are much farther
    (fingers, shoe tips; not the hip a hand rests on)."""
    d = segment_distances(points, heads, tails)
    limb = radii > 0
    score = np.full(d.shape, np.inf)
    score[:, limb] = d[:, limb] / radii[limb]
    best = score.argmin(axis=1)
    best_score = score[np.arange(len(points)), best]
    # fingers and shoe tips reach past their capsules: a point whose nearest bone is a hand or foot bone
    # belongs to it within twice its radius, unless it is near the torso too (a hip under a resting hand)
    nearest = d.argmin(axis=1)
    extremity = np.zeros(len(radii), bool)
    if names is not None:
        extremity = np.array([bone_kind(n)[1] in EXTREMITIES for n in names])
    d_near = d[np.arange(len(points)), nearest]
    d_torso = d[:, ~limb].min(axis=1) if (~limb).any() else np.full(len(points), np.inf)
    reach = (extremity[nearest] & (d_near <= 2.0 * radii[nearest])
             & (d_near < 0.35 * d_torso))                  # not a hip the hand rests on: far from the torso
    return np.where(best_score <= 1.0, best, np.where(reach, nearest, -1))


def part_weights(points: np.ndarray, heads: np.ndarray, tails: np.ndarray, names: list[str],
                 parents: list[int | None], *, height: float, falloff: float, max_influences: int = 4,
                 part: np.ndarray | None = None, radii: np.ndarray | None = None,
                 faces: np.ndarray | None = None, smoothing: int = SMOOTHING) -> np.ndarray:
    """Skin weights [N, B] float32, rows summing to 1 with at most ``max_influences`` bones.

    points [N, 3]; heads, tails [B, 3]; names and parents (index or None) per bone; ``height`` of the person
    and ``falloff`` (metres, how far from a joint the neighbouring bone blends in). ``part``: per point the
    limb bone it belongs to or -1 (see :func:`assign_parts`), computed when not given.
    """
    points = np.asarray(points, dtype=np.float64)
    heads, tails = np.asarray(heads, dtype=np.float64), np.asarray(tails, dtype=np.float64)
    if part is None:
        part = assign_parts(points, heads, tails, limb_radii(points, heads, tails, names, height))
    limb = np.array([bone_kind(n)[1] in LIMB_RADIUS for n in names])
    near = neighbours(names, parents)
    allowed = np.zeros((len(points), len(names)), bool)
    allowed[part < 0] = ~limb                        # torso and head: their own bones only
    for b in np.flatnonzero(limb):
        rows = part == b
        allowed[np.ix_(rows, sorted(near[b]))] = True
    d = segment_distances(points, heads, tails)
    d = np.where(allowed, d, np.inf)
    w = np.exp(-(d - d.min(axis=1, keepdims=True)) / max(falloff, 1e-9))
    w = limit_and_normalize(w, max_influences)
    if faces is not None and smoothing > 0:
        w = limit_and_normalize(umbrella_smooth(w, faces, smoothing), max_influences)
    return w
