"""Skin weights by body part, without bpy: each vertex first gets a body part (:mod:`.part_labels`: a limb
segment, or the torso/head; an arm that stands free of the body on camera is the arm's whatever its depth,
:mod:`.silhouette`), then weights only from the bones of that part and its parent in the skeleton.

Bone heat (Blender's automatic weights) spreads weight along the surface, so a hand resting on a hip, an arm
against the torso or a skirt over the legs takes weight from the wrong bones. Here, between two segments of a
limb the joint's plane decides (it bisects an elbow or knee; below the ankle the plane across the shin gives the
heel to the foot; a thigh's plane at the hip rises outwards). A segment's vertices are its bone's alone but for
a band past the plane at its head, where the segment fades in from its parent (smoothstep over a band that
widens with the distance from the joint, so a 60-degree turn stretches no edge past 3x; a thigh and a foot
along a straight ramp as steep, so the thigh below the groin and the shoe round the ankle turn with them);
where a limb stays joined to the torso it also fades in along the surface from the torso's vertices. Nothing
on the parent's side of a joint follows the child: the torso never carries limb weight. Touching parts that
are not joined are cut apart first (:func:`separate`, ``part_split``).

Frame: any, in metres (the rig uses the mesh's local frame); bones as heads/tails [B, 3] with their names
(Humanoid or Mixamo: the part of a bone is read from its name). Measured against exact re-posed truth in
``benchmarks/bench_rig.py``; ``benchmarks/rig_diagnosis.py`` re-runs it in numpy and says where it errs.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .part_labels import (LIMB_RADIUS, assign_parts, bone_kind, centred_axes, directed_edges, hem_over_foot,
                          leg_caps, limb_radii, majority_filter, thigh_taper, torso_islands, vertex_normals)
from .part_split import Rims, Split, split_parts
from .silhouette import free_arm_parts
from .skeleton import limit_and_normalize, segment_distances

ROOT_JOIN = 1.0           # a limb touching the torso farther than this (capsule radii) from its root joint is cut
JOINT_BLEND = 0.02        # a limb segment fades in from its parent over this share of the height past the joint,
FADE = 0.75               # or this share of the point's distance from the joint if more (a 60-degree turn moves
                          # a point by about that distance: a narrower band stretches its edges past 3x)
GATED = ("Head",)         # torso/head bone kinds that move nothing below their parent's joint and take over from
                          # it along the bone (a twist, see neck_twist)
ROOT_REACH = 0.15         # the widest band (share of the height) over which a limb fades in from the torso
TWIST = 2.0               # the neck twists from its base (the neck bone's head) up to this many neck bones' lengths:
                          # the head bone's head lies mid-neck, the skull turns on the spine about level with the
                          # nose; above it the head turns whole
LIMB_CLEAR = 0.02         # the head's and neck's shares fade in over this share of the height from a limb's surface
HIP_TILT = 0.3            # a thigh's plane at the hip rises this much per unit of distance outwards (beyond_joint)
SHOULDER_LEAN = 30.0      # degrees: an upper arm's plane at the shoulder leans outwards at least as for an arm this
                          # far out from hanging straight down (beyond_joint)
RAMPED = ("UpperLeg", "Foot")   # limb kinds that fade in past their plane along a straight ramp (see ramp and
                          # fade_in), no steeper anywhere than smoothstep at its middle: a thigh takes over from
                          # the hips a third of its band past the plane instead of half, and a shoe begins at the
                          # ankle (its heel, collar and instep lie just past the planes; smoothstep left them the
                          # shin's), where an elbow's or wrist's band holds the parent's own flesh (7 generated
                          # people: hip errors 1.28 -> 1.00, ankle 0.89 -> 0.74 % of the vertices; elbow, wrist
                          # mixed)


def joint_normals(heads: np.ndarray, tails: np.ndarray, parents: list[int | None], limb: np.ndarray
                  ) -> np.ndarray:
    """Per bone [B, 3]: the normal of the plane through its head that divides it from its parent, pointing
    into the bone. Between two limb segments it bisects the joint's angle (the mean of their directions);
    where a limb leaves the torso it is the limb's own direction."""
    d = tails - heads
    d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    n = d.copy()
    for b, p in enumerate(parents):
        if p is not None and limb[b] and limb[p]:
            m = d[b] + d[p]
            if np.linalg.norm(m) > 1e-6:
                n[b] = m / np.linalg.norm(m)
    return n


def limb_planes(heads: np.ndarray, tails: np.ndarray, names: list[str], parents: list[int | None],
               normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The limbs' second planes and tilted planes (see :func:`beyond_joint`): (across [B, 3], tilted [B, 3]).
    ``across``: for a foot bone the shin's direction (a plane across the shin through the ankle), else 0.
    ``tilted``: for a thigh bone whose parent is a torso bone, its plane's normal (``normals``) tilted
    outwards by :data:`HIP_TILT` (away from the parent's head, horizontally; Z up); for an upper arm whose
    parent is a torso bone, its normal leaning outwards as far as :func:`shoulder_lean` says; else
    ``normals``."""
    across = np.zeros_like(normals)
    tilted = np.array(normals, dtype=np.float64, copy=True)
    for b, name in enumerate(names):
        kind, p = bone_kind(name)[1], parents[b]
        if p is None:
            continue
        if kind == "Foot":
            d = tails[p] - heads[p]
            across[b] = d / max(float(np.linalg.norm(d)), 1e-12)
        elif kind == "UpperLeg" and bone_kind(names[p])[1] not in LIMB_RADIUS:
            out = heads[b] - heads[p]
            out[2] = 0.0
            out = out - (out @ normals[b]) * normals[b]
            if np.linalg.norm(out) > 1e-9:
                n = normals[b] + HIP_TILT * out / np.linalg.norm(out)
                tilted[b] = n / np.linalg.norm(n)
        elif kind == "UpperArm" and bone_kind(names[p])[1] not in LIMB_RADIUS:
            tilted[b] = shoulder_lean(normals[b], heads[b] - heads[p])
    return across, tilted


def shoulder_lean(normal: np.ndarray, out: np.ndarray) -> np.ndarray:
    """An upper arm's plane normal [3] at the shoulder (unit, Z up): ``normal`` (the arm's direction) when it
    points at least :data:`SHOULDER_LEAN` away from straight down, else turned outwards (towards ``out``
    [3], from the torso to the shoulder, taken horizontally) until it does. Square to a hanging arm, the plane
    runs level through the joint and leaves the side of the shoulder above it (the deltoid, which covers the
    joint and turns with the arm) to the torso; leaning, it rises outwards from the armpit, as the crease
    between arm and torso does (7 generated people, benchmarks/rig_diagnosis.py: about 0.1-0.4 % of the
    vertices more right for arms hanging down, less left behind when the arm is raised; an arm held out is
    unchanged; in a tank top the generator gives the bare shoulder cap to the torso's shoulder bar, in a sleeve
    to the arm)."""
    n = np.asarray(normal, dtype=np.float64)
    o = np.array([out[0], out[1], 0.0])
    if np.linalg.norm(o) < 1e-9:
        return n
    o /= np.linalg.norm(o)
    down, lean = -n[2], np.cos(np.radians(SHOULDER_LEAN))
    if down <= lean:
        return n
    # n + t o makes the angle SHOULDER_LEAN with straight down: t^2 + 2 (n.o) t + 1 - (n_z / cos)^2 = 0
    no = float(n @ o)
    t = -no + np.sqrt(max(no * no - 1.0 + (down / lean) ** 2, 0.0))
    m = n + t * o
    return m / np.linalg.norm(m)


def beyond_joint(points: np.ndarray, b: int, heads: np.ndarray, planes: tuple[np.ndarray, np.ndarray]
                 ) -> np.ndarray:
    """How far [N] (metres) each point lies past bone b's joint plane, into the bone (negative before it).
    ``planes``: :func:`limb_planes`. Most joints have one plane (:func:`joint_normals`); a foot is also past
    the plane across the shin through the ankle (the heel and the back of a shoe below the ankle are the
    foot's: the plane bisecting shin and foot gives them to the shin), and a thigh's plane rises towards the
    outside of the hip (the crease of the groin in front, the fold below the buttock behind, both higher at
    the side; level, the outside of the hip in trousers was the torso's); a hanging upper arm's plane at the
    shoulder leans outwards (:func:`shoulder_lean`)."""
    across, tilted = planes
    x = (points - heads[b]) @ tilted[b]
    if across[b].any():
        x = np.maximum(x, (points - heads[b]) @ across[b])
    return x


def split_at_joints(points: np.ndarray, part: np.ndarray, heads: np.ndarray,
                    planes: tuple[np.ndarray, np.ndarray], parents: list[int | None], limb: np.ndarray
                    ) -> np.ndarray:
    """Within each limb, the part [N] decided by the joint planes (see :func:`beyond_joint`) instead of the
    capsules: a point of a segment or its child belongs to the child beyond the plane through the child's
    head, to the parent before it (capsules overlap around elbows and knees)."""
    part = np.array(part, copy=True)
    for c, p in enumerate(parents):                 # parents come first: a chain is decided from the root out
        if p is None or not (limb[c] and limb[p]):
            continue
        rows = (part == c) | (part == p)
        beyond = beyond_joint(points[rows], c, heads, planes) > 0
        part[np.flatnonzero(rows)] = np.where(beyond, c, p)
    return part


def limb_parts(points: np.ndarray, part: np.ndarray, heads: np.ndarray, tails: np.ndarray, names: list[str],
               parents: list[int | None], height: float, planes: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The part [N] of each point within its limb: split at the joints' ``planes`` (:func:`split_at_joints`),
    then a trouser hem over the shoe the shin's (:func:`hem_over_foot`)."""
    limb = np.array([bone_kind(n)[1] in LIMB_RADIUS for n in names])
    return hem_over_foot(points, split_at_joints(points, part, heads, planes, parents, limb), heads, tails,
                         names, height)


def surface_distance(points: np.ndarray, faces: np.ndarray, sources: np.ndarray, reach: float) -> np.ndarray:
    """Distance [N] (metres) from the ``sources`` (boolean [N]) along the mesh's edges, up to ``reach``
    (farther: inf). Edge relaxation in numpy (no scipy in Blender), as many rounds as the reach needs."""
    a, b = directed_edges(faces)
    order = np.argsort(b, kind="stable")
    a, b = a[order], b[order]
    length = np.linalg.norm(points[a] - points[b], axis=1)
    targets, starts = np.unique(b, return_index=True)
    d = np.where(sources, 0.0, np.inf)
    rounds = int(np.ceil(reach / max(float(np.percentile(length, 10)), 1e-9))) + 1 if len(length) else 0
    for _ in range(rounds):
        best = np.minimum.reduceat(d[a] + length, starts)
        new = d.copy()
        new[targets] = np.minimum(d[targets], best)
        new[new > reach] = np.inf
        if np.array_equal(new, d):
            break
        d = new
    return d


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 -> 1 as x goes 0 -> 1 (clipped outside), with zero slope at both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def ramp(x: np.ndarray) -> np.ndarray:
    """0 -> 1 as x goes 0 -> 2/3 (clipped outside), straight at the slope smoothstep has at its middle (1.5):
    over the same band it passes a half a third of the way in, not halfway, and stretches an edge no more
    (a turned edge stretches with the slope of its weights)."""
    return np.clip(1.5 * np.asarray(x, dtype=np.float64), 0.0, 1.0)


def neck_twist(points: np.ndarray, base: np.ndarray, head: np.ndarray, width: float) -> np.ndarray:
    """How far [N] (0..1) each point turns with the head: nothing below the neck's base (the neck bone's head,
    at the shoulders), rising along the neck's axis (smoothstep) to the whole turn :data:`TWIST` neck lengths
    (at least ``width`` metres each) above its base: a 45-degree turn, which moves a point at radius r by
    0.77 r, is spread over twice the neck's length. Along the axis and up (Z) alike: a head thrust forwards
    (a skier's crouch, a side view) tilts the axis, and the chest or an arm reaching out in front, far below
    the neck, lay "above" its base along the axis alone and turned with the head."""
    axis = head - base
    length = float(np.linalg.norm(axis))
    along = (points - base) @ (axis / max(length, 1e-12))
    return smoothstep(np.minimum(along, points[:, 2] - base[2]) / (TWIST * max(length, width)))


def drop_smallest(w: np.ndarray, keep: int) -> np.ndarray:
    """Rows [N, B] less their (keep + 1)-th largest weight, clipped at 0: at most ``keep`` bones each, and a bone
    drops out gradually where a cut-off at the ``keep`` largest would drop it at once (two neighbouring
    vertices with five bones each, the fifth trading places, tear apart when one of the two turns)."""
    if w.shape[1] <= keep or not len(w):
        return w
    return np.maximum(w + np.partition(-w, keep, axis=1)[:, keep:keep + 1], 0.0)


def part_weights(points: np.ndarray, heads: np.ndarray, tails: np.ndarray, names: list[str],
                 parents: list[int | None], *, height: float, falloff: float, max_influences: int = 4,
                 part: np.ndarray | None = None, radii: np.ndarray | None = None,
                 faces: np.ndarray | None = None, blend: float = JOINT_BLEND, split: bool = True
                 ) -> np.ndarray:
    """Skin weights [N, B] float32, rows summing to 1 with at most ``max_influences`` bones.

    points [N, 3]; heads, tails [B, 3]; names and parents (index or None) per bone; ``height`` of the person.
    ``part``: per point the limb bone it belongs to or -1 (see :func:`assign_parts`), computed when not
    given. A limb point is its bone's alone, but for a band past the joint plane at the bone's head (see
    :func:`beyond_joint`), ``blend`` times the height wide or :data:`FADE` times the point's distance from
    the joint if more, where it fades in from the parent (smoothstep; a thigh from the hips along
    :func:`ramp`, and a foot from the shin, :data:`RAMPED`): nothing on the parent's side of a joint
    follows the child. A trouser hem over the shoe is the shin's (:func:`hem_over_foot`). A limb also
    fades in as a whole from the torso along the surface (``faces``) where it stays joined to it (an
    armpit), so no edge runs from a still torso point to a fully moving limb point. Torso and head points
    blend their own bones by distance within ``falloff`` metres; the head's bone (:data:`GATED`) moves
    nothing below its parent's joint (the neck's, at the shoulders) and takes over along the neck
    (:func:`neck_twist`) as far as a point is the neck's or the head's, so a turned head twists the neck and
    leaves the shoulders; neither it nor the neck moves torso beside a limb's root (``faces``); a bone
    dropped for ``max_influences`` fades out (:func:`drop_smallest`). ``split``: whether ``part`` is still to
    be split at the joints (:func:`limb_parts`; :func:`body_part_skin` splits before it cuts the mesh).
    """
    points = np.asarray(points, dtype=np.float64)
    heads, tails = np.asarray(heads, dtype=np.float64), np.asarray(tails, dtype=np.float64)
    if part is None:
        part = assign_parts(points, heads, tails, limb_radii(points, heads, tails, names, height))
    limb = np.array([bone_kind(n)[1] in LIMB_RADIUS for n in names])
    normals = joint_normals(heads, tails, parents, limb)
    planes = limb_planes(heads, tails, names, parents, normals)
    if split:
        part = limb_parts(points, part, heads, tails, names, parents, height, planes)
    w = np.zeros((len(points), len(names)))
    torso = part < 0
    if torso.any():
        d = segment_distances(points[torso], heads[~limb], tails[~limb])
        w[np.ix_(torso, ~limb)] = np.exp(-(d - d.min(axis=1, keepdims=True)) / max(falloff, 1e-9))
    width = max(blend * height, 1e-9)
    gated = [b for b, n in enumerate(names) if bone_kind(n)[1] in GATED and parents[b] is not None]
    for b in gated:
        # the head turns nothing below the neck's base (the shoulders) and twists the neck, wholly from about
        # the nose's height up; only as far as a point is the neck's or the head's (not the shoulders beside
        # the neck). Neither it nor the neck reaches where a limb joins the torso: the limb's root follows
        # only the limb's parent there, so torso points beside it that followed the neck would tear off
        share = neck_twist(points[torso], heads[parents[b]], heads[b], width)
        kept = drop_smallest(w[torso], max_influences)      # the distance blend as it will be kept
        share *= (kept[:, b] + kept[:, parents[b]]) / np.maximum(kept.sum(axis=1), 1e-12)
        clear = np.ones(len(share))
        if faces is not None and (part >= 0).any():
            from_limb = surface_distance(points, faces, part >= 0, LIMB_CLEAR * height)
            clear = smoothstep(from_limb[torso] / (LIMB_CLEAR * height))
        share *= clear
        rest = w[torso]
        rest[:, b] = 0.0
        rest[:, parents[b]] *= clear
        rest /= np.maximum(rest.sum(axis=1, keepdims=True), 1e-12)
        w[torso] = rest * (1.0 - share)[:, None]
        w[torso, b] = share
    if gated:
        w[torso] = drop_smallest(w[torso], max_influences)
    from_torso = (surface_distance(points, faces, torso, ROOT_REACH * height) if faces is not None and torso.any()
                  else np.full(len(points), np.inf))

    def fade_in(rows: np.ndarray, b: int, joined: bool) -> np.ndarray:
        """0 -> 1 past bone b's joint plane (smoothstep; a thigh past the hip's plane and a foot past the
        ankle's along :func:`ramp`, :data:`RAMPED`: the thigh's first centimetres below the groin and the shoe
        round the ankle turn with them) over a band widening with the distance from it; where the limb stays
        joined to the torso, no more than it fades in along the surface from the torso's vertices."""
        fade = np.clip(FADE * np.linalg.norm(points[rows] - heads[b], axis=1), width, ROOT_REACH * height)
        past = (ramp if bone_kind(names[b])[1] in RAMPED else smoothstep)(
            beyond_joint(points[rows], b, heads, planes) / fade)
        if joined:                                          # where the limb and the torso stay joined
            return np.minimum(past, smoothstep(from_torso[rows] / fade))
        return past

    root = list(range(len(names)))                          # each limb bone's first limb bone from the torso
    for b, p in enumerate(parents):                         # parents come first
        if limb[b] and p is not None and limb[p]:
            root[b] = root[p]
    for b in np.flatnonzero(limb):
        rows = np.flatnonzero(part == b)
        r, p = root[b], parents[b]
        if p is None:
            w[rows, b] = 1.0
            continue
        own = fade_in(rows, b, joined=r == b)
        w[rows, b] = own
        w[rows, p] += 1.0 - own
        if r != b and parents[r] is not None:               # the whole limb fades in from the torso
            attached = fade_in(rows, r, joined=True)
            w[rows] *= attached[:, None]
            w[rows, parents[r]] += 1.0 - attached
    return limit_and_normalize(w, max_influences)


def separate(vertices: np.ndarray, faces: np.ndarray, heads: np.ndarray, tails: np.ndarray,
             parents: list[int | None], radii: np.ndarray, part: np.ndarray,
             planes: tuple[np.ndarray, np.ndarray] | None = None, reach: float = 0.0
             ) -> Split:
    """Cut the mesh where body parts that are not joined in the skeleton touch, and close each side (see
    ``part_split.split_parts``): a limb touches the torso only around its root joint (an arm lying against
    the torso, a thigh against a skirt are cut), two limb segments only when one is the other's parent, and
    with the joints' ``planes`` (:func:`limb_planes`; ``part`` already split at them) only within ``reach``
    metres of the child's plane (a trouser hem hanging over the shoe, :func:`hem_over_foot`, is cut from it).
    ``part``: per vertex its limb bone or -1 (:func:`assign_parts`). Returns ``split_parts``'s ``Split``
    (its part: per vertex the limb bone or -1)."""
    limb = radii > 0
    points = np.asarray(vertices, dtype=np.float64)

    def joined(a: int, b: int, at: int) -> bool:
        if a == b:
            return True
        if a < 0 or b < 0:               # the torso and a limb: joined around the limb's root joint only
            bone = max(a, b)
            root = parents[bone] is not None and not limb[parents[bone]]
            return root and np.linalg.norm(vertices[at] - heads[bone]) < ROOT_JOIN * radii[bone]
        if parents[a] != b and parents[b] != a:
            return False
        child = a if parents[a] == b else b
        return planes is None or abs(float(beyond_joint(points[at][None], child, heads, planes)[0])) <= reach

    return split_parts(vertices, faces, part, joined)


class PartSkin(NamedTuple):
    """The rig's body-part skin (:func:`body_part_skin`), on the mesh as cut."""

    vertices: np.ndarray       # [V', 3]: the first V the input vertices, in order
    faces: np.ndarray          # [F', 3]
    source: np.ndarray         # [V'] the input vertex each vertex copies
    weights: np.ndarray        # [V', B] rows summing to 1, at most max_influences bones each
    rims: Rims                 # the vertices inside closed holes: what their colours blend (``split_parts``)
    dropped: int               # faces cut away between touching parts (0: not separated)


def body_part_skin(vertices: np.ndarray, faces: np.ndarray, heads: np.ndarray, tails: np.ndarray,
                   names: list[str], parents: list[int | None], *, height: float, falloff: float,
                   max_influences: int = 4, separate_parts: bool = True) -> PartSkin:
    """The rig's body-part skin (no bpy): leg capsules narrowed under a skirt (else thighs widening towards
    the hip), parts split at the joints, the mesh cut where parts that are not joined touch
    (``separate_parts``; a trouser hem from the shoe under it), weights by part. Frame: the mesh's (metres,
    Z up, facing -Y). Returns a :class:`PartSkin`."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    caps = leg_caps(v, f, heads, tails, names)
    radii = limb_radii(v, heads, tails, names, height, caps)
    normals = vertex_normals(v, f)
    taper = None if "UpperLeg" in caps else thigh_taper(v, heads, tails, names, radii)
    part = assign_parts(v, *centred_axes(v, normals, heads, tails, radii, names), radii, names, normals, taper)
    free = free_arm_parts(v, f, heads, tails, names, parents, height)   # arms clear of the body on camera
    part = np.where(free >= 0, free, part)
    part = torso_islands(majority_filter(part, f), f)
    limb = radii > 0
    planes = limb_planes(heads, tails, names, parents, joint_normals(heads, tails, parents, limb))
    part = limb_parts(v, part, heads, tails, names, parents, height, planes)
    source, rims, dropped = np.arange(len(v)), {}, 0
    if separate_parts:
        v, f, source, part, rims, dropped = separate(v, f, heads, tails, parents, radii, part, planes,
                                                     JOINT_BLEND * height)
        part = torso_islands(part, f)           # pieces the cut left without torso around them
    w = part_weights(v, heads, tails, names, parents, height=height, falloff=falloff,
                     max_influences=max_influences, part=part, radii=radii, faces=f, split=False)
    return PartSkin(v, f, source, w, rims, dropped)
