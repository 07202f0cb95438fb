"""The one options type: ranges and vocabularies checked in one place, and the JSON round trip the worker
protocol carries."""
from __future__ import annotations

import pytest

from backend.errors import OptionsError, PIFuHDError
from backend.options import BUDGETS, DEVICES, MAX_RESOLUTION, MIN_RESOLUTION, NETWORK_STATES, PRECISIONS, Options


def test_defaults_are_valid_and_documented_vocabularies():
    opts = Options().validate()
    assert opts.device == "auto" and opts.precision == "fp32" and opts.network_state == "official"
    assert "gpu" in DEVICES and PRECISIONS == ("fp32", "fp16", "bf16") and NETWORK_STATES == ("official", "eval")
    assert opts.target_faces is None


@pytest.mark.parametrize("changes, words", [
    ({"resolution": MIN_RESOLUTION - 1}, "between"),
    ({"resolution": MAX_RESOLUTION + 1}, "between"),
    ({"resolution": 100_000}, "between"),
    ({"resolution": 7}, "between"),
    ({"resolution": 256.0}, "whole number"),
    ({"device": "tpu"}, "Unknown device"),
    ({"precision": "fp64"}, "Unknown precision"),
    ({"network_state": "train"}, "Unknown network state"),
    ({"crop": (10, 10, -5)}, "side must be a positive"),
    ({"crop": (10, 10)}, "three whole numbers"),
    ({"budget": "huge"}, "Unknown polygon budget"),
    ({"budget": 3}, "at least"),
    ({"cleanup": "yes"}, "true or false"),
    ({"back_photo": "back.png"}, "colour fill"),
])
def test_out_of_range_is_refused_not_clamped(changes, words):
    with pytest.raises(OptionsError, match=words) as info:
        Options(**changes).validate()
    assert isinstance(info.value, PIFuHDError) and isinstance(info.value, ValueError)


def test_json_round_trip_and_unknown_names():
    opts = Options(resolution=96, device="cuda:1", precision="bf16", network_state="eval", crop=(1, 2, 300),
                   cleanup=True, color_fill=True, budget="game", back_photo="/x/back.png").validate()
    again = Options.from_json(opts.to_json())
    assert again == opts and again.crop == (1, 2, 300) and again.target_faces == BUDGETS["game"]
    with pytest.raises(OptionsError, match="Unknown option"):
        Options.from_dict({"resolutoin": 256})
    with pytest.raises(OptionsError, match="between"):
        Options.from_json('{"resolution": 100000}')
    assert Options(budget=5000).target_faces == 5000
