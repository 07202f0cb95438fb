"""Reading a PIFuHD checkpoint safely and building the network it describes.

The official ``pifuhd.pt`` is a ``torch.save`` of ``{'model_state_dict', 'opt', 'opt_netG'}`` where the two
options are pickled ``argparse.Namespace`` objects. We load it with ``weights_only=True`` and allow-list
exactly ``argparse.Namespace``: a file that tries to run code is refused, never executed.
"""
from __future__ import annotations

import argparse
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
    state = raw["model_state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: 'model_state_dict' is not a mapping of tensors.")
    return Checkpoint(state_dict=dict(state), coarse=coarse, fine=fine, path=path)


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
    """Build the network from the checkpoint's own options and load its weights strictly (CPU, eval mode)."""
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
