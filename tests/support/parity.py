"""Rebuilding the parity fixtures' checkpoints from their documented weights procedure.

The procedure (shared/reference/parity/README.md): for the i-th row of state_dict_keys.tsv, a generator
seeded with ``seed + i`` draws the tensor by a rule that depends on the key. The result is saved in the
official layout, so the production loader reads it like the released file.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch


def _tensor_for(key: str, shape: list[int], dtype: str, g: torch.Generator) -> torch.Tensor:
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=getattr(torch, dtype))
    if key.endswith("running_var"):
        return 0.5 + torch.rand(shape, generator=g)
    if key.endswith("running_mean"):
        return 0.1 * torch.randn(shape, generator=g)
    if len(shape) == 1:
        base = 1.0 if key.endswith(".weight") else 0.0
        return base + 0.1 * torch.randn(shape, generator=g)
    # "randn / sqrt(fan_in)", computed as a multiplication by the reciprocal: that is what reproduces the
    # fixture file bit for bit.
    return torch.randn(shape, generator=g) * (1.0 / math.sqrt(math.prod(shape[1:])))


def fixture_state_dict(folder: Path, seed: int) -> dict[str, torch.Tensor]:
    """The state dict the procedure gives for the fixture in ``folder`` (keys in file order)."""
    rows = (folder / "state_dict_keys.tsv").read_text().splitlines()[1:]
    state = {}
    for i, row in enumerate(rows):
        key, shape, dtype = row.split("\t")
        g = torch.Generator().manual_seed(seed + i)
        state[key] = _tensor_for(key, json.loads(shape), dtype, g)
    return state


def write_fixture_checkpoint(folder: Path, path: Path) -> Path:
    """Write the fixture's checkpoint (official layout, options as argparse.Namespace) to ``path``."""
    meta = json.loads((folder / "meta.json").read_text())
    payload = {
        "opt": argparse.Namespace(**meta["opt"]),
        "opt_netG": argparse.Namespace(**meta["opt_netG"]),
        "model_state_dict": fixture_state_dict(folder, meta["seed"]),
    }
    torch.save(payload, path)
    return path
