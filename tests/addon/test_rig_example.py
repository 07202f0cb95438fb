"""The auto-rig on the bundled example as a game developer uses it (issue 11; benchmarks/bench_rig_example.py
has the full table at the panel's quality): examples/person.png reconstructed with the game-ready settings
(Clean Up, Color Fill, 30k Game budget; resolution 128 here, for time), rigged by the add-on with its default
body-part weights, the left upper arm raised 60° sideways. The photo is the generator's person
``EXAMPLE_SEED`` (hands on hips, a skirt), so which vertices should stay still is exact truth, not the
weights' own opinion: every vertex of her torso (skirt and shirt included) and of her legs.

Floor from the measured figure, with margin (the issue's target is 1 % of the torso; not reached yet)."""
from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from benchmarks.bench_rig_example import ARM, measure
from tests.conftest import REPO
from training.rig_truth import POSES

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


def test_raising_the_arm_leaves_the_torso_skirt_and_legs_still(bpy, installed_addon, example):
    case = example["case"]
    assert case.colors is not None and len(case.faces) <= 30_000            # coloured, within the Game budget
    row = measure(bpy, installed_addon, example, ["PARTS"], poses={ARM: POSES[ARM]})["PARTS"][0]
    # measured at 128: 2.6 % of the torso moves more than 1 cm (bone heat: 23 %; the target: 1 %),
    # none of it below the hips, none of the legs; 16 % of the arm's vertices end more than 5 cm from where
    # the raised arm takes them (bone heat: 1.4 %; a piece below the elbow stays where it was); 72 edges past 3x
    assert row["torso"] < 0.035
    assert row["below_hips"] < 0.005 and row["other_legs"] < 0.005
    assert row["behind"] < 0.25
    assert row["over3"] < 120
