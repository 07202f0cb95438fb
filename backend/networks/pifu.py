"""The two-level PIFuHD network: a coarse PIFu with normal conditioning (``netG``) under a fine PIFu.

Frames
------
*Normalised cube* (the query frame): points ``[B, 3, N]`` with x right, y up, z towards the camera, the
reconstruction volume being [-1, 1]^3. A calibration ``calib [B, 4, 4]`` maps them to *image NDC*
(x right, y DOWN, both in [-1, 1] across the square crop; z kept), where features are sampled with
``grid_sample(align_corners=True)``. The evaluation calibration is ``diag(1, -1, 1, 1)``.

Usage is two pure steps: ``maps = net.filter(img_512, img_1024)`` once per photo, then
``net.query(maps, points, calib)`` for as many point batches as needed.

Module state (``PIFuHD.set_state``)
-----------------------------------
``"official"``: what the official inference script runs. It puts only the coarse level in eval mode; the
fine level stays in training mode, so its BatchNorms (image filter, and MLP when it has them) normalise
with the statistics of the current batch: per channel over the one photo's feature map in the filter,
over the queried points in the MLP (a point's value then depends on the points queried with it).
``"eval"``: every module in eval mode (BatchNorms use their stored running statistics).
Neither state ever changes a stored tensor: batch statistics are used without updating the running ones,
so repeated reconstructions give identical results.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .hourglass import HGFilter
from .mlp import PointMLP
from .normal_net import NormalNet
from ..options import NETWORK_STATES
from .options import LevelOptions


StepFn = Callable[[float], None]


@dataclass
class FeatureMaps:
    """Everything the point queries need from one photo.

    coarse: [B, hg_dim, 128, 128] coarse features; fine: [B, hg_dim_fine, 512, 512] fine features;
    normal_front / normal_back: [B, 3, 512, 512] predicted normal maps in [-1, 1] (None when the net has none).
    """

    coarse: torch.Tensor
    fine: torch.Tensor
    normal_front: torch.Tensor | None
    normal_back: torch.Tensor | None


def project(points: torch.Tensor, calib: torch.Tensor) -> torch.Tensor:
    """Orthographic projection: cube points [B,3,N] -> image NDC [B,3,N] with ``calib[:, :3, :3] @ p + calib[:, :3, 3]``."""
    return torch.baddbmm(calib[:, :3, 3:4], calib[:, :3, :3], points)


def sample_features(feat: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """Bilinear lookup of ``feat [B,C,H,W]`` at NDC ``xy [B,2,N]`` (align_corners=True, zeros outside) -> [B,C,N]."""
    grid = xy.transpose(1, 2).unsqueeze(2)  # [B, N, 1, 2]
    return F.grid_sample(feat, grid, mode="bilinear", padding_mode="zeros", align_corners=True)[..., 0]


def fine_input(image: torch.Tensor, normals: list[torch.Tensor]) -> torch.Tensor:
    """The fine filter's input: the fine-size image [B,3,S,S] and the coarse-size normal maps upsampled to
    it (bilinear, align_corners=True), concatenated -> [B, 3 + 3 * len(normals), S, S]."""
    if not normals:
        return image
    up = F.interpolate(torch.cat(normals, 1), size=image.shape[-2:], mode="bilinear", align_corners=True)
    return torch.cat([image, up], 1)


class CoarsePIFu(nn.Module):
    """The coarse level (``netG``): image filter on the 512 input (+ normal maps), MLP with depth feature."""

    def __init__(self, opt: LevelOptions):
        super().__init__()
        self.opt = opt
        c_in = 3 + 3 * int(opt.use_front_normal) + 3 * int(opt.use_back_normal)
        self.image_filter = HGFilter(opt.num_stack, opt.hg_depth, c_in, opt.hg_dim, opt.norm, opt.hg_down)
        self.mlp = PointMLP(opt.mlp_dim, opt.merge_layer, opt.mlp_res_layers, opt.mlp_norm)
        sizes = dict(base=opt.normal_base, downsamplings=opt.normal_downsamplings, blocks=opt.normal_blocks)
        self.netF = NormalNet(**sizes) if opt.use_front_normal else None
        self.netB = NormalNet(**sizes) if opt.use_back_normal else None

    def normals(self, image: torch.Tensor, on_step: StepFn | None = None
                ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Front and back normal maps for the 512 input ([B,3,512,512] each, or None)."""
        nets = [n for n in (self.netF, self.netB) if n is not None]
        maps = []
        for k, net in enumerate(nets):
            hook = None if on_step is None else (lambda f, k=k: on_step((k + f) / len(nets)))
            maps.append(net(image, hook))
        front = maps[0] if self.netF is not None else None
        back = maps[-1] if self.netB is not None else None
        return front, back

    def filter(self, image: torch.Tensor, normals: list[torch.Tensor], on_step: StepFn | None = None
               ) -> torch.Tensor:
        return self.image_filter(torch.cat([image, *normals], 1), on_step)

    def query(self, features: torch.Tensor, points: torch.Tensor, calib: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Occupancy [B,1,N] (0 outside the cube) and phi [B,Cm,N] at cube points [B,3,N]."""
        return self.query_projected(features, project(points, calib))

    def query_projected(self, features: torch.Tensor, xyz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The same for points already projected to image NDC, xyz [B,3,N]."""
        inside = ((xyz >= -1) & (xyz <= 1)).all(dim=1, keepdim=True).to(xyz.dtype)
        depth = xyz[:, 2:3] * (self.opt.load_size // 2) / self.opt.z_size
        pred, phi = self.mlp(torch.cat([sample_features(features, xyz[:, :2]), depth], 1))
        return inside * pred, phi


class PIFuHD(nn.Module):
    """The fine level at the top of the state dict, with the coarse level as ``netG``."""

    def __init__(self, coarse: LevelOptions, fine: LevelOptions):
        super().__init__()
        self.opt = fine
        c_in = 3 + 3 * int(coarse.use_front_normal) + 3 * int(coarse.use_back_normal)
        self.image_filter = HGFilter(fine.num_stack, fine.hg_depth, c_in, fine.hg_dim, fine.norm, "no_down")
        self.mlp = PointMLP(fine.mlp_dim, -1, fine.mlp_res_layers, fine.mlp_norm)
        self.netG = CoarsePIFu(coarse)

    def set_state(self, state: str) -> "PIFuHD":
        """Put the network in module state ``state`` (see the module docstring); returns ``self``.

        In ``"official"`` the fine level's BatchNorms run in training mode with ``track_running_stats``
        off: torch then normalises with the batch's statistics and neither reads nor updates the running
        buffers (they stay in the state dict, untouched). ``"eval"`` restores plain eval mode.
        Raises ``ValueError`` for any other name.
        """
        if state not in NETWORK_STATES:
            raise ValueError(f"unknown network state {state!r} (expected one of {', '.join(NETWORK_STATES)})")
        self.eval()
        official = state == "official"
        for part in (self.image_filter, self.mlp):   # the fine level; netG (coarse) stays in eval mode
            part.train(official)
            for m in part.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.track_running_stats = not official
        return self

    @property
    def state(self) -> str:
        """The current module state: ``"official"`` when the fine level runs in training mode, else ``"eval"``."""
        return "official" if self.image_filter.training else "eval"

    def batch_dependent(self) -> bool:
        """True when a point's prediction depends on the other points queried with it: a group-normed MLP
        (either level), or a batch-normed fine MLP in the official state (batch statistics over the points)."""
        fine_batch = self.opt.mlp_norm == "batch" and self.mlp.training
        return "group" in (self.netG.opt.mlp_norm, self.opt.mlp_norm) or fine_batch

    @property
    def coarse_size(self) -> int:
        return self.netG.opt.load_size

    @property
    def fine_size(self) -> int:
        return self.opt.load_size

    def filter(self, image_512: torch.Tensor, image_1024: torch.Tensor,
               on_step: StepFn | None = None) -> FeatureMaps:
        """Run the normal nets and both image filters. Inputs are [B,3,S,S] in [-1,1], RGB.

        ``on_step(fraction)`` is called as the work advances (roughly: normal nets to 0.6, filters after).
        """
        step = on_step or (lambda f: None)
        share = 0.6 if (self.netG.netF is not None or self.netG.netB is not None) else 0.0
        front, back = self.netG.normals(image_512, lambda f: step(share * f))
        normals = [n for n in (front, back) if n is not None]
        coarse = self.netG.filter(image_512, normals, lambda f: step(share + (1 - share) * 0.3 * f))
        fine = self.image_filter(fine_input(image_1024, normals),
                                 lambda f: step(share + (1 - share) * (0.3 + 0.7 * f)))
        return FeatureMaps(coarse=coarse, fine=fine, normal_front=front, normal_back=back)

    def query(self, maps: FeatureMaps, points: torch.Tensor, calib: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """(fine occupancy, coarse occupancy), each [B,1,N] in [0,1], at cube points [B,3,N]."""
        xyz = project(points, calib)  # both levels share the calibration: project once
        coarse_pred, phi = self.netG.query_projected(maps.coarse, xyz)
        inside = ((xyz[:, :2] >= -1) & (xyz[:, :2] <= 1)).all(dim=1, keepdim=True).to(points.dtype)
        pred, _ = self.mlp(torch.cat([sample_features(maps.fine, xyz[:, :2]), phi], 1))
        return inside * pred, coarse_pred
