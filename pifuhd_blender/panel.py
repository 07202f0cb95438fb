"""The sidebar panel: View3D > Sidebar (N) > PIFuHD."""
from __future__ import annotations

import bpy

from . import estimate, preferences
from .session import SESSION

STATUS_ICONS = {"INFO": 'INFO', "WARNING": 'ERROR', "ERROR": 'CANCEL'}
RECONSTRUCT_ICON = 'USER'   # a person: Reconstruct makes a mesh of one (the rig has its own armature button)


def _estimate_text(settings) -> str:
    resolution = settings.resolution_value()
    device = {"CPU": "cpu", "GPU": "gpu"}.get(settings.device)
    if device is None:  # Auto: a GPU if the worker has seen one
        devices = SESSION.client.devices if SESSION.client is not None else None
        device = "gpu" if devices and (devices.get("cuda") or devices.get("mps")) else "cpu"
    measured = SESSION.measured.get((resolution, device))
    if measured is not None:
        return f"Last run: {estimate.format_seconds(measured[0]).lstrip('~')} on {device.upper()}"
    return estimate.describe(resolution, device)


class _SidebarPanel:
    """Where the add-on's panels live: View3D > Sidebar > PIFuHD. Laid out like Blender's own panels:
    labels in a column on the left, values on the right (``use_property_split``), no animation decorators."""

    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "PIFuHD"


def _split(layout):
    """Blender's panel convention: labels left, values right, no animation decorators."""
    layout.use_property_split = True
    layout.use_property_decorate = False
    return layout


class VIEW3D_PT_pifuhd(_SidebarPanel, bpy.types.Panel):
    bl_label = "PIFuHD"

    def draw(self, context):
        layout = _split(self.layout)
        settings = context.scene.pifuhd
        busy = SESSION.busy()

        col = layout.column()
        col.enabled = not busy
        col.row().prop(settings, "source", expand=True)
        if settings.source == 'IMAGE':
            col.template_ID(settings, "image", open="image.open")
        else:
            col.prop(settings, "filepath", text="Photo")
        col.separator()
        col.prop(settings, "quality")
        if settings.quality == 'CUSTOM':
            col.prop(settings, "resolution")
        col.label(text=_estimate_text(settings), icon='TIME')
        col.prop(settings, "device")
        col.prop(settings, "remove_background")
        col.prop(settings, "target_height")
        col.prop(settings, "use_colors")

        box = layout.box()
        row = box.row()
        row.enabled = not busy
        row.operator("pifuhd.preview", icon='IMAGE_DATA')
        image = bpy.data.images.get(SESSION.preview_image) if SESSION.preview_image else None
        if image is not None:
            preview = image.preview_ensure()
            box.template_icon(icon_value=preview.icon_id, scale=9.0)

        _path, problem = preferences.resolve_checkpoint(context)
        if problem and not busy:
            layout.label(text="No model yet: see Preferences > Add-ons > PIFuHD", icon='ERROR')

        if busy:
            job = SESSION.job
            layout.progress(factor=job.fraction, type='BAR', text=SESSION.status.text)
            layout.operator("pifuhd.cancel", icon='CANCEL')
        else:
            row = layout.row()
            row.scale_y = 1.5
            row.operator("pifuhd.reconstruct", icon=RECONSTRUCT_ICON)
        status = SESSION.status
        layout.label(text=status.text, icon=STATUS_ICONS.get(status.level, 'INFO'))


def _toggle_with_options(layout, settings, toggle: str, *options: str) -> None:
    """A checkbox, then its own settings below it, greyed out while it is off (as Blender's panels do)."""
    layout.prop(settings, toggle)
    sub = layout.column()
    sub.active = getattr(settings, toggle)
    for name in options:
        sub.prop(settings, name)


class VIEW3D_PT_pifuhd_gameready(_SidebarPanel, bpy.types.Panel):
    """Game-ready options: applied by Reconstruct (polygon budget, clean-up, color fill, rig, bake), and the
    rig / bake / export buttons for the selected person."""

    bl_label = "Game-ready"
    bl_parent_id = "VIEW3D_PT_pifuhd"

    def draw(self, context):
        layout = _split(self.layout)
        settings = context.scene.pifuhd
        busy = SESSION.busy()

        col = layout.column()
        col.enabled = not busy
        col.label(text="When reconstructing:")
        col.prop(settings, "poly_budget")
        col.prop(settings, "use_cleanup")
        _toggle_with_options(col, settings, "use_color_fill", "back_filepath")
        _toggle_with_options(col, settings, "use_rig", "rig_naming", "rig_weights", "rig_separate_parts")
        _toggle_with_options(col, settings, "use_bake", "bake_size", "bake_unwrap")

        box = layout.box()
        box.enabled = not busy
        box.label(text="Selected person:")
        row = box.row()
        op = row.operator("pifuhd.rig", icon='ARMATURE_DATA')
        op.naming = settings.rig_naming
        op = row.operator("pifuhd.bake", icon='TEXTURE')
        op.size = settings.bake_size
        box.prop(settings, "export_target")
        box.prop(settings, "export_format")
        op = box.operator("pifuhd.export", icon='EXPORT')
        op.target = settings.export_target
        op.format = settings.export_format


CLASSES = (VIEW3D_PT_pifuhd, VIEW3D_PT_pifuhd_gameready)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
