"""Arms that stand free of the body in the photo, found on the mesh's front silhouette, without bpy.

A reconstruction's depth is a guess, and the demo model or a loose sleeve can give an arm a fin that
reaches centimetres out of the arm's capsule in depth; :func:`part_labels.assign_parts` leaves that torso, and a
raised arm then drags a web of it along. Seen from the camera, though, an arm held away from the body (an
A-pose, a T-pose, a wave) is separated from the torso by background: within the
silhouette, every path from such an arm's pixels to the other bones runs through the shoulder. This module
rasterises the mesh as the camera sees it, cuts the silhouette across each arm just past its armpit, and
calls the arm's pixels beyond the cut that no other bone reaches any more *free*; so are an arm's pixels
from which the straight line to the nearest other bone crosses background (an A-pose arm stays joined to
the torso along the armpit). Every vertex that projects onto a free pixel is that arm's, whatever its depth.
Where an arm overlaps or touches the body on camera (a hand on a hip, an arm hanging against the side),
the capsules decide.

Frame: the rig's (metres, Z up, the camera looking along +Y: the image plane is X, Z); bones as heads/tails
[B, 3] with their names (Humanoid or Mixamo).
"""
from __future__ import annotations

import numpy as np

from .part_labels import ARM_KINDS, bone_kind
from .skeleton import segment_distances

PIXELS = 160            # the silhouette's grid: this many pixels over the person's height, or more (edges)
REACH = 0.06            # free pixels lie within this share of the height of their arm's bones (a fin is deep,
                        # not wide: the image plane shows the arm); the cut across the arm reaches as far
CUTS = (0.15, 0.25, 0.35, 0.45)   # the cut across the arm: from the shoulder over these shares of the upper arm,
                                  # the shortest that frees it (in an A-pose the armpit lies further out than
                                  # in a T-pose); the shoulder's top stays the torso's
NEIGHBOURS = ((1, 0, 1.0), (-1, 0, 1.0), (0, 1, 1.0), (0, -1, 1.0),
              (1, 1, 2 ** 0.5), (1, -1, 2 ** 0.5), (-1, 1, 2 ** 0.5), (-1, -1, 2 ** 0.5))


class Grid:
    """A square pixel grid over the image plane (X, Z): ``origin`` (x, z) of pixel (0, 0)'s centre, ``size``
    of a pixel in metres, ``shape`` (rows along Z, columns along X)."""

    def __init__(self, lo: np.ndarray, hi: np.ndarray, size: float, margin: int = 2):
        self.size = float(size)
        self.origin = np.asarray(lo, dtype=np.float64) - margin * self.size
        cells = np.ceil((np.asarray(hi) - self.origin) / self.size).astype(int) + margin + 1
        self.shape = (int(cells[1]), int(cells[0]))

    def pixels(self, xz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of image-plane points [N, 2], clipped to the grid."""
        ij = np.rint((np.asarray(xz) - self.origin) / self.size).astype(int)
        return (np.clip(ij[:, 1], 0, self.shape[0] - 1), np.clip(ij[:, 0], 0, self.shape[1] - 1))

    def centres(self) -> np.ndarray:
        """Image-plane centre [rows, columns, 2] of every pixel."""
        r, c = np.mgrid[0:self.shape[0], 0:self.shape[1]]
        return np.stack([self.origin[0] + c * self.size, self.origin[1] + r * self.size], axis=-1)


def _shift(a: np.ndarray, dr: int, dc: int, fill) -> np.ndarray:
    """``a`` moved by (dr, dc) pixels, ``fill`` where nothing moved in."""
    out = np.full_like(a, fill)
    rows, cols = a.shape
    out[max(dr, 0):rows + min(dr, 0), max(dc, 0):cols + min(dc, 0)] = \
        a[max(-dr, 0):rows + min(-dr, 0), max(-dc, 0):cols + min(-dc, 0)]
    return out


def rasterise(vertices: np.ndarray, faces: np.ndarray, grid: Grid) -> np.ndarray:
    """The mesh's silhouette seen along +Y: boolean [rows, columns], pixels any triangle covers (sampled on each
    triangle at least every half pixel), pinholes closed."""
    xz = np.asarray(vertices, dtype=np.float64)[:, [0, 2]]
    tri = xz[np.asarray(faces, dtype=np.int64).reshape(-1, 3)]
    longest = np.max(np.linalg.norm(tri - np.roll(tri, 1, axis=1), axis=2), axis=1)
    mask = np.zeros(grid.shape, bool)
    steps = np.maximum(1, np.ceil(2.0 * longest / grid.size).astype(int))
    for n in np.unique(steps):           # barycentric samples, n steps along each side
        i, j = np.mgrid[0:n + 1, 0:n + 1]
        keep = i + j <= n
        u, v = i[keep] / n, j[keep] / n
        t = tri[steps == n]
        pts = t[:, None, 0] + u[None, :, None] * (t[:, None, 1] - t[:, None, 0]) \
            + v[None, :, None] * (t[:, None, 2] - t[:, None, 0])
        mask[grid.pixels(pts.reshape(-1, 2))] = True
    grown = mask.copy()                  # closing: grow by a pixel, then shrink
    for dr, dc, _w in NEIGHBOURS[:4]:
        grown |= _shift(mask, dr, dc, False)
    closed = grown.copy()
    for dr, dc, _w in NEIGHBOURS[:4]:
        closed &= _shift(grown, dr, dc, False)
    return closed | mask


def _crosses_background(points: np.ndarray, heads: np.ndarray, tails: np.ndarray, mask: np.ndarray,
                        grid: Grid) -> np.ndarray:
    """Per image-plane point [N, 2]: whether the straight line to the nearest point of the 2-D segments
    (heads, tails [B, 2]) leaves the silhouette ``mask`` (samples every half pixel)."""
    ab = tails - heads
    t = np.clip(((points[:, None] - heads[None]) * ab[None]).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-18),
                0.0, 1.0)
    feet = heads[None] + t[..., None] * ab[None]
    nearest = np.linalg.norm(points[:, None] - feet, axis=-1).argmin(axis=1)
    target = feet[np.arange(len(points)), nearest]
    steps = int(np.ceil(2.0 * np.linalg.norm(target - points, axis=1).max(initial=0.0) / grid.size)) + 1
    out = np.zeros(len(points), bool)
    for s in np.linspace(0.0, 1.0, steps):
        out |= ~mask[grid.pixels(points + s * (target - points))]
    return out


def _arm_frame(points: np.ndarray, heads: np.ndarray, tails: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per image-plane point [N, 2], against an arm's 2-D bones (heads, tails [3, 2], shoulder out): how far
    along the arm it lies (the upper arm's length from the shoulder: 0 at the shoulder, 1 at the elbow; past
    the upper arm, 1 or more) and its distance across, from the nearest of the bones (metres)."""
    d = segment_distances(points, heads, tails)
    ab = tails[0] - heads[0]
    t = ((points - heads[0]) @ ab) / max(float(ab @ ab), 1e-18)
    return np.where(d.argmin(axis=1) > 0, np.maximum(t, 1.0), t), d.min(axis=1)


def inside_distance(mask: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Distance in pixels [rows, columns] from the ``sources`` (boolean) along paths inside ``mask`` (8
    neighbours; inf where no path)."""
    d = np.where(sources & mask, 0.0, np.inf)
    while True:
        new = d.copy()
        for dr, dc, w in NEIGHBOURS:
            np.minimum(new, _shift(d, dr, dc, np.inf) + w, out=new)
        new[~mask] = np.inf
        if np.array_equal(new, d):
            return d
        d = new


def free_arm_parts(vertices: np.ndarray, faces: np.ndarray, heads: np.ndarray, tails: np.ndarray,
                   names: list[str], parents: list[int | None], height: float) -> np.ndarray:
    """Per vertex [N]: the arm bone (nearest of its arm's, in 3-D) when the vertex projects onto a pixel of
    an arm that stands free of the body in the camera's view (see the module's docstring), else -1.
    vertices [N, 3], faces [F, 3]; bones' heads, tails [B, 3], ``names`` and ``parents`` (index or None);
    ``height`` of the person (m)."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    out = np.full(len(v), -1)
    arms = {side: [b for b, n in enumerate(names) if bone_kind(n) in [(side, k) for k in ARM_KINDS]]
            for side in ("Left", "Right")}
    if not any(arms.values()) or not len(f):
        return out
    xz = v[:, [0, 2]]
    edge = np.median(np.linalg.norm(v[f[:, 0]] - v[f[:, 1]], axis=1))
    size = max(height / PIXELS, 0.75 * float(edge), 1e-4)
    grid = Grid(xz.min(axis=0), xz.max(axis=0), size)
    mask = rasterise(v, f, grid)
    centres = grid.centres().reshape(-1, 2)
    h2, t2 = heads[:, [0, 2]], tails[:, [0, 2]]
    near = (segment_distances(centres, h2, t2) <= 1.0 * size).reshape(*grid.shape, len(names))
    rows, cols = grid.pixels(xz)
    for side, chain in arms.items():
        if not chain:
            continue
        along, across = _arm_frame(centres, h2[chain], t2[chain])
        along, across = along.reshape(grid.shape), across.reshape(grid.shape)
        others = [b for b in range(len(names)) if b not in chain]
        reach = across <= REACH * height
        for end in CUTS:                   # the first cut that frees the arm: the armpit can lie further out
            strip = (along >= 0.0) & (along < end) & reach
            own = inside_distance(mask & ~strip, near[..., chain].any(axis=-1))
            rest = inside_distance(mask & ~strip, near[..., others].any(axis=-1))
            free = np.isfinite(own) & np.isinf(rest) & (along >= end) & reach
            if free.any():
                break
        # an arm held out at an angle stays joined along the armpit's side: there its pixels are free where
        # the straight line to the nearest other bone (not the shoulder's: it lies along the arm) crosses
        # background
        parent = {parents[chain[0]]} if parents[chain[0]] is not None else set()
        body = [b for b in others if b not in parent]
        own = inside_distance(mask, near[..., chain].any(axis=-1))
        rest = inside_distance(mask, near[..., body].any(axis=-1))
        test = mask & ~free & (own < rest) & (along >= CUTS[0]) & reach
        free[test] = _crosses_background(centres.reshape(*grid.shape, 2)[test], h2[body], t2[body], mask, grid)
        hit = free[rows, cols]
        if hit.any():
            d = segment_distances(v[hit], heads[chain], tails[chain])
            out[hit] = np.asarray(chain)[d.argmin(axis=1)]
    return out
