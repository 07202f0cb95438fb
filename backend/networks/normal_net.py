"""Front/back normal-map predictor (``netF`` / ``netB``): RGB [B,3,512,512] in [-1,1] -> normals [B,3,512,512] in [-1,1].

An encoder / residual / decoder generator (pix2pixHD's "global" generator): in the release 64 base
channels, 4 stride-2 downsamplings, 9 residual blocks (fixed by its design; its checkpoint options don't
carry them), instance norm without affine parameters, reflection padding. A smaller net (our demo model)
states its sizes in our own options ``normal_base``, ``normal_downsamplings``, ``normal_blocks``
(see ``options.py``); absent, the release's sizes apply. The layer indices inside ``model`` are state-dict
keys and must stay as they are.
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
        if torch.is_grad_enabled():
            return x + self.conv_block(x)
        return self.conv_block(x).add_(x)   # inference: no extra feature map


class NormalNet(nn.Module):
    """Image [B,3,S,S] in [-1,1] -> normal map [B,3,S,S] in [-1,1]; S divisible by 2**downsamplings."""

    def __init__(self, c_in: int = 3, c_out: int = 3, base: int = BASE, downsamplings: int = DOWNSAMPLINGS,
                 blocks: int = RESIDUAL_BLOCKS):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(c_in, base, 7), _norm(base), nn.ReLU(True)]
        ch = base
        for _ in range(downsamplings):
            layers += [nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1), _norm(ch * 2), nn.ReLU(True)]
            ch *= 2
        layers += [ResidualBlock(ch) for _ in range(blocks)]
        for _ in range(downsamplings):
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
