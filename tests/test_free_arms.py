"""Arms that stand free of the body on camera belong to the arm whatever their depth
(pifuhd_blender/silhouette.py), without Blender: a torso box with an arm box held out sideways that reaches
far in depth (a fin, as the demo model makes of arms on real photos), and the same arm lying against the
torso, where the silhouette cannot tell arm from torso."""
from __future__ import annotations

import numpy as np

from pifuhd_blender import part_labels, part_weights, silhouette

from tests.support.meshes import box_grid

# Frame: the rig's (metres, Z up, the camera looking along +Y). A torso 0.3 m wide, shoulders at z = 1.45.
NAMES = ["Hips", "Spine", "LeftShoulder", "LeftUpperArm", "LeftLowerArm", "LeftHand"]
PARENTS = [None, 0, 1, 2, 3, 4]
HEIGHT = 1.75
TORSO = ((-0.15, -0.1, 0.8), (0.15, 0.1, 1.45))


def skeleton(shoulder, elbow, wrist, hand):
    heads = np.array([[0, 0, 0.8], [0, 0, 1.0], [0, 0, 1.4], shoulder, elbow, wrist], dtype=float)
    tails = np.array([[0, 0, 1.0], [0, 0, 1.4], shoulder, elbow, wrist, hand], dtype=float)
    return heads, tails


def person(arm_lo, arm_hi):
    """The torso box and an arm box (one mesh, the boxes overlapping where the arm joins), vertices, faces,
    and which vertices are the arm's box."""
    tv, tf = box_grid(*TORSO, 12)
    av, af = box_grid(arm_lo, arm_hi, 16)
    return np.r_[tv, av], np.r_[tf, af + len(tv)], np.r_[np.zeros(len(tv), bool), np.ones(len(av), bool)]


def held_out():
    """The arm held out sideways at shoulder height, 0.5 m deep (its bone runs through the box's middle)."""
    v, f, arm = person((0.1, -0.25, 1.33), (0.75, 0.25, 1.43))
    return v, f, arm, skeleton((0.15, 0, 1.38), (0.4, 0, 1.38), (0.62, 0, 1.38), (0.72, 0, 1.38))


def test_a_deep_arm_held_out_is_the_arms_whatever_its_depth():
    v, f, arm, (heads, tails) = held_out()
    radii = part_labels.limb_radii(v, heads, tails, NAMES, HEIGHT)
    capsules = part_labels.assign_parts(v, heads, tails, radii, NAMES)
    out = arm & (v[:, 0] > 0.3)                               # the arm past its first stretch
    deep = out & (np.abs(v[:, 1]) > 0.15)
    assert (capsules[deep] < 0).mean() > 0.9                  # the capsules leave the fin's depth to the torso
    free = silhouette.free_arm_parts(v, f, heads, tails, NAMES, PARENTS, HEIGHT)
    assert np.isin(free[out], [3, 4, 5]).all()                # every vertex of it is the arm's here
    assert (free[~arm] == -1).all()                           # none of the torso's
    assert (free[arm & (v[:, 0] < 0.2)] == -1).all()          # nor the arm's root, the shoulder's top
    # and the rig's skin moves all of the arm with the arm's bones
    skin = part_weights.body_part_skin(v, f, heads, tails, NAMES, PARENTS, height=HEIGHT, falloff=0.05,
                                       separate_parts=False)
    assert np.isin(skin.weights.argmax(axis=1)[out[skin.source]], [3, 4, 5]).all()


def test_an_arm_held_out_at_an_angle_is_free_past_the_armpit():
    # an A-pose: the arm (0.5 m deep) leaves the shoulder 40 degrees below the horizontal, its underside joined
    # to the torso's side for a stretch (the armpit), background below it further out
    tv, tf = box_grid(*TORSO, 12)
    av, af = box_grid((-0.05, -0.25, -0.05), (0.65, 0.25, 0.05), 16)      # along x from the shoulder
    c, s = np.cos(np.radians(-40)), np.sin(np.radians(-40))
    shoulder = np.array([0.12, 0.0, 1.38])
    av = shoulder + av @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])   # turned down about +Y
    v, f = np.r_[tv, av], np.r_[tf, af + len(tv)]
    arm = np.r_[np.zeros(len(tv), bool), np.ones(len(av), bool)]
    direction = np.array([c, 0.0, s])
    heads, tails = skeleton(shoulder, shoulder + 0.28 * direction, shoulder + 0.52 * direction,
                            shoulder + 0.62 * direction)
    free = silhouette.free_arm_parts(v, f, heads, tails, NAMES, PARENTS, HEIGHT)
    out = arm & ((v - shoulder) @ direction > 0.4) & (v[:, 0] > 0.17)   # past the armpit, clear of the torso
    assert out.sum() > 100 and np.isin(free[out], [3, 4, 5]).all()
    assert (free[~arm] == -1).all()


def test_an_arm_against_the_torso_is_left_to_the_capsules():
    # the arm hangs down along the torso's side, touching it: on camera arm and torso are one piece
    v, f, arm = person((0.15, -0.25, 0.95), (0.25, 0.25, 1.45))
    heads, tails = skeleton((0.2, 0, 1.4), (0.2, 0, 1.15), (0.2, 0, 0.95), (0.2, 0, 0.9))
    assert (silhouette.free_arm_parts(v, f, heads, tails, NAMES, PARENTS, HEIGHT) == -1).all()


def test_the_silhouette_is_the_meshs_outline():
    v, f, arm, _bones = held_out()
    grid = silhouette.Grid(v[:, [0, 2]].min(axis=0), v[:, [0, 2]].max(axis=0), 0.01)
    mask = silhouette.rasterise(v, f, grid)
    centres = grid.centres()
    inside_torso = (np.abs(centres[..., 0]) < 0.14) & (centres[..., 1] > 0.81) & (centres[..., 1] < 1.44)
    under_arm = (centres[..., 0] > 0.2) & (centres[..., 1] < 1.3)          # background below the arm
    assert mask[inside_torso].all() and not mask[under_arm].any()
    # a path inside the silhouette from the hand round to the hips goes over the shoulder
    d = silhouette.inside_distance(mask, (np.abs(centres[..., 0]) < 0.01) & (centres[..., 1] < 0.82))
    hand = grid.pixels(np.array([[0.7, 1.38]]))
    assert d[hand][0] * grid.size > 1.15 * np.hypot(0.7, 1.38 - 0.82)   # not the straight line
