"""Small building blocks shared by the image filters.

Attribute names (``conv1``, ``bn1``, ``downsample`` ...) are the official ones: they become state-dict
keys, so the released checkpoint loads with ``strict=True``.
"""
from __future__ import annotations

import torch
from torch import nn

GROUP_NORM_GROUPS = 32


def norm_2d(kind: str, channels: int) -> nn.Module:
    """Normalisation layer for image features [B, C, H, W]: ``'batch'`` or ``'group'`` (32 groups)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(GROUP_NORM_GROUPS, channels)
    raise ValueError(f"unsupported image-filter norm {kind!r} (expected 'batch' or 'group')")


def norm_1d(kind: str, channels: int) -> nn.Module | None:
    """Normalisation layer for point features [B, C, N]; ``None`` for any kind but batch/group."""
    if kind == "batch":
        return nn.BatchNorm1d(channels)
    if kind == "group":
        return nn.GroupNorm(GROUP_NORM_GROUPS, channels)
    return None


def _conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=3, stride=1, padding=1, bias=False)


class ConvBlock(nn.Module):
    """Pre-activation residual block whose three 3x3 branches are concatenated.

    in -> out channels; the branches produce out/2, out/4 and out/4 channels, each preceded by
    norm + ReLU. Without autograd (inference) activations and the skip addition work in place. When ``in != out`` the skip path is norm + ReLU + 1x1 conv (``downsample``),
    whose norm is the very module ``bn4`` (so its tensors appear under both names).
    """

    def __init__(self, c_in: int, c_out: int, norm: str):
        super().__init__()
        half, quarter = c_out // 2, c_out // 4
        self.conv1 = _conv3x3(c_in, half)
        self.conv2 = _conv3x3(half, quarter)
        self.conv3 = _conv3x3(quarter, quarter)
        self.bn1 = norm_2d(norm, c_in)
        self.bn2 = norm_2d(norm, half)
        self.bn3 = norm_2d(norm, quarter)
        self.bn4 = norm_2d(norm, c_in)
        if c_in != c_out:
            self.downsample = nn.Sequential(
                self.bn4, nn.ReLU(True), nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, bias=False)
            )
        else:
            self.downsample = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            a = self.conv1(torch.relu(self.bn1(x)))
            b = self.conv2(torch.relu(self.bn2(a)))
            c = self.conv3(torch.relu(self.bn3(b)))
            skip = x if self.downsample is None else self.downsample(x)
            return torch.cat([a, b, c], dim=1) + skip
        # Inference: the same values, activations and the skip added in place (no extra feature maps).
        a = self.conv1(self.bn1(x).relu_())
        b = self.conv2(self.bn2(a).relu_())
        c = self.conv3(self.bn3(b).relu_())
        out = torch.cat([a, b, c], dim=1)
        del a, b, c
        return out.add_(x if self.downsample is None else self.downsample(x))
