"""The sidebar panels follow Blender's own conventions: property split layout, and icons that say what a button
makes (Reconstruct makes a person's mesh, not an armature)."""
from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace

import pytest


@pytest.fixture(scope="module")
def addon(installed_addon):
    return import_module(installed_addon)


class Layout:
    """Stands in for UILayout (background mode draws no UI): keeps the attributes set on it (use_property_split,
    enabled, active...) and records operators with their icons; every child is another Layout."""

    def __init__(self, log):
        self.log = log
        self.use_property_split = False
        self.use_property_decorate = True

    def _child(self, *args, **kwargs):
        return Layout(self.log)
    row = column = box = _child

    def operator(self, idname, icon='NONE', **kwargs):
        self.log.append((idname, icon))
        return SimpleNamespace()

    def prop(self, data, name, **kwargs):
        getattr(data, name)

    def __getattr__(self, name):            # label, separator, template_ID, progress, ...: accepted, ignored
        return lambda *args, **kwargs: None


@pytest.mark.parametrize("panel", ["VIEW3D_PT_pifuhd", "VIEW3D_PT_pifuhd_gameready"])
def test_panels_use_property_split_without_decorators(bpy, addon, panel):
    layout = Layout([])
    getattr(addon.panel, panel).draw(SimpleNamespace(layout=layout), bpy.context)
    assert layout.use_property_split and not layout.use_property_decorate


def test_reconstruct_has_a_person_icon(bpy, addon):
    log = []
    addon.panel.VIEW3D_PT_pifuhd.draw(SimpleNamespace(layout=Layout(log)), bpy.context)
    icon = dict(log)["pifuhd.reconstruct"]
    icons = bpy.types.UILayout.bl_rna.functions["operator"].parameters["icon"].enum_items.keys()
    assert icon in icons                                     # a real Blender icon
    assert "ARMATURE" not in icon and icon in ("USER", "OUTLINER_OB_MESH", "MESH_DATA")
