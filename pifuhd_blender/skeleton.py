"""The humanoid skeleton for the auto-rig, without bpy: bone names and hierarchy, joint positions from the
photo's keypoints lifted into the mesh, fallbacks, and skin weights by distance to the bones (numpy).

Frame: the mesh object's local frame as ``scene_object.build_person`` makes it (metres, Z up, the person
facing -Y, feet on the mesh's lowest Z). Keypoints come as BODY_25 rows ``(X, Z, confidence)`` in that frame
(the object's ``pifuhd_keypoints`` property): the photo gives no depth, so each joint's Y is the middle of
the mesh's interior along the view ray (the Y axis) through its X, Z.

Bone names follow Unity's Humanoid (``HumanBodyBones``), which Godot's ``SkeletonProfileHumanoid`` also
uses, so both map the rig automatically; :data:`MIXAMO_NAMES` gives Mixamo's names for the same bones
(chosen with the rig operator's Naming option), which Unity, Unreal's IK Retargeter and Mixamo-animation
tools recognise. The subject's left is +X (they face -Y).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .backend_parts import BODY25_NAMES

KP = {name: i for i, name in enumerate(BODY25_NAMES)}   # BODY_25 name -> row
MIRROR = {"R" + k[1:]: "L" + k[1:] for k in KP if k.startswith("R")}
MIRROR.update({v: k for k, v in MIRROR.items()})

# (bone, parent, head joint, tail joint, connected to the parent). Humanoid names; order = parents first.
BONES: tuple[tuple[str, str | None, str, str, bool], ...] = (
    ("Hips", None, "pelvis", "spine", False),
    ("Spine", "Hips", "spine", "chest", True),
    ("Chest", "Spine", "chest", "upper_chest", True),
    ("UpperChest", "Chest", "upper_chest", "neck", True),
    ("Neck", "UpperChest", "neck", "head", True),
    ("Head", "Neck", "head", "head_top", True),
    ("LeftShoulder", "UpperChest", "clavicle_l", "shoulder_l", False),
    ("LeftUpperArm", "LeftShoulder", "shoulder_l", "elbow_l", True),
    ("LeftLowerArm", "LeftUpperArm", "elbow_l", "wrist_l", True),
    ("LeftHand", "LeftLowerArm", "wrist_l", "hand_l", True),
    ("RightShoulder", "UpperChest", "clavicle_r", "shoulder_r", False),
    ("RightUpperArm", "RightShoulder", "shoulder_r", "elbow_r", True),
    ("RightLowerArm", "RightUpperArm", "elbow_r", "wrist_r", True),
    ("RightHand", "RightLowerArm", "wrist_r", "hand_r", True),
    ("LeftUpperLeg", "Hips", "hip_l", "knee_l", False),
    ("LeftLowerLeg", "LeftUpperLeg", "knee_l", "ankle_l", True),
    ("LeftFoot", "LeftLowerLeg", "ankle_l", "ball_l", True),
    ("LeftToes", "LeftFoot", "ball_l", "toe_l", True),
    ("RightUpperLeg", "Hips", "hip_r", "knee_r", False),
    ("RightLowerLeg", "RightUpperLeg", "knee_r", "ankle_r", True),
    ("RightFoot", "RightLowerLeg", "ankle_r", "ball_r", True),
    ("RightToes", "RightFoot", "ball_r", "toe_r", True),
)
BONE_NAMES = tuple(b[0] for b in BONES)

#: Humanoid name -> Mixamo name (the "mixamorig:" rig Mixamo's animations target).
MIXAMO_NAMES = {
    "Hips": "mixamorig:Hips", "Spine": "mixamorig:Spine", "Chest": "mixamorig:Spine1",
    "UpperChest": "mixamorig:Spine2", "Neck": "mixamorig:Neck", "Head": "mixamorig:Head",
    "LeftShoulder": "mixamorig:LeftShoulder", "LeftUpperArm": "mixamorig:LeftArm",
    "LeftLowerArm": "mixamorig:LeftForeArm", "LeftHand": "mixamorig:LeftHand",
    "RightShoulder": "mixamorig:RightShoulder", "RightUpperArm": "mixamorig:RightArm",
    "RightLowerArm": "mixamorig:RightForeArm", "RightHand": "mixamorig:RightHand",
    "LeftUpperLeg": "mixamorig:LeftUpLeg", "LeftLowerLeg": "mixamorig:LeftLeg",
    "LeftFoot": "mixamorig:LeftFoot", "LeftToes": "mixamorig:LeftToeBase",
    "RightUpperLeg": "mixamorig:RightUpLeg", "RightLowerLeg": "mixamorig:RightLeg",
    "RightFoot": "mixamorig:RightFoot", "RightToes": "mixamorig:RightToeBase",
}
NAMINGS = {"HUMANOID": {n: n for n in BONE_NAMES}, "MIXAMO": MIXAMO_NAMES}

# Fallback 2D positions (X from the midline, Z above the floor) as fractions of the body's height: an adult
# standing in a relaxed A pose. Used for keypoints that are missing on both sides.
PROPORTIONS = {
    "Nose": (0.0, 0.93), "Neck": (0.0, 0.82), "MidHip": (0.0, 0.53),
    "LShoulder": (0.11, 0.81), "LElbow": (0.16, 0.64), "LWrist": (0.20, 0.48),
    "LHip": (0.055, 0.52), "LKnee": (0.06, 0.28), "LAnkle": (0.065, 0.045),
}
PROPORTIONS.update({MIRROR[k]: (-x, z) for k, (x, z) in list(PROPORTIONS.items()) if k in MIRROR})
TORSO_POINTS = ("Nose", "Neck", "MidHip", "LShoulder", "RShoulder", "LHip", "RHip")
LEG_BAND = 0.01  # half the height of the slice (share of the height) a knee or ankle is centred in
LEG_GAP = 0.015  # a gap this wide (share of the height) in a slice separates one leg from the other
STRAIGHT_LEG = 150.0  # degrees: a leg whose hip-knee-ankle angle in the photo is at least this is straight (a
                      # knee not found on its own leg goes onto the hip-ankle line); a leg bent more keeps its knee
FOOT_SIDEWAYS = 0.09  # heel to big toe across the image by more than this (share of the height): a foot side-on
                      # (a foot pointing at the camera, turned out by up to 45 degrees, stays within it)
SEARCH = 0.06  # how far (share of the height) to look for the mesh around a keypoint that misses it


@dataclass
class Skeleton:
    """Joint positions [3] in the mesh's local frame, and how each keypoint was found."""

    joints: dict[str, np.ndarray]
    sources: dict[str, str] = field(default_factory=dict)   # BODY_25 name -> 'keypoint' | 'mirrored' | 'proportions'
    height: float = 0.0
    swapped_sides: bool = False   # the detector's left/right labels were the wrong way round and were swapped
    faces_away: bool = False      # the feet point away from the camera (+Y): the photo showed the person's back

    def bones(self, naming: str = "HUMANOID") -> list[tuple[str, str | None, np.ndarray, np.ndarray, bool]]:
        """(name, parent name, head, tail, connected) per bone, in the chosen naming, parents first."""
        names = NAMINGS[naming]
        return [(names[b], names[p] if p else None, self.joints[h].copy(), self.joints[t].copy(), c)
                for b, p, h, t, c in BONES]

    @property
    def fallbacks(self) -> list[str]:
        return sorted(k for k, v in self.sources.items() if v != "keypoint")


# ------------------------------------------------------------------------------------------- ray casting

class DepthProbe:
    """Where a line parallel to Y crosses the mesh, for lines through (X, Z) points (numpy, all faces)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        v = np.asarray(vertices, dtype=np.float64)
        f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
        self.tri = v[f]                                    # [F, 3 corners, 3]
        xz = self.tri[:, :, [0, 2]]
        self.lo, self.hi = xz.min(axis=1), xz.max(axis=1)  # [F, 2] bounding boxes in X, Z

    def crossings(self, x: float, z: float) -> np.ndarray:
        """Sorted Y values where the line through (x, z) along Y crosses the surface."""
        near = ((self.lo[:, 0] <= x) & (x <= self.hi[:, 0]) & (self.lo[:, 1] <= z) & (z <= self.hi[:, 1]))
        t = self.tri[near]
        if len(t) == 0:
            return np.zeros(0)
        a, b, c = t[:, 0], t[:, 1], t[:, 2]
        # barycentric coordinates of (x, z) in each triangle's XZ projection
        d = (b[:, 2] - c[:, 2]) * (a[:, 0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (a[:, 2] - c[:, 2])
        ok = np.abs(d) > 1e-18
        d = np.where(ok, d, 1.0)
        w0 = ((b[:, 2] - c[:, 2]) * (x - c[:, 0]) + (c[:, 0] - b[:, 0]) * (z - c[:, 2])) / d
        w1 = ((c[:, 2] - a[:, 2]) * (x - c[:, 0]) + (a[:, 0] - c[:, 0]) * (z - c[:, 2])) / d
        w2 = 1.0 - w0 - w1
        inside = ok & (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
        y = w0 * a[:, 1] + w1 * b[:, 1] + w2 * c[:, 1]
        return np.sort(y[inside])

    def intervals(self, x: float, z: float) -> list[tuple[float, float]]:
        """The (entry, exit) Y pairs of the mesh's interior along the line, front (-Y) first."""
        y = self.crossings(x, z)
        if len(y) >= 2:
            y = _merge_close(y)
        return [(float(y[i]), float(y[i + 1])) for i in range(0, len(y) - 1, 2)]


def _merge_close(y: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """Drop duplicate crossings (a line through a shared edge hits both triangles)."""
    keep = np.r_[True, np.diff(y) > tol]
    return y[keep]


# ------------------------------------------------------------------------------------------- joints

class _Body:
    """Mesh measurements the fallbacks use."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        self.v = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
        if len(self.v) == 0:
            raise ValueError("The mesh has no vertices.")
        self.lo, self.hi = self.v.min(axis=0), self.v.max(axis=0)
        self.height = float(self.hi[2] - self.lo[2])
        if self.height <= 0:
            raise ValueError("The mesh is flat: it has no height to fit a skeleton to.")
        band = (self.v[:, 2] > self.lo[2] + 0.55 * self.height) & (self.v[:, 2] < self.lo[2] + 0.75 * self.height)
        torso = self.v[band] if band.sum() >= 10 else self.v
        self.mid_x = float(np.median(torso[:, 0]))
        self.mid_y = float(np.median(torso[:, 1]))
        self.probe = DepthProbe(self.v, faces)
        # jitter the rays by a tiny irrational amount so they never run exactly through edges or vertices
        self.jitter = np.array([0.7548776662, 0.5698402910]) * 1e-6 * self.height

    def z_at(self, share: float) -> float:
        return float(self.lo[2] + share * self.height)

    def lift(self, x: float, z: float, torso: bool) -> tuple[np.ndarray, bool]:
        """3D point for a 2D (X, Z): the middle of the chosen interior interval along Y. ``torso``: take the
        interval nearest the torso's depth (a hand in front does not capture a hip), else the front-most
        (what the camera saw). A line that misses the mesh is moved to the nearest line that hits it
        within ``SEARCH`` of the height. Returns (point, whether the mesh was hit)."""
        step = 0.004 * self.height
        rings = int(np.ceil(SEARCH * self.height / step))
        for ring in range(rings + 1):
            r = ring * step
            count = 1 if ring == 0 else 8 + 4 * ring
            angles = np.linspace(0, 2 * np.pi, count, endpoint=False)
            for a in angles:
                px, pz = x + r * np.cos(a) + self.jitter[0], z + r * np.sin(a) + self.jitter[1]
                spans = self.probe.intervals(px, pz)
                if not spans:
                    continue
                if torso:
                    span = min(spans, key=lambda s: abs((s[0] + s[1]) / 2 - self.mid_y))
                else:
                    span = spans[0]
                return np.array([px, (span[0] + span[1]) / 2.0, pz]), True
        return np.array([x, self.mid_y, z]), False


def _swap_sides(pts: dict[str, np.ndarray], sources: dict[str, str]) -> bool:
    """The mesh always faces the camera (-Y), so the subject's left is +X. A pose detector that takes the
    person for facing away (a featureless face, a photo from behind) labels the sides the other way round:
    when most confident left/right pairs have "left" at the smaller X, swap every pair's labels."""
    votes = 0.0
    for name in pts:
        if name.startswith("L") and MIRROR.get(name) in pts:
            weight = 2.0 if name in ("LShoulder", "LHip") else 1.0
            votes += weight * np.sign(pts[name][0] - pts[MIRROR[name]][0])
    if votes >= 0:
        return False
    for table in (pts, sources):
        swapped = {MIRROR.get(name, name): value for name, value in table.items()}
        table.clear()
        table.update(swapped)
    return True


def _keypoint_positions(body: _Body, keypoints: np.ndarray | None, min_confidence: float
                        ) -> tuple[dict[str, np.ndarray], dict[str, str], bool]:
    """2D (X, Z) of every BODY_25 point the skeleton needs: the keypoint when it is confident and on the
    body's extent (sides swapped if the detector had them the wrong way round), else its mirror image
    across the midline, else the proportions table. Returns (points, sources, whether sides were swapped)."""
    pts: dict[str, np.ndarray] = {}
    sources: dict[str, str] = {}
    margin = 0.1 * body.height
    if keypoints is not None:
        kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 3)
        for name, i in KP.items():
            if i >= len(kp):
                continue
            x, z, conf = kp[i]
            inside = (body.lo[0] - margin <= x <= body.hi[0] + margin) and (
                body.lo[2] - margin <= z <= body.hi[2] + margin)
            if np.isfinite([x, z, conf]).all() and conf >= min_confidence and inside:
                pts[name], sources[name] = np.array([x, z]), "keypoint"
    swapped = _swap_sides(pts, sources)
    mid = body.mid_x
    if "Neck" in pts and "MidHip" in pts:
        mid = float((pts["Neck"][0] + pts["MidHip"][0]) / 2.0)
    for name, (fx, fz) in PROPORTIONS.items():
        if name in pts:
            continue
        other = MIRROR.get(name)
        if other in pts and sources.get(other) == "keypoint":
            ox, oz = pts[other]
            pts[name], sources[name] = np.array([2 * mid - ox, oz]), "mirrored"
        else:
            pts[name], sources[name] = np.array([mid + fx * body.height, body.z_at(fz)]), "proportions"
    for side in "LR":   # limbs unknown on both sides: fit them to the mesh
        sign = +1 if side == "L" else -1
        if sources[side + "Wrist"] == "proportions":   # the hand is the body's outermost point on that side
            pts[side + "Wrist"] = _extreme_hand(body, pts[side + "Shoulder"], sign)
        if sources[side + "Ankle"] == "proportions":   # the middle of the lowest part on that side
            low = body.v[(body.v[:, 2] < body.z_at(0.06)) & (sign * (body.v[:, 0] - mid) > 0)]
            if len(low):
                pts[side + "Ankle"] = np.array([float(np.median(low[:, 0])), body.z_at(0.045)])
        for joint, (a, b) in (("Elbow", ("Shoulder", "Wrist")), ("Knee", ("Hip", "Ankle"))):
            if sources[side + joint] == "proportions":  # halfway along a straight limb
                pts[side + joint] = (pts[side + a] + pts[side + b]) / 2.0
    if "Neck" in pts and sources["Neck"] != "keypoint" and all(
            sources.get(s) == "keypoint" for s in ("LShoulder", "RShoulder")):
        pts["Neck"] = (pts["LShoulder"] + pts["RShoulder"]) / 2.0
        sources["Neck"] = "mirrored"
    if sources["MidHip"] != "keypoint" and all(sources.get(s) == "keypoint" for s in ("LHip", "RHip")):
        pts["MidHip"] = (pts["LHip"] + pts["RHip"]) / 2.0
        sources["MidHip"] = "mirrored"
    return pts, sources, swapped


def _extreme_hand(body: _Body, shoulder: np.ndarray, sign: int) -> np.ndarray:
    """A wrist guess with no keypoints: the body's outermost point on that side between knee and shoulder
    height is the hand's tip; the wrist sits a hand's length back towards the shoulder."""
    v = body.v
    band = (v[:, 2] > body.z_at(0.3)) & (v[:, 2] < shoulder[1])
    side = v[band & (sign * (v[:, 0] - body.mid_x) > 0)]
    if len(side) == 0:
        return np.array([body.mid_x + sign * 0.2 * body.height, body.z_at(0.48)])
    tip = side[np.argmax(sign * side[:, 0])][[0, 2]]
    direction = tip - shoulder
    length = np.linalg.norm(direction)
    if length < 1e-9:
        return tip
    return tip - direction / length * min(0.09 * body.height, 0.4 * length)


def _foot(body: _Body, ankle: np.ndarray, sign: int) -> tuple[np.ndarray, np.ndarray]:
    """(ball, toe tip) of one foot from the mesh below the ankle on that side: the toe tip is the front-most
    (-Y) point, the ball three quarters of the way from the heel to it, near the sole."""
    v = body.v
    h = body.height
    sel = (v[:, 2] < ankle[2]) & (np.abs(v[:, 0] - ankle[0]) < 0.06 * h) & (sign * (v[:, 0] - body.mid_x) > 0)
    foot = v[sel]
    if len(foot) < 4:
        ball = ankle + np.array([0.0, -0.06 * h, -0.03 * h])
        return ball, ball + np.array([0.0, -0.04 * h, 0.0])
    toe_y, heel_y = foot[:, 1].min(), foot[:, 1].max()
    sole = foot[:, 2].min()
    length = heel_y - toe_y
    if length < 0.04 * h:   # no foot found in front of the ankle: a plausible one
        ball = np.array([ankle[0], ankle[1] - 0.06 * h, sole + 0.02 * h])
        return ball, ball + np.array([0.0, -0.04 * h, 0.0])
    x = float(np.median(foot[:, 0]))
    z = sole + 0.25 * (ankle[2] - sole)
    ball = np.array([x, heel_y - 0.72 * length, z])
    toe = np.array([x, toe_y + 0.08 * length, z])
    return ball, toe


def _leg_centre(body: _Body, joint: np.ndarray, mid_x: float) -> np.ndarray | None:
    """The middle of a leg's cross-section at a knee or ankle (the joint's height kept): the mesh's vertices
    in a thin horizontal band there, grouped where X leaves a gap, the group at the joint's X taken when it
    stays on the joint's side of the body's midline ``mid_x`` (one leg, not both legs fused or a skirt),
    its middle in X and in Y. None when there is no such group."""
    h = body.height
    band = body.v[np.abs(body.v[:, 2] - joint[2]) < LEG_BAND * h]
    if len(band) < 8:
        return None
    order = np.argsort(band[:, 0])
    x = band[order, 0]
    cuts = np.flatnonzero(np.diff(x) > LEG_GAP * h) + 1
    groups = np.split(order, cuts)
    side = np.sign(joint[0] - mid_x)
    best = min(groups, key=lambda g: 0.0 if band[g, 0].min() <= joint[0] <= band[g, 0].max()
               else min(abs(band[g, 0] - joint[0])))
    g = band[best]
    lo, hi = g[:, 0].min(), g[:, 0].max()
    if len(g) < 6 or side == 0 or np.sign(lo - mid_x) != side or np.sign(hi - mid_x) != side:
        return None
    cx = 0.5 * (lo + hi)
    core = g[np.abs(g[:, 0] - cx) < 0.3 * (hi - lo) + 1e-9]
    core = core if len(core) >= 2 else g
    return np.array([cx, 0.5 * (core[:, 1].min() + core[:, 1].max()), joint[2]])


def _on_line(a: np.ndarray, b: np.ndarray, z: float) -> np.ndarray:
    """The point of the line a -> b at height ``z`` (a straight leg from hip to ankle)."""
    dz = b[2] - a[2]
    t = (z - a[2]) / dz if abs(dz) > 1e-9 else 0.5
    return a + (b - a) * float(np.clip(t, 0.0, 1.0))


def angle_on_camera(a: np.ndarray, b: np.ndarray) -> float:
    """The angle in degrees between directions ``a`` and ``b`` [3] as the camera sees them (image plane X, Z);
    0 when either is seen end-on."""
    a2, b2 = np.asarray(a, dtype=np.float64)[[0, 2]], np.asarray(b, dtype=np.float64)[[0, 2]]
    norms = float(np.linalg.norm(a2) * np.linalg.norm(b2))
    return float(np.degrees(np.arccos(np.clip(a2 @ b2 / norms, -1.0, 1.0)))) if norms > 1e-12 else 0.0


def _straight(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray) -> bool:
    """Whether the leg hip -> knee -> ankle is straight in the photo: the angle at the knee is at least
    :data:`STRAIGHT_LEG` (a leg standing, or legs together in a skirt; not a knee lifted or folded, as in a
    yoga tree pose, sitting or a stride; not a thigh seen end-on, pointing at the camera)."""
    return angle_on_camera(hip - knee, ankle - knee) >= STRAIGHT_LEG


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return a + (b - a) * t


def estimate_skeleton(vertices: np.ndarray, faces: np.ndarray, keypoints: np.ndarray | None = None,
                      min_confidence: float = 0.3) -> Skeleton:
    """Joint positions for a standing person mesh (local frame: Z up, facing -Y).

    vertices [V, 3], faces [F, 3] (closed, as marching cubes gives); keypoints: BODY_25 [25, 3] rows
    (X, Z, confidence) in the same frame, or None to fit from the mesh's proportions alone. Keypoints below
    ``min_confidence`` count as missing.
    """
    body = _Body(vertices, faces)
    h = body.height
    pts, sources, swapped = _keypoint_positions(body, keypoints, min_confidence)
    mid = float((pts["LHip"][0] + pts["RHip"][0]) / 2.0)
    lifted = {name: body.lift(x, z, torso=name in TORSO_POINTS)[0] for name, (x, z) in pts.items()}

    j: dict[str, np.ndarray] = {}
    pelvis, neck = lifted["MidHip"], lifted["Neck"]
    j["pelvis"] = pelvis
    j["spine"] = _lerp(pelvis, neck, 0.12)
    j["chest"] = _lerp(pelvis, neck, 0.42)
    j["upper_chest"] = _lerp(pelvis, neck, 0.72)
    j["neck"] = neck
    nose = lifted["Nose"]
    head_x = nose[0]
    head_z = neck[2] + 0.45 * max(nose[2] - neck[2], 0.04 * h)
    j["head"] = body.lift(head_x, head_z, torso=True)[0]
    top = body.v[np.abs(body.v[:, 0] - head_x) < 0.06 * h]
    top_z = float(top[:, 2].max()) if len(top) else body.hi[2]
    j["head_top"] = np.array([j["head"][0], j["head"][1], max(top_z, j["head"][2] + 0.05 * h)])
    for side, s in (("l", "L"), ("r", "R")):
        shoulder, elbow, wrist = lifted[s + "Shoulder"], lifted[s + "Elbow"], lifted[s + "Wrist"]
        j["clavicle_" + side] = _lerp(neck, shoulder, 0.18) + np.array([0.0, 0.0, -0.01 * h])
        j["shoulder_" + side] = shoulder
        j["elbow_" + side] = elbow
        j["wrist_" + side] = wrist
        forearm = wrist - elbow
        n = np.linalg.norm(forearm)
        direction = forearm / n if n > 1e-9 else np.array([0.0, 0.0, -1.0])
        j["hand_" + side] = wrist + direction * 0.08 * h
        hip, knee, ankle = lifted[s + "Hip"], lifted[s + "Knee"], lifted[s + "Ankle"]
        centre = _leg_centre(body, ankle, mid)
        if centre is not None:
            ankle = centre
        centre = _leg_centre(body, knee, mid)
        if centre is not None:
            knee = centre
        elif _straight(hip, knee, ankle):
            knee = _on_line(hip, ankle, knee[2])
        j["hip_" + side], j["knee_" + side], j["ankle_" + side] = hip, knee, ankle
        j["ball_" + side], j["toe_" + side] = _foot(body, ankle, +1 if s == "L" else -1)
    _fix_degenerate(j, h)
    # a foot the photo shows pointing sideways (heel to big toe across the image) says nothing about facing
    along = [j["ankle_" + side] for side, s in (("l", "L"), ("r", "R"))
             if not (sources.get(s + "Heel") == sources.get(s + "BigToe") == "keypoint"
                     and abs(pts[s + "BigToe"][0] - pts[s + "Heel"][0]) > FOOT_SIDEWAYS * h)]
    away = _feet_point_away(body, *along)
    return Skeleton(joints=j, sources=sources, height=h, swapped_sides=swapped, faces_away=away)


def _feet_point_away(body: _Body, *ankles: np.ndarray) -> bool:
    """Whether the feet reach further behind the ankles (+Y) than in front of them: the person faced away
    from the camera. A pose detector swaps its left/right labels for people it takes to face away, which it
    also does for front views with a featureless face, so the labels cannot tell; the feet can. False when
    no foot is found below an ankle or no ankle is given (nothing to tell by)."""
    v, h = body.v, body.height
    lead = 0.0
    if not ankles:
        return False
    for ankle in ankles:
        near = np.abs(v[:, 0] - ankle[0]) < 0.06 * h
        foot = v[near & (v[:, 2] < ankle[2])]
        shin = v[near & (v[:, 2] > ankle[2] + 0.02 * h) & (v[:, 2] < ankle[2] + 0.06 * h)]
        if len(foot) < 4 or len(shin) < 4:
            return False
        middle = 0.5 * (shin[:, 1].min() + shin[:, 1].max())    # the leg's axis above the ankle
        lead += (foot[:, 1].max() - middle) - (middle - foot[:, 1].min())
    return lead > 0.03 * h


def _fix_degenerate(j: dict[str, np.ndarray], height: float) -> None:
    """Give every bone a length of at least 1% of the height (Blender deletes zero-length bones)."""
    least = 0.01 * height
    for _name, _parent, head, tail, _conn in BONES:
        d = j[tail] - j[head]
        n = np.linalg.norm(d)
        if n < least:
            direction = d / n if n > 1e-12 else np.array([0.0, 0.0, 1.0])
            j[tail] = j[head] + direction * least


# ------------------------------------------------------------------------------------------- weights

def segment_distances(points: np.ndarray, heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
    """Distance [N, B] from each point [N, D] to each bone's segment (heads -> tails [B, D]), in any dimension
    (the image plane's 2-D too)."""
    p = np.asarray(points, dtype=np.float64)[:, None, :]
    a = np.asarray(heads, dtype=np.float64)[None]
    ab = np.asarray(tails, dtype=np.float64)[None] - a
    t = np.clip(((p - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-18), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[..., None] * ab), axis=-1)


def nearest_bone_weights(points: np.ndarray, heads: np.ndarray, tails: np.ndarray, *, falloff: float,
                         max_influences: int = 4, chunk: int = 65536) -> np.ndarray:
    """Skin weights [N, B] float32 from the distance to each bone: ``exp(-(d - d_nearest) / falloff)``, so the
    nearest bone dominates and neighbours blend in within about ``falloff`` (metres) of the joints; then
    limited to ``max_influences`` and normalised (every row sums to 1)."""
    n = len(points)
    out = np.zeros((n, len(heads)), np.float32)
    for s in range(0, n, chunk):
        d = segment_distances(points[s:s + chunk], heads, tails)
        w = np.exp(-(d - d.min(axis=1, keepdims=True)) / max(falloff, 1e-9))
        out[s:s + chunk] = w
    return limit_and_normalize(out, max_influences)


def limit_and_normalize(weights: np.ndarray, max_influences: int = 4, floor: float = 1e-4) -> np.ndarray:
    """Keep each row's ``max_influences`` largest weights (and only those above ``floor`` times the row's
    largest), then scale rows to sum to 1. A row with no weight at all is left zero (the caller repairs it)."""
    w = np.array(weights, dtype=np.float32, copy=True)
    if w.size == 0:
        return w
    k = max(1, min(int(max_influences), w.shape[1]))
    if k < w.shape[1]:
        drop = np.argpartition(-w, k, axis=1)[:, k:]
        np.put_along_axis(w, drop, 0.0, axis=1)
    top = w.max(axis=1, keepdims=True)
    w[w < floor * top] = 0.0
    total = w.sum(axis=1, keepdims=True)
    np.divide(w, total, out=w, where=total > 0)
    return w
