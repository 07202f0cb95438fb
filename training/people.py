"""Seeded sampler of synthetic clothed people (body frame: metres, y up, facing +z; see ``bodies.py``), and
the same person re-posed (:func:`repose`: limb segments turned about their joints) with every surface point's
true body part (:func:`nearest_parts`), the exact truth the rig benchmark measures against.

``sample_person(seed)`` draws proportions (child to tall adult, slim to heavy), a pose (arms down,
A-pose, T-pose, hands on hips, walking), a slight turn of the whole body, garments that change the
silhouette (t-shirt, jacket, dress, skirt, fitted or loose trousers, shorts), shoes, hair, and garment
colours/patterns. The same seed always gives the same person (numpy ``default_rng``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bodies import Ellipsoid, Frustum, Part, RoundCone, Shape

# Seed ranges: training people 0.. (``training.train --people``), validation 800000+, the end-to-end test
# people and the bundled example 900000+ (never used in training).
EXAMPLE_SEED = 900015
TEST_SEEDS = tuple(range(900001, 900009))

POSES = ("arms_down", "a_pose", "t_pose", "hands_on_hips", "walking")
TOPS = ("tshirt", "longsleeve", "jacket", "tank")
BOTTOMS = ("trousers", "loose_trousers", "shorts", "skirt", "dress")
PATTERNS = ("plain", "stripes", "checks", "dots", "vstripes")

SKIN_TONES = np.array([
    [0.96, 0.80, 0.69], [0.92, 0.72, 0.58], [0.80, 0.60, 0.45], [0.64, 0.45, 0.32],
    [0.45, 0.30, 0.21], [0.33, 0.22, 0.15],
])
HAIR_COLOURS = np.array([[0.08, 0.06, 0.05], [0.25, 0.16, 0.09], [0.55, 0.38, 0.20], [0.85, 0.72, 0.45],
                         [0.50, 0.50, 0.50]])


@dataclass(frozen=True)
class Garment:
    """Colour and pattern of one material group: RGB in [0, 1]; ``period`` in metres."""

    colour: tuple[float, float, float]
    colour2: tuple[float, float, float]
    pattern: str
    period: float


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _rotate(v: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues rotation of ``v`` about unit ``axis`` by ``angle`` radians."""
    k = _unit(axis)
    return v * np.cos(angle) + np.cross(k, v) * np.sin(angle) + k * (k @ v) * (1 - np.cos(angle))


def _bend(d: np.ndarray, towards: np.ndarray, angle: float) -> np.ndarray:
    """Rotate direction ``d`` by ``angle`` in the plane of ``d`` and ``towards`` (towards it when positive)."""
    axis = np.cross(d, towards)
    if np.linalg.norm(axis) < 1e-9:
        axis = np.cross(d, np.array([1.0, 0.0, 0.0]))
    return _rotate(d, axis, angle)


def _two_bone(root: np.ndarray, target: np.ndarray, l1: float, l2: float, pole: np.ndarray) -> np.ndarray:
    """Middle joint of a two-bone chain from ``root`` reaching ``target`` (clamped), bending towards ``pole``."""
    d = target - root
    dist = float(np.clip(np.linalg.norm(d), abs(l1 - l2) + 1e-6, l1 + l2 - 1e-6))
    u = _unit(d)
    a = (l1 * l1 - l2 * l2 + dist * dist) / (2 * dist)
    h = np.sqrt(max(l1 * l1 - a * a, 0.0))
    side = pole - root
    side = _unit(side - (side @ u) * u)
    return root + a * u + h * side


def _garment(rng: np.random.Generator, dark: bool = False) -> Garment:
    hue = rng.uniform(0, 1)
    sat = rng.uniform(0.3, 0.9)
    val = rng.uniform(0.15, 0.45) if dark else rng.uniform(0.35, 0.95)

    def hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
        i = int(h * 6) % 6
        f = h * 6 - int(h * 6)
        p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
        return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]

    c1 = hsv(hue, sat, val)
    c2 = hsv((hue + rng.uniform(0.3, 0.7)) % 1.0, rng.uniform(0.0, 0.6), rng.uniform(0.6, 1.0) if val < 0.6
             else rng.uniform(0.1, 0.4))
    pattern = str(rng.choice(PATTERNS, p=[0.4, 0.2, 0.15, 0.1, 0.15]))
    return Garment(c1, c2, pattern, float(rng.uniform(0.03, 0.09)))


def sample_person(seed: int) -> Shape:
    """The synthetic person for ``seed``: a :class:`Shape` whose ``meta`` holds the drawn parameters
    (height_m, girth, pose, top, bottom, turn_deg) and the colours (``meta['colours']``: group ->
    :class:`Garment`)."""
    rng = np.random.default_rng(int(seed))
    H = float(rng.uniform(1.0, 1.95))                 # standing height scale, metres
    adult = float(np.clip((H - 1.0) / 0.6, 0.0, 1.0))  # 0 child .. 1 adult proportions
    g = float(rng.uniform(0.82, 1.4))                 # girth: slim .. heavy
    w = float(rng.uniform(0.92, 1.08)) * (0.92 + 0.08 * adult)  # shoulder width factor
    hh = H / (5.0 + 2.5 * adult)                       # head height
    pose = str(rng.choice(POSES))
    top = str(rng.choice(TOPS))
    bottom = str(rng.choice(BOTTOMS, p=[0.25, 0.2, 0.15, 0.2, 0.2]))
    turn = float(np.radians(rng.uniform(-25, 25)))

    base = H - hh                                      # chin height
    y_hip = (0.44 + 0.06 * adult) * H
    y_sh = base - 0.045 * H
    sw = 0.105 * H * w * (1 + 0.12 * (g - 1))
    hip_dx = 0.052 * H * np.sqrt(g)
    parts: list[Part] = []

    def add(name: str, group: str, prim) -> None:
        parts.append(Part(name, group, prim))

    v = np.array
    # Head, neck, torso.
    add("head", "skin", Ellipsoid(v([0.0, H - 0.5 * hh, 0.01 * H]), v([0.38, 0.5, 0.45]) * hh))
    add("neck", "skin", RoundCone(v([0.0, y_sh - 0.01 * H, -0.005 * H]), v([0.0, base + 0.3 * hh, 0.0]),
                                  0.033 * H * g ** 0.5, 0.03 * H * g ** 0.5))
    chest = Ellipsoid(v([0.0, base - 0.15 * H, 0.0]), v([0.092 * H * w * g ** 0.7, 0.1 * H, 0.062 * H * g]))
    belly = Ellipsoid(v([0.0, base - 0.28 * H, 0.004 * H * (g - 1) * 10]),
                      v([0.08 * H * g, 0.095 * H, 0.058 * H * g ** 1.3]))
    pelvis = Ellipsoid(v([0.0, y_hip + 0.035 * H, -0.005 * H]), v([0.095 * H * g, 0.075 * H, 0.066 * H * g]))
    shoulder_bar = RoundCone(v([-sw * 0.85, y_sh - 0.01 * H, -0.01 * H]), v([sw * 0.85, y_sh - 0.01 * H, -0.01 * H]),
                             0.04 * H * g ** 0.5, 0.04 * H * g ** 0.5)
    for name, prim in (("chest", chest), ("belly", belly), ("pelvis", pelvis), ("shoulders", shoulder_bar)):
        add(name, "skin", prim)

    # Arms.
    l_up, l_fo, l_ha = 0.17 * H, 0.145 * H, 0.085 * H
    r_up, r_el, r_wr = 0.032 * H * g ** 0.8, 0.026 * H * g ** 0.7, 0.018 * H * g ** 0.3
    swing = float(rng.uniform(0.25, 0.45)) * float(rng.choice([-1, 1]))
    arms = {}
    for side in (-1.0, 1.0):
        S = v([side * sw, y_sh, -0.01 * H])
        if pose == "hands_on_hips":
            T = v([side * 0.1 * H * g, y_hip + 0.06 * H, 0.0])
            E = _two_bone(S, T, l_up, l_fo, S + v([side * 0.3, -0.05, -0.12]))
            W = E + l_fo * _unit(T - E)
            hand_dir = _unit(v([0.0, -1.0, 0.4]))
        else:
            if pose == "a_pose":
                ab, fl, bend = rng.uniform(35, 50), rng.uniform(-5, 10), rng.uniform(5, 20)
            elif pose == "t_pose":
                ab, fl, bend = rng.uniform(82, 95), rng.uniform(-5, 10), rng.uniform(0, 10)
            elif pose == "walking":
                ab, fl, bend = rng.uniform(6, 12), np.degrees(side * swing), rng.uniform(10, 30)
            else:  # arms down
                ab, fl, bend = rng.uniform(6, 14), rng.uniform(-8, 12), rng.uniform(5, 25)
            ab, fl, bend = np.radians([ab, fl, bend])
            d1 = v([side * np.sin(ab) * np.cos(fl), -np.cos(ab) * np.cos(fl), np.sin(fl)])
            E = S + l_up * d1
            d2 = _bend(d1, v([0.0, 0.0, 1.0]), bend)
            W = E + l_fo * d2
            hand_dir = d2
        arms[side] = (S, E, W)
        add(f"upper_arm{side:+.0f}", "skin", RoundCone(S, E, r_up, r_el))
        add(f"forearm{side:+.0f}", "skin", RoundCone(E, W, r_el, r_wr))
        add(f"hand{side:+.0f}", "skin", RoundCone(W + 0.01 * H * hand_dir, W + l_ha * hand_dir, 0.02 * H, 0.016 * H))

    # Legs.
    l_th = y_hip * 0.5
    l_sh = y_hip * 0.5 - 0.045 * H
    legs = {}
    stance = np.radians(rng.uniform(0, 7))
    for side in (-1.0, 1.0):
        Hp = v([side * hip_dx, y_hip, 0.0])
        if pose == "walking":
            fl = -side * swing * 0.8
            knee = 0.05 if fl > 0 else 0.35
            ab = np.radians(2)
        else:
            fl, knee, ab = float(rng.uniform(-0.05, 0.05)), float(rng.uniform(0.0, 0.08)), stance
        d1 = v([side * np.sin(ab) * np.cos(fl), -np.cos(ab) * np.cos(fl), np.sin(fl)])
        K = Hp + l_th * d1
        d2 = _bend(d1, v([0.0, 0.0, -1.0]), knee)
        A = K + l_sh * d2
        legs[side] = (Hp, K, A)
        add(f"thigh{side:+.0f}", "skin", RoundCone(Hp, K, 0.058 * H * g, 0.036 * H * g ** 0.8))
        add(f"shin{side:+.0f}", "skin", RoundCone(K, A, 0.035 * H * g ** 0.8, 0.022 * H * g ** 0.5))
        foot = RoundCone(A + v([0, -0.015 * H, -0.01 * H]), A + v([0.01 * side * H, -0.025 * H, 0.11 * H]),
                         0.024 * H, 0.02 * H)
        add(f"foot{side:+.0f}", "skin", foot)
        add(f"shoe{side:+.0f}", "shoes", RoundCone(foot.a, foot.b + v([0, 0, 0.01 * H]), 0.03 * H, 0.026 * H))

    # Tops.
    t = 0.012 * H if top != "jacket" else 0.026 * H
    add("top_chest", "top", Ellipsoid(chest.c, chest.r + t))
    add("top_belly", "top", Ellipsoid(belly.c, belly.r + t))
    add("top_shoulders", "top", RoundCone(shoulder_bar.a, shoulder_bar.b, shoulder_bar.ra + t, shoulder_bar.rb + t))
    if top == "jacket":
        add("top_hem", "top", Ellipsoid(pelvis.c + v([0, 0.02 * H, 0]), pelvis.r + v([t, 0.0, t])))
    if top != "tank":
        for side, (S, E, W) in arms.items():
            if top == "tshirt":
                add(f"sleeve_up{side:+.0f}", "top", RoundCone(S, S + 0.45 * (E - S), r_up + 0.8 * t, r_up + 0.6 * t))
            else:
                add(f"sleeve_up{side:+.0f}", "top", RoundCone(S, E, r_up + 0.8 * t, r_el + 0.8 * t))
                add(f"sleeve_fo{side:+.0f}", "top", RoundCone(E, W - 0.01 * H * _unit(W - E), r_el + 0.8 * t,
                                                              r_wr + 0.7 * t))

    # Bottoms.
    tb = 0.01 * H
    loose = 0.028 * H * float(rng.uniform(0.8, 1.3))
    if bottom in ("trousers", "loose_trousers", "shorts"):
        add("bottom_pelvis", "bottom", Ellipsoid(pelvis.c, pelvis.r + tb))
        for side, (Hp, K, A) in legs.items():
            extra = loose if bottom == "loose_trousers" else 0.0
            add(f"leg_up{side:+.0f}", "bottom",
                RoundCone(Hp, K if bottom != "shorts" else Hp + 0.55 * (K - Hp), 0.058 * H * g + tb + 0.5 * extra,
                          0.036 * H * g ** 0.8 + tb + extra if bottom != "shorts" else 0.05 * H * g + tb + 0.01 * H))
            if bottom != "shorts":
                add(f"leg_lo{side:+.0f}", "bottom",
                    RoundCone(K, A + v([0, 0.01 * H, 0]), 0.035 * H * g ** 0.8 + tb + extra,
                              0.022 * H * g ** 0.5 + tb + 1.3 * extra))
    else:
        top_y = (base - 0.2 * H) if bottom == "dress" else y_hip + 0.1 * H
        knee_y = 0.5 * (legs[-1.0][1][1] + legs[1.0][1][1])
        hem = knee_y + float(rng.uniform(-0.08, 0.1)) * H
        r_top = 0.1 * H * g
        flare = float(rng.uniform(0.02, 0.09)) * H
        r_hem = max(0.11 * H * g, 0.5 * abs(legs[1.0][1][0] - legs[-1.0][1][0]) + 0.05 * H) + flare
        add("skirt", "bottom", Frustum(0.0, -0.005 * H, top_y, hem, r_top, r_hem, 0.8))
        add("bottom_pelvis", "bottom", Ellipsoid(pelvis.c, pelvis.r + tb))
        if bottom == "dress":
            add("dress_chest", "bottom", Ellipsoid(chest.c, chest.r + 0.6 * t))
            add("dress_belly", "bottom", Ellipsoid(belly.c, belly.r + 0.6 * t))

    # Hair.
    hair = str(rng.choice(["none", "short", "long"], p=[0.15, 0.5, 0.35]))
    head_c = v([0.0, H - 0.5 * hh, 0.01 * H])
    if hair != "none":
        add("hair_cap", "hair", Ellipsoid(head_c + v([0, 0.06 * hh, -0.06 * hh]), v([0.41, 0.5, 0.45]) * hh))
    if hair == "long":
        add("hair_long", "hair", RoundCone(head_c + v([0, 0.0, -0.15 * hh]), head_c + v([0, -0.9 * hh, -0.3 * hh]),
                                           0.33 * hh, 0.25 * hh))

    colours = {
        "skin": Garment(tuple(SKIN_TONES[rng.integers(len(SKIN_TONES))]), (0, 0, 0), "plain", 1.0),
        "top": _garment(rng),
        "bottom": _garment(rng, dark=bool(rng.random() < 0.4)),
        "shoes": Garment(tuple(rng.uniform(0.05, 0.5, 3) * np.array([1, 0.9, 0.8])), (0, 0, 0), "plain", 1.0),
        "hair": Garment(tuple(HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))]), (0, 0, 0), "plain", 1.0),
    }
    shape = Shape(parts, blend={"skin": 0.03 * H, "top": 0.02 * H, "bottom": 0.02 * H, "shoes": 0.01 * H,
                                "hair": 0.02 * H}, turn=turn)
    joints = {}
    for side, (S, E, W) in arms.items():
        joints.update({f"shoulder{side:+.0f}": S, f"elbow{side:+.0f}": E, f"wrist{side:+.0f}": W})
    for side, (Hp, K, A) in legs.items():
        joints.update({f"hip{side:+.0f}": Hp, f"knee{side:+.0f}": K, f"ankle{side:+.0f}": A})
    shape.meta = {"seed": int(seed), "height_m": H, "girth": g, "pose": pose, "top": top, "bottom": bottom,
                  "hair": hair, "turn_deg": float(np.degrees(turn)), "colours": colours,
                  "joints": {k: tuple(float(c) for c in p) for k, p in joints.items()}}
    return shape


# ------------------------------------------------------------------------------------------ re-posing

#: Limb segments, their parts (name prefixes, followed by the side "+1" = the person's left or "-1") and the
#: joint each turns about; a chain's segments in order from the torso out.
SEGMENTS = {
    "upper_arm": (("upper_arm", "sleeve_up"), "shoulder"), "forearm": (("forearm", "sleeve_fo"), "elbow"),
    "hand": (("hand",), "wrist"), "thigh": (("thigh", "leg_up"), "hip"), "shin": (("shin", "leg_lo"), "knee"),
    "foot": (("foot", "shoe"), "ankle"),
}
CHAINS = (("upper_arm", "forearm", "hand"), ("thigh", "shin", "foot"))
_JOINTS_BELOW = {"shoulder": ("elbow", "wrist"), "elbow": ("wrist",), "wrist": (), "hip": ("knee", "ankle"),
                 "knee": ("ankle",), "ankle": ()}


@dataclass(frozen=True)
class JointTurn:
    """A rotation of one limb segment and everything below it in its chain, about the segment's joint:
    ``segment`` a key of :data:`SEGMENTS`, ``side`` +1 (the person's left, +x) or -1, ``axis`` in the body
    frame (normalised here), ``degrees`` by the right-hand rule."""

    segment: str
    side: int
    axis: tuple[float, float, float]
    degrees: float


def body_part(part_name: str) -> str:
    """The body part a primitive belongs to: ``"<segment><side>"`` (e.g. ``"forearm+1"``) for limb parts,
    ``"head"`` (head, neck, hair) or ``"torso"`` (everything else: chest, belly, pelvis, shoulders, tops,
    skirt, dress)."""
    for segment, (prefixes, _joint) in SEGMENTS.items():
        for prefix in prefixes:
            if part_name.startswith(prefix) and part_name[len(prefix):] in ("+1", "-1"):
                return segment + part_name[len(prefix):]
    if part_name in ("head", "neck") or part_name.startswith("hair"):
        return "head"
    return "torso"


def moved_parts(turns) -> set[str]:
    """The body parts (see :func:`body_part`) that ``turns`` move."""
    out = set()
    for t in turns:
        chain = next(c for c in CHAINS if t.segment in c)
        out |= {f"{s}{t.side:+d}" for s in chain[chain.index(t.segment):]}
    return out


def repose(shape: Shape, turns) -> Shape:
    """The same person in another pose: each :class:`JointTurn` in ``turns`` (applied in order) rotates its
    segment's parts and those below it in the chain rigidly about the joint (limb parts are round cones: both
    ends turn, radii stay). The torso, head, skirt and dress do not move. ``meta['joints']`` follows; the
    person's look (sizes, garments, colours, turn) is unchanged. ``shape`` itself is not modified."""
    parts = list(shape.parts)
    joints = {k: np.array(v, dtype=np.float64) for k, v in shape.meta["joints"].items()}
    for t in turns:
        chain = next(c for c in CHAINS if t.segment in c)
        moving = {f"{s}{t.side:+d}" for s in chain[chain.index(t.segment):]}
        joint_name = SEGMENTS[t.segment][1]
        pivot = joints[f"{joint_name}{t.side:+d}"]
        axis, angle = _unit(np.asarray(t.axis, dtype=np.float64)), np.radians(t.degrees)

        def turn(p: np.ndarray) -> np.ndarray:
            return pivot + _rotate(np.asarray(p, dtype=np.float64) - pivot, axis, angle)

        for i, part in enumerate(parts):
            if body_part(part.name) in moving:
                prim = part.prim
                if not isinstance(prim, RoundCone):
                    raise TypeError(f"cannot turn the {type(prim).__name__} part {part.name}")
                parts[i] = Part(part.name, part.group, RoundCone(turn(prim.a), turn(prim.b), prim.ra, prim.rb))
        for below in _JOINTS_BELOW[joint_name]:
            key = f"{below}{t.side:+d}"
            joints[key] = turn(joints[key])
    out = Shape(parts, blend=dict(shape.blend), turn=shape.turn)
    out.meta = dict(shape.meta)
    out.meta["joints"] = {k: tuple(float(c) for c in p) for k, p in joints.items()}
    out.meta["turns"] = tuple(turns)
    return out


def nearest_parts(shape: Shape, p_world: np.ndarray) -> list[str]:
    """The body part (see :func:`body_part`) whose primitive surface is nearest each world point [N, 3]: the
    part with the smallest implicit value (outer garments win over the skin below them)."""
    p = shape.to_body(np.asarray(p_world, dtype=np.float64).reshape(-1, 3))
    values = np.stack([part.prim(p) for part in shape.parts])
    names = [body_part(part.name) for part in shape.parts]
    return [names[i] for i in np.argmin(values, axis=0)]
