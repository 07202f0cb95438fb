"""The README's Python and shell examples, run exactly as written: in a folder holding ``pifuhd.pt`` (the
committed demo model) and ``photo.jpg`` (the bundled example person as an opaque JPEG), with ``.venv``
linked to this checkout's environment."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.mesh import read_obj

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def block(language: str, contains: str) -> str:
    """The README's fenced ``language`` block that contains ``contains``."""
    found = [b for b in re.findall(rf"```{language}\n(.*?)```", README, re.S) if contains in b]
    assert len(found) == 1, f"expected one {language} block with {contains!r}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    here = tmp_path_factory.mktemp("readme")
    os.symlink(REPO / "models" / "demo" / "pifuhd_demo.pt", here / "pifuhd.pt")
    rgba = np.asarray(Image.open(REPO / "examples" / "person.png").convert("RGBA")).astype(np.float32)
    alpha = rgba[:, :, 3:] / 255.0
    opaque = rgba[:, :, :3] * alpha + 200.0 * (1.0 - alpha)          # the person on a light wall
    Image.fromarray(opaque.round().astype(np.uint8)).save(here / "photo.jpg", quality=95)
    os.symlink(sys.prefix, here / ".venv")          # the environment this test runs in (a venv: its root)
    return here


def environment() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_python_example(folder):
    code = block("python", "backend.run(")
    proc = subprocess.run([sys.executable, "-c", code], cwd=folder, env=environment(), capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert "surface" in proc.stdout                                   # the progress callback printed
    data = (folder / "person.ply").read_bytes()
    header = data.split(b"end_header\n", 1)[0].decode()
    assert int(re.search(r"element vertex (\d+)", header).group(1)) > 1000


def test_shell_example(folder):
    command = block("sh", "-m backend reconstruct photo.jpg")
    proc = subprocess.run(["bash", "-c", command], cwd=folder, env=environment(), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr
    mesh = read_obj(folder / "person.obj")
    assert re.search(rf"person\.obj: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces", proc.stdout)
    assert (folder / "person.preview.png").is_file()
