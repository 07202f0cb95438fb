"""Vertex colours from the photo: project each vertex into the fine (1024) input and sample it."""
from __future__ import annotations

import numpy as np
import torch

from .input_transform import network_to_unit
from .networks import project, sample_features

CHUNK = 200_000


def vertex_colors(vertices: np.ndarray, image: torch.Tensor, calib: torch.Tensor) -> np.ndarray:
    """Colours [V, 3] float32 in [0, 1] (sRGB values as in the photo) of cube-frame ``vertices`` [V, 3].

    ``image`` is the [1, 3, S, S] network input in [-1, 1]; each vertex is projected orthographically with
    ``calib`` [1, 4, 4] (front view) and the image is sampled bilinearly (align_corners=True). Vertices that
    project outside the crop get black (0), as zero padding gives.
    """
    out = np.empty((len(vertices), 3), dtype=np.float32)
    calib = calib.to(image.device)
    for start in range(0, len(vertices), CHUNK):
        pts = torch.from_numpy(np.ascontiguousarray(vertices[start:start + CHUNK].T)).to(image.device)[None]
        xy = project(pts, calib)[:, :2]
        rgb = network_to_unit(sample_features(image, xy)[0].T)
        out[start:start + CHUNK] = rgb.cpu().numpy()
    return out
