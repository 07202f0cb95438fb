"""Smooth primitives and their implicit functions: the exact ground truth of the synthetic people.

Frame and units
---------------
*Body frame*: metres, x to the person's left as seen by the camera (image right), y up (feet near
y = 0), z towards the camera (the person faces +z), origin on the floor under the pelvis. A
:class:`Shape` may be turned about the vertical axis through the origin; its implicit function takes
points in the *world frame* (the body frame after that turn), which the renderer and the dataset use.

Every primitive returns an implicit value ``f`` over points [N, 3]: negative inside, positive outside,
zero on the surface. The values are signed distances or close bounds of them (Lipschitz constant near
1), good for sphere tracing; the *sign* is exact by definition, so inside/outside of any point is known
exactly: the shape IS the set ``f < 0``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

GROUPS = ("skin", "top", "bottom", "shoes", "hair")  # material groups, in colour-lookup order


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum (blend radius ``k`` metres); equals ``min(a, b)`` where |a-b| >= k.

    Always <= min(a, b), so a smooth union contains the hard union.
    """
    if k <= 0:
        return np.minimum(a, b)
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * k * 0.25


@dataclass(frozen=True)
class RoundCone:
    """Capsule between ``a`` and ``b`` (metres, [3]) whose radius goes linearly from ``ra`` to ``rb``.

    f(p) = |p - c(t)| - r(t), t the clamped projection of p on the segment: rounded ends.
    """

    a: np.ndarray
    b: np.ndarray
    ra: float
    rb: float

    def __call__(self, p: np.ndarray) -> np.ndarray:
        ba = self.b - self.a
        pa = p - self.a
        t = np.clip(pa @ ba / float(ba @ ba), 0.0, 1.0)
        d = pa - t[:, None] * ba
        return np.sqrt(np.einsum("ij,ij->i", d, d)) - (self.ra + (self.rb - self.ra) * t)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        r = max(self.ra, self.rb)
        return np.minimum(self.a, self.b) - r, np.maximum(self.a, self.b) + r


@dataclass(frozen=True)
class Ellipsoid:
    """Axis-aligned ellipsoid (body frame), centre ``c`` and semi-axes ``r`` in metres ([3] each).

    Uses the first-order distance estimate ``k0 (k0 - 1) / k1`` (k0 = |q/r|, k1 = |q/r^2|), exact in sign.
    """

    c: np.ndarray
    r: np.ndarray

    def __call__(self, p: np.ndarray) -> np.ndarray:
        q = p - self.c
        k0 = np.sqrt(np.einsum("ij,ij->i", q / self.r, q / self.r))
        k1 = np.sqrt(np.einsum("ij,ij->i", q / self.r ** 2, q / self.r ** 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            f = k0 * (k0 - 1.0) / k1
        return np.where(k1 > 1e-12, f, -float(self.r.min()))  # the centre itself is inside

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.c - self.r, self.c + self.r


@dataclass(frozen=True)
class Frustum:
    """Vertical elliptic frustum (a skirt): flat top at ``y_top``, flat hem at ``y_hem`` < y_top.

    Cross-section at height y: ellipse centred at (cx, cz) with half-width r(y) (x) and half-depth
    ``depth_ratio * r(y)`` (z), r linear from ``r_top`` to ``r_hem``. Metres.
    """

    cx: float
    cz: float
    y_top: float
    y_hem: float
    r_top: float
    r_hem: float
    depth_ratio: float

    def __call__(self, p: np.ndarray) -> np.ndarray:
        t = (self.y_top - p[:, 1]) / (self.y_top - self.y_hem)
        r = self.r_top + (self.r_hem - self.r_top) * np.clip(t, 0.0, 1.0)
        radial = np.hypot(p[:, 0] - self.cx, (p[:, 2] - self.cz) / self.depth_ratio) - r
        slope = (self.r_hem - self.r_top) / (self.y_top - self.y_hem)
        side = radial / np.sqrt(1.0 + slope * slope) * self.depth_ratio
        caps = np.maximum(p[:, 1] - self.y_top, self.y_hem - p[:, 1])
        return np.maximum(side, caps)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        r = max(self.r_top, self.r_hem)
        lo = np.array([self.cx - r, self.y_hem, self.cz - r * self.depth_ratio])
        hi = np.array([self.cx + r, self.y_top, self.cz + r * self.depth_ratio])
        return lo, hi


Primitive = RoundCone | Ellipsoid | Frustum


@dataclass
class Part:
    """A named primitive in a material group (see :data:`GROUPS`)."""

    name: str
    group: str
    prim: Primitive


@dataclass
class Shape:
    """A person: parts blended per group with a smooth minimum, groups joined by a hard minimum.

    ``blend``: smooth-min radius (metres) per group; ``turn``: rotation (radians) about the vertical axis
    through the body-frame origin, positive turning the person's front towards image right (+x).
    """

    parts: list[Part]
    blend: dict[str, float]
    turn: float = 0.0
    meta: dict = field(default_factory=dict)

    def to_body(self, p: np.ndarray) -> np.ndarray:
        """World-frame points [N, 3] -> body-frame points [N, 3] (undo the turn)."""
        c, s = np.cos(self.turn), np.sin(self.turn)
        # world = R_y(turn) body, with R_y mapping +z towards +x for positive turn
        x, y, z = p[:, 0], p[:, 1], p[:, 2]
        return np.stack([c * x - s * z, y, s * x + c * z], axis=1)

    def to_world(self, p: np.ndarray) -> np.ndarray:
        """Body-frame points [N, 3] -> world-frame points [N, 3]."""
        c, s = np.cos(self.turn), np.sin(self.turn)
        x, y, z = p[:, 0], p[:, 1], p[:, 2]
        return np.stack([c * x + s * z, y, -s * x + c * z], axis=1)

    def group_values(self, p_world: np.ndarray) -> np.ndarray:
        """Implicit value of each group [G, N] (``inf`` for a group the person lacks) at world points [N, 3]."""
        p = self.to_body(np.asarray(p_world, dtype=np.float64).reshape(-1, 3))
        out = np.full((len(GROUPS), len(p)), np.inf)
        for part in self.parts:
            g = GROUPS.index(part.group)
            out[g] = smooth_min(out[g], part.prim(p), self.blend.get(part.group, 0.0))
        return out

    def sdf(self, p_world: np.ndarray, chunk: int = 262_144) -> np.ndarray:
        """Implicit value [N] (negative inside) at world-frame points [N, 3] (metres)."""
        p_world = np.asarray(p_world, dtype=np.float64).reshape(-1, 3)
        out = np.empty(len(p_world))
        for s in range(0, len(p_world), chunk):
            out[s:s + chunk] = self.group_values(p_world[s:s + chunk]).min(axis=0)
        return out

    def inside(self, p_world: np.ndarray) -> np.ndarray:
        """Exact occupancy (bool [N]) of world-frame points [N, 3]."""
        return self.sdf(p_world) < 0.0

    def material(self, p_world: np.ndarray) -> np.ndarray:
        """Index into :data:`GROUPS` [N] of the group whose surface is nearest (the visible material)."""
        return np.argmin(self.group_values(p_world), axis=0)

    def bounds(self, margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """World-frame axis-aligned box (lo [3], hi [3], metres) that contains the shape, plus ``margin``.

        The body-frame box of all primitives (grown by the largest blend radius) is turned with the shape.
        """
        los, his = zip(*(part.prim.bounds() for part in self.parts))
        lo, hi = np.min(los, axis=0), np.max(his, axis=0)
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        w = self.to_world(corners)
        grow = margin + max(self.blend.values(), default=0.0)
        return w.min(axis=0) - grow, w.max(axis=0) + grow
