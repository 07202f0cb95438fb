"""Point-wise occupancy MLP (``mlp``): features [B, C0, N] -> (occupancy [B, 1, N] in [0,1], phi [B, Cm, N]).

1x1 1-D convolutions through ``dims``. Layers listed in ``res_layers`` see [previous output, original input].
Every layer but the last is followed by the norm (group/batch, or none) and leaky ReLU (slope 0.01).
``phi`` is the activation after layer ``merge_layer`` (``merge_layer <= 0`` means ``len(dims) // 2``);
the coarse level hands it to the fine level.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .layers import norm_1d


class PointMLP(nn.Module):
    def __init__(self, dims: Sequence[int], merge_layer: int, res_layers: Sequence[int], norm: str):
        super().__init__()
        dims = [int(d) for d in dims]
        self.res_layers = {int(i) for i in res_layers}
        self.merge_layer = int(merge_layer) if int(merge_layer) > 0 else len(dims) // 2
        self.filters = nn.ModuleList()
        self.norms = nn.ModuleList()
        n_layers = len(dims) - 1
        for i in range(n_layers):
            c_in = dims[i] + (dims[0] if i in self.res_layers else 0)
            self.filters.append(nn.Conv1d(c_in, dims[i + 1], 1))
            if i < n_layers - 1:
                layer = norm_1d(norm, dims[i + 1])
                if layer is not None:
                    self.norms.append(layer)
        self.use_norm = len(self.norms) > 0

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        features = features.to(self.filters[0].weight.dtype)   # float32 lookups into a reduced-precision MLP
        y = features
        phi = None
        last = len(self.filters) - 1
        for i, conv in enumerate(self.filters):
            y = conv(torch.cat([y, features], 1) if i in self.res_layers else y)
            if i < last:
                if self.use_norm:
                    y = self.norms[i](y)
                y = F.leaky_relu(y)
            if i == self.merge_layer:
                phi = y
        return torch.sigmoid(y), phi
