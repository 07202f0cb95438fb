#!/usr/bin/env python3
"""Build the Blender extension: ``dist/<id>-<version>.zip`` (id and version from the manifest).

    python build_addon.py              # -> dist/pifuhd_reconstruct-0.1.0.zip
    python build_addon.py --validate   # ... then check it with Blender's own validator (from the bpy wheel)

The zip's root is the add-on package ``pifuhd_blender/`` (``blender_manifest.toml`` + ``__init__.py`` at the
top, as ``blender --command extension build`` makes them), with the repository's ``backend/`` package bundled
inside it as ``backend/`` — the worker process imports it from there. Network weights are never packed
(the PIFuHD weights are CC BY-NC 4.0 and are installed by the user), nor tests or caches.
Standard library only: runs with any Python >= 3.11, no Blender needed.
"""
from __future__ import annotations

import argparse
import fnmatch
import importlib.util
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent
ADDON_SRC = REPO / "pifuhd_blender"
BACKEND_SRC = REPO / "backend"
MANIFEST = ADDON_SRC / "blender_manifest.toml"

# Never packed, wherever they are: caches, tests, VCS files, and model weights of any kind.
EXCLUDE_DIRS = {"__pycache__", "tests", ".git", ".pytest_cache", "training"}
EXCLUDE_FILES = ["*.pyc", "*.pyo", "*.zip", "*.pt", "*.pth", "*.ckpt", "*.safetensors", "*.onnx", "*.tflite",
                 "*.bin", "*.npz", "*.npy", ".DS_Store", "*.part", "*.tmp"]
MAX_FILE_BYTES = 2 * 1024 * 1024  # anything larger in these source trees is data, not code: refuse to pack it
ZIP_DATE = (2024, 1, 1, 0, 0, 0)  # fixed timestamps: the same sources give the same zip


def read_manifest(path: Path = MANIFEST) -> dict:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def _walk(root: Path, prefix: str) -> list[tuple[Path, str]]:
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or any(part in EXCLUDE_DIRS for part in rel.parts[:-1]):
            continue
        if any(fnmatch.fnmatch(path.name, pat) for pat in EXCLUDE_FILES):
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SystemExit(f"build_addon: {path} is {path.stat().st_size} bytes; large data files (weights?) "
                             "must not go into the add-on. Remove it or exclude it in build_addon.py.")
        files.append((path, prefix + rel.as_posix()))
    return files


def collect_files(addon_src: Path = ADDON_SRC, backend_src: Path = BACKEND_SRC) -> list[tuple[Path, str]]:
    """(source file, name in the zip) for everything the extension holds."""
    if (addon_src / "backend").exists():
        raise SystemExit(f"build_addon: {addon_src / 'backend'} exists; the backend is bundled from {backend_src}.")
    files = _walk(addon_src, "") + _walk(backend_src, "backend/")
    names = [name for _, name in files]
    for required in ("blender_manifest.toml", "__init__.py", "backend/__init__.py"):
        if required not in names:
            raise SystemExit(f"build_addon: {required} is missing from the package.")
    return files


def build(out_dir: Path = REPO / "dist") -> Path:
    """Write the extension zip and return its path."""
    manifest = read_manifest()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{manifest['id']}-{manifest['version']}.zip"
    tmp = target.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for src, name in collect_files():
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, src.read_bytes())
    tmp.replace(target)
    return target


def find_validator() -> Path | None:
    """``blender_ext.py``, Blender's extension CLI, from the installed bpy wheel (None without bpy)."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or spec.origin is None:
        return None
    return next(Path(spec.origin).parent.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"), None)


def find_valid_tags(validator: Path) -> Path | None:
    """Blender's list of valid extension tags (shipped beside the CLI in the wheel)."""
    scripts = validator.parents[3]
    path = scripts / "modules" / "_bpy_internal" / "extensions" / "tags.py"
    return path if path.is_file() else None


def validate(path: Path, validator: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``blender_ext.py validate`` on a manifest folder or zip (with Blender's tag list when found)."""
    validator = validator or find_validator()
    if validator is None:
        raise SystemExit("build_addon: bpy is not installed here, so Blender's validator is not available.")
    cmd = [sys.executable, str(validator), "validate", str(path)]
    tags = find_valid_tags(validator)
    if tags is not None:
        cmd += ["--valid-tags", str(tags)]
    return subprocess.run(cmd, capture_output=True, text=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output folder (default dist/)")
    parser.add_argument("--validate", action="store_true", help="check the zip with Blender's validator")
    args = parser.parse_args(argv)
    target = build(args.out)
    print(f"built {target} ({target.stat().st_size / 1024:.0f} KiB)")
    if args.validate:
        result = validate(target)
        print((result.stdout + result.stderr).strip())
        return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
