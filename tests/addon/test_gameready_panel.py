"""The panel's Game-ready section and the Reconstruct operator's game-ready options: the settings, the
sub-panel's drawing, the options reaching the worker request, and Rig / Bake running after a reconstruction
(on the analytic person handed to the operator as the worker's result, so no network runs here)."""
from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace

import numpy as np
import pytest

from backend.options import BUDGETS


@pytest.fixture(scope="module")
def addon(installed_addon):
    return import_module(installed_addon)


class Recorder:
    """Stands in for UILayout (background mode draws no UI): records props and operators; a property name
    that does not exist fails."""

    def __init__(self, log):
        self.log, self.enabled, self.scale_y = log, True, 1.0

    def _child(self, *args, **kwargs):
        return Recorder(self.log)
    row = column = box = _child

    def prop(self, data, name, **kwargs):
        getattr(data, name)
        self.log.append(("prop", name))

    def operator(self, idname, **kwargs):
        op = SimpleNamespace()
        self.log.append(("operator", idname, op))
        return op

    def label(self, **kwargs):
        self.log.append(("label", kwargs.get("text", "")))

    def separator(self, **kwargs):
        pass


def test_settings_and_budgets(bpy, addon):
    settings = bpy.context.scene.pifuhd
    assert settings.poly_budget == 'FULL' and settings.use_cleanup and settings.use_color_fill
    assert not settings.use_rig and not settings.use_bake
    budgets = [i.identifier for i in settings.bl_rna.properties["poly_budget"].enum_items]
    assert [b.lower() for b in budgets] == list(BUDGETS)     # the backend's one vocabulary, in capitals
    items = [i.identifier for i in settings.bl_rna.properties["export_target"].enum_items]
    assert items == ["UNITY", "UNREAL", "GODOT"]
    assert [i.identifier for i in settings.bl_rna.properties["export_format"].enum_items] == ["AUTO", "GLB", "FBX"]
    assert [i.identifier for i in settings.bl_rna.properties["rig_naming"].enum_items] == ["HUMANOID", "MIXAMO"]


def test_gameready_subpanel_draws(bpy, addon):
    panel = addon.panel.VIEW3D_PT_pifuhd_gameready
    assert panel.bl_parent_id == "VIEW3D_PT_pifuhd" and hasattr(bpy.types, "VIEW3D_PT_pifuhd_gameready")
    settings = bpy.context.scene.pifuhd
    settings.export_target, settings.export_format = 'GODOT', 'AUTO'
    log = []
    panel.draw(SimpleNamespace(layout=Recorder(log)), bpy.context)
    props = [e[1] for e in log if e[0] == "prop"]
    assert props == ["poly_budget", "use_cleanup", "use_color_fill", "back_filepath", "use_rig", "rig_naming",
                     "rig_weights", "rig_separate_parts", "use_bake", "bake_size", "bake_unwrap", "export_target",
                     "export_format"]
    ops = {e[1]: e[2] for e in log if e[0] == "operator"}
    assert set(ops) == {"pifuhd.rig", "pifuhd.bake", "pifuhd.export"}
    assert ops["pifuhd.export"].target == 'GODOT' and ops["pifuhd.export"].format == 'AUTO'
    assert ops["pifuhd.rig"].naming == settings.rig_naming


@pytest.fixture
def fake_result(bpy, addon, analytic_person, monkeypatch):
    """The session hands the operator the analytic person as if the worker had just reconstructed it;
    records the request keys the operator asked for."""
    session = addon.session.SESSION
    keys = []
    arrays = {k: analytic_person[k] for k in ("vertices", "faces", "colors", "keypoints")}

    def get(key):
        keys.append(key)
        return addon.request.CachedResult(key, arrays, {"device": "cpu", "crop": (1, 2, 3)}, [])

    monkeypatch.setattr(session.results, "get", get)
    return keys


def request_options(addon, key) -> dict:
    """The options a request key stands for (its last part is the options' JSON)."""
    return addon.request.Options.from_json(key[-1]).to_dict()


def test_reconstruct_with_rig_and_bake(bpy, addon, clean_scene, shared_dir, fake_result):
    settings = bpy.context.scene.pifuhd
    settings.bake_size = '512'
    settings.quality, settings.resolution, settings.device = 'CUSTOM', 32, 'CPU'
    settings.poly_budget, settings.use_rig, settings.use_bake, settings.rig_naming = 'GAME', True, True, 'MIXAMO'
    settings.rig_weights = 'NEAREST'                         # the panel's weights reach the rig
    photo = str(shared_dir / "photos" / "ryota_rgba.png")
    checkpoint = str(shared_dir / "reference" / "parity" / "small" / "checkpoint.pt")
    try:
        result = bpy.ops.pifuhd.reconstruct(filepath=photo, checkpoint=checkpoint)
    finally:
        settings.poly_budget, settings.use_rig, settings.use_bake, settings.quality = 'FULL', False, False, '256'
        settings.rig_weights = 'PARTS'
    assert result == {'FINISHED'}
    options = request_options(addon, fake_result[-1])           # what the worker request carried
    assert (options["cleanup"], options["color_fill"], options["budget"]) == (True, True, "game")
    assert options["resolution"] == 32 and options["device"] == "cpu"
    ob = bpy.context.view_layer.objects.active
    assert ob.type == 'MESH' and ob.select_get()
    assert len(ob["pifuhd_keypoints"]) == 75 and "BODY_25" in ob["pifuhd_keypoints_layout"]
    assert ob["pifuhd_settings"]["budget"] == 'game'
    arm = addon.rig.existing_rig(ob)
    assert arm is not None and "mixamorig:Hips" in arm.data.bones
    assert ob[addon.rig.WEIGHTS_TAG].startswith("distance")
    assert ob.active_material["pifuhd_baked_image"] == f"{ob.name} Color"
    assert bpy.data.images[f"{ob.name} Color"].size[0] == 512


def test_options_change_the_request(bpy, addon, clean_scene, shared_dir, fake_result):
    """Another budget or clean-up setting is another job (not the cached result of the last one); colour
    fill is off when colours are."""
    settings = bpy.context.scene.pifuhd
    photo = str(shared_dir / "photos" / "ryota_rgba.png")
    checkpoint = str(shared_dir / "reference" / "parity" / "small" / "checkpoint.pt")
    settings.poly_budget, settings.use_cleanup, settings.use_colors = 'MOBILE', False, False
    try:
        assert bpy.ops.pifuhd.reconstruct(filepath=photo, checkpoint=checkpoint) == {'FINISHED'}
    finally:
        settings.poly_budget, settings.use_cleanup, settings.use_colors = 'FULL', True, True
    options = request_options(addon, fake_result[-1])
    assert (options["cleanup"], options["color_fill"], options["budget"]) == (False, False, "mobile")
    ob = bpy.context.view_layer.objects.active
    assert addon.rig.existing_rig(ob) is None and len(ob.data.color_attributes) == 0
    assert np.asarray(ob["pifuhd_keypoints"]).size == 75
