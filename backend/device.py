"""Choosing the torch device (CUDA when present, else Apple MPS, else CPU) and the precision networks run in."""
from __future__ import annotations

import torch

from .errors import PIFuHDError
from .options import PRECISIONS


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


DTYPES = {name: getattr(torch, dtype) for name, dtype in zip(PRECISIONS, ("float32", "float16", "bfloat16"))}


def cpu_supports_bf16() -> bool:
    """True when this CPU has native bfloat16 arithmetic (oneDNN's test: AVX-512 BF16 / AMX, or Arm BF16)."""
    mkldnn = getattr(torch.ops, "mkldnn", None)
    try:
        return bool(mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """Map ``'fp32'`` / ``'fp16'`` / ``'bf16'`` to the torch dtype the networks run in on ``device``.

    fp16 needs a GPU (CUDA or MPS); bf16 a CUDA GPU that has it (Ampere or newer), MPS, or a CPU with native
    bfloat16 (see :func:`cpu_supports_bf16`). Raises :class:`PIFuHDError` saying what to choose instead.
    """
    name = str(precision).strip().lower()
    if name not in DTYPES:
        raise PIFuHDError(f"Unknown precision {precision!r}: use {', '.join(DTYPES)}.")
    if name == "fp16" and device.type == "cpu":
        raise PIFuHDError("fp16 runs on a GPU only: on the CPU use fp32, or bf16 where the CPU supports it.")
    if name == "bf16" and device.type == "cpu" and not cpu_supports_bf16():
        raise PIFuHDError("This CPU has no native bfloat16 arithmetic (bf16 would be slow and gain nothing): "
                          "use fp32.")
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise PIFuHDError("This GPU has no bfloat16 support: use fp16 or fp32.")
    return DTYPES[name]
