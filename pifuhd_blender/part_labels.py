"""Which body part each vertex of a reconstructed person belongs to, without bpy: a limb segment (by its
bone) or the torso/head (-1). The first half of the body-part skin (:mod:`.part_weights` turns parts into
weights).

A vertex belongs to a limb segment only when it lies inside that segment's capsule (the bone grown by the limb's
radius, measured on the mesh and kept within bounds set by the body's height; narrower under a skirt) and its
surface faces away from the bone (a torso or skirt the limb lies against faces the limb); islands of one part
inside another are removed, and a piece of torso cut off from the torso's main piece is the limb's around it
(a forearm patch outside the capsule); the core of an arm's capsule is the arm's whichever way its surface
faces. Shin and foot capsules are first moved in depth onto the limb's surface;
arm capsules are wider on the arm's side away from the spine, and an upper arm's leaves out the armpit (its
side towards the spine just below the shoulder); thigh capsules are wider towards the hip (in trousers); a
trouser hem wider than the shoe is the shin's below the ankle. Everything else is torso or head.

Frame: any, in metres (the rig uses the mesh's local frame); bones as heads/tails [B, 3] with their names
(Humanoid or Mixamo: the part of a bone is read from its name).
"""
from __future__ import annotations

import numpy as np

from .skeleton import segment_distances

#: Limb bone kinds (the bone name without its side and prefix) -> (radius prior as a share of the height:
#: lowest, highest) for the capsule that decides which vertices belong to that bone's segment.
LIMB_RADIUS = {
    "UpperArm": (0.022, 0.05), "LowerArm": (0.017, 0.035), "Hand": (0.018, 0.03),
    "UpperLeg": (0.04, 0.1), "LowerLeg": (0.028, 0.07), "Foot": (0.035, 0.07), "Toes": (0.03, 0.05),
}
#: Highest leg radius (share of the height) where a skirt or dress joins the legs (see :func:`skirted`): the
#: garment belongs to the hips, not the legs inside it.
SKIRTED_RADIUS = {"UpperLeg": 0.045, "LowerLeg": 0.045}
SKIRT_DEPTH = 0.9         # between skirted legs the interior is as deep as through a leg (1.0-1.1 measured)
SKIRT_SPREAD = 40.0       # degrees: legs further apart than this on camera are not joined by a skirt (a leg lifted
                          # or folded, as in a yoga tree pose, has the other leg or its own shin between them)
MIXAMO_KIND = {"Arm": "UpperArm", "ForeArm": "LowerArm", "Hand": "Hand", "UpLeg": "UpperLeg", "Leg": "LowerLeg",
               "Foot": "Foot", "ToeBase": "Toes"}
CAPSULE_GROWTH = 1.35     # the capsule: the measured limb radius times this (cloth folds, bumps)
EXTREMITIES = ("Hand", "Foot", "Toes")
FACING = 0.3              # a limb's own surface faces away from its bone: cosine at least this,
FACING_OF = {"LowerArm": 0.5, "Hand": 0.5}   # or this for these kinds (a belly or hip under a forearm or hand
                          # resting on it is inside their capsules and faces away at cosines 0.3-0.65)
FACING_CORE = 0.4         # an arm's surface this close to its bone (share of the capsule's radius) is the arm's
                          # whichever way it faces (see assign_parts)
MAJORITY_ROUNDS = 3       # rounds of the islands filter (see majority_filter)
MAJORITY_SHARE = 0.6      # a vertex takes a label this share of its neighbours carry
CENTRED = ("LowerLeg", "Foot")   # limb kinds whose capsules are moved onto their surface (centred_axes)
CENTRE_ROUNDS = 3         # rounds of moving a limb's capsule onto the limb's own surface (see centred_axes)
CENTRE_SHIFT = 0.5        # the farthest a capsule's axis moves (share of its radius)
CENTRE_AXES = np.array([0.0, 1.0, 0.0])   # moved in depth only (Y, along the camera's line of sight)
CENTRE_REACH = 1.5        # the surface points that place the axis lie within this many radii of it
OUTER_KINDS = ("UpperArm", "LowerArm")   # limb kinds with a wider capsule on their outer side (outer_growth)
OUTER_GROWTH = 1.3        # how much wider there
OUTER_FROM, OUTER_TO = 0.3, 0.75   # along which stretch of the bone (0 its head, 1 its tail)
SPINE_KINDS = ("Hips", "Spine", "Chest", "UpperChest")   # the spine's bones ("away from the spine": outer_growth)
ARMPIT_KINDS = ("UpperArm",)   # limb kinds whose side towards the spine near their head is torso (armpit)
ARMPIT_DOWN = 30.0        # degrees: an upper arm pointing further down than this faces the torso on its inner side
ARMPIT_TO = 0.3           # down to this share of the bone from its head (below the joint; above it the joint
                          # plane's fade already leaves the torso heaviest, and the top of the shoulder by the
                          # neck would take the head's weight as torso)
THIGH_TAPER = 0.15        # thigh capsules widen from the thigh's middle to this much wider at the hip (thigh_taper)
TAPER_CLEAR = 2.0         # but not within this many of an arm bone's capsule radii
ARM_KINDS = ("UpperArm", "LowerArm", "Hand")   # an arm's bones, from the shoulder out
HEM_BAND = (0.02, 0.05)   # where a trouser leg's tube is measured: this far above the ankle (share of the height)
HEM_WIDER = 1.8           # a hem at least this many times as wide as the foot falls over the shoe (hem_over_foot)
HEM_REACH = 1.05          # below the ankle, surface within this many of the hem's radii of its middle is the hem's


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
    the mesh's interior nearly as long as the one through a leg (:data:`SKIRT_DEPTH`: a skirt or dress),
    where trousers leave a gap or a groove (thighs touching in trousers: 0.4-0.9), and legs apart nothing.
    Legs that hang side by side only: segments more than :data:`SKIRT_SPREAD` apart on camera are not."""
    from .skeleton import DepthProbe, angle_on_camera

    if angle_on_camera(left[1] - left[0], right[1] - right[0]) > SKIRT_SPREAD:
        return False
    probe = DepthProbe(vertices, faces)
    jitter = np.array([0.7548776662e-6, 0.5698402910e-6])

    def inside(x: float, z: float) -> float:
        return sum(b - a for a, b in probe.intervals(x + jitter[0], z + jitter[1]))

    votes = []
    for t in (0.3, 0.5, 0.7):
        pl, pr = left[0] + t * (left[1] - left[0]), right[0] + t * (right[1] - right[0])
        mid = 0.5 * (pl + pr)
        through_leg = max(inside(pl[0], pl[2]), inside(pr[0], pr[2]))
        votes.append(through_leg > 0 and inside(mid[0], mid[2]) >= SKIRT_DEPTH * through_leg)
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


def vertex_normals(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit area-weighted vertex normals [N, 3] of a triangle mesh (zero for vertices on no face)."""
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    p = np.asarray(points, dtype=np.float64)
    fn = np.cross(p[f[:, 1]] - p[f[:, 0]], p[f[:, 2]] - p[f[:, 0]])
    n = np.zeros_like(p)
    for c in range(3):
        np.add.at(n, f[:, c], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-18)


def facing(points: np.ndarray, normals: np.ndarray, heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
    """Cosine [N, B] between each point's normal and the direction from each bone's segment to the point:
    near 1 on a limb's own surface, low or negative on a torso or skirt the limb lies against."""
    p = np.asarray(points, dtype=np.float64)[:, None, :]
    a = np.asarray(heads, dtype=np.float64)[None]
    ab = np.asarray(tails, dtype=np.float64)[None] - a
    t = np.clip(((p - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-18), 0.0, 1.0)
    r = p - (a + t[..., None] * ab)
    r = r / np.maximum(np.linalg.norm(r, axis=-1, keepdims=True), 1e-18)
    return (r * np.asarray(normals)[:, None, :]).sum(-1)


def centred_axes(points: np.ndarray, normals: np.ndarray, heads: np.ndarray, tails: np.ndarray,
                 radii: np.ndarray, names: list[str], rounds: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Capsule axes (heads, tails [B, 3]) of the shins and feet (:data:`CENTRED`, by ``names``) moved in
    depth onto the limb's own surface: the photo gives no depth, so a joint lifted into the mesh can sit
    centimetres in front of the limb's middle (a knee lifted through a skirt, an ankle through a shoe that
    reaches forward), which leaves the calf out of the capsule, torso, when the knee bends. Each round
    moves such a bone's axis along Y (the camera's line of sight; the keypoints fix X and Z) by the mean
    offset of the surface points on its middle stretch that are nearest to it, within
    :data:`CENTRE_REACH` radii and facing away from it (on a round limb that mean is the axis' offset from
    the limb's centre line), at most :data:`CENTRE_SHIFT` of the radius in all. Arms stay: moved the same
    way they took in more of the torso they lie against (benchmarks/rig_diagnosis.py --measure)."""
    heads, tails = np.array(heads, dtype=np.float64), np.array(tails, dtype=np.float64)
    shift = np.zeros_like(heads)
    limb = np.flatnonzero((radii > 0) & np.array([bone_kind(n)[1] in CENTRED for n in names]))
    for _ in range(CENTRE_ROUNDS if rounds is None else rounds):
        a, b = heads + shift, tails + shift
        d = segment_distances(points, a, b)
        nearest = d.argmin(axis=1)
        cos = facing(points, normals, a[limb], b[limb])
        for k, bone in enumerate(limb):
            ab = b[bone] - a[bone]
            t = ((points - a[bone]) @ ab) / max(float(ab @ ab), 1e-18)
            near = ((nearest == bone) & (t > 0.25) & (t < 0.75) & (d[:, bone] < CENTRE_REACH * radii[bone])
                    & (cos[:, k] >= FACING))
            if near.sum() < 16:
                continue
            r = points[near] - (a[bone] + t[near, None] * ab)
            step = r.mean(axis=0) * CENTRE_AXES
            total = shift[bone] + step
            length = float(np.linalg.norm(total))
            limit = CENTRE_SHIFT * radii[bone]
            shift[bone] = total if length <= limit else total * (limit / length)
    return heads + shift, tails + shift


def arm_sides(points: np.ndarray, heads: np.ndarray, tails: np.ndarray, names: list[str]
              ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per upper arm or forearm bone (:data:`OUTER_KINDS`): (along [N], the point's projection on the bone as a
    share of its length (0 its head, 1 its tail); outer [N], whether the point's offset across the bone
    points away from the spine's bones, horizontally (Z up)). Empty without spine or arm bones."""
    spine = [b for b, n in enumerate(names) if bone_kind(n)[1] in SPINE_KINDS]
    arms = [b for b, n in enumerate(names) if bone_kind(n)[1] in OUTER_KINDS]
    sides: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if not spine or not arms:
        return sides
    p = np.asarray(points, dtype=np.float64)
    for b in arms:
        ab = tails[b] - heads[b]
        along = ((p - heads[b]) @ ab) / max(float(ab @ ab), 1e-18)
        foot = heads[b] + np.clip(along, 0.0, 1.0)[:, None] * ab
        # the nearest point of the spine's bones to each foot point
        best, near = np.full(len(p), np.inf), np.zeros_like(p)
        for s in spine:
            sa, sb = heads[s], tails[s] - heads[s]
            u = np.clip(((foot - sa) @ sb) / max(float(sb @ sb), 1e-18), 0.0, 1.0)
            q = sa + u[:, None] * sb
            dist = np.linalg.norm(foot - q, axis=1)
            closer = dist < best
            best[closer], near[closer] = dist[closer], q[closer]
        out = foot - near
        out[:, 2] = 0.0
        sides[b] = (along, ((p - foot) * out).sum(axis=1) > 0)
    return sides


def armpit(points: np.ndarray, heads: np.ndarray, tails: np.ndarray, names: list[str], b: int,
           side: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Per point [N]: whether it lies on arm bone ``b``'s side towards the torso between the bone's head and
    :data:`ARMPIT_TO` of its length (the armpit and the chest or back beside it). ``side``: the bone's
    (along, outer) from :func:`arm_sides`. An arm pointing down (more than :data:`ARMPIT_DOWN` below the
    horizontal, Z up) faces the torso on its side towards the spine (not outer); an arm held out or raised,
    where that side is ill-defined, on its side towards the middle of the spine's bones."""
    along, outer = side
    ab = tails[b] - heads[b]
    unit = ab / max(float(np.linalg.norm(ab)), 1e-18)
    stretch = (along >= 0.0) & (along < ARMPIT_TO)
    if -unit[2] > np.sin(np.radians(ARMPIT_DOWN)):
        return stretch & ~outer
    spine = [k for k, n in enumerate(names) if bone_kind(n)[1] in SPINE_KINDS]
    p = np.asarray(points, dtype=np.float64)
    foot = heads[b] + np.clip(along, 0.0, 1.0)[:, None] * ab
    towards = 0.5 * (heads[spine] + tails[spine]).mean(axis=0) - foot
    towards -= (towards @ unit)[:, None] * unit
    return stretch & (((p - foot) * towards).sum(axis=1) > 0)


def outer_growth(points: np.ndarray, heads: np.ndarray, tails: np.ndarray, names: list[str],
                 sides: dict[int, tuple[np.ndarray, np.ndarray]] | None = None) -> np.ndarray:
    """Per point and bone [N, B]: how much wider the capsule is there: :data:`OUTER_GROWTH` for an upper arm
    or forearm bone (:data:`OUTER_KINDS`) on its side away from the spine (the point's offset across the bone
    points away from the spine's bones, horizontally; Z up) along the bone's middle (:data:`OUTER_FROM` to
    :data:`OUTER_TO`: not the shoulder, not the wrist on a hip), else 1. An arm lying against the torso or
    resting on a hip is lifted from the photo centimetres off in depth, which leaves its outer side just out
    of the capsule, while the torso round it lies on the arm's inner side (benchmarks/rig_diagnosis.py).
    ``sides``: :func:`arm_sides` of the same points and bones, when already known."""
    growth = np.ones((len(points), len(names)))
    sides = arm_sides(points, heads, tails, names) if sides is None else sides
    for b, (along, outer) in sides.items():
        growth[:, b] = np.where(outer & (along > OUTER_FROM) & (along < OUTER_TO), OUTER_GROWTH, 1.0)
    return growth


def thigh_taper(points: np.ndarray, heads: np.ndarray, tails: np.ndarray, names: list[str],
                radii: np.ndarray) -> np.ndarray:
    """Per point and bone [N, B]: how much wider a thigh's capsule is there: 1 from the thigh's middle down,
    growing to 1 + :data:`THIGH_TAPER` at the hip joint (``radii`` are measured on the thigh's middle, and a
    thigh is widest at its top: the outside of the hip in trousers was left to the torso); 1 above the hip
    joint, within :data:`TAPER_CLEAR` radii of an arm bone (a hand or forearm resting on the hip is the
    arm's to decide) and for other bones. Not meant for skirted legs (see :func:`leg_caps`: the garment
    there is the hips')."""
    growth = np.ones((len(points), len(names)))
    p = np.asarray(points, dtype=np.float64)
    arms = [b for b, n in enumerate(names) if bone_kind(n)[1] in ARM_KINDS and radii[b] > 0]
    free = ((segment_distances(p, heads[arms], tails[arms]) > TAPER_CLEAR * radii[arms]).all(axis=1) if arms
            else np.ones(len(p), bool))
    for b, name in enumerate(names):
        if bone_kind(name)[1] == "UpperLeg":
            ab = tails[b] - heads[b]
            t = ((p - heads[b]) @ ab) / max(float(ab @ ab), 1e-18)
            growth[:, b] = np.where((t >= 0.0) & free, 1.0 + THIGH_TAPER * np.clip(1.0 - 2.0 * t, 0.0, 1.0), 1.0)
    return growth


def assign_parts(points: np.ndarray, heads: np.ndarray, tails: np.ndarray, radii: np.ndarray,
                 names: list[str] | None = None, normals: np.ndarray | None = None,
                 growth: np.ndarray | None = None) -> np.ndarray:
    """Per point: the limb bone whose capsule holds it (the one it is deepest in, relative to the radius), or
    -1 for points in no limb capsule (torso and head). With the bones' ``names``, points whose nearest bone
    is a hand or foot bone also belong to it within twice its radius when the torso's bones are much farther
    (fingers, shoe tips; not the hip a hand rests on), and an upper arm's capsule leaves out its side towards
    the spine from the shoulder's joint down to :data:`ARMPIT_TO` of the bone (:data:`ARMPIT_KINDS`): there
    the arm joins the torso, and what lies in the capsule is the armpit and the chest or back beside it,
    which a raised arm leaves in place (benchmarks/rig_diagnosis.py: 7 generated people, inner side of the
    upper arm above a quarter of the bone: about 210 torso vertices to 5 of arm). With ``normals``, a point
    whose surface does not face away from a limb's bone (:data:`FACING`, :data:`FACING_OF`) is not that
    limb's, unless it lies within :data:`FACING_CORE` of the capsule's radius of an arm bone: no torso
    surface lies that deep inside an arm, and there the bone, lifted from the photo centimetres off in depth,
    runs close under the arm's own surface, whose normals point across it (7 generated people: about 1 % more
    of a hanging forearm the arm's, none of the torso). ``growth`` [N, B]: capsules that much wider there
    (e.g. :func:`thigh_taper`)."""
    d = segment_distances(points, heads, tails)
    limb = radii > 0
    score = np.full(d.shape, np.inf)
    score[:, limb] = d[:, limb] / radii[limb]
    if names is not None:               # arms: a wider capsule on their side away from the spine
        sides = arm_sides(points, heads, tails, names)
        score /= outer_growth(points, heads, tails, names, sides)
        for b in sides:
            if bone_kind(names[b])[1] in ARMPIT_KINDS:      # the armpit and the chest beside it: torso
                score[armpit(points, heads, tails, names, b, sides[b]), b] = np.inf
    if growth is not None:
        score /= growth
    tested = limb.copy()
    if names is not None:               # feet: shoes are blocks, their soles and heels face any way
        tested &= np.array([bone_kind(n)[1] not in ("Foot", "Toes") for n in names])
    if normals is not None:             # a surface that does not face away from the bone is not the limb's
        least = (np.array([FACING_OF.get(bone_kind(n)[1], FACING) for n in names]) if names is not None
                 else np.full(len(radii), FACING))
        core = np.zeros(len(radii))     # unless it lies in an arm's core: no torso is that close to the bone
        if names is not None:
            core[[bone_kind(n)[1] in ARM_KINDS for n in names]] = FACING_CORE
        score[:, tested] = np.where((facing(points, normals, heads[tested], tails[tested]) >= least[tested])
                                    | (score[:, tested] < core[tested]), score[:, tested], np.inf)
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
    faces_out = np.ones(len(points), bool)
    if normals is not None:
        faces_out = ~tested[nearest] | (
            facing(points, normals, heads, tails)[np.arange(len(points)), nearest] >= FACING)
    reach = (extremity[nearest] & (d_near <= 2.0 * radii[nearest]) & faces_out
             & (d_near < 0.35 * d_torso))                  # not a hip the hand rests on: far from the torso
    return np.where(best_score <= 1.0, best, np.where(reach, nearest, -1))


def majority_filter(part: np.ndarray, faces: np.ndarray, rounds: int = MAJORITY_ROUNDS,
                    share: float = MAJORITY_SHARE) -> np.ndarray:
    """Labels [N] with islands removed: a vertex takes the label that at least ``share`` of its neighbours
    (along the mesh's edges) carry, ``rounds`` times (a patch of arm surface whose normals point the wrong
    way would stay still while the arm round it moves, tearing its edges)."""
    a, b = directed_edges(faces)
    degree = np.bincount(a, minlength=len(part))
    out = np.asarray(part).copy()
    labels = np.unique(out)
    for _ in range(rounds):
        counts = np.zeros((len(out), len(labels)))
        np.add.at(counts, (a, np.searchsorted(labels, out[b])), 1.0)
        best = counts.argmax(axis=1)
        strong = counts[np.arange(len(out)), best] >= share * np.maximum(degree, 1)
        new = np.where(strong & (degree > 0), labels[best], out)
        if np.array_equal(new, out):
            break
        out = new
    return out


def mesh_edges(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The undirected edges of a triangle mesh, each once: (a [E], b [E]) vertex indices."""
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    e = np.unique(e, axis=0)
    return e[:, 0], e[:, 1]


def directed_edges(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every edge of a triangle mesh once in each direction: (from [2E], to [2E]) vertex indices."""
    a, b = mesh_edges(faces)
    return np.r_[a, b], np.r_[b, a]


def components(count: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected component [count] of each vertex of the graph with edges (a, b): the smallest vertex index
    in it (hooking and pointer jumping in numpy; no scipy in Blender)."""
    root = np.arange(count)
    while True:
        lo = np.minimum(root[a], root[b])
        new = root.copy()
        np.minimum.at(new, root[a], lo)
        np.minimum.at(new, root[b], lo)
        while True:
            jumped = new[new]
            if np.array_equal(jumped, new):
                break
            new = jumped
        if np.array_equal(new, root):
            return root
        root = new


def torso_islands(part: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Labels [N] where every piece of torso (label -1) that is not joined to the torso's main piece through
    torso vertices takes the limb label most common around it: a patch of forearm left out of the forearm's
    capsule (a joint lifted from the photo centimetres off) would otherwise stay behind on its own, cut from
    the forearm, when the arm is raised. Pieces with no limb around them (loose bits) stay torso."""
    part = np.asarray(part).copy()
    torso = part < 0
    if not torso.any():
        return part
    a, b = mesh_edges(faces)
    same = torso[a] & torso[b]
    comp = components(len(part), a[same], b[same])
    sizes = np.bincount(comp[torso], minlength=len(part))
    main = int(sizes.argmax())
    island = torso & (comp != main)
    if not island.any():
        return part
    # votes: each edge from an island vertex to a limb vertex counts for that limb label in the island
    cross = np.r_[np.flatnonzero(island[a] & ~torso[b]), np.flatnonzero(island[b] & ~torso[a])]
    inside = np.where(island[a[cross]], a[cross], b[cross])
    outside = np.where(island[a[cross]], b[cross], a[cross])
    votes: dict[int, dict[int, int]] = {}
    for c, lab in zip(comp[inside].tolist(), part[outside].tolist()):
        votes.setdefault(c, {}).setdefault(lab, 0)
        votes[c][lab] += 1
    for c, counts in votes.items():
        part[island & (comp == c)] = max(counts, key=counts.get)
    return part


def leg_caps(vertices: np.ndarray, faces: np.ndarray, heads: np.ndarray, tails: np.ndarray,
             names: list[str]) -> dict[str, float]:
    """Smaller leg capsules (:data:`SKIRTED_RADIUS`) for each leg segment a skirt or dress joins (see
    :func:`skirted`)."""
    caps = {}
    for kind in ("UpperLeg", "LowerLeg"):
        ends = {}
        for side in ("Left", "Right"):
            b = next((i for i, n in enumerate(names) if bone_kind(n) == (side, kind)), None)
            if b is None:
                return caps
            ends[side] = (heads[b], tails[b])
        if skirted(vertices, faces, ends["Left"], ends["Right"]):
            caps[kind] = SKIRTED_RADIUS[kind]
    return caps


def hem_over_foot(points: np.ndarray, part: np.ndarray, heads: np.ndarray, tails: np.ndarray,
                  names: list[str], height: float) -> np.ndarray:
    """Labels [N] where a trouser leg that falls over the shoe is the shin's below the ankle, not the foot's.
    Per leg, across the shin (in the plane normal to its bone): the trouser leg's tube is measured just above
    the ankle (the shin's points in :data:`HEM_BAND`: the middle of their extent, radius their 95th
    percentile distance from it) and the foot's half-width ahead of it (below the ankle, towards the toe).
    When the tube is at least :data:`HEM_WIDER` times as wide, the hem hangs over the shoe (wide or loose
    trousers), and the foot's points within :data:`HEM_REACH` of its radii of its middle are the hem's: the
    shin's. A
    leg, a skirted leg or fitted trousers end at about the shoe's width (1.0-1.5 times measured), so their
    shoes stay the foot's. ``part``: per point its limb bone or -1, the ankle already decided (the foot's
    points below or past the ankle)."""
    part = np.array(part, copy=True)
    p = np.asarray(points, dtype=np.float64)
    for side in ("Left", "Right"):
        bones = {bone_kind(n)[1]: b for b, n in enumerate(names) if bone_kind(n)[0] == side}
        if not all(k in bones for k in ("LowerLeg", "Foot", "Toes")):
            continue
        shin, foot, toes = bones["LowerLeg"], bones["Foot"], bones["Toes"]
        ankle = heads[foot]
        down = tails[shin] - heads[shin]                    # the shin's direction, knee to ankle
        if np.linalg.norm(down) < 1e-9:
            continue
        down /= np.linalg.norm(down)
        side_1 = np.cross(down, [1.0, 0.0, 0.0] if abs(down[0]) < 0.9 else [0.0, 1.0, 0.0])
        side_1 /= np.linalg.norm(side_1)
        across_shin = np.c_[side_1, np.cross(down, side_1)]  # [3, 2]: the plane across the shin
        above = (ankle - p) @ down                          # height above the ankle, along the shin
        flat = p @ across_shin                              # [N, 2] positions across the shin
        band = flat[(part == shin) & (above > HEM_BAND[0] * height) & (above < HEM_BAND[1] * height)]
        if len(band) < 8:
            continue
        middle = 0.5 * (band.min(axis=0) + band.max(axis=0))
        radius = float(np.percentile(np.linalg.norm(band - middle, axis=1), 95))
        ahead = tails[toes] @ across_shin - middle          # towards the toe, across the shin
        length = float(np.linalg.norm(ahead))
        if length < 1e-9:
            continue
        ahead /= length
        along = (flat - middle) @ ahead
        across = (flat - middle) @ np.array([-ahead[1], ahead[0]])
        of_foot = np.isin(part, (foot, toes))
        free = of_foot & (above < 0.0) & (along > 1.2 * radius) & (along < length)
        if free.sum() < 10:
            continue
        half_width = 0.5 * float(np.percentile(across[free], 98) - np.percentile(across[free], 2))
        if radius < HEM_WIDER * half_width:
            continue
        part[of_foot & (np.linalg.norm(flat - middle, axis=1) <= HEM_REACH * radius)] = shin
    return part
