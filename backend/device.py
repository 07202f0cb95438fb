"""Choosing the torch device: CUDA when present, else Apple MPS, else CPU."""
from __future__ import annotations

import torch

from .errors import PIFuHDError



def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Map ``'auto'`` / ``'gpu'`` / ``'cpu'`` / ``'cuda[:i]'`` / ``'mps'`` (or a torch.device) to an available device.

    ``'auto'`` picks CUDA, then MPS, then CPU; ``'gpu'`` is the same but fails when neither GPU kind exists.
    Raises :class:`PIFuHDError` when the requested device is not available on this machine.
    """
    if isinstance(device, torch.device):
        name = str(device)
    else:
        name = str(device).strip().lower()
    if name in ("auto", "gpu"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        if name == "gpu":
            raise PIFuHDError("No GPU is available (neither CUDA nor Apple MPS): choose the CPU device instead.")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise PIFuHDError(f"Unknown device {device!r}: use auto, cpu, cuda or mps.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise PIFuHDError("CUDA was requested but this PyTorch has no usable CUDA GPU: use 'auto' or 'cpu'.")
    if dev.type == "mps" and not mps_available():
        raise PIFuHDError("Apple MPS was requested but is not available here: use 'auto' or 'cpu'.")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise PIFuHDError(f"Unsupported device {device!r}: use auto, cpu, cuda or mps.")
    return dev
