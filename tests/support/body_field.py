"""An analytic, body-shaped occupancy field for testing and benchmarking surface extraction.

A standing figure in the normalised cube frame (x right, y up, z towards the camera), about 1.7 units
tall, made of capsules and a sphere, with thin fingers (radius ``finger_radius``) that a coarse
sampler can easily step over. Occupancy = sigmoid(-sdf / softness): 0.5 exactly on the surface.
"""
from __future__ import annotations

import numpy as np

# (start, end, radius) of capsules, cube frame.
LIMBS = [
    ((0.0, -0.05, 0.0), (0.0, 0.45, 0.0), 0.16),     # torso
    ((0.0, 0.45, 0.0), (0.0, 0.55, 0.0), 0.05),      # neck
    ((-0.08, -0.1, 0.0), (-0.1, -0.5, 0.02), 0.07),  # right thigh
    ((-0.1, -0.5, 0.02), (-0.1, -0.82, 0.0), 0.05),  # right shin
    ((0.08, -0.1, 0.0), (0.1, -0.5, 0.02), 0.07),    # left thigh
    ((0.1, -0.5, 0.02), (0.1, -0.82, 0.0), 0.05),    # left shin
    ((-0.1, -0.84, 0.0), (-0.1, -0.84, 0.1), 0.035),  # right foot
    ((0.1, -0.84, 0.0), (0.1, -0.84, 0.1), 0.035),    # left foot
    ((-0.18, 0.4, 0.0), (-0.38, 0.12, 0.0), 0.045),  # right upper arm
    ((-0.38, 0.12, 0.0), (-0.5, -0.12, 0.02), 0.035),  # right forearm
    ((0.18, 0.4, 0.0), (0.38, 0.12, 0.0), 0.045),    # left upper arm
    ((0.38, 0.12, 0.0), (0.5, -0.12, 0.02), 0.035),  # left forearm
]
HEAD = ((0.0, 0.68, 0.0), 0.11)
HANDS = [(-0.5, -0.12, 0.02), (0.5, -0.12, 0.02)]
FINGER_LENGTH = 0.09


def fingertips() -> list[tuple[float, float, float]]:
    """Cube-frame points at the tips of the fingers (5 per hand, fanned downwards)."""
    tips = []
    for hx, hy, hz in HANDS:
        side = np.sign(hx)
        for k in range(5):
            angle = np.deg2rad(-60 + 30 * k)
            tips.append((hx + side * FINGER_LENGTH * 0.5 * np.sin(angle) + side * 0.02,
                         hy - FINGER_LENGTH * np.cos(angle) - 0.03, hz + 0.01 * (k - 2)))
    return tips


def _capsule_sdf(p: np.ndarray, a: np.ndarray, b: np.ndarray, r: float) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1) - r


def body_sdf(points: np.ndarray, finger_radius: float = 0.008) -> np.ndarray:
    """Signed distance [N] (negative inside) of cube points [N, 3]."""
    p = np.asarray(points, dtype=np.float64)
    centre, radius = HEAD
    d = np.linalg.norm(p - np.array(centre), axis=1) - radius
    for a, b, r in LIMBS:
        d = np.minimum(d, _capsule_sdf(p, np.array(a), np.array(b), r))
    for hand, tip in zip([h for h in HANDS for _ in range(5)], fingertips()):
        d = np.minimum(d, _capsule_sdf(p, np.array(hand), np.array(tip), finger_radius))
    return d


def body_occupancy(points: np.ndarray, softness: float = 0.006, finger_radius: float = 0.008) -> np.ndarray:
    """Occupancy [N] float32 in (0, 1): sigmoid(-sdf / softness)."""
    z = -body_sdf(points, finger_radius) / softness
    return (1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))).astype(np.float32)


def grid_field(res: int, **kwargs):
    """The body occupancy as a field over grid indices of a ``res`` grid (see backend.surface.sampling)."""
    from backend.surface import IndexToCube

    to_cube = IndexToCube(res)

    def field(index: np.ndarray) -> np.ndarray:
        return body_occupancy(to_cube(index), **kwargs)

    return field
