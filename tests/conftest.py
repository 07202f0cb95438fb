"""Shared test fixtures: where the shared reference data and photos live."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PIFUHD_SHARED", REPO.parent / "shared"))
PARITY = SHARED / "reference" / "parity"
PHOTOS = SHARED / "photos"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data not found at {SHARED} (set PIFUHD_SHARED)")
    return SHARED
