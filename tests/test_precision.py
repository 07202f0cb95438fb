"""The precision option: refused with a clear message where the device cannot run it; bf16 on a CPU that
has it runs the whole engine in bfloat16 and gives nearly the fp32 surface."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import backend
from backend.device import cpu_supports_bf16
from backend.errors import PIFuHDError
from tests.conftest import PARITY

SMALL = PARITY / "small" / "checkpoint.pt"
PHOTO = PARITY / "small" / "input" / "person.png"


@pytest.mark.parametrize("precision, message", [("fp16", "GPU only"), ("fp8", "Unknown precision")])
def test_unusable_precision_is_a_clear_error(precision, message):
    with pytest.raises(PIFuHDError, match=message):
        backend.load_model(SMALL, device="cpu", precision=precision)


@pytest.mark.skipif(not cpu_supports_bf16(), reason="this CPU has no native bfloat16")
def test_bf16_on_the_cpu_runs_in_bfloat16_and_agrees_with_fp32():
    from backend.engine import NetworkField, compute_features
    from backend.input_transform import prepare_inputs
    from backend.image_io import load_image
    from backend.progress import Reporter

    inputs = prepare_inputs(load_image(PHOTO))
    points = np.random.default_rng(0).uniform(-0.6, 0.6, (8192, 3)).astype(np.float32)
    values = {}
    for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        model = backend.load_model(SMALL, device="cpu", precision=precision)
        assert {p.dtype for p in model.net.parameters()} == {dtype}
        maps = compute_features(model, inputs, Reporter())
        assert maps.fine.dtype == maps.coarse.dtype == torch.float32   # looked up in float32
        values[precision] = NetworkField(model, maps, inputs.calib, 64).query(points)
    a, b = values["fp32"], values["bf16"]
    assert b.dtype == np.float32
    assert np.abs(a - b).mean() < 0.01 and np.corrcoef(a, b)[0, 1] > 0.99
    mesh = backend.reconstruct(PHOTO, model, resolution=24)   # the whole engine runs; the mesh is float32
    assert len(mesh.faces) and mesh.vertices.dtype == np.float32 and mesh.colors.dtype == np.float32
