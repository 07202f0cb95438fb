"""The engine's public API, files it writes, devices, and the command line."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import backend
from backend.device import resolve_device
from backend.errors import Cancelled, ImageError, PIFuHDError
from backend.fileio import atomic_write
from backend.mesh import Mesh, read_obj, save_mesh
from tests.conftest import PARITY, REPO

SMALL = PARITY / "small" / "checkpoint.pt"
PHOTO = PARITY / "small" / "input" / "person.png"


@pytest.fixture(scope="module")
def model():
    return backend.load_model(SMALL, device="cpu")


def tetra() -> Mesh:
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    f = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], np.int32)
    c = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5]], np.float32)
    return Mesh(v, f, c)


# --- devices -------------------------------------------------------------------------------------

def test_device_auto_picks_what_exists():
    dev = resolve_device("auto")
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert dev.type == expected
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_missing_is_a_clear_error():
    with pytest.raises(PIFuHDError, match="CUDA was requested"):
        resolve_device("cuda")


@pytest.mark.parametrize("name", ["tpu", "banana"])
def test_device_unknown(name):
    with pytest.raises(PIFuHDError, match="device"):
        resolve_device(name)


# --- reconstruct ---------------------------------------------------------------------------------

def test_reconstruct_array_input_with_progress(model):
    image = np.ascontiguousarray(__import__("cv2").imread(str(PHOTO), -1)[:, :, [2, 1, 0, 3]])
    seen = []
    mesh = backend.reconstruct(image, model, resolution=32, progress=lambda f, s: seen.append((f, s)))
    assert len(mesh.vertices) > 0 and mesh.faces.max() < len(mesh.vertices)
    assert mesh.vertices.dtype == np.float32 and mesh.faces.dtype == np.int32
    assert mesh.colors.shape == mesh.vertices.shape and 0 <= mesh.colors.min() and mesh.colors.max() <= 1
    assert np.abs(mesh.vertices).max() <= 1.0 + 1e-6  # normalised cube frame
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert {s for _, s in seen} >= {"networks", "surface", "mesh"}
    assert mesh.info["evaluations"] < 33 ** 3 * 2


def test_reconstruct_with_colour_fill(model):
    """The visibility-aware colouring replaces plain projection for vertices the camera does not see."""
    plain = backend.reconstruct(PHOTO, model, resolution=24)
    filled = backend.reconstruct(PHOTO, model, resolution=24, color_fill=True)
    np.testing.assert_array_equal(filled.vertices, plain.vertices)
    assert filled.info["color_fill"] and not plain.info["color_fill"]
    assert filled.colors.shape == plain.colors.shape and 0 <= filled.colors.min() and filled.colors.max() <= 1
    assert not np.allclose(filled.colors, plain.colors)


def test_reconstruct_cancel_from_another_thread(model):
    stop = threading.Event()
    seen = []

    def progress(fraction, stage):
        seen.append(fraction)
        if stage == "networks":
            stop.set()

    with pytest.raises(Cancelled):
        backend.reconstruct(PHOTO, model, resolution=64, progress=progress, cancel=stop)
    assert max(seen) < 0.2  # stopped inside the network stage, before any surface work


def test_small_batches_are_padded_to_batch_statistics_like_large_ones(model):
    """The fixture's coarse MLP is group-normed: a point's value depends on its batch. Padding a small
    batch with earlier query points brings it back near the large-batch value."""
    from backend.engine import NetworkField
    from backend.input_transform import prepare_inputs
    from backend.image_io import load_image

    inputs = prepare_inputs(load_image(PHOTO))
    with torch.no_grad():
        maps = model.net.filter(inputs.image_512, inputs.image_1024)
    rng = np.random.default_rng(0)
    points = rng.uniform(-0.5, 0.5, (4096, 3)).astype(np.float32)
    plain = NetworkField(model, maps, inputs.calib, 64)
    padded = NetworkField(model, maps, inputs.calib, 64, min_batch=2048)
    full = plain.query(points)
    padded.query(points)  # a large batch: becomes the context
    small = points[:50]
    err_alone = np.abs(plain.query(small) - full[:50]).max()
    err_padded = np.abs(padded.query(small) - full[:50]).max()
    assert err_alone > 1e-3  # batch composition really matters for this network
    assert err_padded < err_alone / 5


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((40, 40, 3), np.float32)])
def test_reconstruct_rejects_bad_arrays(model, bad):
    with pytest.raises(ImageError):
        backend.reconstruct(bad, model, resolution=32)


def test_reconstruct_missing_and_broken_photo(model, tmp_path):
    with pytest.raises(ImageError, match="not found"):
        backend.reconstruct(tmp_path / "none.jpg", model)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    with pytest.raises(ImageError, match="broken.jpg"):
        backend.reconstruct(broken, model)


def test_reconstruct_resolution_bounds(model):
    with pytest.raises(PIFuHDError, match="resolution"):
        backend.reconstruct(PHOTO, model, resolution=4)


# --- files ---------------------------------------------------------------------------------------

def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "mesh.obj"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mesh.obj"]


def test_obj_round_trip(tmp_path):
    mesh = tetra()
    path = save_mesh(mesh, tmp_path / "t.obj")
    lines = path.read_text().splitlines()
    verts = np.array([[float(x) for x in ln.split()[1:]] for ln in lines if ln.startswith("v ")])
    faces = np.array([[int(x) for x in ln.split()[1:]] for ln in lines if ln.startswith("f ")])
    np.testing.assert_allclose(verts[:, :3], mesh.vertices)
    np.testing.assert_allclose(verts[:, 3:], mesh.colors, atol=1e-4)
    np.testing.assert_array_equal(faces - 1, mesh.faces)
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)  # normal permissions, not the temp file's
    back = read_obj(path)
    np.testing.assert_allclose(back.vertices, mesh.vertices, atol=1e-6)
    np.testing.assert_allclose(back.colors, mesh.colors, atol=1e-4)
    np.testing.assert_array_equal(back.faces, mesh.faces)
    (tmp_path / "plain.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1/1/1 2/2/2 3/3/3\n")   # another tool's
    plain = read_obj(tmp_path / "plain.obj")
    assert plain.faces.tolist() == [[0, 1, 2]] and (plain.colors == 0.5).all()


def test_ply_round_trip(tmp_path):
    mesh = tetra()
    data = save_mesh(mesh, tmp_path / "t.ply").read_bytes()
    header, body = data.split(b"end_header\n", 1)
    assert b"element vertex 4" in header and b"element face 4" in header
    vdt = np.dtype([("p", "<f4", (3,)), ("c", "u1", (3,))])
    verts = np.frombuffer(body[: 4 * vdt.itemsize], vdt)
    faces = np.frombuffer(body[4 * vdt.itemsize:], np.dtype([("n", "u1"), ("i", "<i4", (3,))]))
    np.testing.assert_allclose(verts["p"], mesh.vertices)
    np.testing.assert_array_equal(verts["c"], np.rint(mesh.colors * 255))
    np.testing.assert_array_equal(faces["i"], mesh.faces)
    assert (faces["n"] == 3).all()


def test_signed_volume_of_an_outward_tetrahedron():
    assert tetra().signed_volume() == pytest.approx(1 / 6)


def test_unknown_mesh_format(tmp_path):
    with pytest.raises(ValueError, match="obj or .ply"):
        save_mesh(tetra(), tmp_path / "t.stl")


# --- command line --------------------------------------------------------------------------------

def run_cli(*args, cwd=REPO):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "backend", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_cli_writes_a_mesh_and_a_summary(tmp_path):
    out = tmp_path / "person.ply"
    x, y, side = (int(v) for v in (PARITY / "small" / "input" / "person_rect.txt").read_text().split()[:3])
    proc = run_cli("reconstruct", PHOTO, "--checkpoint", SMALL, "--out", out, "--resolution", 32,
                   "--device", "cpu", "--crop", x, y, side, "--no-detect")
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
    assert re.search(r"person\.ply: \d+ vertices, \d+ faces, [\d.]+ s", proc.stdout)


@pytest.mark.parametrize("case, code, message", [
    ("no_checkpoint", 4, "Model file not found"),
    ("no_photo", 3, "Photo not found"),
    ("bad_suffix", 2, "must end in .obj or .ply"),
])
def test_cli_errors(tmp_path, case, code, message):
    checkpoint = tmp_path / "missing.pt" if case == "no_checkpoint" else SMALL
    photo = tmp_path / "missing.jpg" if case == "no_photo" else PHOTO
    out = tmp_path / ("x.stl" if case == "bad_suffix" else "x.obj")
    proc = run_cli("reconstruct", photo, "--checkpoint", checkpoint, "--out", out, "--quiet", "--no-detect")
    assert proc.returncode == code
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
