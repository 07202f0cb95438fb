"""Where the skeleton puts a knee it cannot find on its own leg (``pifuhd_blender/skeleton.py``), without
Blender: a straight leg inside a skirt goes onto the hip-ankle line; a leg folded in a yoga tree pose (thigh out
to the side, foot resting against the other knee) keeps the photo's knee."""
from __future__ import annotations

import numpy as np

from backend.keypoints import BODY25_NAMES
from pifuhd_blender import skeleton

from tests.support.meshes import box_grid

# Frame: the rig's (metres, Z up, facing -Y, the person's left +X); keypoints are (X, Z, confidence).
TORSO = [((-0.15, -0.1, 0.85), (0.15, 0.1, 1.45)), ((-0.08, -0.08, 1.45), (0.08, 0.08, 1.7))]
UPPER = {"Nose": (0.0, 1.62), "Neck": (0.0, 1.45), "MidHip": (0.0, 0.88), "LShoulder": (0.14, 1.42),
         "RShoulder": (-0.14, 1.42), "LHip": (0.08, 0.88), "RHip": (-0.08, 0.88), "LKnee": (0.08, 0.48),
         "LAnkle": (0.08, 0.06)}


def body(boxes):
    parts = [box_grid(lo, hi, 24) for lo, hi in TORSO + boxes]      # lattice finer than a gap between legs
    starts = np.cumsum([0] + [len(v) for v, _ in parts[:-1]])
    return np.concatenate([v for v, _ in parts]), np.concatenate([f + s for (_, f), s in zip(parts, starts)])


def keypoints(points):
    kp = np.zeros((25, 3))
    for name, (x, z) in {**UPPER, **points}.items():
        kp[BODY25_NAMES.index(name)] = (x, z, 0.9)
    return kp


def test_a_folded_leg_keeps_the_photos_knee():
    # the right thigh held out sideways, the shin folded back in, its foot against the left leg: at the knee's
    # height the slice runs across both legs, so the knee is not found on its own leg
    v, f = body([((0.02, -0.07, 0.0), (0.14, 0.07, 0.88)),          # the left leg, standing
                 ((-0.45, -0.07, 0.74), (-0.05, 0.07, 0.86)),        # the right thigh, out to the side
                 ((-0.45, -0.06, 0.60), (0.05, 0.06, 0.74))])        # the right shin, folded back in
    skel = skeleton.estimate_skeleton(v, f, keypoints({"RKnee": (-0.43, 0.71), "RAnkle": (0.03, 0.62)}))
    knee = skel.joints["knee_r"]
    # on the hip-ankle line it would lie at x = -0.04, inside the torso: the thigh would have no length
    assert knee[0] < -0.35 and abs(knee[2] - 0.71) < 0.02, knee
    assert np.linalg.norm(knee - skel.joints["hip_r"]) > 0.3


def test_a_straight_leg_in_a_skirt_gets_its_knee_on_the_hip_ankle_line():
    # both legs inside one skirt down to below the knees: the knee's slice is the skirt, and the photo's knee
    # (3 cm outside the line from hip to ankle) goes onto the line
    v, f = body([((-0.16, -0.12, 0.4), (0.16, 0.12, 0.88)),          # the skirt
                 ((0.02, -0.06, 0.0), (0.14, 0.06, 0.45)), ((-0.14, -0.06, 0.0), (-0.02, 0.06, 0.45))])
    skel = skeleton.estimate_skeleton(v, f, keypoints({"RKnee": (-0.11, 0.48), "RAnkle": (-0.08, 0.06)}))
    hip, knee, ankle = skel.joints["hip_r"], skel.joints["knee_r"], skel.joints["ankle_r"]
    t = (knee[2] - hip[2]) / (ankle[2] - hip[2])
    assert np.allclose(knee, hip + t * (ankle - hip), atol=1e-6), (knee, hip, ankle)
