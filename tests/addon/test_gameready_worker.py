"""The worker's game-ready side, in-process (no subprocess, no network): photo preparation's BODY_25 keypoints
mapped into the cube frame and written with the result, the clean-up / colour fill / decimation steps from
``backend.meshops`` (run for real on the analytic person), and a clear warning when they are not there."""
from __future__ import annotations

import sys
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from pifuhd_blender import worker as protocol

PHOTO = "photos/ryota_rgba.png"


@pytest.fixture
def worker():
    messages = []
    w = protocol._Worker(lambda **m: messages.append(m))
    w.import_backend()
    assert w.backend is not None, w.import_error
    w.messages = messages
    return w


def analytic_mesh(analytic_person):
    from backend.mesh import Mesh
    return Mesh(analytic_person["vertices"], analytic_person["faces"], analytic_person["colors"])


def front_inputs():
    """Network inputs of a plain synthetic photo (the colour fill needs an image and its calibration)."""
    from backend.input_transform import prepare_inputs
    photo = np.zeros((512, 512, 3), np.uint8)
    photo[:, :256] = (200, 40, 40)
    photo[:, 256:] = (40, 40, 200)
    return prepare_inputs(photo, None, 512, 1024)


def test_prepare_gives_keypoints_on_the_person(worker, shared_dir):
    """ryota_rgba.png is a cut-out: the network input is grey (0 in [-1, 1]) off the person. Keypoints mapped
    to the cube land on the person in that input, in the right order and on the right sides."""
    import torch
    from backend.engine import as_image
    from backend.networks import sample_features
    photo = as_image(str(shared_dir / PHOTO))
    inputs, _warnings, _preview, kp = worker.prepare(photo, True, (512, 1024))
    assert kp.shape == (25, 3) and np.isfinite(kp).all()
    names = {"Nose": 0, "Neck": 1, "RShoulder": 2, "LShoulder": 5, "MidHip": 8, "RHip": 9, "LHip": 12,
             "RKnee": 10, "LKnee": 13, "RAnkle": 11, "LAnkle": 14}
    y = {n: kp[i, 1] for n, i in names.items()}
    assert y["Nose"] > y["Neck"] > y["MidHip"] > y["RKnee"] > y["RAnkle"]
    assert kp[names["LShoulder"], 0] > kp[names["RShoulder"], 0]            # the subject's left is +x
    torso = [names[n] for n in ("Neck", "MidHip", "LHip", "RHip", "LKnee", "RKnee")]
    assert (kp[torso, 2] > 0.5).all()
    ndc = torch.from_numpy(np.stack([kp[torso, 0], -kp[torso, 1]]).astype(np.float32))[None]
    rgb = sample_features(inputs.image_1024, ndc)[0].numpy()              # [-1, 1], background exactly 0
    assert (np.abs(rgb).max(axis=0) > 0.05).all(), rgb


def test_reconstruct_job_writes_keypoints_and_runs_the_steps(worker, analytic_person, shared_dir, tmp_path):
    from backend.keypoints import photo_to_cube
    photo_kp = np.c_[np.linspace(100, 400, 25), np.linspace(50, 700, 25), np.full(25, 0.8)]
    crop = (10, 20, 800)
    model = SimpleNamespace(coarse=SimpleNamespace(load_size=512), fine=SimpleNamespace(load_size=1024),
                            describe=lambda: "stand-in model")
    seen = {}

    def reconstruct(photo, model, resolution, inputs, progress, cancel):
        seen["inputs"] = inputs
        progress(1.0, "mesh")
        return analytic_mesh(analytic_person)

    worker.backend = SimpleNamespace(
        load_model=lambda path, device: model, reconstruct=reconstruct,
        prepare_photo=lambda photo, **kw: SimpleNamespace(inputs=front_inputs(), warnings=["a note"], preview=None,
                                                          keypoints=photo_kp, crop=crop))
    out = str(tmp_path / "result.npz")
    msg = {"op": "reconstruct", "id": 7, "photo": str(shared_dir / PHOTO), "device": "cpu", "resolution": 64,
           "checkpoint": str(shared_dir / "reference/parity/small/checkpoint.pt"), "out": out,
           "gameready": {"cleanup": True, "color_fill": True, "target_faces": 4000}}
    worker.run(msg, threading.Event())
    result = worker.messages[-1]
    assert result["type"] == "result", result
    with np.load(out) as data:
        assert set(data.files) == {"vertices", "faces", "colors", "keypoints"}
        assert np.allclose(data["keypoints"], photo_to_cube(photo_kp, crop, 1024))
        faces = len(data["faces"])
    assert result["info"]["keypoints"] is True and "a note" in result["warnings"]
    steps = result["info"].get("gameready", {})
    if set(steps) == {"cleanup", "color_fill", "decimate"}:                # backend.meshops is there
        assert abs(faces - 4000) <= 0.05 * 4000
        assert not [w for w in result["warnings"] if "not available" in w]
    else:
        assert [w for w in result["warnings"] if "not available" in w]
    stages = [m.get("stage") for m in worker.messages if m["type"] == "progress"]
    assert stages[-1] in ("cleanup", "color_fill", "decimate")


def test_meshops_steps_on_the_analytic_person(worker, analytic_person):
    meshops = pytest.importorskip("backend.meshops")
    if not all(hasattr(meshops, n) for n in ("clean_mesh", "colorize", "decimate")):
        pytest.skip("backend.meshops is not complete yet")
    mesh = analytic_mesh(analytic_person)
    progress = []
    out, warnings, info = worker.gameready(mesh, front_inputs(), {"cleanup": True, "color_fill": True,
                                                                  "target_faces": 5000},
                                           lambda f, s: progress.append((f, s)), threading.Event())
    assert warnings == [] and set(info) == {"cleanup", "color_fill", "decimate"}
    assert abs(len(out.faces) - 5000) <= 250 and len(out.colors) == len(out.vertices)
    assert out.colors.min() >= 0 and out.colors.max() <= 1 and (out.colors.sum(axis=1) > 0.05).all()
    assert [s for _, s in progress][-1] == "decimate"


def test_missing_meshops_is_a_warning(worker, analytic_person, monkeypatch):
    import backend
    monkeypatch.delattr(backend, "meshops", raising=False)
    monkeypatch.setitem(sys.modules, "backend.meshops", None)            # import now fails
    mesh = analytic_mesh(analytic_person)
    out, warnings, info = worker.gameready(mesh, None, {"cleanup": True, "color_fill": True, "target_faces": 100},
                                           lambda f, s: None, threading.Event())
    assert out is mesh and info == {}
    assert len(warnings) == 3 and all("not available" in w and "skipped" in w for w in warnings)
    assert worker.gameready(mesh, None, {}, lambda f, s: None, threading.Event()) == (mesh, [], {})


def test_cancel_between_steps(worker, analytic_person):
    from backend.errors import Cancelled
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        worker.gameready(analytic_mesh(analytic_person), None, {"cleanup": True}, lambda f, s: None, cancel)


def test_budgets_match_the_backend_presets(installed_addon):
    from importlib import import_module
    meshops = pytest.importorskip("backend.meshops")
    presets = getattr(meshops, "PRESETS", None)
    if presets is None:
        pytest.skip("backend.meshops has no PRESETS yet")
    budgets = import_module(f"{installed_addon}.props").BUDGETS
    assert {k.lower(): (v or None) for k, v in budgets.items()} == presets
