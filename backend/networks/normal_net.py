"""Front/back normal-map predictor (``netF`` / ``netB``): RGB [B,3,512,512] in [-1,1] -> normals [B,3,512,512] in [-1,1].

A fixed-size encoder / residual / decoder generator (pix2pixHD's "global" generator): 64 base channels,
4 stride-2 downsamplings, 9 residual blocks, instance norm without affine parameters, reflection padding.
Its sizes are fixed by the design, not by the checkpoint options. The layer indices inside ``model`` are
state-dict keys and must stay as they are.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

BASE = 64
DOWNSAMPLINGS = 4
RESIDUAL_BLOCKS = 9


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=False)


class ResidualBlock(nn.Module):
    """x + (pad, 3x3 conv, norm, ReLU, pad, 3x3 conv, norm)(x)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _norm(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), _norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class NormalNet(nn.Module):
    def __init__(self, c_in: int = 3, c_out: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(c_in, BASE, 7), _norm(BASE), nn.ReLU(True)]
        ch = BASE
        for _ in range(DOWNSAMPLINGS):
            layers += [nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1), _norm(ch * 2), nn.ReLU(True)]
            ch *= 2
        layers += [ResidualBlock(ch) for _ in range(RESIDUAL_BLOCKS)]
        for _ in range(DOWNSAMPLINGS):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 3, stride=2, padding=1, output_padding=1),
                _norm(ch // 2), nn.ReLU(True),
            ]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, c_out, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, on_layer: Callable[[float], None] | None = None) -> torch.Tensor:
        """``on_layer(fraction)`` is called after each layer (lets callers report progress and cancel)."""
        n = len(self.model)
        for i, layer in enumerate(self.model):
            x = layer(x)
            if on_layer is not None:
                on_layer((i + 1) / n)
        return x
