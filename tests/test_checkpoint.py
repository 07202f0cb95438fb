"""Checkpoint loading: the production loader on real files, and every way a file can be wrong."""
from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import pytest
import torch

import backend
from backend.checkpoint import build_network, read_checkpoint, save_checkpoint
from backend.errors import CheckpointError
from tests.conftest import PARITY

SMALL = PARITY / "small" / "checkpoint.pt"


@pytest.fixture(scope="module")
def small_raw():
    return torch.load(SMALL, map_location="cpu", weights_only=False)


def _save(tmp_path: Path, payload, name="ckpt.pt", **kwargs) -> Path:
    path = tmp_path / name
    torch.save(payload, path, **kwargs)
    return path


def test_loads_the_fixture_strictly_with_its_options():
    ckpt = read_checkpoint(SMALL)
    assert ckpt.coarse.load_size == 512 and ckpt.fine.load_size == 1024
    assert ckpt.coarse.mlp_dim == (65, 128, 96, 64, 32, 1)
    assert ckpt.fine.hg_down == "no_down" and ckpt.coarse.hg_down == "ave_pool"
    net = build_network(ckpt)
    state = net.state_dict()
    for key, value in state.items():
        # `bn4` and `downsample.0` are one module; loading writes both keys into it, the second last.
        # (The released file stores equal tensors under both; the fixture's random ones differ.)
        source = key.replace(".bn4.", ".downsample.0.")
        source = source if source in state else key
        assert torch.equal(value, ckpt.state_dict[source]), key


def test_round_trip_through_save_checkpoint(tmp_path, small_raw):
    net = build_network(read_checkpoint(SMALL))
    out = tmp_path / "copy.pt"
    save_checkpoint(net, vars(small_raw["opt_netG"]), vars(small_raw["opt"]), out)
    again = backend.load_model(out, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(again.net.state_dict().values(), net.state_dict().values()))
    assert not list(tmp_path.glob(".*part*"))  # no temporary left behind


def test_legacy_torch_format_loads(tmp_path, small_raw):
    """Checkpoints written by torch < 1.6 are plain pickles, not zip archives: the loader reads both."""
    path = _save(tmp_path, small_raw, _use_new_zipfile_serialization=False)
    assert path.read_bytes()[:1] == b"\x80"
    model = backend.load_model(path, device="cpu")
    assert model.coarse.hg_dim == 64


class _RunsCode:
    """Unpickling this calls os.system: exactly what a hostile checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_code_in_the_pickle_is_refused_and_never_run(tmp_path, small_raw):
    marker = tmp_path / "pwned"
    payload = dict(small_raw)
    payload["opt"] = _RunsCode(marker)
    path = _save(tmp_path, payload)
    with pytest.raises(CheckpointError, match="refused"):
        backend.load_model(path, device="cpu")
    assert not marker.exists()
    # The same file loaded unsafely does run the code: the test file really is hostile.
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found.*Download"):
        backend.load_model(tmp_path / "nope.pt", device="cpu")


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "photo.pt"
    shutil.copy(PARITY / "small" / "input" / "person.png", path)
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        backend.load_model(path, device="cpu")


def test_truncated_download(tmp_path):
    path = tmp_path / "pifuhd.pt"
    data = SMALL.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="incomplete or damaged.*again"):
        backend.load_model(path, device="cpu")


def test_damaged_archive_member(tmp_path):
    path = tmp_path / "pifuhd.pt"
    data = bytearray(SMALL.read_bytes())
    data[len(data) // 2: len(data) // 2 + 4096] = b"\0" * 4096  # zeros in the middle of a tensor record
    data[100:400] = b"\xff" * 300  # and in the pickle's header area
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError):
        backend.load_model(path, device="cpu")


def test_other_pytorch_file(tmp_path):
    path = _save(tmp_path, {"state_dict": {"w": torch.zeros(3)}})
    with pytest.raises(CheckpointError, match="not a PIFuHD checkpoint.*model_state_dict"):
        backend.load_model(path, device="cpu")


def test_wrong_network_names_keys_and_shapes(tmp_path, small_raw):
    state = dict(small_raw["model_state_dict"])
    del state["mlp.filters.0.weight"]
    state["mlp.extra.weight"] = torch.zeros(2)
    state["netG.mlp.filters.1.weight"] = torch.zeros(7, 128, 1)
    path = _save(tmp_path, {**small_raw, "model_state_dict": state})
    with pytest.raises(CheckpointError) as info:
        backend.load_model(path, device="cpu")
    text = str(info.value)
    assert "missing keys: mlp.filters.0.weight" in text
    assert "unexpected keys: mlp.extra.weight" in text
    assert "netG.mlp.filters.1.weight: file [7, 128, 1] vs network [96, 128, 1]" in text


def test_options_that_do_not_match_the_weights(tmp_path, small_raw):
    opt = argparse.Namespace(**{**vars(small_raw["opt_netG"]), "hg_dim": 32})
    path = _save(tmp_path, {**small_raw, "opt_netG": opt})
    with pytest.raises(CheckpointError, match="shape mismatches: netG.image_filter.l0.weight"):
        backend.load_model(path, device="cpu")


def test_options_missing(tmp_path, small_raw):
    opt = argparse.Namespace(**{k: v for k, v in vars(small_raw["opt"]).items() if k != "mlp_dim"})
    path = _save(tmp_path, {**small_raw, "opt": opt})
    with pytest.raises(CheckpointError, match="options lack mlp_dim"):
        backend.load_model(path, device="cpu")


@pytest.mark.parametrize("level, option, value, words", [
    ("opt", "loadSize", 0, "fine loadSize = 0"),
    ("opt_netG", "loadSize", 500, "coarse loadSize = 500, expected a multiple of 16"),
    ("opt_netG", "hg_depth", 0, "coarse hg_depth = 0"),
    ("opt", "num_stack", -1, "fine num_stack = -1"),
    ("opt_netG", "z_size", float("nan"), "coarse z_size = nan"),
    ("opt", "mlp_dim", [80, 64, 0, 32, 1], "fine mlp_dim"),
    ("opt_netG", "merge_layer", 9, "coarse merge_layer = 9"),
    ("opt", "mlp_res_layers", [7], "fine mlp_res_layers"),
])
def test_out_of_range_options_name_the_file(tmp_path, small_raw, level, option, value, words):
    """loadSize=0 used to end in an OpenCV traceback during the photo transform; every stored option is range-checked."""
    opt = argparse.Namespace(**{**vars(small_raw[level]), option: value})
    path = _save(tmp_path, {**small_raw, level: opt}, name="odd_model.pt")
    with pytest.raises(CheckpointError) as info:
        backend.load_model(path, device="cpu")
    text = str(info.value)
    assert str(path) in text and "out-of-range network options" in text and words in text


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_name_the_file(tmp_path, small_raw, bad):
    """NaN weights used to load and give an empty field ("no surface in this photo"): the file is the problem."""
    state = dict(small_raw["model_state_dict"])
    state["mlp.filters.0.weight"] = state["mlp.filters.0.weight"].clone()
    state["mlp.filters.0.weight"][0, 0, 0] = bad
    path = _save(tmp_path, {**small_raw, "model_state_dict": state}, name="nan_model.pt")
    with pytest.raises(CheckpointError, match=r"nan_model\.pt is damaged: 1 weight tensor.*mlp\.filters\.0\.weight"):
        backend.load_model(path, device="cpu")
