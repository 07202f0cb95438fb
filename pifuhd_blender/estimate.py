"""Rough time and memory of one reconstruction with the official PIFuHD model, for the quality preset's
label. No bpy.

These are orders of magnitude, not promises: the networks cost about the same whatever the quality; the
surface extraction evaluates roughly ``EVALS_PER_RES2 * resolution**2`` points (coarse-to-fine, about the
surface's area); memory is the model plus a float32 volume of ``resolution**3`` with working copies.
Once a run has finished, the panel shows that run's measured time instead (see ``Session.measured``).
"""
from __future__ import annotations

MODEL_GIB = 1.6                # the official checkpoint in fp32 on the device, with feature maps
EVALS_PER_RES2 = 40.0          # field evaluations per resolution**2 (coarse-to-fine)
NETWORK_SECONDS = {"cpu": 60.0, "gpu": 3.0}
SECONDS_PER_EVAL = {"cpu": 25e-6, "gpu": 0.3e-6}
MESH_SECONDS_PER_MVOXEL = 0.05  # marching cubes and colours, per million voxels


def estimate(resolution: int, device: str) -> tuple[float, float]:
    """(seconds, GiB) for one reconstruction at ``resolution`` on 'cpu' or 'gpu'."""
    kind = "gpu" if device == "gpu" else "cpu"
    evals = EVALS_PER_RES2 * resolution ** 2
    voxels = resolution ** 3
    seconds = NETWORK_SECONDS[kind] + evals * SECONDS_PER_EVAL[kind] + voxels / 1e6 * MESH_SECONDS_PER_MVOXEL
    gib = MODEL_GIB + 0.5 + voxels * 4 * 3 / 2 ** 30
    return seconds, gib


def describe(resolution: int, device: str) -> str:
    """Short label, e.g. '~2 min, ~2.8 GB on CPU'."""
    seconds, gib = estimate(resolution, device)
    return f"{format_seconds(seconds)}, ~{gib:.1f} GB on {'GPU' if device == 'gpu' else 'CPU'}"


def format_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"~{max(1, round(seconds))} s"
    return f"~{round(seconds / 60)} min"
