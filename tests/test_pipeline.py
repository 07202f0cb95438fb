"""The one pipeline: every door (Python API, CLI, the add-on's worker) gives the same mesh for the same photo
and options; inputs are never fed at the wrong size; the back photo colours the back; bad values are
refused with the documented error types. With the committed demo model (inputs 256 / 512) at low
resolutions, so the whole file takes a few minutes on two cores."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import backend
from backend.errors import ImageError, InputSizeError, OptionsError
from backend.mesh import read_obj
from backend.options import Options
from backend.pipeline import run

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "models" / "demo" / "pifuhd_demo.pt"
EXAMPLE = REPO / "examples" / "person.png"
RESOLUTION = 48


@pytest.fixture(scope="module")
def model() -> backend.Model:
    return backend.load_model_for(DEMO, Options(device="cpu"))


def cli(*args, cwd=REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "backend", "reconstruct", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def worker_job(tmp_path: Path, options: Options) -> dict:
    """The add-on's worker (in-process, the same code as its process) on the example photo."""
    from pifuhd_blender import worker as protocol
    messages = []
    w = protocol._Worker(lambda **m: messages.append(m))
    w.import_backend()
    out = tmp_path / "worker.npz"
    w.run({"op": "reconstruct", "id": 1, "photo": str(EXAMPLE), "checkpoint": str(DEMO), "out": str(out),
           "options": options.to_dict()}, threading.Event())
    assert messages[-1]["type"] == "result", messages[-1]
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


CASES = {
    "prepared, raw": (True, {}),
    "prepared, finished": (True, {"cleanup": True, "color_fill": True, "budget": 2000}),
    "as it is, raw": (False, {}),
    "as it is, finished": (False, {"cleanup": True, "color_fill": True, "budget": 2000}),
}
FLAGS = {"cleanup": ["--clean"], "color_fill": ["--color-fill"], "budget": ["--budget", "2000"]}


@pytest.mark.parametrize("case", CASES)
def test_api_cli_and_worker_give_the_same_mesh(model, tmp_path, case):
    detect, extra = CASES[case]
    options = Options(resolution=RESOLUTION, device="cpu", detect=detect, **extra)
    api = run(str(EXAMPLE), model, options).mesh
    assert not api.is_empty
    if "budget" in extra:
        assert len(api.faces) <= 2000
    flags = [f for name in extra for f in FLAGS[name]] + ([] if detect else ["--no-detect"])
    out = tmp_path / "cli.obj"
    proc = cli(EXAMPLE, "--checkpoint", DEMO, "--out", out, "--resolution", RESOLUTION, "--device", "cpu",
               "--quiet", "--no-preview", *flags)
    assert proc.returncode == 0, proc.stderr
    from_cli = read_obj(out)
    from_worker = worker_job(tmp_path, options)
    assert len(from_cli.vertices) == len(api.vertices) == len(from_worker["vertices"])
    np.testing.assert_array_equal(from_cli.faces, api.faces)
    np.testing.assert_allclose(from_cli.vertices, api.vertices, atol=1e-5)      # OBJ keeps 6 decimals
    np.testing.assert_array_equal(from_worker["faces"], api.faces)
    np.testing.assert_array_equal(from_worker["vertices"], api.vertices)
    np.testing.assert_allclose(from_worker["colors"], api.colors, atol=1e-6)
    assert ("keypoints" in from_worker) == detect


def test_inputs_at_other_sizes_are_rebuilt_or_refused(model):
    """The old README pitfall: inputs prepared at 512 / 1024 for a model that reads 256 / 512."""
    prepared = backend.prepare_photo(str(EXAMPLE))                       # the release's sizes
    assert prepared.inputs.image_512.shape[-1] == 512 and model.coarse.load_size == 256
    with pytest.raises(InputSizeError, match="256/512"):
        backend.reconstruct(str(EXAMPLE), model, resolution=RESOLUTION, inputs=prepared.inputs)
    options = Options(resolution=RESOLUTION, device="cpu")
    rebuilt = run(str(EXAMPLE), model, options, prepared=prepared)      # rebuilt at the model's sizes
    direct = run(str(EXAMPLE), model, options)
    np.testing.assert_array_equal(rebuilt.mesh.vertices, direct.mesh.vertices)
    assert rebuilt.info["input_sizes"] == (256, 512)


def test_reconstruction_carries_keypoints_preview_and_info(model):
    options = Options(resolution=RESOLUTION, device="cpu", cleanup=True)
    result = run(str(EXAMPLE), model, options)
    assert result.keypoints.shape == (25, 3) and np.abs(result.keypoints[:, :2]).max() <= 1.0
    assert result.preview.dtype == np.uint8 and result.preview.ndim == 3
    assert result.info["options"] == options.to_dict() and result.info["evaluations"] > 0
    stages = {"prepare", "networks", "field", "marching_cubes", "cleanup", "colors", "total"}
    assert stages <= set(result.info["seconds"])
    assert result.info["clean"]["faces_after"] == len(result.mesh.faces)


@pytest.mark.parametrize("bad, error, words", [
    (np.zeros((1, 1, 3), np.uint8), ImageError, "too small"),
    (np.zeros((1, 1, 4), np.uint8), ImageError, "too small"),
])
def test_tiny_arrays_are_image_errors(model, bad, error, words):
    for options in (Options(resolution=RESOLUTION, detect=False), Options(resolution=RESOLUTION)):
        with pytest.raises(error, match=words):
            run(bad, model, options)


def test_bad_crop_and_options_are_refused_before_any_work(model):
    seen = []
    with pytest.raises(OptionsError, match="side must be a positive"):
        run(str(EXAMPLE), model, Options(crop=(10, 10, -5)), progress=lambda f, s: seen.append(s))
    with pytest.raises(OptionsError, match="between"):
        backend.reconstruct(str(EXAMPLE), model, resolution=7)
    assert seen == []


def test_back_photo_colours_the_back(model, tmp_path):
    """A generated person, and the same person rendered from behind (turned half round, same camera) with a
    red-tinted back: with the back photo the back-facing vertices take its tint; the front keeps its colours."""
    from backend.meshops.topology import vertex_normals
    from training.render import render, render_person

    shape, camera, front = render_person(900001, 1024)
    back = render(dataclasses.replace(shape, turn=shape.turn + np.pi), camera)
    person = back[:, :, 3] > 0
    back[person, 1:3] = (back[person, 1:3] * 0.3).astype(np.uint8)
    Image.fromarray(front).save(tmp_path / "front.png")
    Image.fromarray(back).save(tmp_path / "back.png")
    options = Options(resolution=64, device="cpu", cleanup=True, color_fill=True)
    plain = run(str(tmp_path / "front.png"), model, options).mesh
    with_back = run(str(tmp_path / "front.png"), model, options.replace(back_photo=str(tmp_path / "back.png"))).mesh
    np.testing.assert_array_equal(with_back.vertices, plain.vertices)
    normals = vertex_normals(plain.vertices, plain.faces)
    facing_back, facing_front = normals[:, 2] < -0.5, normals[:, 2] > 0.5
    ratio = with_back.colors[facing_back].mean(axis=0) / plain.colors[facing_back].mean(axis=0)
    assert ratio[1] < 0.6 and ratio[2] < 0.6 and 0.75 < ratio[0] < 1.3, ratio
    np.testing.assert_allclose(with_back.colors[facing_front].mean(axis=0), plain.colors[facing_front].mean(axis=0),
                               atol=0.03)
    # the CLI's --back does the same (and turns the colour fill on)
    out = tmp_path / "cli.obj"
    proc = cli(tmp_path / "front.png", "--checkpoint", DEMO, "--out", out, "--resolution", 64, "--device", "cpu",
               "--clean", "--back", tmp_path / "back.png", "--quiet", "--no-preview")
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(read_obj(out).colors, with_back.colors, atol=1e-3)


def test_back_photo_without_a_person_mask_is_a_clear_error(model, tmp_path):
    Image.fromarray(np.full((300, 300, 3), 128, np.uint8)).save(tmp_path / "wall.jpg")
    with pytest.raises(ImageError, match="cut-out"):
        run(str(EXAMPLE), model, Options(resolution=RESOLUTION, detect=False, color_fill=True,
                                         back_photo=str(tmp_path / "wall.jpg")))
