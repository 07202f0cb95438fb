"""The add-on's request building and result cache, without Blender: the panel's values become the backend's
options (refused, never clamped, when out of range), and a result is reused only for the same photo, model,
back photo and options."""
from __future__ import annotations

import os

import pytest

from pifuhd_blender.request import (Options, RequestError, ResultCache, build_request, options_from_settings,
                                    photo_from_file)

PANEL = {"resolution": 256, "device": "AUTO", "remove_background": True, "use_colors": True, "use_cleanup": True,
         "use_color_fill": True, "poly_budget": "FULL", "back_filepath": ""}


def test_panel_values_become_options():
    opts = options_from_settings(PANEL)
    assert opts == Options(resolution=256, device="auto", cleanup=True, color_fill=True, budget="full")
    gpu = options_from_settings({**PANEL, "device": "GPU", "poly_budget": "GAME", "resolution": 384})
    assert (gpu.device, gpu.budget, gpu.target_faces, gpu.resolution) == ("gpu", "game", 30_000, 384)
    # no colours: no colour fill and no back photo either
    plain = options_from_settings({**PANEL, "use_colors": False, "back_filepath": "/x/back.png"})
    assert not plain.color_fill and plain.back_photo is None
    assert options_from_settings({**PANEL, "back_filepath": "/x/back.png"}).back_photo == "/x/back.png"


@pytest.mark.parametrize("change", [{"resolution": 100_000}, {"resolution": 7}, {"device": "TPU"},
                                    {"poly_budget": "HUGE"}])
def test_out_of_range_is_refused_not_clamped(change):
    with pytest.raises(RequestError) as err:
        options_from_settings({**PANEL, **change})
    assert "Traceback" not in str(err.value) and len(str(err.value)) > 20


def test_photo_files(tmp_path):
    with pytest.raises(RequestError, match="is a folder"):
        photo_from_file(str(tmp_path))
    with pytest.raises(RequestError, match="Photo not found"):
        photo_from_file(str(tmp_path / "nobody.jpg"))
    photo = tmp_path / "me.jpg"
    photo.write_bytes(b"x")
    fields, key, source, name = photo_from_file(str(photo))
    assert fields == {"photo": str(photo)} and source == str(photo) and name == "me" and key[0] == "file"


def test_the_key_changes_with_what_changes_the_result(tmp_path):
    photo, ckpt, back = tmp_path / "me.jpg", tmp_path / "m.pt", tmp_path / "back.png"
    for p in (photo, ckpt, back):
        p.write_bytes(b"x")
    fields, key, source, name = photo_from_file(str(photo))
    opts = options_from_settings(PANEL)
    first = build_request(fields, key, source, name, str(ckpt), opts)
    assert first.payload == {"photo": str(photo), "checkpoint": str(ckpt), "options": opts.to_dict()}
    assert first.name == "PIFuHD me" and Options.from_dict(first.payload["options"]) == opts
    same = build_request(fields, key, source, name, str(ckpt), options_from_settings(PANEL))
    assert same.key == first.key
    other = build_request(fields, key, source, name, str(ckpt), opts.replace(budget="mobile"))
    assert other.key != first.key
    with_back = build_request(fields, key, source, name, str(ckpt), opts.replace(back_photo=str(back)))
    assert with_back.key != first.key
    os.utime(back, ns=(1, 1))                                           # the back photo file changed
    assert build_request(fields, key, source, name, str(ckpt), opts.replace(back_photo=str(back))).key != with_back.key
    os.utime(ckpt, ns=(1, 1))                                           # so did the model file
    assert build_request(fields, key, source, name, str(ckpt), opts).key != first.key
    with pytest.raises(RequestError, match="Back photo not found"):
        build_request(fields, key, source, name, str(ckpt), opts.replace(back_photo=str(tmp_path / "none.png")))


def test_result_cache():
    cache = ResultCache()
    assert cache.get(("a",)) is None
    cache.put(("a",), {"vertices": 1}, {"device": "cpu"}, ["note"])
    hit = cache.get(("a",))
    assert hit.arrays == {"vertices": 1} and hit.warnings == ["note"] and cache.get(("b",)) is None
    cache.put(("b",), {}, {}, [])
    assert cache.get(("a",)) is None and cache.get(("b",)) is not None     # only the last one is kept
    cache.clear()
    assert cache.get(("b",)) is None
