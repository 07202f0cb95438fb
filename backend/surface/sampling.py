"""Sampling an occupancy field on the grid: every point (dense), or only near the surface (coarse-to-fine).

A *field* here is a function ``field(index) -> values``: grid indices [N, 3] (int, see ``grid.py``) to
occupancy [N] float32 (inside > level). The network field, the analytic test fields and anything else plug in.
Both strategies return a full ``[res, res, res]`` float32 volume for marching cubes.

Coarse-to-fine (ours)
---------------------
Start on a lattice of step ``s0`` (a power of two), evaluated everywhere. At each step ``s``:
1. a cell of the step-``s`` lattice is *interesting* when its corner values straddle ``level`` or come
   within ``band`` of it (at the last step, ``s = 1``: when they straddle ``level``, all marching cubes needs);
2. *surface tracking*: the corners of interesting cells (and, above step 1, of their 26 neighbours) are
   evaluated, repeatedly, until no interesting cell has an unevaluated corner, so a surface, once met, is
   followed wherever it goes, thin parts included, at this step's resolution;
3. the interesting cells, dilated by one cell, are split: their step-``s/2`` lattice points are evaluated;
   every other step-``s/2`` point takes the side of ``level`` of its (uninteresting) step-``s`` cell.
   The last split (into step 1) is not dilated: step 1's tracking leaves the split cells wherever the
   surface does, so the dilation would only add points away from it.
At step 1 the tracking guarantees that every grid cell whose corners straddle ``level`` and is connected
to a found surface (through faces or edges whose corners straddle) has all 8 corners evaluated exactly, so
marching cubes returns the dense result.

Bookkeeping: each step's lattice is one float32 array with a one-point NaN guard on every face; a point
not evaluated holds +inf or -inf (its side of ``level``). Cells and points are flat indices into it
(a cell by its lowest corner), so neighbours, corners and children are integer offsets; work per step is
proportional to the points near the surface, apart from one pass that builds each finer lattice.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..progress import Reporter

FieldFn = Callable[[np.ndarray], np.ndarray]

DEFAULT_CHUNK = 65536
DEFAULT_BAND = 0.35
_INTEREST_CHUNK = 1 << 20   # cells per vectorised interest test (bounds its [N, 8] temporary)


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


class _Lattice:
    """One step's lattice: ``m`` points per axis, stored with a NaN guard as a flat float32 array of
    (m + 2)^3 values. Flat indices address points; a cell is addressed by its lowest corner."""

    def __init__(self, m: int, step: int, values: np.ndarray | None = None):
        self.m, self.step = m, step
        self.dims = (m + 2,) * 3
        self.values = np.empty(self.dims, np.float32) if values is None else values
        for axis in range(3):   # the guard: NaN corners make a cell never interesting
            np.moveaxis(self.values, axis, 0)[[0, -1]] = np.nan
        self.flat = self.values.reshape(-1)
        self.mark = np.zeros(self.flat.size, dtype=bool)   # scratch for de-duplicating index sets
        self.corners = self.offsets(0, 1)     # a cell's 8 corners
        self.neighbours = self.offsets(-1, 1)  # a cell's 26 neighbours and itself

    @property
    def interior(self) -> np.ndarray:
        return self.values[1:-1, 1:-1, 1:-1]

    def offsets(self, lo: int, hi: int) -> np.ndarray:
        """Flat offsets of the block {lo..hi}^3 around an index."""
        r = np.arange(lo, hi + 1, dtype=np.int64)
        sx, sy = self.dims[1] * self.dims[2], self.dims[2]
        return (r[:, None, None] * sx + r[None, :, None] * sy + r[None, None, :]).reshape(-1)

    def spread(self, index: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Sorted distinct ``index + offset`` over all pairs (int64 flat indices)."""
        total = len(index) * len(offsets)
        if total * 64 < self.mark.size:   # few: sort them
            return np.unique((index[:, None] + offsets).reshape(-1))
        part = max(1, (1 << 22) // len(offsets))  # many: mark them in a boolean mask, then read it back
        for start in range(0, len(index), part):
            self.mark[(index[start:start + part, None] + offsets).reshape(-1)] = True
        out = np.flatnonzero(self.mark)
        self.mark[out] = False
        return out

    def interesting(self, cells: np.ndarray, level: float, band: float) -> np.ndarray:
        """Bool [N] for cells [N]: corners straddle ``level`` or come within ``band`` (NaN corner: never)."""
        out = np.empty(len(cells), dtype=bool)
        for start in range(0, len(cells), _INTEREST_CHUNK):
            corner = self.flat[self.corners[:, None] + cells[None, start:start + _INTEREST_CHUNK]]  # [8, n]
            with np.errstate(invalid="ignore"):   # reduce over the short axis first: 7 vector passes each
                out[start:start + _INTEREST_CHUNK] = ((corner.min(0) <= level + band)
                                                      & (corner.max(0) >= level - band))
        return out

    def unknown_corners(self, cells: np.ndarray) -> np.ndarray:
        """Sorted distinct corners of ``cells`` not evaluated yet (guard points excluded)."""
        out = []
        for start in range(0, len(cells), _INTEREST_CHUNK):
            corner = (cells[start:start + _INTEREST_CHUNK, None] + self.corners).reshape(-1)
            out.append(corner[np.isinf(self.flat[corner])])   # filter first: the de-duplication gets less
        return self.spread(np.concatenate(out) if out else np.zeros(0, np.int64), np.zeros(1, np.int64))

    def grid_index(self, points: np.ndarray) -> np.ndarray:
        """Grid indices [N, 3] (int64) of flat lattice points."""
        coords = np.stack(np.unravel_index(points, self.dims), axis=1)
        coords -= 1
        coords *= self.step
        return coords

    def refined(self, level: float) -> "_Lattice":
        """The step/2 lattice (2m - 1 points per axis): every point of this lattice keeps its value; every
        new point takes the side of ``level`` (+inf / -inf) of this lattice's point just below it, which is
        a corner of every cell containing it (so: the side of an uninteresting cell it lies in)."""
        m, f = self.m, 2 * self.m - 1
        values = np.empty((f + 2,) * 3, np.float32)
        inf = np.float32(np.inf)
        keep = np.empty((m, f), np.float32)   # rows of a finer plane at even x, even y: old values between sides
        side = np.empty((m, f), np.float32)   # rows of sides only
        for i in range(m):   # plane by plane: each finer plane is written once, the rows stay in cache
            src = self.interior[i]
            sign = np.where(src > level, inf, -inf)
            keep[:, 0::2], keep[:, 1::2] = src, sign[:, :-1]
            side[:, 0::2], side[:, 1::2] = sign, sign[:, :-1]
            for x, rows in ((2 * i, keep), (2 * i + 1, side)):
                if x < f:
                    plane = values[x + 1, 1:-1, 1:-1]
                    plane[0::2], plane[1::2] = rows, side[:m - 1]
        return _Lattice(f, self.step // 2, values)

    def compact(self, res: int) -> np.ndarray:
        """The first ``res`` points per axis as a C-contiguous [res]^3 volume in this lattice's own memory
        (plane by plane: a plane's new place ends before its old one starts). The lattice is spent."""
        volume = self.flat[:res ** 3].reshape(res, res, res)
        for i in range(res):
            volume[i] = self.values[i + 1, 1:res + 1, 1:res + 1]
        return volume

    def children(self, cells: np.ndarray, fine: "_Lattice") -> np.ndarray:
        """Distinct ``fine`` lattice points of the cells (their 3 x 3 x 3 step/2 points); guard cells dropped."""
        c = np.stack(np.unravel_index(cells, self.dims), axis=1) - 1
        c = c[((c >= 0) & (c <= self.m - 2)).all(axis=1)]
        base = np.ravel_multi_index(tuple((2 * c + 1).T), fine.dims)
        return fine.spread(base, fine.offsets(0, 2))


def sample_coarse_to_fine(field: FieldFn, res: int, *, level: float = 0.5, band: float = DEFAULT_BAND,
                          step: int | None = None, chunk: int = DEFAULT_CHUNK,
                          report: Reporter | None = None) -> np.ndarray:
    """Evaluate near the surface only; returns [res, res, res] float32 equal to the dense volume wherever
    marching cubes looks (cells that straddle ``level`` connected to a found surface), see the module
    docstring. A point not evaluated holds +inf (inside) or -inf (outside): only its side is known
    (marching cubes never interpolates towards it, since every cell that straddles ``level`` has all
    corners evaluated)."""
    report = report or Reporter()
    s0 = step or initial_step(res)
    if s0 < 1 or s0 & (s0 - 1):
        raise ValueError("step must be a power of two")
    n = -(-max(res - 1, 1) // s0) * s0  # padded extent: a multiple of s0 covering indices 0..res-1
    steps = [s0 >> i for i in range(s0.bit_length())]  # s0, s0/2, ..., 1
    weights = np.array([1.0 / (t * t) for t in steps])
    bounds = np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])

    def evaluate(lat: _Lattice, points: np.ndarray, sub: Reporter) -> None:
        vals = _evaluate(field, lat.grid_index(points), chunk, sub)
        lat.flat[points] = vals

    lat = _Lattice(n // s0 + 1, s0)
    lat.interior[...] = np.inf
    first = np.flatnonzero(np.isinf(lat.flat))
    evaluate(lat, first, report.slice(0.0, bounds[1]))
    new = lat.spread(first, -lat.corners)
    for li, s in enumerate(steps):
        last = s == 1
        level_band = 0.0 if last else band
        level_report = report.slice(bounds[li], bounds[li + 1])
        # Surface tracking: evaluate the corners of interesting cells (and their neighbours) until none is missing.
        touched = [new]
        rounds = 0
        while True:
            hit = new[lat.interesting(new, level, level_band)]
            grown = hit if last else lat.spread(hit, lat.neighbours)
            points = lat.unknown_corners(grown)
            rounds += 1
            if not len(points):
                break
            evaluate(lat, points,
                     level_report.slice(0.5 * (1 - 0.5 ** (rounds - 1)), 0.5 * (1 - 0.5 ** rounds) + 0.5))
            new = lat.spread(points, -lat.corners)
            touched.append(new)
        level_report.update(1.0)
        if last:
            break
        # Split interesting cells (dilated by one, but for the last split) into step s/2; every other s/2
        # point keeps its cell's side.
        cells = touched[0] if len(touched) == 1 else lat.spread(np.concatenate(touched), np.zeros(1, np.int64))
        del touched, new
        split = cells[lat.interesting(cells, level, level_band)]
        if s > 2:   # step 1's tracking follows the surface out of the last split cells by itself
            split = lat.spread(split, lat.neighbours)
        fine = lat.refined(level)
        points = lat.children(split, fine)
        points = points[np.isinf(fine.flat[points])]
        del split, cells
        lat = fine
        evaluate(lat, points, report.slice(bounds[li + 1], 0.5 * (bounds[li + 1] + bounds[li + 2])))
        new = lat.spread(points, -lat.corners)
    return lat.compact(res)
