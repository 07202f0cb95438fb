"""Pixel positions <-> the image NDC that ``grid_sample(align_corners=True)`` reads, spelled once.

An ``S``-pixel side: pixel index ``j`` (pixel centres at integers, 0 .. S-1) is NDC ``-1 + 2 j / (S - 1)``,
so NDC -1 and +1 are the centres of the first and last pixels (not their outer edges). Pure numpy.
"""
from __future__ import annotations

import numpy as np


def index_to_ndc(index: np.ndarray | float, size: int) -> np.ndarray:
    """Pixel-centre coordinates (0 .. size-1) -> align_corners NDC in [-1, 1]."""
    return -1.0 + 2.0 * np.asarray(index, dtype=np.float64) / (size - 1)


def ndc_to_index(ndc: np.ndarray | float, size: int) -> np.ndarray:
    """Align_corners NDC -> pixel-centre coordinates (the inverse of :func:`index_to_ndc`)."""
    return (np.asarray(ndc, dtype=np.float64) + 1.0) * (size - 1) / 2.0
