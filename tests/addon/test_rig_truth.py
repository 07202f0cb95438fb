"""The auto-rig against exact re-posed truth (issue 11; benchmarks/bench_rig.py has the full table): a
generated person the demo model never saw, hands on hips over a skirt (her hands fused to her hips in the
reconstruction), reconstructed, rigged, and posed like the generator re-posed her: the left arm raised 60°
and the left knee bent 60°. Floors from the benchmark's figures for this person (measured, with margin):
the body-part weights beat bone heat on every measure, stretch no edge past 3x, and the mesh stays closed
after the separation."""
from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from tests.conftest import REPO

SEED = 900103           # hands on hips, skirt; in training.rig_truth.BENCH_SEEDS, never trained on

PREPARE = """
import sys
sys.path.insert(0, {repo!r})
import backend
from training.rig_truth import save_case
model = backend.load_model({checkpoint!r}, device="cpu")
save_case(model, {seed}, {path!r}, 128)
"""


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    """The reconstruction and the exact bodies, made in a separate process (torch and bpy apart)."""
    path = tmp_path_factory.mktemp("rig_truth") / f"{SEED}.pkl"
    code = PREPARE.format(repo=str(REPO), checkpoint=str(REPO / "models" / "demo" / "pifuhd_demo.pt"), seed=SEED,
                          path=str(path))
    subprocess.run([sys.executable, "-c", code], check=True, timeout=900)
    with open(path, "rb") as fh:
        return pickle.load(fh)


@pytest.fixture(scope="module")
def measured(bpy, installed_addon, truth):
    from training.rig_truth import measure_in_blender
    return {method: {row["pose"]: row for row in measure_in_blender(bpy, installed_addon, truth["case"],
                                                                    truth["exact"], method)}
            for method in ("AUTO", "PARTS")}


def test_body_part_weights_beat_bone_heat(measured):
    heat, parts = measured["AUTO"], measured["PARTS"]
    arm, knee = "left arm raised 60°", "left knee bent 60°"
    assert "separated" in parts[arm]["weights"]                 # the hands were cut from the hips
    # bone heat: 52 % of vertices on their true part, 21 % / 18 % moving that should stay still
    assert heat[arm]["accuracy"] < 0.6 and heat[arm]["leak"] > 0.15
    # body parts: 94.0 %, 1.24 % / 0.13 % (measured; README "Rigging against exact truth")
    assert parts[arm]["accuracy"] > 0.92 and parts[arm]["accuracy"] > heat[arm]["accuracy"] + 0.3
    assert parts[arm]["leak"] < 0.015 and parts[knee]["leak"] < 0.003
    # the turned parts follow their bones: 7.5 % of the raised arm and 0.6 % of the bent shin and foot end more
    # than 5 cm from where their bone takes them (were 36 % and 10.5 %: the forearm resting on the hip was
    # left on it, the calf was out of the shin's capsule)
    assert parts[arm]["behind"] < 0.09 and parts[knee]["behind"] < 0.015
    # the posed mesh is as close to the exact posed body as at rest, nearly (1.10 / 1.21; bone heat: 2.0x)
    assert parts[arm]["chamfer_ratio"] < 1.15 < heat[arm]["chamfer_ratio"]
    assert parts[knee]["chamfer_ratio"] < 1.25
    # no edge stretched past 3x (the target; measured: 1.6x at most), bone heat 456 with the arm raised
    assert parts[arm]["worst"] < 3 and parts[knee]["worst"] < 3 and heat[arm]["over3"] > 100


def test_separated_mesh_stays_closed_and_weighted(bpy, installed_addon, truth):
    import numpy as np
    from importlib import import_module
    rig, scene_object = (import_module(f"{installed_addon}.{m}") for m in ("rig", "scene_object"))
    case = truth["case"]
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    colours = np.tile([[0.2, 0.5, 0.8]], (len(case.vertices), 1))
    ob = scene_object.build_person(bpy.context, case.vertices, case.faces, colours, name="person",
                                   target_height=case.height_m, provenance={}, keypoints=case.keypoints)
    arm, info = rig.rig_object(bpy.context, ob, weights='PARTS')
    assert info["separated"] > 0                                 # faces cut between the hands and the hips
    f = np.empty(len(ob.data.polygons) * 3, np.int32)
    ob.data.polygons.foreach_get("vertices", f)
    f = f.reshape(-1, 3)
    half = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    directed = {tuple(e) for e in half}
    assert len(directed) == len(half) and {(b, a) for a, b in directed} == directed   # closed, consistently wound
    col = np.empty(len(ob.data.vertices) * 4, np.float32)
    ob.data.color_attributes["Col"].data.foreach_get("color", col)
    assert np.allclose(col.reshape(-1, 4)[:, :3], col.reshape(-1, 4)[0, :3])          # colours carried over
    w = rig.read_weights(ob, [b.name for b in arm.data.bones])
    assert np.allclose(w.sum(axis=1), 1.0, atol=1e-4) and ((w > 0).sum(axis=1) <= 4).all()


def test_truth_limbs_probe_lifts_only_the_labels(truth, tmp_path):
    # benchmarks/rig_diagnosis.py's ceiling for better labels: every vertex put into its true limb (or the torso)
    # before the cut, the rig's joints, planes and fades unchanged: 94.0 -> 97.5 % for this person (README);
    # the rig's own cut is back afterwards
    import numpy as np
    sys.path.insert(0, str(REPO / "benchmarks"))
    import rig_diagnosis as rd
    from pifuhd_blender import part_weights as pw

    path = tmp_path / "case.pkl"
    with open(path, "wb") as fh:
        pickle.dump(truth, fh)
    data, verts, tris, place, skel = rd.load(path)
    order = rd.bones_of(skel)[0]

    def accuracy() -> float:
        names, w, v, _f = rd.skin(verts, tris, skel)
        return float(np.mean(rd.heaviest_parts(w, names) == rd.true_parts(data["case"], place, v)))

    cut = pw.separate
    rigged = accuracy()
    with rd.truth_limbs(data["case"], place, order):
        ideal = accuracy()
    assert pw.separate is cut and accuracy() == rigged
    assert ideal > rigged + 0.02 and ideal > 0.96
    assert rd.limb_of("forearm+1") == rd.limb_of("hand+1") == "arm+1" != rd.limb_of("hand-1")
    assert rd.limb_of("head") == rd.limb_of("torso") == "body" and rd.limb_of("shin-1") == "leg-1"
