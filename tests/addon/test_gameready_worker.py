"""The worker's side of a reconstruction, in-process (no subprocess): the job runs ``backend.pipeline.run``
with the options it was sent and writes its arrays (BODY_25 keypoints in the cube frame included), the
model stays loaded only for the same file, device, precision and network state, and a failed write leaves
no partial file behind."""
from __future__ import annotations

import errno
import threading

import numpy as np
import pytest

from backend.keypoints import BODY25_NAMES
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


@pytest.fixture(scope="module")
def checkpoint(shared_dir):
    return str(shared_dir / "reference" / "parity" / "small" / "checkpoint.pt")


def test_prepared_keypoints_land_on_the_person(shared_dir):
    """ryota_rgba.png is a cut-out: the network input is grey (0 in [-1, 1]) off the person. Keypoints mapped
    to the cube the way the pipeline maps them land on the person, in the right order and on the right sides."""
    import torch  # noqa: F401
    from backend.keypoints import photo_to_cube
    from backend.networks import sample_features
    from backend.options import Options
    from backend.pipeline import prepare
    prepared = prepare(str(shared_dir / PHOTO), Options())
    kp = photo_to_cube(prepared.keypoints, prepared.crop, 1024)
    assert kp.shape == (25, 3) and np.isfinite(kp).all()
    names = {name: i for i, name in enumerate(BODY25_NAMES)}
    y = {n: kp[i, 1] for n, i in names.items()}
    assert y["Nose"] > y["Neck"] > y["MidHip"] > y["RKnee"] > y["RAnkle"]
    assert kp[names["LShoulder"], 0] > kp[names["RShoulder"], 0]            # the subject's left is +x
    torso = [names[n] for n in ("Neck", "MidHip", "LHip", "RHip", "LKnee", "RKnee")]
    assert (kp[torso, 2] > 0.5).all()
    ndc = torch.from_numpy(np.stack([kp[torso, 0], -kp[torso, 1]]).astype(np.float32))[None]
    rgb = sample_features(prepared.inputs.image_1024, ndc)[0].numpy()    # [-1, 1], background exactly 0
    assert (np.abs(rgb).max(axis=0) > 0.05).all(), rgb


def test_reconstruct_job_is_the_pipeline(worker, shared_dir, checkpoint, tmp_path):
    """The job's arrays are exactly what pipeline.run gives for the same photo and options."""
    from backend.options import Options
    from backend.pipeline import load_model_for, run
    options = Options(resolution=24, device="cpu", cleanup=True, color_fill=True, budget=200)
    out = str(tmp_path / "result.npz")
    msg = {"op": "reconstruct", "id": 7, "photo": str(shared_dir / PHOTO), "checkpoint": checkpoint, "out": out,
           "options": options.to_dict()}
    worker.run(msg, threading.Event())
    result = worker.messages[-1]
    assert result["type"] == "result", result
    direct = run(str(shared_dir / PHOTO), load_model_for(checkpoint, options), options)
    with np.load(out) as data:
        assert set(data.files) == {"vertices", "faces", "colors", "keypoints"}
        np.testing.assert_array_equal(data["vertices"], direct.mesh.vertices)
        np.testing.assert_array_equal(data["faces"], direct.mesh.faces)
        np.testing.assert_allclose(data["keypoints"], direct.keypoints)
    assert result["info"]["keypoints"] is True and result["info"]["options"] == options.to_dict()
    assert result["info"]["decimation"]["faces_after"] == result["faces"]
    stages = [m.get("stage") for m in worker.messages if m["type"] == "progress"]
    assert stages[:3] == ["photo", "model", "prepare"] and {"cleanup", "colors", "decimate"} <= set(stages)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.npz"]


def test_bad_options_are_refused_before_any_work(worker, tmp_path):
    msg = {"op": "reconstruct", "id": 3, "photo": "/nowhere.png", "checkpoint": "/nowhere.pt",
           "out": str(tmp_path / "r.npz"), "options": {"resolution": 100_000}}
    worker.run(msg, threading.Event())
    assert worker.messages[-1]["type"] == "error" and worker.messages[-1]["kind"] == "OptionsError"
    assert "between" in worker.messages[-1]["message"] and worker.model is None


def test_model_key_has_device_precision_and_network_state(worker, checkpoint, monkeypatch):
    import backend.pipeline
    from backend.options import Options
    loads = []
    monkeypatch.setattr(backend.pipeline, "load_model_for", lambda path, options: loads.append(options) or object())
    first, reused = worker.get_model(checkpoint, Options(device="cpu"))
    assert not reused and worker.get_model(checkpoint, Options(device="cpu")) == (first, True)
    for change in ({"precision": "fp16"}, {"network_state": "eval"}, {"device": "auto"}):
        assert worker.get_model(checkpoint, Options(device="cpu").replace(**change))[1] is False
        assert worker.get_model(checkpoint, Options(device="cpu"))[1] is False
    assert len(loads) == 7


def test_a_failed_write_leaves_no_partial_file(worker, shared_dir, checkpoint, tmp_path, monkeypatch):
    """A full disk while the result is written: a clear error, and nothing left in the folder."""
    def savez(path, **arrays):
        with open(path, "wb") as fh:
            fh.write(b"half a result")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", savez)
    msg = {"op": "reconstruct", "id": 9, "photo": str(shared_dir / PHOTO), "checkpoint": checkpoint,
           "out": str(tmp_path / "result.npz"), "options": {"resolution": 16, "device": "cpu", "detect": False}}
    worker.run(msg, threading.Event())
    error = worker.messages[-1]
    assert error["type"] == "error" and error["kind"] == protocol.WRITE_ERROR
    assert "No space left" in error["message"] and "disk space" in error["message"]
    assert list(tmp_path.iterdir()) == []


def test_cancel_before_the_work(worker, shared_dir, checkpoint, tmp_path):
    cancel = threading.Event()
    cancel.set()
    worker.run({"op": "reconstruct", "id": 4, "photo": str(shared_dir / PHOTO), "checkpoint": checkpoint,
                "out": str(tmp_path / "r.npz"), "options": {}}, cancel)
    assert worker.messages[-1] == {"type": "cancelled", "id": 4}
