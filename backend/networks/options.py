"""The network options a PIFuHD checkpoint carries, read into a typed, validated record.

The checkpoint stores two ``argparse.Namespace`` objects: ``opt_netG`` (coarse level) and ``opt`` (fine
level). Networks are built from these values only, never from hard-coded sizes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

from . import normal_net

REQUIRED_KEYS = ("loadSize", "num_stack", "hg_depth", "hg_dim", "norm", "mlp_dim", "mlp_res_layers", "z_size")


@dataclass(frozen=True)
class LevelOptions:
    """Options of one level (coarse or fine), named after the official option they come from."""

    load_size: int          # loadSize: input image side in pixels (512 coarse, 1024 fine)
    num_stack: int          # num_stack: hourglass stacks
    hg_depth: int           # hg_depth: levels per hourglass
    hg_dim: int             # hg_dim: feature channels the filter outputs
    hg_down: str            # hg_down: 'ave_pool' (coarse) or 'no_down' (fine)
    norm: str               # norm: image-filter norm, 'group' or 'batch'
    mlp_dim: tuple[int, ...]
    mlp_norm: str           # 'group', 'batch' or anything else for none
    merge_layer: int
    mlp_res_layers: tuple[int, ...]
    z_size: float           # depth normaliser: depth feature = z * (load_size // 2) / z_size
    use_front_normal: bool
    use_back_normal: bool
    # Our own options (the release's file has none; its normal nets have the fixed sizes of normal_net.py):
    normal_base: int = normal_net.BASE                    # normal nets' first-layer channels
    normal_downsamplings: int = normal_net.DOWNSAMPLINGS  # stride-2 stages (channels double at each)
    normal_blocks: int = normal_net.RESIDUAL_BLOCKS       # residual blocks at the bottom

    @classmethod
    def from_namespace(cls, ns: Any, *, fine: bool) -> "LevelOptions":
        """Read an ``argparse.Namespace`` (or a mapping) from a checkpoint.

        Raises ``ValueError`` naming the missing option when one the networks need is absent.
        """
        values: Mapping[str, Any] = ns if isinstance(ns, Mapping) else vars(ns)
        missing = [k for k in REQUIRED_KEYS if k not in values]
        if missing:
            raise ValueError(f"options lack {', '.join(missing)}")
        return cls(
            load_size=int(values["loadSize"]),
            num_stack=int(values["num_stack"]),
            hg_depth=int(values["hg_depth"]),
            hg_dim=int(values["hg_dim"]),
            hg_down="no_down" if fine else str(values.get("hg_down", "ave_pool")),
            norm=str(values["norm"]),
            mlp_dim=tuple(int(v) for v in values["mlp_dim"]),
            mlp_norm=str(values.get("mlp_norm", "none")),
            merge_layer=-1 if fine else int(values.get("merge_layer", -1)),
            mlp_res_layers=tuple(int(v) for v in values["mlp_res_layers"]),
            z_size=float(values["z_size"]),
            use_front_normal=bool(values.get("use_front_normal", False)) and not fine,
            use_back_normal=bool(values.get("use_back_normal", False)) and not fine,
            normal_base=int(values.get("normal_base", normal_net.BASE)),
            normal_downsamplings=int(values.get("normal_downsamplings", normal_net.DOWNSAMPLINGS)),
            normal_blocks=int(values.get("normal_blocks", normal_net.RESIDUAL_BLOCKS)),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
