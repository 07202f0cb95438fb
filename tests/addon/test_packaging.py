"""The extension's manifest and zip: Blender's own validator accepts both; the zip holds the add-on and the
bundled backend, and never weights, tests or caches."""
from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

import build_addon


@pytest.fixture(scope="session")
def validator():
    path = build_addon.find_validator()
    assert path is not None, "blender_ext.py not found in the bpy wheel"
    return path


def run_validator(validator, target):
    return build_addon.validate(target, validator)


def test_manifest_passes_blenders_validator(validator):
    result = run_validator(validator, build_addon.ADDON_SRC)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zip_passes_blenders_validator(validator, addon_zip, manifest):
    assert addon_zip.name == f"{manifest['id']}-{manifest['version']}.zip"
    result = run_validator(validator, addon_zip)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout + result.stderr


def test_validator_really_checks(validator, tmp_path):
    """A manifest with a trailing period in a permission reason is refused (the validator is not a no-op)."""
    bad = tmp_path / "bad"
    bad.mkdir()
    text = build_addon.MANIFEST.read_text().replace('user folder"', 'user folder."')
    assert text != build_addon.MANIFEST.read_text()
    (bad / "blender_manifest.toml").write_text(text)
    (bad / "__init__.py").write_text("")
    result = run_validator(validator, bad)
    assert result.returncode != 0


def test_manifest_fields(manifest):
    assert manifest["schema_version"] == "1.0.0"
    assert manifest["id"].isidentifier()
    assert manifest["blender_version_min"] == "4.2.0"
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert set(manifest["permissions"]) == {"files", "network"}
    for reason in manifest["permissions"].values():
        assert reason and not reason.endswith(".")


def test_zip_contents(addon_zip):
    names = zipfile.ZipFile(addon_zip).namelist()
    # the extension root: manifest + add-on package at the top, the backend bundled inside it
    for required in ("blender_manifest.toml", "__init__.py", "operators.py", "worker.py", "LICENSE",
                     "backend/__init__.py", "backend/engine.py", "backend/pipeline.py", "placement.py"):
        assert required in names, required
    assert not [n for n in names if n.endswith((".pt", ".pth", ".ckpt", ".npz", ".pyc", ".safetensors"))]
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/") or "/tests/" in n]


def test_zip_is_reproducible(tmp_path):
    first = build_addon.build(tmp_path / "a")
    again = build_addon.build(tmp_path / "b")   # right after: the sources cannot have changed in between
    assert again.read_bytes() == first.read_bytes()


def test_build_command_line(tmp_path):
    out = subprocess.run([sys.executable, str(build_addon.REPO / "build_addon.py"), "--out", str(tmp_path),
                          "--validate"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert list(tmp_path.glob("*.zip"))
