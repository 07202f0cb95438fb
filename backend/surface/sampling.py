"""Sampling an occupancy field on the grid: every point (dense), or only near the surface (coarse-to-fine).

A *field* here is a function ``field(index) -> values``: grid indices [N, 3] (int, see ``grid.py``) to
occupancy [N] float32 (inside > level). The network field, the analytic test fields and anything else plug in.
Dense sampling returns a ``[res, res, res]`` float32 array; coarse-to-fine a :class:`CroppedVolume` of the same
values, stored over the box where the surface is. :func:`marching_cubes` takes either.

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

Bookkeeping: each step's lattice is one float32 array over a box of it with a one-point NaN guard on every
face; a point not evaluated holds +inf or -inf (its side of ``level``). Cells and points are flat indices into
it (a cell by its lowest corner), so neighbours, corners and children are integer offsets. Each finer lattice
is stored over the box of the cells split into it (plus a margin); when tracking leads a surface towards the
box's face, the box grows (a copy), so the surface is followed as far as over the whole grid. Outside its box
a lattice's points hold the sides of the coarser lattice's points, computed only when asked for. Work per step
is proportional to the points near the surface and the box, not the grid (a person fills about a tenth of it).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..progress import Reporter
from .volume import CroppedVolume

FieldFn = Callable[[np.ndarray], np.ndarray]

DEFAULT_CHUNK = 65536
DEFAULT_BAND = 0.35
_INTEREST_CHUNK = 1 << 20   # cells per vectorised interest test (bounds its [N, 8] temporary)
_ROOM = 2   # lattice points kept between an evaluated point and a box face inside the grid (see _Lattice)
_MARGIN = 4   # lattice points a finer box spans beyond its split cells (tracking leaves them a little)


class EvaluationCounter:
    """Counts field evaluations (for benchmarks and tests)."""

    def __init__(self, field: FieldFn):
        self.field = field
        self.count = 0

    def __call__(self, index: np.ndarray) -> np.ndarray:
        self.count += len(index)
        return self.field(index)


def _evaluate(field: FieldFn, count: int, index_of: Callable[[np.ndarray], np.ndarray],
              store: Callable[[np.ndarray, np.ndarray], None], chunk: int, report: Reporter) -> None:
    """Evaluate ``field`` at ``count`` points in chunks of at most ``chunk`` points, reporting progress:
    ``index_of(sel)`` gives the grid indices [n, 3] of the points numbered ``sel`` [n], and
    ``store(sel, values)`` takes their values [n] float32.

    Points are shuffled (fixed seed) before chunking, so that each batch is a fair sample of the whole
    set rather than one spatial slab: fields with batch statistics then see similar batches.
    """
    order = np.random.default_rng(count).permutation(count)
    report.update(0.0)
    for start in range(0, count, chunk):
        sel = order[start:start + chunk]
        store(sel, np.asarray(field(index_of(sel)), dtype=np.float32).reshape(-1))
        report.update(min(start + chunk, count) / max(count, 1))


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
    """One step's lattice (``m`` points per axis over the whole grid) stored over a box of it: lattice points
    ``lo..hi`` (inclusive, [3] each, even unless 0 or m - 1) with a NaN guard on every face, as a float32
    array of ``dims = hi - lo + 3`` points per axis. Flat indices address points; a cell is addressed by its
    lowest corner. Outside the box every point holds its side of ``level`` taken from ``parent`` (the
    step*2 lattice) as :meth:`block` computes it; the coarsest lattice (no parent) covers the whole grid.

    A NaN guard point makes every cell that has it as a corner uninteresting: right at the grid's border
    that is what it is for; where the box ends inside the grid, :meth:`room_for` grows the box before
    any evaluated point comes within ``_ROOM`` points of its face, so the guard is never reached there."""

    def __init__(self, m: int, step: int, lo, hi, parent: "_Lattice | None", level: float):
        self.m, self.step, self.parent, self.level = m, step, parent, level
        self.lo, self.hi = np.asarray(lo, np.int64), np.asarray(hi, np.int64)
        self.dims = tuple(int(d) for d in self.hi - self.lo + 3)
        self.values = np.empty(self.dims, np.float32)
        for axis in range(3):   # the guard: NaN corners make a cell never interesting
            np.moveaxis(self.values, axis, 0)[[0, -1]] = np.nan
        if parent is None:
            self.interior[...] = np.inf
        else:
            _refine_into(parent.block(self.lo // 2, self.hi // 2), self.interior, level)
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
            part = cells[start:start + _INTEREST_CHUNK]
            at = np.empty_like(part)
            lo, hi, value = (np.empty(len(part), np.float32) for _ in range(3))
            for k, offset in enumerate(self.corners):   # one corner at a time: running min and max
                np.add(part, offset, out=at)
                np.take(self.flat, at, out=lo if k == 0 else value)
                if k == 0:
                    hi[...] = lo
                else:
                    np.minimum(lo, value, out=lo)   # NaN propagates: a guard corner fails both tests below
                    np.maximum(hi, value, out=hi)
            with np.errstate(invalid="ignore"):
                out[start:start + _INTEREST_CHUNK] = (lo <= level + band) & (hi >= level - band)
        return out

    def unknown_corners(self, cells: np.ndarray) -> np.ndarray:
        """Sorted distinct corners of ``cells`` not evaluated yet (guard points excluded)."""
        out = []
        for start in range(0, len(cells), _INTEREST_CHUNK):
            corner = (cells[start:start + _INTEREST_CHUNK, None] + self.corners).reshape(-1)
            out.append(corner[np.isinf(self.flat[corner])])   # filter first: the de-duplication gets less
        return self.spread(np.concatenate(out) if out else np.zeros(0, np.int64), np.zeros(1, np.int64))

    def coords(self, points: np.ndarray) -> np.ndarray:
        """Lattice coordinates [N, 3] (int64, whole-grid lattice, not the box) of flat points."""
        out = np.stack(np.unravel_index(points, self.dims), axis=1)
        out += self.lo - 1
        return out

    def flat_index(self, coords: np.ndarray) -> np.ndarray:
        """Flat points of lattice coordinates [N, 3] inside the box."""
        return np.ravel_multi_index(tuple((coords - (self.lo - 1)).T), self.dims)

    def block(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Values [hi - lo + 1] of the lattice points ``lo..hi`` (inclusive): a view when the box holds them,
        else a new array (sides from the parent, this box's values where it has them)."""
        if (lo >= self.lo).all() and (hi <= self.hi).all():
            return self.values[tuple(slice(a, b + 1) for a, b in zip(lo - self.lo + 1, hi - self.lo + 1))]
        alo, ahi = lo - lo % 2, hi + hi % 2   # even ends (m - 1 is even): whole parent points
        out = np.empty(tuple(ahi - alo + 1), np.float32)
        _refine_into(self.parent.block(alo // 2, ahi // 2), out, self.level)
        clo, chi = np.maximum(alo, self.lo), np.minimum(ahi, self.hi)
        if (clo <= chi).all():
            out[tuple(slice(a, b + 1) for a, b in zip(clo - alo, chi - alo))] = \
                self.block(clo, chi)
        return out[tuple(slice(a, b + 1) for a, b in zip(lo - alo, hi - alo))]

    def room_for(self, points: np.ndarray) -> "_Lattice | None":
        """None when all of ``points`` (sorted flat points to evaluate) lie ``_ROOM`` or more points inside each
        face of the box that is not the grid's border; else a larger lattice (same values) whose box leaves
        them that room."""
        if not len(points):
            return None
        plane, row = self.dims[1] * self.dims[2], self.dims[2]
        y, z = points // row, points % row
        y %= self.dims[1]
        cmin = np.array([points[0] // plane, y.min(), z.min()]) + self.lo - 1   # sorted: first and last plane
        cmax = np.array([points[-1] // plane, y.max(), z.max()]) + self.lo - 1
        low = (self.lo > 0) & (cmin < self.lo + _ROOM)
        high = (self.hi < self.m - 1) & (cmax > self.hi - _ROOM)
        if not (low.any() or high.any()):
            return None
        grow = np.maximum(_ROOM * 4, (self.hi - self.lo) // 4)   # grow by a good part: growing copies the box
        lo = np.where(low, np.maximum(np.minimum(self.lo, cmin - grow), 0), self.lo)
        hi = np.where(high, np.minimum(np.maximum(self.hi, cmax + grow), self.m - 1), self.hi)
        lat = _Lattice(self.m, self.step, lo - lo % 2, hi + hi % 2, self.parent, self.level)
        lat.interior[tuple(slice(a, b + 1) for a, b in zip(self.lo - lat.lo, self.hi - lat.lo))] = self.interior
        return lat

    def moved(self, points: np.ndarray, old: "_Lattice") -> np.ndarray:
        """Flat points of ``old`` (a smaller box of the same lattice) as flat points of this lattice."""
        return self.flat_index(old.coords(points))

    def finer(self, cells: np.ndarray) -> "_Lattice":
        """The step/2 lattice (2m - 1 points per axis) over a box that holds the step/2 points of ``cells``
        with ``_MARGIN`` points to spare: every point of this lattice keeps its value; every new
        point takes the side of ``level`` (+inf / -inf) of this lattice's point just below it, which is a
        corner of every cell containing it (so: the side of an uninteresting cell it lies in)."""
        f = 2 * self.m - 1
        if len(cells):
            c = self.coords(cells)
            lo, hi = 2 * c.min(0) - _MARGIN, 2 * c.max(0) + 2 + _MARGIN
        else:
            lo = hi = np.zeros(3, np.int64)
        lo, hi = np.clip(lo, 0, f - 1), np.clip(hi, 0, f - 1)
        return _Lattice(f, self.step // 2, lo - lo % 2, hi + hi % 2, self, self.level)

    def volume(self, res: int) -> CroppedVolume:
        """The grid points below ``res`` of this (step 1) lattice as a :class:`CroppedVolume`: its block is a
        view of the box (marching cubes copies the part it needs), the rest comes from the parent."""
        a, b, c = (int(x) for x in np.clip(res - self.lo, 0, self.hi - self.lo + 1))
        block = self.values[1:a + 1, 1:b + 1, 1:c + 1]
        self.mark = None

        def outside() -> np.ndarray:
            if self.parent is None:   # the lattice covered the grid: the block is the volume
                return np.empty((res,) * 3, np.float32)
            return np.ascontiguousarray(self.block(np.zeros(3, np.int64), np.full(3, res - 1, np.int64)))

        return CroppedVolume(block, tuple(self.lo), res, outside)

    def children(self, cells: np.ndarray, fine: "_Lattice") -> np.ndarray:
        """Distinct ``fine`` lattice points of the cells (their 3 x 3 x 3 step/2 points); guard cells dropped."""
        c = self.coords(cells)
        c = c[((c >= 0) & (c <= self.m - 2)).all(axis=1)]
        return fine.spread(fine.flat_index(2 * c), fine.offsets(0, 2))


def _refine_into(coarse: np.ndarray, out: np.ndarray, level: float) -> None:
    """Write into ``out`` [2a - 1, 2b - 1, 2c - 1] the step/2 lattice over ``coarse`` [a, b, c]: points on
    ``coarse`` keep its values; every other point takes the side of ``level`` (+inf / -inf) of the coarse
    point just below it."""
    (a, b, c), (f, g, h) = coarse.shape, out.shape
    inf = np.float32(np.inf)
    keep = np.empty((b, h), np.float32)   # rows of a finer plane at even x, even y: old values between sides
    side = np.empty((b, h), np.float32)   # rows of sides only
    for i in range(a):   # plane by plane: each finer plane is written once, the rows stay in cache
        src = coarse[i]
        sign = np.where(src > level, inf, -inf)
        keep[:, 0::2], keep[:, 1::2] = src, sign[:, :-1]
        side[:, 0::2], side[:, 1::2] = sign, sign[:, :-1]
        for x, rows in ((2 * i, keep), (2 * i + 1, side)):
            if x < f:
                plane = out[x]
                plane[0::2], plane[1::2] = rows, side[:b - 1]


def sample_coarse_to_fine(field: FieldFn, res: int, *, level: float = 0.5, band: float = DEFAULT_BAND,
                          step: int | None = None, chunk: int = DEFAULT_CHUNK,
                          report: Reporter | None = None) -> CroppedVolume:
    """Evaluate near the surface only; returns a [res, res, res] float32 :class:`CroppedVolume` equal to the
    dense volume wherever marching cubes looks (cells that straddle ``level`` connected to a found surface),
    see the module docstring; its block holds every such cell. A point not evaluated holds +inf (inside) or
    -inf (outside): only its side is known (marching cubes never interpolates towards it, since every cell
    that straddles ``level`` has all corners evaluated)."""
    report = report or Reporter()
    s0 = step or initial_step(res)
    if s0 < 1 or s0 & (s0 - 1):
        raise ValueError("step must be a power of two")
    n = -(-max(res - 1, 1) // s0) * s0  # padded extent: a multiple of s0 covering indices 0..res-1
    steps = [s0 >> i for i in range(s0.bit_length())]  # s0, s0/2, ..., 1
    weights = np.array([1.0 / (t * t) for t in steps])
    bounds = np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])

    def evaluate(lat: _Lattice, points: np.ndarray, sub: Reporter) -> None:
        """The field at flat ``points`` of ``lat``, written into it (grid indices made a chunk at a time)."""
        def index_of(sel: np.ndarray) -> np.ndarray:
            index = lat.coords(points[sel])
            index *= lat.step
            return index

        def store(sel: np.ndarray, values: np.ndarray) -> None:
            lat.flat[points[sel]] = values

        _evaluate(field, len(points), index_of, store, chunk, sub)

    lat = _Lattice(n // s0 + 1, s0, np.zeros(3, np.int64), np.full(3, n // s0), None, level)
    first = np.flatnonzero(np.isinf(lat.flat))
    evaluate(lat, first, report.slice(0.0, bounds[1]))
    new = lat.spread(first, -lat.corners)
    for li, s in enumerate(steps):
        last = s == 1
        level_band = 0.0 if last else band
        level_report = report.slice(bounds[li], bounds[li + 1])
        # Surface tracking: evaluate the corners of interesting cells (and their neighbours) until none is missing.
        touched, flags = [], []   # cells tested, and their interest, round by round
        rounds = 0
        while True:
            interest = lat.interesting(new, level, level_band)
            touched.append(new)
            flags.append(interest)
            hit = new[interest]
            grown = hit if last else lat.spread(hit, lat.neighbours)
            points = lat.unknown_corners(grown)
            rounds += 1
            if not len(points):
                break
            larger = lat.room_for(points)
            if larger is not None:   # the surface leads out of the box: grow it (indices move)
                points, touched = larger.moved(points, lat), [larger.moved(t, lat) for t in touched]
                lat = larger
            evaluate(lat, points,
                     level_report.slice(0.5 * (1 - 0.5 ** (rounds - 1)), 0.5 * (1 - 0.5 ** rounds) + 0.5))
            new = lat.spread(points, -lat.corners)
        level_report.update(1.0)
        if last:
            break
        # Split interesting cells (dilated by one, but for the last split) into step s/2; every other s/2
        # point keeps its cell's side. A cell's last test saw its final corners (a cell is tested again
        # whenever one of its corners is evaluated): mark each round's results in turn, the last one stays.
        for cells, interest in zip(touched, flags):
            lat.mark[cells] = interest
        split = np.flatnonzero(lat.mark)
        lat.mark[split] = False
        del touched, flags, new
        if s > 2:   # step 1's tracking follows the surface out of the last split cells by itself
            split = lat.spread(split, lat.neighbours)
        fine = lat.finer(split)
        points = lat.children(split, fine)
        points = points[np.isinf(fine.flat[points])]
        del split
        lat.mark = None   # done with this lattice but for reading its sides
        lat = fine   # its box leaves the split cells' points room (see finer)
        evaluate(lat, points, report.slice(bounds[li + 1], 0.5 * (bounds[li + 1] + bounds[li + 2])))
        new = lat.spread(points, -lat.corners)
    return lat.volume(res)
