"""Sampling an occupancy field on the grid: every point (dense), or only near the surface (coarse-to-fine).

A *field* here is a function ``field(index) -> values``: grid indices [N, 3] (int, see ``grid.py``) to
occupancy [N] float32 (inside > level). The network field, the analytic test fields and anything else plug in.
Both strategies return a full ``[res, res, res]`` float32 volume for marching cubes.

Coarse-to-fine (ours)
---------------------
Start on a lattice of step ``s0`` (a power of two), evaluated everywhere. At each step ``s``:
1. a cell of the step-``s`` lattice is *interesting* when its corner values straddle ``level`` or come
   within ``band`` of it;
2. *surface tracking*: the 26-neighbours of interesting cells are evaluated too, repeatedly, until no
   interesting cell touches an unevaluated one — so a surface, once met, is followed wherever it goes,
   thin parts included, at this step's resolution;
3. the interesting cells (dilated by one cell) are split: their step-``s/2`` lattice points are evaluated;
   every other step-``s/2`` point is filled by multilinear interpolation of the step-``s`` values, which
   keeps it on the same side of ``level`` as its (uninteresting) cell.
At step 1 the tracking guarantees that every grid cell whose corners straddle ``level`` and is connected
to a found surface has all 8 corners evaluated exactly, so marching cubes returns the dense result.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..progress import Reporter

FieldFn = Callable[[np.ndarray], np.ndarray]

DEFAULT_CHUNK = 65536
DEFAULT_BAND = 0.35


class EvaluationCounter:
    """Counts field evaluations (for benchmarks and tests)."""

    def __init__(self, field: FieldFn):
        self.field = field
        self.count = 0

    def __call__(self, index: np.ndarray) -> np.ndarray:
        self.count += len(index)
        return self.field(index)


def _evaluate(field: FieldFn, index: np.ndarray, chunk: int, report: Reporter) -> np.ndarray:
    """Evaluate ``field`` at ``index`` [N, 3] in chunks of at most ``chunk`` points, reporting progress.

    Points are shuffled (fixed seed) before chunking, so that each batch is a fair sample of the whole
    set rather than one spatial slab: fields with batch statistics then see similar batches.
    """
    order = np.random.default_rng(len(index)).permutation(len(index))
    out = np.empty(len(index), dtype=np.float32)
    report.update(0.0)
    for start in range(0, len(index), chunk):
        sel = order[start:start + chunk]
        out[sel] = np.asarray(field(index[sel]), dtype=np.float32).reshape(-1)
        report.update(min(start + chunk, len(index)) / max(len(index), 1))
    return out


def sample_dense(field: FieldFn, res: int, *, chunk: int = DEFAULT_CHUNK,
                 report: Reporter | None = None) -> np.ndarray:
    """Evaluate every grid point; returns [res, res, res] float32 indexed (i, j, k).

    Points go to the field in C order (i slowest) in consecutive batches of ``chunk``, as the official
    dense evaluation does (batch composition matters to fields with batch statistics).
    """
    report = report or Reporter()
    total = res ** 3
    out = np.empty(total, dtype=np.float32)
    report.update(0.0)
    for start in range(0, total, chunk):
        stop = min(start + chunk, total)
        idx = np.column_stack(np.unravel_index(np.arange(start, stop), (res, res, res)))
        out[start:stop] = np.asarray(field(idx), dtype=np.float32).reshape(-1)
        report.update(stop / total)
    return out.reshape(res, res, res)


def initial_step(res: int) -> int:
    """Coarsest lattice step: a power of two giving about 32 cells per axis (1 for small grids)."""
    step = 1
    while res // (step * 2) >= 32:
        step *= 2
    return step


def _cell_view(values: np.ndarray, s: int) -> np.ndarray:
    return values[::s, ::s, ::s]


def _interesting(lattice: np.ndarray, level: float, band: float) -> np.ndarray:
    """Cells of a lattice (shape n-1 per axis) whose 8 corners straddle ``level`` or come within ``band``.

    NaN corners (unevaluated) never make a cell interesting.
    """
    nx, ny, nz = (d - 1 for d in lattice.shape)
    lo = lattice[:nx, :ny, :nz].copy()
    hi = lo.copy()
    for a, b, c in [(a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)][1:]:
        corner = lattice[a:nx + a, b:ny + b, c:nz + c]
        np.fmin(lo, corner, out=lo)
        np.fmax(hi, corner, out=hi)
    with np.errstate(invalid="ignore"):
        return (lo <= level + band) & (hi >= level - band)


def _shift_or(mask: np.ndarray, axis: int, forward: bool = True, backward: bool = False) -> None:
    """In place: each element also takes the value of its predecessor (``forward``) and/or successor
    (``backward``) along ``axis``."""
    lead = [slice(None)] * 3
    lag = [slice(None)] * 3
    lead[axis], lag[axis] = slice(1, None), slice(None, -1)
    src = mask.copy()
    if forward:
        mask[tuple(lead)] |= src[tuple(lag)]
    if backward:
        mask[tuple(lag)] |= src[tuple(lead)]


def _dilate(cells: np.ndarray) -> np.ndarray:
    """Dilation by the 3x3x3 cube (26-neighbourhood), done separably along each axis."""
    out = cells.copy()
    for axis in range(3):
        _shift_or(out, axis, forward=True, backward=True)
    return out


def _cells_to_points(cells: np.ndarray) -> np.ndarray:
    """Lattice points (n per axis) that are corners of any marked cell (n-1 per axis)."""
    pts = np.zeros(tuple(d + 1 for d in cells.shape), dtype=bool)
    pts[:-1, :-1, :-1] = cells
    for axis in range(3):
        _shift_or(pts, axis)
    return pts


def _children(cells: np.ndarray) -> np.ndarray:
    """Step-s/2 cells inside marked step-s cells: bool [m]^3 -> [2m]^3."""
    return cells.repeat(2, 0).repeat(2, 1).repeat(2, 2)


def _upsample2(lattice: np.ndarray) -> np.ndarray:
    """Multilinear x2 refinement of a complete lattice: [m+1]^3 -> [2m+1]^3 (odd points = neighbour means)."""
    out = lattice
    for axis in range(3):
        src = np.moveaxis(out, axis, 0)
        dst = np.empty((2 * src.shape[0] - 1,) + src.shape[1:], dtype=lattice.dtype)
        dst[0::2] = src
        dst[1::2] = 0.5 * (src[:-1] + src[1:])
        out = np.moveaxis(dst, 0, axis)
    return out


def sample_coarse_to_fine(field: FieldFn, res: int, *, level: float = 0.5, band: float = DEFAULT_BAND,
                          step: int | None = None, chunk: int = DEFAULT_CHUNK,
                          report: Reporter | None = None) -> np.ndarray:
    """Evaluate near the surface only; returns [res, res, res] float32 equal to the dense volume wherever
    marching cubes looks (cells that straddle ``level`` connected to a found surface), see the module docstring."""
    report = report or Reporter()
    s0 = step or initial_step(res)
    if s0 < 1 or s0 & (s0 - 1):
        raise ValueError("step must be a power of two")
    n = -(-max(res - 1, 1) // s0) * s0  # padded extent: a multiple of s0 covering indices 0..res-1
    values = np.full((n + 1,) * 3, np.nan, dtype=np.float32)
    known = np.zeros((n + 1,) * 3, dtype=bool)
    steps = [s0 >> i for i in range(s0.bit_length())]  # s0, s0/2, ..., 1
    weights = np.array([1.0 / (t * t) for t in steps])
    bounds = np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])

    def evaluate(points: np.ndarray, s: int, origin: np.ndarray, sub: Reporter) -> np.ndarray:
        """Evaluate the unknown step-s lattice points flagged in ``points`` (a box starting at ``origin``)."""
        box = tuple(slice(o, o + d) for o, d in zip(origin, points.shape))
        lattice_idx = np.argwhere(points & ~_cell_view(known, s)[box]) + origin
        idx = lattice_idx * s
        if len(idx):
            vals = _evaluate(field, idx, chunk, sub)
            values[idx[:, 0], idx[:, 1], idx[:, 2]] = vals
            known[idx[:, 0], idx[:, 1], idx[:, 2]] = True
        return lattice_idx

    zero = np.zeros(3, dtype=int)
    evaluate(np.ones((n // s0 + 1,) * 3, dtype=bool), s0, zero, report.slice(0.0, bounds[1]))
    for li, s in enumerate(steps):
        lattice = _cell_view(values, s)
        size = np.array(lattice.shape)
        level_report = report.slice(bounds[li], bounds[li + 1])
        # Surface tracking: evaluate the corners of cells next to interesting ones until nothing is missing.
        lo, hi = zero, size
        rounds = 0
        while True:
            box = tuple(slice(a, b) for a, b in zip(lo, hi))
            grown = _dilate(_interesting(lattice[box], level, band))
            rounds += 1
            new = evaluate(_cells_to_points(grown), s, lo,
                           level_report.slice(0.5 * (1 - 0.5 ** (rounds - 1)), 0.5 * (1 - 0.5 ** rounds) + 0.5))
            if not len(new):
                break
            lo = np.maximum(new.min(0) - 2, 0)
            hi = np.minimum(new.max(0) + 3, size)
        level_report.update(1.0)
        if s == 1:
            break
        # Split interesting cells (dilated by one) into step s/2; fill all other s/2 points by interpolation.
        split = _cells_to_points(_children(_dilate(_interesting(lattice, level, band))))
        evaluate(split, s // 2, zero, report.slice(bounds[li + 1], 0.5 * (bounds[li + 1] + bounds[li + 2])))
        finer = _cell_view(values, s // 2)
        np.copyto(finer, _upsample2(lattice), where=~_cell_view(known, s // 2))
    return np.ascontiguousarray(values[:res, :res, :res])
