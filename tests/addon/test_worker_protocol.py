"""The worker process and its message protocol, driven directly (no Blender event loop needed):
progress, cancel, errors, a crash, the model kept loaded between runs, images handed over as arrays.

A whole reconstruction is not run here (test_addon_bpy.py runs one through the operator); the jobs below
stop early on purpose, so the file takes seconds of worker start-up, not minutes.
"""
from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from pifuhd_blender import paths, worker as protocol
from pifuhd_blender.client import WorkerClient

TIMEOUT = 120


@pytest.fixture(scope="module")
def small_checkpoint(shared_dir):
    return str(shared_dir / "reference" / "parity" / "small" / "checkpoint.pt")


@pytest.fixture(scope="module")
def photo(shared_dir):
    return str(shared_dir / "photos" / "ryota_rgba.png")


@pytest.fixture(scope="module")
def client():
    c = WorkerClient(prepend_paths=[str(paths.backend_root())])
    yield c
    c.stop()


def submit(client, op="reconstruct", options=None, **payload):
    """A job with the backend's options (``backend.options.Options`` as a dict) in the payload."""
    opts = {"device": "cpu", "resolution": 32, "remove_background": True, **(options or {})}
    return client.submit(op, out=client.temp_path(f"out-{time.monotonic_ns()}.npz"), options=opts, **payload)


def test_encode_decode_round_trip():
    msg = {"type": "progress", "id": 3, "fraction": 0.5, "stage": "surface", "path": "C:\\ü\\x.npz"}
    line = protocol.encode(msg)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert protocol.decode(line) == msg
    assert protocol.decode(b"some library printed this\n") is None
    assert protocol.decode(b"[1, 2]\n") is None


def test_missing_photo_is_an_image_error(client, small_checkpoint):
    job = submit(client, photo="/nonexistent/photo.png", checkpoint=small_checkpoint)
    assert job.wait(timeout=TIMEOUT) == "error"
    assert job.error_kind == "ImageError"
    assert "/nonexistent/photo.png" in job.error_message
    assert client.ready is not None and client.ready["protocol"] == protocol.PROTOCOL
    assert client.devices is not None and client.devices["torch"]


def test_not_a_checkpoint_is_a_checkpoint_error(client, photo, tmp_path):
    fake = tmp_path / "pifuhd.pt"
    fake.write_bytes(b"this is not a checkpoint" * 10)
    job = submit(client, photo=photo, checkpoint=str(fake))
    assert job.wait(timeout=TIMEOUT) == "error"
    assert job.error_kind == "CheckpointError", job.error_message
    missing = submit(client, photo=photo, checkpoint=str(tmp_path / "absent.pt"))
    assert missing.wait(timeout=TIMEOUT) == "error" and missing.error_kind == "CheckpointError"
    assert "preferences" in missing.error_message.lower()


def test_image_array_is_handed_over(client, small_checkpoint):
    """Blender images travel as .npy; a too-small one comes back as a readable image error."""
    npy = client.temp_path("tiny.npy")
    np.save(npy, np.zeros((8, 8, 4), np.uint8))
    job = submit(client, photo_array=npy, photo_name="tiny", checkpoint=small_checkpoint)
    assert job.wait(timeout=TIMEOUT) == "error"
    assert job.error_kind == "ImageError" and "small" in job.error_message


def test_model_stays_loaded_between_runs(photo, small_checkpoint):
    """Two jobs on a fresh worker that stop right after loading the model (a crop off the photo is refused
    by photo preparation): the second one finds the model already loaded."""
    fresh = WorkerClient(prepend_paths=[str(paths.backend_root())])
    seen = []
    try:
        for _ in range(2):
            job = submit(fresh, photo=photo, checkpoint=small_checkpoint, options={"crop": [100_000, 100_000, 50]})
            assert job.wait(timeout=TIMEOUT) == "error", job.error_message
            assert "does not overlap" in job.error_message
            seen.append(job.model)
    finally:
        fresh.stop()
    assert seen[0]["cached"] is False and seen[1]["cached"] is True
    assert "cpu" in seen[1]["description"]


def test_progress_then_cancel_stops_within_a_second(client, photo, small_checkpoint):
    job = submit(client, photo=photo, checkpoint=small_checkpoint)
    received = []
    deliver = job._message
    job._message = lambda msg: (received.append(msg), deliver(msg))  # record every message the job gets
    end = time.monotonic() + TIMEOUT
    while job.poll() == "running" and job.stage != "networks" and time.monotonic() < end:
        time.sleep(0.02)
    assert job.stage == "networks", (job.state, job.error_message)
    progress = [m for m in received if m["type"] == "progress"]
    fractions = [m["fraction"] for m in progress]
    assert fractions == sorted(fractions) and 0.0 <= fractions[0] and fractions[-1] < 1.0
    assert [s for s in ("photo", "model", "prepare", "networks") if s in {m["stage"] for m in progress}] == \
        ["photo", "model", "prepare", "networks"]
    assert [m for m in received if m["type"] == "model"]
    t0 = time.monotonic()
    job.cancel()
    assert job.wait(timeout=10) == "cancelled"
    assert time.monotonic() - t0 < 1.5
    assert not [f for f in os.listdir(client.tmpdir) if f.endswith(".npz")]  # nothing left behind
    # the worker (or its replacement) still serves the next job
    after = submit(client, photo="/nonexistent.png", checkpoint=small_checkpoint)
    assert after.wait(timeout=TIMEOUT) == "error" and after.error_kind == "ImageError"


def test_out_of_range_options_are_refused(client, photo, small_checkpoint):
    job = submit(client, photo=photo, checkpoint=small_checkpoint, options={"resolution": 100_000})
    assert job.wait(timeout=TIMEOUT) == "error" and job.error_kind == "OptionsError"
    assert "between 16 and 1024" in job.error_message and job.model is None    # refused before the model


def test_crash_message_does_not_quote_a_native_log_line(client, tmp_path):
    """The last line of the worker's log may be MediaPipe's or TF Lite's chatter: never quoted as the reason."""
    from pifuhd_blender.client import Job
    log = tmp_path / "worker.log"
    log.write_text("worker: starting job 3\n"
                   "W0000 00:00:1732900000.123456  4242 inference_feedback_manager.cc:114] Feedback manager "
                   "requires a model with a single signature inference.\n"
                   "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    fake = type("FakeClient", (), {"log_path": str(log), "tmpdir": str(tmp_path)})()
    tail = WorkerClient.log_tail(fake)
    assert tail == "worker: starting job 3"
    job = Job(client, 99, "reconstruct")
    job._worker_exited(-9, tail)
    assert "W0000" not in job.error_message and "XNNPACK" not in job.error_message
    assert "memory" in job.error_message


def test_crash_is_reported_and_the_worker_restarts(client, photo, small_checkpoint):
    job = submit(client, photo=photo, checkpoint=small_checkpoint)
    end = time.monotonic() + TIMEOUT
    while job.poll() == "running" and client.ready is None and time.monotonic() < end:
        time.sleep(0.02)
    os.kill(client.proc.pid, signal.SIGKILL)
    assert job.wait(timeout=10) == "error"
    assert job.error_kind == protocol.CRASH
    assert "stopped unexpectedly" in job.error_message and "memory" in job.error_message
    again = submit(client, photo="/nonexistent.png", checkpoint=small_checkpoint)
    assert again.wait(timeout=TIMEOUT) == "error" and again.error_kind == "ImageError"


def test_missing_dependencies_are_explained(tmp_path, photo, small_checkpoint):
    """A worker that cannot import the backend says to install the dependencies (and does not crash)."""
    (tmp_path / "backend").mkdir()
    (tmp_path / "backend" / "__init__.py").write_text("import package_that_is_not_installed\n")
    c = WorkerClient(prepend_paths=[str(tmp_path)])
    try:
        job = submit(c, photo=photo, checkpoint=small_checkpoint)
        assert job.wait(timeout=TIMEOUT) == "error"
        assert job.error_kind == protocol.DEPENDENCY_ERROR
        assert "Install dependencies" in job.error_message
    finally:
        c.stop()
    assert c.tmpdir is None
