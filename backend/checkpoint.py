"""Reading a PIFuHD checkpoint safely and building the network it describes.

The official ``pifuhd.pt`` is a ``torch.save`` of ``{'model_state_dict', 'opt', 'opt_netG'}`` where the two
options are pickled ``argparse.Namespace`` objects. We load it with ``weights_only=True`` and allow-list
exactly ``argparse.Namespace``: a file that tries to run code is refused, never executed.
"""
from __future__ import annotations

import argparse
import math
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch

from .errors import CheckpointError
from .networks import LevelOptions, PIFuHD

REQUIRED_ENTRIES = ("model_state_dict", "opt", "opt_netG")
ZIP_MAGIC = b"PK\x03\x04"
LEGACY_MAGIC = b"\x80"  # a plain pickle (torch's pre-1.6 format) starts with the PROTO opcode
LIST_LIMIT = 5
# Accepted ranges of the stored options (inclusive): wide enough for any PIFuHD-like network (the release:
# loadSize 512/1024, hg_depth 2/4, hg_dim 256/16, mlp widths <= 1024), narrow enough to refuse nonsense.
RANGES = {"load_size": (32, 4096), "num_stack": (1, 8), "hg_depth": (1, 8), "hg_dim": (1, 4096),
          "mlp width": (1, 8192), "normal_base": (1, 1024), "normal_downsamplings": (0, 8),
          "normal_blocks": (0, 64)}


@dataclass
class Checkpoint:
    """What a checkpoint file holds once read: tensors by official key, and both levels' options."""

    state_dict: dict[str, torch.Tensor]
    coarse: LevelOptions
    fine: LevelOptions
    path: Path


def _first(items: list[str], limit: int = LIST_LIMIT) -> str:
    more = f" (and {len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read ``path`` safely; raise :class:`CheckpointError` with an actionable message on any problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"Model file not found: {path}. Download pifuhd.pt (see the README) or point to the file you have."
        )
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(4)
    is_zip = head == ZIP_MAGIC
    if not (is_zip or head[:1] == LEGACY_MAGIC):
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint (size {size} bytes). "
            "Choose the pifuhd.pt file downloaded from the PIFuHD authors."
        )
    if is_zip and not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path} is incomplete or damaged ({size} bytes; the archive's end is missing). "
            "The download was probably cut off: download it again."
        )
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            raw = torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as err:
        text = str(err)
        if "weights_only" in text or "Unsupported global" in text or "not an allowed global" in text:
            raise CheckpointError(
                f"{path} was refused: it contains Python objects other than tensors and options, which could "
                "run code when loaded. Use the official pifuhd.pt from the PIFuHD authors."
            ) from None
        raise CheckpointError(f"{path} is damaged ({text.splitlines()[0]}). Download it again.") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as err:
        first_line = (str(err).splitlines() or [type(err).__name__])[0]
        raise CheckpointError(
            f"{path} could not be read ({first_line}); it is probably truncated or damaged. Download it again."
        ) from None
    return _parse(raw, path)


def _parse(raw: Any, path: Path) -> Checkpoint:
    if not isinstance(raw, Mapping) or not all(k in raw for k in REQUIRED_ENTRIES):
        found = sorted(map(str, raw.keys()))[:LIST_LIMIT] if isinstance(raw, Mapping) else [type(raw).__name__]
        raise CheckpointError(
            f"{path} is a PyTorch file but not a PIFuHD checkpoint: it needs the entries "
            f"{', '.join(REQUIRED_ENTRIES)}; found {', '.join(found) or 'nothing'}."
        )
    try:
        coarse = LevelOptions.from_namespace(raw["opt_netG"], fine=False)
        fine = LevelOptions.from_namespace(raw["opt"], fine=True)
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{path} has unusable network options: {err}.") from None
    problem = options_problem(coarse, "coarse") or options_problem(fine, "fine")
    if problem:
        raise CheckpointError(
            f"{path} has out-of-range network options ({problem}): the file is damaged or not a PIFuHD model. "
            "Use the official pifuhd.pt."
        )
    state = raw["model_state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: 'model_state_dict' is not a mapping of tensors.")
    return Checkpoint(state_dict=dict(state), coarse=coarse, fine=fine, path=path)


def options_problem(opt: LevelOptions, level: str) -> str | None:
    """Describe the first option of ``opt`` (the ``level``, 'coarse' or 'fine') outside its range, or None."""
    def outside(name: str, value: float) -> bool:
        lo, hi = RANGES[name]
        return not lo <= value <= hi

    for name in ("num_stack", "hg_depth", "hg_dim", "normal_base", "normal_downsamplings", "normal_blocks"):
        if outside(name, getattr(opt, name)):
            lo, hi = RANGES[name]
            return f"{level} {name} = {getattr(opt, name)}, expected {lo} to {hi}"
    # The input side halves at the stem, at the coarse level's pooling, and at each hourglass level.
    step = 2 ** (1 + (opt.hg_down == "ave_pool") + opt.hg_depth)
    if outside("load_size", opt.load_size) or opt.load_size % step:
        lo, hi = RANGES["load_size"]
        return f"{level} loadSize = {opt.load_size}, expected a multiple of {step} from {lo} to {hi}"
    if not (math.isfinite(opt.z_size) and opt.z_size > 0):
        return f"{level} z_size = {opt.z_size}, expected a positive number"
    dims = opt.mlp_dim
    if len(dims) < 2 or any(outside("mlp width", d) for d in dims) or dims[-1] != 1:
        return f"{level} mlp_dim = {list(dims)}, expected two or more widths from 1 to 8192 ending in 1"
    layers = len(dims) - 1
    if any(not 0 <= i < layers for i in opt.mlp_res_layers):
        return f"{level} mlp_res_layers = {list(opt.mlp_res_layers)}, expected layer numbers 0 to {layers - 1}"
    if level == "coarse":
        merge = opt.merge_layer if opt.merge_layer > 0 else len(dims) // 2
        if merge >= layers:
            return f"coarse merge_layer = {opt.merge_layer}, expected at most {layers - 1}"
    return None


def state_dict_mismatch(expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor]) -> str | None:
    """Describe how ``found`` differs from ``expected`` (first missing / unexpected keys, shape mismatches), or None."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    shapes = [
        f"{k}: file {list(found[k].shape)} vs network {list(expected[k].shape)}"
        for k in expected if k in found and found[k].shape != expected[k].shape
    ]
    parts = []
    if missing:
        parts.append(f"missing keys: {_first(missing)}")
    if unexpected:
        parts.append(f"unexpected keys: {_first(unexpected)}")
    if shapes:
        parts.append(f"shape mismatches: {_first(shapes, 3)}")
    return "; ".join(parts) or None


def build_network(ckpt: Checkpoint) -> PIFuHD:
    """Build the network from the checkpoint's own options and load its weights strictly (CPU, eval mode).

    Raises :class:`CheckpointError` naming the file when the weights do not fit, or hold NaN/infinite values.
    """
    try:
        net = PIFuHD(ckpt.coarse, ckpt.fine)
    except (ValueError, RuntimeError) as err:
        raise CheckpointError(f"{ckpt.path}: cannot build the network from its options: {err}.") from None
    problem = state_dict_mismatch(net.state_dict(), ckpt.state_dict)
    if problem:
        raise CheckpointError(
            f"{ckpt.path} does not fit the PIFuHD network its options describe ({problem}). "
            "It is a different network; use the official pifuhd.pt."
        )
    broken = [k for k, v in ckpt.state_dict.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if broken:
        raise CheckpointError(
            f"{ckpt.path} is damaged: {len(broken)} weight tensor(s) hold NaN or infinite values "
            f"({_first(broken)}). Download the model again (or retrain it, if it is your own)."
        )
    net.load_state_dict(ckpt.state_dict, strict=True)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def save_checkpoint(net: PIFuHD, coarse_opt: Mapping[str, Any], fine_opt: Mapping[str, Any],
                    path: str | os.PathLike) -> None:
    """Write ``net`` in the official layout (options as ``argparse.Namespace``), atomically."""
    from .fileio import atomic_write

    payload = {
        "model_state_dict": net.state_dict(),
        "opt": argparse.Namespace(**fine_opt),
        "opt_netG": argparse.Namespace(**coarse_opt),
    }
    with atomic_write(path) as tmp:
        torch.save(payload, tmp)
