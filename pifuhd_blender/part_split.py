"""Separating fused body parts, without bpy: cut a closed triangle mesh where two parts that are not joined
in the skeleton touch (a hand on a hip, an arm against the torso, two legs, a shin under a skirt's hem), and
close each side, so every part moves on its own and the mesh stays closed.

Parts are per vertex (any integer label, e.g. the limb bone a vertex belongs to, -1 for the torso). The faces
that bridge a contact (two of their corners carry labels that are not joined) belong to neither part: they
are dropped, which opens the contact into one hole per side, each rimmed by its own part's vertices; every
hole is then closed by triangles between its rim's vertices that continue the surface around it (:func:`fill`;
a fan around one centre shaded as a star), no vertex added. A vertex of the contact stays one vertex of
one part: copied to both sides, one copy would move with the limb and the other stay with the torso, one
of them wrong whatever the truth there (the hand's copy of the skirt it rests on went up with the hand).
Only where dropping them would leave a vertex on no face (a one-vertex sliver of a label) do the bridging
faces stay: each takes the label most of its corners have, and the vertex is split into one copy per group
of joined labels.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Callable, NamedTuple

import numpy as np

#: per vertex that closes a hole: (original vertex indices [k], their shares [k] summing to 1)
Rims = dict[int, tuple[np.ndarray, np.ndarray]]
#: the longest rim :func:`fill` triangulates (its time grows with the cube of the rim's length: 200 vertices
#: 0.3 s, 500 4.5 s, 1000 34 s measured); a longer rim (a long contact on a full-resolution mesh) gets a fan
FILL_MAX = 400


class Split(NamedTuple):
    """A mesh cut between parts (:func:`split_parts`)."""

    vertices: np.ndarray       # [V', 3]: the first V the original vertices, in order
    faces: np.ndarray          # [F', 3]
    source: np.ndarray         # [V'] the original vertex each vertex copies
    part: np.ndarray           # [V'] each vertex's label
    rims: Rims                 # the vertices inside closed holes: what their attributes blend
    dropped: int               # faces cut away between parts (the cut need not add a vertex)


def face_parts(faces: np.ndarray, part: np.ndarray) -> np.ndarray:
    """Label [F] of each face: the label of at least two of its corners, else its first corner's."""
    p = np.asarray(part)[np.asarray(faces)]
    return np.where(p[:, 1] == p[:, 2], p[:, 1], p[:, 0])


def _groups(labels: set, joined: Callable[[int, int], bool]) -> list[set]:
    """Connected groups of ``labels`` under ``joined`` (a, b)."""
    left, out = set(labels), []
    while left:
        group, todo = set(), [left.pop()]
        while todo:
            a = todo.pop()
            group.add(a)
            for b in [b for b in left if joined(a, b)]:
                left.discard(b)
                todo.append(b)
        out.append(group)
    return out


def split_parts(vertices: np.ndarray, faces: np.ndarray, part: np.ndarray,
                joined: Callable[[int, int, int], bool]) -> Split:
    """Cut ``faces`` [F, 3] where labels that are not ``joined`` (label a, label b, at vertex index) meet
    (dropping the faces between them), close the holes.

    Returns a :class:`Split`: vertices [V', 3], faces [F', 3], source [V'] the original vertex each new vertex
    copies (a vertex inside a hole: the first vertex of its rim), part [V'] each new vertex's label, rims: for
    each vertex inside a closed hole (a chord's middle between two patches of a slit; a fan's centre where
    every triangulation of a rim would reuse an edge of the mesh) the original vertices around it and their
    shares (indices [k], shares [k] summing to 1), which its colour and other attributes should blend, and how
    many faces were dropped (a cut may add no vertex: this is what tells it happened). The first V vertices keep
    their order; the faces that bridge a contact (:func:`bridging`) are dropped, the others keep their
    order (they may point at copies), the closing triangles follow them; copies, the vertices inside holes and
    the copies of vertices where two closed holes touch (:func:`unpinch`) follow, in that order. Without
    contacts to cut, the mesh comes back unchanged. A vertex's label becomes one its faces carry (a lone
    vertex of another label inside a region would otherwise be pulled away from it).
    """
    v = np.asarray(vertices, dtype=np.float64)
    part = np.asarray(part)
    f = np.array(faces, dtype=np.int64).reshape(-1, 3)
    dropped = bridging(f, part, joined)
    f = np.delete(f, dropped, axis=0)
    fpart = face_parts(f, part)
    around: dict[int, Counter] = defaultdict(Counter)
    for corner in range(3):
        for vi, lab in zip(f[:, corner], fpart):
            around[int(vi)][lab] += 1
    source = list(range(len(v)))
    new_part = list(part)
    copy_of: dict[tuple[int, object], int] = {}

    def label_in(group: set, counts: Counter, own):
        """The vertex's own label when its faces there carry it, else their most common label."""
        return own if own in group else max(group, key=lambda lab: counts[lab])

    for vi, counts in around.items():
        groups = _groups(set(counts), lambda a, b: joined(a, b, vi))
        groups.sort(key=lambda g: (part[vi] not in g, min(g)))   # the vertex's own label keeps the original
        new_part[vi] = label_in(groups[0], counts, part[vi])     # a vertex moves with the faces it is on
        for g in groups[1:]:
            index = len(source)
            source.append(vi)
            new_part.append(label_in(g, counts, part[vi]))
            for lab in g:
                copy_of[(vi, lab)] = index
    if not copy_of and not len(dropped):
        return Split(v, f, np.arange(len(v)), np.asarray(new_part), {}, 0)
    for fi in range(len(f)):
        lab = fpart[fi]
        for c in range(3):
            f[fi, c] = copy_of.get((int(f[fi, c]), lab), f[fi, c])
    new_v = v[np.asarray(source)]
    closing, centres, centre_source, centre_part, centre_mix = [], [], [], [], []
    # each half-edge a -> b of the mesh, with the third corner of its face
    beside = {(int(a), int(b)): int(c) for t in f for a, b, c in ((t[0], t[1], t[2]), (t[1], t[2], t[0]),
                                                                   (t[2], t[0], t[1]))}
    half = set(beside)
    edges = {frozenset(e) for e in half}

    def mix_of(i: int) -> dict[int, float]:
        """The original vertices (and their shares) that a vertex of the cut mesh stands for."""
        return {source[i]: 1.0} if i < len(source) else centre_mix[i - len(new_v)]

    def label(i: int):
        return new_part[i] if i < len(new_part) else centre_part[i - len(new_v)]

    def add_vertex(position: np.ndarray, like: int, mix: dict[int, float]) -> int:
        centres.append(position)
        centre_source.append(source[like] if like < len(source) else centre_source[like - len(new_v)])
        centre_part.append(label(like))
        centre_mix.append(mix)
        return len(new_v) + len(centres) - 1

    def blend(shares: list[tuple[int, float]]) -> dict[int, float]:
        out: dict[int, float] = defaultdict(float)
        for i, share in shares:
            for r, w in mix_of(i).items():
                out[r] += share * w
        return dict(out)

    def position(i: int) -> np.ndarray:
        return new_v[i] if i < len(new_v) else centres[i - len(new_v)]

    def close(pieces: list[list[int]]) -> list[tuple[int, int, int]]:
        out = []
        for piece in pieces:
            rim = np.array([position(i) for i in piece])
            outside = [beside.get((piece[(k + 1) % len(piece)], piece[k])) for k in range(len(piece))]
            outer = [None if c is None else (position(piece[(k + 1) % len(piece)]), position(piece[k]),
                                              position(c)) for k, c in enumerate(outside)]
            labels = [label(i) for i in piece]
            own = Counter(labels).most_common(1)[0][0]
            taken = np.array([[frozenset((a, b)) in edges for b in piece] for a in piece])
            triangles = fill(rim, outer, np.asarray(labels) != own, taken) if len(piece) <= FILL_MAX else None
            if triangles is None:             # every way across reuses an edge of the mesh, or the rim is too
                                              # long to search: a fan, centre new
                centre = add_vertex(rim.mean(axis=0), piece[0], blend([(i, 1.0 / len(piece)) for i in piece]))
                out += [(centre, piece[i], piece[(i + 1) % len(piece)]) for i in range(len(piece))]
            else:
                out += [tuple(piece[k] for k in t) for t in triangles]
        return out

    loops = boundary_loops(f)
    for loop in loops:
        pieces = patches(loop, [new_part[i] for i in loop])
        kept = len(centres)
        if len(pieces) > 1:
            # a chord along an edge the mesh has already: through a new vertex at its middle, so that no
            # edge is used more than twice; both patches beside it share that vertex
            mids = {}
            for chord in {frozenset((p[0], p[-1])) for p in pieces} & edges:
                a, b = sorted(chord)
                mids[chord] = add_vertex(0.5 * (position(a) + position(b)), a, blend([(a, 0.5), (b, 0.5)]))
            pieces = [p + [mids[frozenset((p[0], p[-1]))]] if frozenset((p[0], p[-1])) in mids else p
                      for p in pieces]
        new = close(pieces)
        new_half = [(t[i], t[(i + 1) % 3]) for t in new for i in range(3)]
        if len(pieces) > 1 and (len(set(new_half)) < len(new_half) or set(new_half) & half):
            del centres[kept:], centre_source[kept:], centre_part[kept:], centre_mix[kept:]  # one patch, whole hole
            new = close([loop])
            new_half = [(t[i], t[(i + 1) % 3]) for t in new for i in range(3)]
        closing += new
        half |= set(new_half)
        edges |= {frozenset(e) for e in new_half}
    out_v = np.vstack([new_v, np.asarray(centres).reshape(-1, 3)])
    out_f = np.vstack([f, np.asarray(closing, dtype=np.int64).reshape(-1, 3)])
    out_source, out_part = np.asarray(source + centre_source), np.asarray(new_part + centre_part)
    out_f, pinched = unpinch(out_f, len(out_v), sorted({i for loop in loops for i in loop}))
    rims = {len(new_v) + k: (np.fromiter(mix, np.int64, len(mix)), np.fromiter(mix.values(), np.float64, len(mix)))
            for k, mix in enumerate(centre_mix)}
    return Split(np.vstack([out_v, out_v[pinched]]), out_f, np.r_[out_source, out_source[pinched]],
                 np.r_[out_part, out_part[pinched]], rims, len(dropped))


def fill(rim: np.ndarray, outer: list, foreign: np.ndarray | None = None, taken: np.ndarray | None = None
         ) -> list[tuple[int, int, int]] | None:
    """Triangles (indices into ``rim`` [n, 3], metres, in the hole's winding order) that close a hole without
    new vertices: the triangulation that minimises first the largest bend (1 - cos of the dihedral angle)
    between neighbouring triangles (its own and, across each rim edge k -> k+1, the mesh's face ``outer[k]``:
    its three corners in the mesh's winding, or None), then the area. The patch spans the rim with its normals
    turning as little as possible, where a fan around one centre puts long thin triangles at alternating
    slants (a star in the shading). Dynamic programming over the rim's sub-polygons (Liepa 2003), O(n³),
    vectorised over the sub-polygons of one length and their split vertices. A ``foreign`` vertex (boolean
    [n]: the other side's first vertex that a patch of a slit reaches to, see :func:`patches`) gets no edge
    across the patch, only the triangle over its two rim edges, where that leaves a triangulation: a chord
    from it would tie the other side to this side's far rim (a limb's fade-in from the torso, measured along
    the surface, would cross the patch). ``taken`` (boolean [n, n]): pairs of rim vertices the mesh already
    joins by an edge, never a chord (a third face on one edge); None when every triangulation needs one."""
    n = len(rim)
    foreign = np.zeros(n, bool) if foreign is None else np.asarray(foreign, bool)
    taken = np.zeros((n, n), bool) if taken is None else np.asarray(taken, bool)
    outer_normals = np.zeros((n, 3))
    for k, o in enumerate(outer):
        if o is not None:
            cross = np.cross(o[1] - o[0], o[2] - o[0])
            outer_normals[k] = cross / max(float(np.linalg.norm(cross)), 1e-300)
    best, worst = _fill_table(rim, outer_normals, foreign, taken)
    if not np.isfinite(worst) and foreign.any():
        best, worst = _fill_table(rim, outer_normals, np.zeros(n, bool), taken)
    if not np.isfinite(worst):
        return None
    out, todo = [], [(0, n - 1)]
    while todo:
        i, k = todo.pop()
        if k - i >= 2:
            m = int(best[i, k])
            out.append((i, m, k))
            todo += [(i, m), (m, k)]
    return out


def _fill_table(rim: np.ndarray, outer_normals: np.ndarray, foreign: np.ndarray, taken: np.ndarray
                ) -> tuple[np.ndarray, float]:
    """:func:`fill`'s dynamic programme: (the split vertex [n, n] chosen for each sub-polygon i..k, the whole
    hole's largest bend, inf when the ``foreign`` vertices and ``taken`` pairs leave no triangulation).
    ``outer_normals`` [n, 3]: the mesh's face normal across rim edge k -> k+1 (zero: none)."""
    n = len(rim)
    worst = np.zeros((n, n))
    area = np.zeros((n, n))
    normal = np.zeros((n, n, 3))               # the triangle on edge i -> k inside (i, k), or the mesh's face
    best = np.zeros((n, n), np.int64)
    for k in range(n - 1):
        normal[k, k + 1] = outer_normals[k]
    for span in range(2, n):                   # all sub-polygons i..i+span at once, each split at any m between
        i = np.arange(n - span)
        k = i + span
        m = i[:, None] + np.arange(1, span)[None]
        cross = np.cross(rim[m] - rim[i, None], (rim[k] - rim[i])[:, None])
        twice = np.linalg.norm(cross, axis=2)
        unit = cross / np.maximum(twice, 1e-300)[..., None]

        def bend(other: np.ndarray) -> np.ndarray:    # 0 where there is no neighbour (zero normal)
            return np.where(np.abs(other).sum(axis=-1) > 0, 1.0 - (unit * other).sum(axis=-1), 0.0)

        w = np.maximum.reduce([worst[i[:, None], m], worst[m, k[:, None]], bend(normal[i[:, None], m]),
                               bend(normal[m, k[:, None]])])
        if span == n - 1:
            w = np.maximum(w, bend(outer_normals[n - 1]))
        else:
            w[foreign[i] | foreign[k] | taken[i, k]] = np.inf   # the chord i -> k is not to be
        total = area[i[:, None], m] + area[m, k[:, None]] + 0.5 * twice
        key = np.round(w, 6)
        pick = np.argmin(np.where(key == key.min(axis=1, keepdims=True), total, np.inf), axis=1)
        rows = np.arange(len(i))
        best[i, k], worst[i, k] = m[rows, pick], w[rows, pick]
        area[i, k], normal[i, k] = total[rows, pick], unit[rows, pick]
    return best, float(worst[0, n - 1])


def unpinch(faces: np.ndarray, count: int, candidates: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Split each of the ``candidates`` (vertex indices < ``count``) whose faces form more than one fan (two
    closed holes touching at that vertex: two sheets of surface meeting at a point) into one vertex per
    fan, so every vertex of the closed mesh is manifold. Returns (faces [F, 3] pointing at the copies, the
    vertex [C] each copy, numbered from ``count`` on, copies)."""
    f = np.array(faces, dtype=np.int64)
    around: dict[int, list[int]] = defaultdict(list)
    wanted = set(candidates)
    for fi, tri in enumerate(f.tolist()):
        for x in tri:
            if x in wanted:
                around[x].append(fi)
    copied: list[int] = []
    for x, incident in around.items():
        group = {fi: fi for fi in incident}

        def root(fi: int) -> int:
            while group[fi] != fi:
                group[fi] = group[group[fi]]
                fi = group[fi]
            return fi

        by_neighbour: dict[int, int] = {}
        for fi in incident:
            for y in f[fi].tolist():
                if y == x:
                    continue
                if y in by_neighbour:
                    group[root(fi)] = root(by_neighbour[y])
                else:
                    by_neighbour[y] = fi
        fans: dict[int, list[int]] = defaultdict(list)
        for fi in incident:
            fans[root(fi)].append(fi)
        for members in list(fans.values())[1:]:
            copy = count + len(copied)
            copied.append(x)
            for fi in members:
                f[fi][f[fi] == x] = copy
    return f, np.asarray(copied, dtype=np.int64)


def bridging(faces: np.ndarray, part: np.ndarray, joined: Callable[[int, int, int], bool]) -> np.ndarray:
    """Indices of the faces [F, 3] that bridge a contact: two of their corners carry labels (``part`` per
    vertex) that are ``joined`` at neither corner. Where the reconstruction fused two parts (a hand resting
    on a skirt) these faces span the crease between them, on neither part's own surface. A face that would
    leave one of its corners on no face at all is not counted (a one-vertex sliver of a label: that vertex
    is split instead)."""
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    part = np.asarray(part)
    p = part[f]
    mixed = np.flatnonzero((p[:, 0] != p[:, 1]) | (p[:, 1] != p[:, 2]))
    pairs = ((0, 1), (1, 2), (2, 0))
    out = np.asarray([fi for fi in mixed.tolist()
                      if any(not joined(p[fi, i], p[fi, j], int(f[fi, i]))
                             and not joined(p[fi, i], p[fi, j], int(f[fi, j])) for i, j in pairs)], dtype=np.int64)
    if not len(out):
        return out
    kept = np.ones(len(f), bool)
    kept[out] = False
    faces_on = np.bincount(f[kept].ravel(), minlength=int(f.max()) + 1)
    return out[(faces_on[f[out]] > 0).all(axis=1)]


def patches(loop: list[int], labels: list) -> list[list[int]]:
    """The polygons that close the hole ``loop`` (vertex indices in the rim's order) side by side: a hole
    whose rim runs along two parts (a slit where a cut ends in a joined region: one side arm, the other
    torso) gets one patch per run of equal labels, each reaching to the next run's first vertex, and the
    runs' first vertices a patch of their own when there are three runs or more. Each patch moves with its
    own side, where one fan over the whole hole would tie the two sides together. Patches keep the loop's
    winding, so the mesh stays closed and consistently wound."""
    n = len(loop)
    starts = [i for i in range(n) if labels[i] != labels[i - 1]]
    if len(starts) < 2:
        return [loop]
    out = []
    for k, a in enumerate(starts):
        b = starts[(k + 1) % len(starts)]
        run = [loop[i % n] for i in range(a, b + (n if b <= a else 0) + 1)]
        if len(run) >= 3:
            out.append(run)
    if len(starts) >= 3:
        out.append([loop[i] for i in starts])
    return out


def boundary_loops(faces: np.ndarray) -> list[list[int]]:
    """The open rims of a triangle mesh as vertex loops, each ordered to close the hole with the faces'
    winding (a rim edge a -> b of a face is walked b -> a)."""
    f = np.asarray(faces, dtype=np.int64)
    half = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    count: dict[tuple[int, int], int] = defaultdict(int)
    for a, b in half:
        count[(int(a), int(b))] += 1
    nxt: dict[int, list[int]] = defaultdict(list)
    for (a, b), n in count.items():
        if (b, a) not in count:
            for _ in range(n):
                nxt[b].append(a)
    loops = []
    while nxt:
        start = next(iter(nxt))
        loop, at = [start], start
        while True:
            following = nxt[at].pop()
            if not nxt[at]:
                del nxt[at]
            if following == start:
                break
            loop.append(following)
            at = following
            if at not in nxt:          # an open chain (cannot happen on a mesh that was closed)
                break
        loops += [piece for piece in _simple_loops(loop) if len(piece) >= 3]
    return loops


def _simple_loops(loop: list[int]) -> list[list[int]]:
    """A loop that passes a vertex twice (two holes meeting at a point) as loops that do not: a fan over the
    whole would put two spokes on that vertex."""
    out, stack, seen = [], [], {}
    for vertex in loop:
        if vertex in seen:
            start = seen[vertex]
            out.append(stack[start:])
            for gone in stack[start + 1:]:
                del seen[gone]
            stack = stack[:start + 1]
        else:
            seen[vertex] = len(stack)
            stack.append(vertex)
    out.append(stack)
    return out
