"""Shared test fixtures: the test data in ``tests/data`` (a fresh clone is enough) and the optional shared folder.

- ``PARITY`` (``tests/data/parity``): the parity fixtures (inputs, the official code's outputs, options, state-dict
  keys). ``small/checkpoint.pt`` (31 MB) is not in the repository: it is rebuilt from the fixture's documented
  weights procedure (``tests/support/parity.py``) once, at the start of a session, into that git-ignored path, and
  rebuilt again whenever the fixture or the procedure changes (a stamp file records what it was built from).
- ``PHOTOS`` (``tests/data/photos``): the test photos.
- ``SHARED`` (``$PIFUHD_SHARED``, default ``../shared``): the team's reference folder. Optional: only the tests
  that compare the repository's copies with it use it (``real_shared``), and they skip when it is absent.
- ``shared_dir``: a folder with the shared folder's layout (``reference/parity/<case>/...``, ``photos/...``)
  made from the repository's data, for tests written against that layout.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
PARITY = DATA / "parity"
PHOTOS = DATA / "photos"
SMALL_CHECKPOINT = PARITY / "small" / "checkpoint.pt"
SHARED = Path(os.environ.get("PIFUHD_SHARED", REPO.parent / "shared"))


def _stamp(folder: Path) -> str:
    """What the rebuilt checkpoint depends on: the fixture's keys and options, and the procedure's code."""
    h = hashlib.sha256()
    for part in (folder / "state_dict_keys.tsv", folder / "meta.json", REPO / "tests" / "support" / "parity.py"):
        h.update(part.read_bytes())
    return h.hexdigest()


def ensure_small_checkpoint() -> Path:
    """Rebuild ``PARITY/small/checkpoint.pt`` from the weights procedure unless an up-to-date one is there."""
    stamp_file = SMALL_CHECKPOINT.with_suffix(".pt.stamp")
    stamp = _stamp(SMALL_CHECKPOINT.parent)
    if SMALL_CHECKPOINT.is_file() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return SMALL_CHECKPOINT
    from tests.support.parity import write_fixture_checkpoint

    part = SMALL_CHECKPOINT.with_name(f".checkpoint.{os.getpid()}.part")
    try:
        write_fixture_checkpoint(SMALL_CHECKPOINT.parent, part)
        os.replace(part, SMALL_CHECKPOINT)      # atomic: a parallel session never sees half a file
    finally:
        part.unlink(missing_ok=True)
    stamp_file.write_text(stamp)
    return SMALL_CHECKPOINT


def pytest_sessionstart(session) -> None:
    ensure_small_checkpoint()


@pytest.fixture(scope="session")
def small_checkpoint() -> Path:
    """The ``small`` parity fixture's checkpoint (official layout, 7.7 M random weights), rebuilt from its procedure."""
    return ensure_small_checkpoint()


@pytest.fixture(scope="session")
def photos_dir() -> Path:
    return PHOTOS


@pytest.fixture(scope="session")
def real_shared() -> Path:
    """The team's shared reference folder, when this machine has one (else the test is skipped)."""
    if not (SHARED / "reference" / "parity").is_dir():
        pytest.skip(f"no shared reference folder at {SHARED} (optional; set PIFUHD_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory) -> Path:
    """A folder laid out like the shared one (``reference/parity/small/checkpoint.pt``, ``photos/...``), made
    from the repository's test data, so tests written against that layout run from a fresh clone.
    (Depends on no fixture by name: test modules define their own ``small_checkpoint`` on top of this one.)"""
    ensure_small_checkpoint()
    root = tmp_path_factory.mktemp("shared")
    (root / "reference").mkdir()
    for link, target in ((root / "reference" / "parity", PARITY), (root / "photos", PHOTOS)):
        try:
            link.symlink_to(target, target_is_directory=True)
        except OSError:                       # no symlinks here (some Windows set-ups): copy instead
            shutil.copytree(target, link)
    return root
