"""The auto-rig on the bundled example as a game developer uses it (issue 11; benchmarks/bench_rig_example.py
has the full table at the panel's quality): examples/person.png reconstructed with the game-ready settings
(Clean Up, Color Fill, 30k Game budget; resolution 128 here, for time), rigged by the add-on with its default
body-part weights, the left upper arm raised 60° sideways. The photo is the generator's person
``EXAMPLE_SEED`` (hands on hips, a skirt), so which vertices should stay still is exact truth, not the
weights' own opinion: every vertex of her torso (skirt and shirt included) and of her legs.

Floors from the measured figures, with margin (the issue's target: 1 % of the torso). The turned parts must
follow their bones: a piece of forearm outside its capsule stayed in the air where the elbow was (20 % of
the arm left behind), and the calf of a bent knee stayed with the skirt (29 %). A turned head twists the neck
and leaves the shoulders (it tore edges past 3x where a fifth bone's weight vanished between neighbours)."""
from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from benchmarks.bench_rig_example import ARM, measure
from tests.conftest import REPO
from training.rig_truth import POSES, RIG_ONLY_POSES

RESOLUTION = 128
PREPARE = """
import sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from benchmarks.bench_rig_example import prepare
prepare(Path({path!r}), {resolution}, exact=False)
"""


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example reconstructed with the game-ready options (its true parts known; no exact posed bodies:
    these measures do not need them), made in a separate process (torch and bpy apart)."""
    path = tmp_path_factory.mktemp("rig_example") / "example.pkl"
    code = PREPARE.format(repo=str(REPO), path=str(path), resolution=RESOLUTION)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=900)
    with open(path, "rb") as fh:
        return pickle.load(fh)


KNEE = "left knee bent 60°"
HEAD = "head turned 45°"


def test_raising_the_arm_and_bending_the_knee_move_only_the_turned_parts(bpy, installed_addon, example):
    case = example["case"]
    assert case.colors is not None and len(case.faces) <= 30_000            # coloured, within the Game budget
    poses = {**POSES, **RIG_ONLY_POSES}
    rows = measure(bpy, installed_addon, example, ["PARTS"], poses={p: poses[p] for p in (ARM, KNEE, HEAD)})
    arm, knee, head = rows["PARTS"]
    # measured at 128 with the arm raised: 0.79 % of the torso moves more than 1 cm (bone heat: 23 %; the
    # issue's target: 1 %), none of it below the hips, none of the legs; 6.0 % of the arm's vertices end more
    # than 5 cm from where the raised arm takes them (the top of the shoulder, on the torso's side of the
    # joint); no edge past 2x
    assert arm["torso"] < 0.01
    assert arm["below_hips"] < 0.005 and arm["other_legs"] < 0.005
    assert arm["behind"] < 0.075
    assert arm["over3"] == 0
    # with the knee bent: 0.10 % of the torso moves, 3.2 % of the shin and foot is left behind
    assert knee["torso"] < 0.003 and knee["other_legs"] < 0.005
    assert knee["behind"] < 0.045
    assert knee["over3"] == 0
    # the head turned 45 degrees: no torso vertex moves 1 cm (0.06 % before the twist rose with the height above
    # the neck's base too), no edge past 2x (worst 1.4x)
    assert head["torso"] < 0.001 and head["over2"] == 0
