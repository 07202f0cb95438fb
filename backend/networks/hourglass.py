"""Stacked-hourglass image filter (``image_filter``): image [B, C_in, S, S] -> features [B, hg_dim, s, s].

With ``down='ave_pool'`` (coarse level) s = S/4; with ``down='no_down'`` (fine level) s = S/2.
Internal width is fixed at 256 channels; only each stack's output has ``hg_dim`` channels.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvBlock, norm_2d

WIDTH = 256


class HourGlass(nn.Module):
    """Recursive hourglass of ``depth`` levels at constant width.

    Level L: upper branch ``b1_L``; lower branch 2x2 average pool, ``b2_L``, the level below (or
    ``b2_plus_1`` at the bottom), ``b3_L``, then bicubic x2 upsampling (align_corners=True).
    """

    def __init__(self, depth: int, width: int, norm: str):
        super().__init__()
        self.depth = depth
        self._add_level(depth, width, norm)

    def _add_level(self, level: int, width: int, norm: str) -> None:
        self.add_module(f"b1_{level}", ConvBlock(width, width, norm))
        self.add_module(f"b2_{level}", ConvBlock(width, width, norm))
        if level > 1:
            self._add_level(level - 1, width, norm)
        else:
            self.add_module(f"b2_plus_{level}", ConvBlock(width, width, norm))
        self.add_module(f"b3_{level}", ConvBlock(width, width, norm))

    def _level(self, level: int, x: torch.Tensor) -> torch.Tensor:
        upper = self._modules[f"b1_{level}"](x)
        lower = self._modules[f"b2_{level}"](F.avg_pool2d(x, 2, stride=2))
        if level > 1:
            lower = self._level(level - 1, lower)
        else:
            lower = self._modules[f"b2_plus_{level}"](lower)
        lower = F.interpolate(self._modules[f"b3_{level}"](lower), scale_factor=2, mode="bicubic",
                              align_corners=True)
        return upper + lower if torch.is_grad_enabled() else upper.add_(lower)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._level(self.depth, x)


class HGFilter(nn.Module):
    """Stem (7x7 stride-2 conv, conv blocks) followed by ``num_stack`` hourglass stacks.

    ``forward`` returns the LAST stack's output only (what inference uses), without activation.
    """

    def __init__(self, num_stack: int, depth: int, c_in: int, c_out: int, norm: str, down: str):
        super().__init__()
        if down not in ("ave_pool", "no_down"):
            raise ValueError(f"unsupported hg_down {down!r} (expected 'ave_pool' or 'no_down')")
        self.num_stack = num_stack
        self.down = down
        self.conv1 = nn.Conv2d(c_in, 64, kernel_size=7, stride=2, padding=3)
        self.bn1 = norm_2d(norm, 64)
        self.conv2 = ConvBlock(64, 128, norm)
        self.conv3 = ConvBlock(128, 128, norm)
        self.conv4 = ConvBlock(128, WIDTH, norm)
        for i in range(num_stack):
            self.add_module(f"m{i}", HourGlass(depth, WIDTH, norm))
            self.add_module(f"top_m_{i}", ConvBlock(WIDTH, WIDTH, norm))
            self.add_module(f"conv_last{i}", nn.Conv2d(WIDTH, WIDTH, kernel_size=1))
            self.add_module(f"bn_end{i}", norm_2d(norm, WIDTH))
            self.add_module(f"l{i}", nn.Conv2d(WIDTH, c_out, kernel_size=1))
            if i < num_stack - 1:
                self.add_module(f"bl{i}", nn.Conv2d(WIDTH, WIDTH, kernel_size=1))
                self.add_module(f"al{i}", nn.Conv2d(c_out, WIDTH, kernel_size=1))

    def forward(self, x: torch.Tensor, on_step: Callable[[float], None] | None = None) -> torch.Tensor:
        """``on_step(fraction)`` is called after the stem and after each stack (progress and cancel)."""
        step = on_step or (lambda f: None)
        inplace = not torch.is_grad_enabled()   # inference: activations and sums in place
        x = self.bn1(self.conv1(x))
        x = x.relu_() if inplace else torch.relu(x)
        x = self.conv2(x)
        if self.down == "ave_pool":
            x = F.avg_pool2d(x, 2, stride=2)
        x = self.conv4(self.conv3(x))
        step(1 / (self.num_stack + 1))
        out = x
        for i in range(self.num_stack):
            h = self._modules[f"top_m_{i}"](self._modules[f"m{i}"](x))
            h = self._modules[f"bn_end{i}"](self._modules[f"conv_last{i}"](h))
            h = h.relu_() if inplace else torch.relu(h)
            out = self._modules[f"l{i}"](h)
            if i < self.num_stack - 1:
                if inplace:
                    x = x.add_(self._modules[f"bl{i}"](h)).add_(self._modules[f"al{i}"](out))
                else:
                    x = x + self._modules[f"bl{i}"](h) + self._modules[f"al{i}"](out)
            del h
            step((i + 2) / (self.num_stack + 1))
        return out
