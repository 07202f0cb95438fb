"""The parity fixtures' checkpoints rebuilt from their weights procedure, and a machine-independent mesh comparison.

The procedure (tests/data/parity/README.md): for the i-th row of state_dict_keys.tsv, a generator
seeded with ``seed + i`` draws the tensor by a rule that depends on the key. The result is saved in the
official layout, so the production loader reads it like the released file.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch


def _tensor_for(key: str, shape: list[int], dtype: str, g: torch.Generator) -> torch.Tensor:
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=getattr(torch, dtype))
    if key.endswith("running_var"):
        return 0.5 + torch.rand(shape, generator=g)
    if key.endswith("running_mean"):
        return 0.1 * torch.randn(shape, generator=g)
    if len(shape) == 1:
        base = 1.0 if key.endswith(".weight") else 0.0
        return base + 0.1 * torch.randn(shape, generator=g)
    # "randn / sqrt(fan_in)", computed as a multiplication by the reciprocal: that is what reproduces the
    # fixture file bit for bit.
    return torch.randn(shape, generator=g) * (1.0 / math.sqrt(math.prod(shape[1:])))


def fixture_state_dict(folder: Path, seed: int) -> dict[str, torch.Tensor]:
    """The state dict the procedure gives for the fixture in ``folder`` (keys in file order)."""
    rows = (folder / "state_dict_keys.tsv").read_text().splitlines()[1:]
    state = {}
    for i, row in enumerate(rows):
        key, shape, dtype = row.split("\t")
        g = torch.Generator().manual_seed(seed + i)
        state[key] = _tensor_for(key, json.loads(shape), dtype, g)
    return state


def write_fixture_checkpoint(folder: Path, path: Path) -> Path:
    """Write the fixture's checkpoint (official layout, options as argparse.Namespace) to ``path``."""
    meta = json.loads((folder / "meta.json").read_text())
    payload = {
        "opt": argparse.Namespace(**meta["opt"]),
        "opt_netG": argparse.Namespace(**meta["opt_netG"]),
        "model_state_dict": fixture_state_dict(folder, meta["seed"]),
    }
    torch.save(payload, path)
    return path


# ---- comparing marching-cubes meshes in a way that holds on any CPU ------------------------------------------
#
# Marching cubes puts one vertex on each grid edge whose two field values straddle the level, at the linear
# interpolation ``t = (level - f(a)) / (f(b) - f(a))`` along it (Lewiner's tables sometimes add one vertex
# inside a cell). Where an edge's two values are both within float noise of the level, a last-bit change of
# the field (another CPU, another BLAS) moves that vertex anywhere along its edge, or flips a grid point to
# the other side. So the comparison is made on what the field determines robustly:
# - every reference vertex, read as (edge, t), must be where OUR grid values put the level: our
#   ``f(a) + t (f(b) - f(a))`` within ``field_tol`` of the level (this holds whenever our values are within
#   ``field_tol`` of the reference's, on any machine);
# - grid points within ``field_tol`` of the level are *uncertain* (their side may differ);
# - the crossed edges must be the same, except edges with an uncertain end;
# - vertices on edges whose values differ by more than ``field_tol / pos_tol`` (in cells; so a field error of
#   ``field_tol`` moves them by at most ``pos_tol``) are compared by position; the others by edge only;
# - faces, as triples of (edge or cell) keys in winding order, must be the same, except in cells with an
#   uncertain corner (whose triangulation may differ).


def vertex_keys(index_verts: np.ndarray, tol: float = 1e-4, point_tol: float = 1e-5) -> np.ndarray:
    """Key of the grid element holding each vertex, in doubled index coordinates [V, 3] int64: an edge (exactly
    one odd coordinate: its midpoint), a cell (three odd: its centre), or a grid point (all even: a vertex where
    the field equals the level at a grid point; several edges may put one there). ``index_verts`` [V, 3] are
    vertices in grid-index units. A vertex is on an edge when two of its coordinates are integers (within
    ``tol``); the edge runs along the third, the one farthest from an integer."""
    v = np.asarray(index_verts, np.float64)
    dev = np.abs(v - np.round(v))
    ranked = np.sort(dev, axis=1)
    cell = ranked[:, 1] > tol
    point = ranked[:, 2] <= point_tol
    along = (np.arange(3) == np.argmax(dev, axis=1)[:, None]) & ~point[:, None]
    keys = np.where(along | cell[:, None], 2 * np.floor(v) + 1, 2 * np.round(v))
    return keys.astype(np.int64)


def _rows(keys: np.ndarray) -> list[tuple[int, ...]]:
    return [tuple(k) for k in keys.tolist()]


def _canonical_faces(faces: np.ndarray, keys: list[tuple[int, ...]]) -> list[tuple]:
    """Faces as key triples rotated to start at their smallest key (winding kept)."""
    out = []
    for f in faces.tolist():
        tri = [keys[i] for i in f]
        j = tri.index(min(tri))
        out.append(tuple(tri[j:] + tri[:j]))
    return out


def compare_meshes(volume: np.ndarray, level: float, ours: tuple[np.ndarray, np.ndarray],
                   ref: tuple[np.ndarray, np.ndarray], to_index: np.ndarray, *, field_tol: float,
                   pos_tol: float) -> dict[str, int]:
    """Compare our marching-cubes mesh of ``volume`` [R,R,R] with a reference mesh (see above).

    ``ours``/``ref``: (vertices [V,3] in the cube frame, faces [F,3] in the same winding); ``to_index``: the
    4x4 map from the cube frame to grid-index units; ``pos_tol`` in cube units. Raises ``AssertionError``
    describing the first difference; returns counts of what was compared.
    """
    res = volume.shape[0]
    idx = [np.asarray(v, np.float64) @ to_index[:3, :3].T + to_index[:3, 3] for v in (ours[0], ref[0])]
    keys = [vertex_keys(i) for i in idx]
    edge = [(k % 2).sum(1) == 1 for k in keys]
    point = [(k % 2).sum(1) == 0 for k in keys]
    for name, k, p in zip(("ours", "reference"), keys, point):
        assert len(np.unique(k[~p], axis=0)) == (~p).sum(), f"{name}: two vertices on one grid edge or cell"

    # 1. Every reference edge vertex sits where our grid values put the level.
    k, t_idx = keys[1][edge[1]], idx[1][edge[1]]
    axis = np.argmax(k % 2, axis=1)
    a = (k - (np.arange(3) == axis[:, None])) // 2
    b = a + (np.arange(3) == axis[:, None])
    assert a.min() >= 0 and b.max() < res, "reference vertex outside the grid"
    fa, fb = volume[tuple(a.T)].astype(np.float64), volume[tuple(b.T)].astype(np.float64)
    t = t_idx[np.arange(len(a)), axis] - a[np.arange(len(a)), axis]
    level_there = fa + t * (fb - fa)
    worst = float(np.abs(level_there - level).max())
    if point[1].any():                        # reference vertices on grid points: our field is at the level there
        worst = max(worst, float(np.abs(volume[tuple((keys[1][point[1]] // 2).T)] - level).max()))
    assert worst <= field_tol, f"our field at a reference vertex is {worst:.3g} from the level (> {field_tol})"

    # 2. Crossed edges agree, except where an end is uncertain.
    uncertain = np.abs(volume.astype(np.float64) - level) <= field_tol
    ours_e, ref_e = set(_rows(keys[0][edge[0]])), set(_rows(keys[1][edge[1]]))
    for e in ours_e ^ ref_e:
        e = np.array(e)
        ax = int(np.argmax(e % 2))
        p = (e - (np.arange(3) == ax)) // 2
        q = p + (np.arange(3) == ax)
        assert uncertain[tuple(p)] or uncertain[tuple(q)], (
            f"edge {p}->{q} is crossed in {'ours' if tuple(e) in ours_e else 'the reference'} only, "
            f"with field values {volume[tuple(p)]:.6f}, {volume[tuple(q)]:.6f} (level {level})")

    # 3. Positions of well-conditioned vertices.
    cell = 2.0 / res
    steep = np.abs(fb - fa) > field_tol / (pos_tol / cell)
    steep &= ~(uncertain[tuple(a.T)] | uncertain[tuple(b.T)])
    where = {kk: i for i, kk in enumerate(_rows(keys[0]))}
    ref_rows = np.flatnonzero(edge[1])[steep]
    ours_rows = np.array([where.get(kk, -1) for kk in _rows(keys[1][ref_rows])], dtype=np.int64)
    assert (ours_rows >= 0).all(), "a well-conditioned reference vertex has no counterpart"
    dist = np.abs(ours[0][ours_rows].astype(np.float64) - ref[0][ref_rows]).max(initial=0.0)
    assert dist <= pos_tol, f"vertex positions differ by {dist:.3g} (> {pos_tol})"

    # 4. Faces, except those that may lie in a cell with an uncertain corner. A face lies in a cell whose centre
    #    (doubled coordinates, all odd) is within 1 of each of its keys: at most 2 candidates per axis.
    cell_unc = np.zeros([res + 1] * 3, bool)
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                cell_unc[dx:dx + res, dy:dy + res, dz:dz + res] |= uncertain
    cell_unc = cell_unc[1:res, 1:res, 1:res]        # cell i (corners i..i+1), i in [0, res - 1)
    faces = []
    for side, (verts, tris) in enumerate((ours, ref)):
        tris = np.asarray(tris)
        k = keys[side][tris]                                   # [F, 3 vertices, 3 axes]
        lo, hi = k.max(1) - 1, k.min(1) + 1
        first = lo + (lo % 2 == 0)
        risky = np.zeros(len(tris), bool)
        for off in np.ndindex(2, 2, 2):
            c = np.minimum(first + 2 * np.array(off), hi)
            i = np.clip((c - 1) // 2, 0, res - 2)
            risky |= cell_unc[tuple(i.T)]
        keep = ~risky
        faces.append((set(_canonical_faces(tris[keep], _rows(keys[side]))), int(keep.sum())))
    only_ours, only_ref = faces[0][0] - faces[1][0], faces[1][0] - faces[0][0]
    assert not only_ours and not only_ref, (
        f"faces differ away from uncertain grid points: {len(only_ours)} only in ours, {len(only_ref)} only in "
        f"the reference, e.g. {next(iter(only_ours or only_ref))}")
    return {"uncertain_points": int(uncertain.sum()), "vertices_by_position": len(ref_rows),
            "vertices_by_edge": int(edge[1].sum()) - len(ref_rows), "vertices_at_grid_points": int(point[1].sum()),
            "faces_compared": faces[1][1],
            "faces": len(ref[1])}
