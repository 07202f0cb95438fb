"""Re-posing a generated person (training.people.repose): the exact truth the rig benchmark measures against.
Limb segments turn rigidly about their joints, the rest of the body stays, and every surface point's body
part is known (nearest_parts)."""
from __future__ import annotations

import numpy as np
import pytest

from training.people import JointTurn, body_part, moved_parts, nearest_parts, repose, sample_person

SEED = 900101   # an unseen person (900000+ are never used in training)


def test_no_turn_is_the_same_person():
    shape = sample_person(SEED)
    same = repose(shape, [])
    p = np.random.default_rng(0).uniform(*shape.bounds(), size=(2000, 3))
    assert np.array_equal(shape.sdf(p), same.sdf(p))
    assert same.meta["joints"] == shape.meta["joints"]


def test_raising_the_left_arm_moves_only_the_left_arm():
    shape = sample_person(SEED)
    turn = JointTurn("upper_arm", +1, (0.0, 0.0, 1.0), 60.0)
    posed = repose(shape, [turn])
    j, k = shape.meta["joints"], posed.meta["joints"]
    shoulder, wrist = np.array(j["shoulder+1"]), np.array(j["wrist+1"])
    assert np.allclose(k["shoulder+1"], shoulder)                      # the pivot stays
    moved = np.array(k["wrist+1"])
    assert np.linalg.norm(moved - shoulder) == pytest.approx(np.linalg.norm(wrist - shoulder))
    c, s = np.cos(np.radians(60.0)), np.sin(np.radians(60.0))
    about_z = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    assert np.allclose(moved - shoulder, about_z @ (wrist - shoulder))
    assert moved[0] > wrist[0]                                         # outwards (+x is the person's left)
    for name in ("wrist-1", "knee+1", "ankle-1"):
        assert k[name] == j[name]
    changed = {body_part(a.name) for a, b in zip(shape.parts, posed.parts) if a is not b}
    assert changed == moved_parts([turn]) == {"upper_arm+1", "forearm+1", "hand+1"}


def test_nearest_parts_labels_the_surface():
    shape = sample_person(SEED)
    j = shape.meta["joints"]
    knee, head_top = np.array(j["knee-1"]), np.array([0.0, shape.meta["height_m"] * 0.97, 0.0])
    labels = nearest_parts(shape, shape.to_world(np.array([knee + [0.0, -0.08, 0.0], head_top])))
    assert labels[0] == "shin-1" or labels[0] == "torso"               # under a skirt the skirt is nearest
    assert labels[1] == "head"
