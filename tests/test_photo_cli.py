"""The CLI prepares the photo by default (person, crop, background, preview) and skips it with --no-detect.

Run as a newcomer would: ``python -m backend reconstruct PHOTO --checkpoint CKPT --out OUT.obj``, with the
small random-weight fixture checkpoint (the mesh is noise; what matters here is the preparation around it).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from backend.cli import EXIT_CHECKPOINT, EXIT_IMAGE, EXIT_NO_PERSON, EXIT_OK
from backend.image_io import load_image
from tests.conftest import PARITY, REPO

PHOTOS = REPO / "tests" / "data" / "photos"
CHECKPOINT = PARITY / "small" / "checkpoint.pt"


def cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backend", "reconstruct", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_reconstruct_prepares_the_photo_and_saves_a_preview(tmp_path):
    out = tmp_path / "new_folder" / "yoga.obj"   # a folder that does not exist yet, as in `make demo`
    run = cli(PHOTOS / "yoga_tree_white.jpg", "--checkpoint", CHECKPOINT, "--out", out, "--resolution", "16",
              "--quiet")
    assert run.returncode == EXIT_OK, run.stderr
    assert "person found: crop x=" in run.stderr and "(keypoints)" in run.stderr
    assert "W0000" not in run.stderr and "XNNPACK" not in run.stderr     # MediaPipe's native log kept out
    preview = out.parent / "yoga.preview.png"
    assert preview.is_file() and load_image(preview).shape == (1024, 1536, 3)
    assert out.is_file() and "vertices" in run.stdout


def test_model_with_other_input_sizes_prepares_once(tmp_path):
    # the demo model's inputs are 256/512: the CLI resizes the first preparation's inputs, no second search
    out = tmp_path / "yoga.obj"
    run = cli(PHOTOS / "yoga_tree_white.jpg", "--checkpoint", REPO / "models" / "demo" / "pifuhd_demo.pt",
              "--out", out, "--resolution", "32", "--quiet")
    assert run.returncode == EXIT_OK, run.stderr
    assert run.stderr.count("person found") == 1, run.stderr
    assert out.is_file()


def test_clean_keeps_the_person_piece(tmp_path):
    # the demo model on a real photo leaves floating bits in the background; --clean drops them
    from backend.mesh import read_obj
    from backend.meshops.components import face_components
    from backend.meshops.topology import is_watertight

    meshes = {}
    for flag in ([], ["--clean"]):
        out = tmp_path / f"yoga{len(flag)}.obj"
        run = cli(PHOTOS / "yoga_warrior_beach.jpg", "--checkpoint", REPO / "models" / "demo" / "pifuhd_demo.pt",
                  "--out", out, "--resolution", "96", "--quiet", "--no-preview", *flag)
        assert run.returncode == EXIT_OK, run.stderr
        meshes[len(flag)] = read_obj(out)
    raw, clean = meshes[0], meshes[1]
    assert face_components(raw.faces, len(raw.vertices))[0] > 1
    assert face_components(clean.faces, len(clean.vertices))[0] == 1
    assert is_watertight(clean.faces, len(clean.vertices))
    assert 0.5 * len(raw.faces) < len(clean.faces) < len(raw.faces)
    assert np.abs(clean.colors - 0.5).max() > 0.1                  # colours came along


def test_no_person_exits_5_before_loading_the_model(tmp_path):
    scene = np.zeros((400, 600, 3), np.uint8)
    scene[:200] = (120, 170, 230)
    scene[200:] = (60, 120, 50)
    photo = tmp_path / "field.png"
    Image.fromarray(scene).save(photo)
    run = cli(photo, "--checkpoint", tmp_path / "missing.pt", "--out", tmp_path / "x.obj")
    assert run.returncode == EXIT_NO_PERSON, run.stderr
    assert "No person found" in run.stderr and "field.png" in run.stderr and "--no-detect" in run.stderr
    assert not (tmp_path / "x.obj").exists()
    # --no-detect skips the search: the same photo now gets as far as the (missing) model file.
    run = cli(photo, "--checkpoint", tmp_path / "missing.pt", "--out", tmp_path / "x.obj", "--no-detect")
    assert run.returncode == EXIT_CHECKPOINT, run.stderr


def test_bad_photo_exits_3_with_the_file_named(tmp_path):
    photo = tmp_path / "holiday.jpg"
    photo.write_bytes(b"not a photo at all")
    run = cli(photo, "--checkpoint", CHECKPOINT, "--out", tmp_path / "x.obj")
    assert run.returncode == EXIT_IMAGE and "holiday.jpg" in run.stderr and "not an image" in run.stderr
