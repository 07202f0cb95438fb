"""Colour texture for engines that ignore vertex colours (``bpy.ops.pifuhd.bake``, and the panel's "Bake"
option after a reconstruction): UV-unwrap the person (a texture atlas from ``xatlas`` when it is installed:
tens of islands where Smart UV Project, the fallback, cuts hundreds), bake the colour attribute into an
image with Cycles on the CPU, save the image next to the .blend file (or pack it into the .blend when the
file is not saved yet), and switch the material's Base Color to the image.

The bake reads the colour attribute through a temporary emission material (Color Attribute -> Emission), so
it is an exact copy of the vertex colours, with no lighting, whatever the object's own material is; the
object's material slots are restored afterwards. Works headless (no GPU, no display).
"""
from __future__ import annotations

import math
import os

import bpy
import numpy as np
from bpy.props import EnumProperty, IntProperty

from . import scene_object, uv_atlas
from .person import PersonOperator

UV_NAME = "UVMap"
BAKED_TAG = "pifuhd_baked_image"   # on the material: the baked image's name
SIZE_ITEMS = [("512", "512", "512 x 512 pixels (previews, far-away characters)"),
              ("1024", "1024", "1024 x 1024 pixels (mobile)"), ("2048", "2048", "2048 x 2048 pixels"),
              ("4096", "4096", "4096 x 4096 pixels (slow to bake on a CPU)")]
SAVE_ITEMS = [
    ("AUTO", "Auto", "Save a PNG next to the .blend file (textures/ folder) when it has been saved, else pack "
                     "the image into the .blend"),
    ("PACK", "Pack", "Pack the image into the .blend file"),
]


MAX_ATLAS_FACES = 120_000   # xatlas took 8 s at 24k faces, 2 min at 96k: Auto uses Smart UV Project beyond this


class BakeError(Exception):
    """The texture could not be baked; the message says why."""


def color_attribute_name(me: bpy.types.Mesh) -> str | None:
    """The colour attribute that renders (the one the material's Color Attribute node shows by default)."""
    attrs = me.color_attributes
    if len(attrs) == 0:
        return None
    index = attrs.render_color_index
    if 0 <= index < len(attrs):
        return attrs[index].name
    return attrs.active_color.name if attrs.active_color is not None else attrs[0].name


UNWRAP_ITEMS = [
    ("AUTO", "Auto", "A texture atlas (xatlas) when it is installed, else Smart UV Project"),
    ("ATLAS", "Atlas", "xatlas charts and packing (tens of islands on a reconstruction)"),
    ("SMART", "Smart UV Project", "Blender's Smart UV Project (hundreds of small islands on a reconstruction)"),
]


class _EditMode:
    """Edit mode on ``ob`` with every face selected and shown, object mode again afterwards."""

    def __init__(self, context, ob):
        self.context, self.ob = context, ob

    def __enter__(self):
        ob = self.ob
        self.override = self.context.temp_override(active_object=ob, object=ob, selected_objects=[ob],
                                                   selected_editable_objects=[ob], edit_object=ob)
        self.override.__enter__()
        self.context.view_layer.objects.active = ob
        bpy.ops.object.mode_set(mode='EDIT')
        bpy.ops.mesh.reveal()
        bpy.ops.mesh.select_all(action='SELECT')
        return self

    def __exit__(self, *exc):
        try:
            bpy.ops.object.mode_set(mode='OBJECT')
        finally:
            self.override.__exit__(*exc)
        return False


def _triangles(me: bpy.types.Mesh) -> tuple[np.ndarray, np.ndarray] | None:
    """(vertices [V, 3], faces [F, 3]) when every polygon is a triangle, in loop order; else None."""
    totals = np.empty(len(me.polygons), np.int32)
    me.polygons.foreach_get("loop_total", totals)
    if len(totals) == 0 or (totals != 3).any():
        return None
    starts = np.empty(len(me.polygons), np.int32)
    me.polygons.foreach_get("loop_start", starts)
    if not np.array_equal(starts, np.arange(len(totals)) * 3):
        return None
    corners = np.empty(len(me.loops), np.int32)
    me.loops.foreach_get("vertex_index", corners)
    co = np.empty(len(me.vertices) * 3, np.float32)
    me.vertices.foreach_get("co", co)
    return co.reshape(-1, 3), corners.reshape(-1, 3)


def resolve_unwrap(me: bpy.types.Mesh, method: str) -> str:
    """'ATLAS' or 'SMART' for ``method`` ('AUTO' picks the atlas when xatlas is installed and the mesh is
    all triangles, as reconstructions are)."""
    if method == 'SMART':
        return 'SMART'
    if not uv_atlas.available():
        why = "xatlas is not installed"
    elif _triangles(me) is None:
        why = "the mesh has faces other than triangles"
    elif method == 'AUTO' and len(me.polygons) > MAX_ATLAS_FACES:
        why = f"over {MAX_ATLAS_FACES:,} faces: it would take minutes"
    else:
        return 'ATLAS'
    print(f"PIFuHD bake: atlas unwrap not used ({why}); using Smart UV Project")
    return 'SMART'


def ensure_uvs(context, ob: bpy.types.Object, margin: float, unwrap: bool = True, method: str = 'AUTO',
               size: int = 2048) -> str:
    """A UV map for ``ob`` (a new unwrap unless ``unwrap`` is False and one exists); returns its name.

    ``method``: 'ATLAS' (xatlas charts), 'SMART' (Smart UV Project) or 'AUTO' (see :func:`resolve_unwrap`);
    islands are ``margin`` (a share of the texture's side) apart. ``size``: the texture's side in pixels.
    (Re-packing Smart UV Project's islands by their convex hulls fills more of the texture, 53 % against 37 %
    on the example, but takes 5-25 s more; the atlas does better still, so the fallback stays as it was.)"""
    me = ob.data
    if len(me.uv_layers) and not unwrap:
        return me.uv_layers.active.name
    uv = me.uv_layers.get(UV_NAME) or me.uv_layers.new(name=UV_NAME)
    me.uv_layers.active = uv
    uv.active_render = True
    # Entering edit mode rebuilds the mesh's layers: `uv` dangles after it (reading it gave garbage bytes
    # on Blender 4.2), so only its name is used from here on.
    name = uv.name
    method = resolve_unwrap(me, method)
    if method == 'ATLAS':
        verts, faces = _triangles(me)
        corners = uv_atlas.atlas_uvs(verts, faces, size, padding=max(1, int(round(margin * size))))
        me.uv_layers[name].data.foreach_set("uv", corners.astype(np.float32).ravel())
    else:
        with _EditMode(context, ob):
            bpy.ops.uv.smart_project(angle_limit=math.radians(66.0), island_margin=margin)
    return name


def _emission_material(attribute: str, image: bpy.types.Image) -> bpy.types.Material:
    mat = bpy.data.materials.new("PIFuHD bake (temporary)")
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    for node in list(nodes):
        nodes.remove(node)
    out = nodes.new("ShaderNodeOutputMaterial")
    emit = nodes.new("ShaderNodeEmission")
    emit.inputs["Strength"].default_value = 1.0
    col = nodes.new("ShaderNodeVertexColor")
    col.layer_name = attribute
    links.new(col.outputs["Color"], emit.inputs["Color"])
    links.new(emit.outputs["Emission"], out.inputs["Surface"])
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = image
    nodes.active = tex      # the bake writes into the active image node
    tex.select = True
    return mat


def _cycles_bake(context, ob: bpy.types.Object, margin: int, samples: int) -> None:
    scene = context.scene
    render, cycles, bake = scene.render, scene.cycles, scene.render.bake
    saved = {"engine": render.engine, "device": cycles.device, "samples": cycles.samples,
             "denoise": getattr(cycles, "use_denoising", False), "margin": bake.margin,
             "clear": bake.use_clear, "selected": bake.use_selected_to_active, "target": bake.target}
    try:
        render.engine = 'CYCLES'
        cycles.device = 'CPU'
        cycles.samples = samples
        if hasattr(cycles, "use_denoising"):
            cycles.use_denoising = False
        with context.temp_override(active_object=ob, object=ob, selected_objects=[ob],
                                   selected_editable_objects=[ob]):
            result = bpy.ops.object.bake(type='EMIT', margin=margin, use_clear=True, use_selected_to_active=False,
                                         target='IMAGE_TEXTURES')
        if result != {'FINISHED'}:
            raise BakeError(f"Cycles could not bake the colors ({result}).")
    finally:
        render.engine = saved["engine"]
        cycles.device, cycles.samples = saved["device"], saved["samples"]
        if hasattr(cycles, "use_denoising"):
            cycles.use_denoising = saved["denoise"]
        bake.margin, bake.use_clear = saved["margin"], saved["clear"]
        bake.use_selected_to_active, bake.target = saved["selected"], saved["target"]


def _store(image: bpy.types.Image, ob: bpy.types.Object, save: str) -> str:
    """Save the image as a PNG next to the .blend (``//textures/<object>_color.png``) or pack it."""
    if save == 'AUTO' and bpy.data.filepath:
        folder = os.path.join(os.path.dirname(bpy.data.filepath), "textures")
        os.makedirs(folder, exist_ok=True)
        name = bpy.path.clean_name(ob.name) + "_color.png"
        path = os.path.join(folder, name)
        image.filepath_raw = path
        image.file_format = 'PNG'
        image.save()
        image.filepath = bpy.path.relpath(path)
        return path
    image.pack()
    return ""


def _use_texture(ob: bpy.types.Object, image: bpy.types.Image, uv_name: str) -> bpy.types.Material:
    """Point the object's material's Base Color at ``image`` (the Color Attribute node stays, unlinked)."""
    mat = ob.active_material
    if mat is None:
        mat = scene_object._material(ob.name, False)
        ob.data.materials.append(mat)
    if bpy.app.version < (5, 0, 0) and not mat.use_nodes:
        mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = next((n for n in nodes if n.type == 'BSDF_PRINCIPLED'), None)
    if bsdf is None:
        raise BakeError(f"The material '{mat.name}' has no Principled BSDF to take the texture.")
    tex = next((n for n in nodes if n.type == 'TEX_IMAGE' and n.get(BAKED_TAG)), None)
    if tex is None:
        tex = nodes.new("ShaderNodeTexImage")
        tex[BAKED_TAG] = True
        tex.location = (bsdf.location[0] - 320, bsdf.location[1] + 260)
    tex.image = image
    tex.interpolation = 'Linear'
    uv = next((n for n in nodes if n.type == 'UVMAP' and n.get(BAKED_TAG)), None)
    if uv is None:
        uv = nodes.new("ShaderNodeUVMap")
        uv[BAKED_TAG] = True
        uv.location = (tex.location[0] - 220, tex.location[1])
    uv.uv_map = uv_name
    links.new(uv.outputs["UV"], tex.inputs["Vector"])
    for link in list(bsdf.inputs["Base Color"].links):
        links.remove(link)
    links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    mat[BAKED_TAG] = image.name
    return mat


def bake_colors(context, ob: bpy.types.Object, *, size: int = 2048, margin: int = 8, samples: int = 1,
                save: str = 'AUTO', unwrap: bool = True, method: str = 'AUTO') -> tuple[bpy.types.Image, str]:
    """Bake ``ob``'s colour attribute into a ``size`` x ``size`` image and use it on the material.
    Returns (image, saved path or '' when packed). Raises :class:`BakeError`."""
    if ob is None or ob.type != 'MESH':
        raise BakeError("Select the reconstructed person (a mesh object) first.")
    attribute = color_attribute_name(ob.data)
    if attribute is None:
        raise BakeError(f"'{ob.name}' has no color attribute to bake (reconstruct with Colors on).")
    if context.mode != 'OBJECT':
        bpy.ops.object.mode_set(mode='OBJECT')
    # islands ``margin`` pixels apart: the bake spreads each island's colours ``margin`` pixels outwards, so
    # neighbours meet halfway, each side seeing its own colour at half the distance (mip levels 1-2)
    uv_name = ensure_uvs(context, ob, margin=max(margin, 2) / size, unwrap=unwrap, method=method, size=size)
    name = f"{ob.name} Color"
    image = bpy.data.images.get(name)
    if image is not None and (image.size[0] != size or image.size[1] != size or image.packed_file is not None
                              or image.source != 'GENERATED'):
        bpy.data.images.remove(image)
        image = None
    if image is None:
        image = bpy.data.images.new(name, size, size, alpha=False)
    tmp = _emission_material(attribute, image)
    slots = [slot.material for slot in ob.material_slots]
    links = [slot.link for slot in ob.material_slots]
    added_slot = False
    try:
        if not ob.material_slots:
            ob.data.materials.append(tmp)
            added_slot = True
        for slot in ob.material_slots:
            slot.material = tmp
        _cycles_bake(context, ob, margin, samples)
    finally:
        if added_slot:
            ob.data.materials.pop()
        else:
            for slot, mat, link in zip(ob.material_slots, slots, links):
                slot.material = mat
                slot.link = link
        bpy.data.materials.remove(tmp)
    path = _store(image, ob, save)
    _use_texture(ob, image, uv_name)
    return image, path


class PIFUHD_OT_bake(PersonOperator, bpy.types.Operator):
    """Bake the selected person's vertex colours into an image texture on its material (for game engines)"""

    bl_idname = "pifuhd.bake"
    bl_label = "Bake Color Texture"
    bl_options = {'REGISTER', 'UNDO'}
    PANEL_DEFAULTS = {"size": "bake_size", "unwrap": "bake_unwrap"}

    size: EnumProperty(name="Size", items=SIZE_ITEMS, default="2048", description="Texture size in pixels")
    margin: IntProperty(name="Margin", default=8, min=0, max=64, subtype='PIXEL',
                        description="Pixels the colors spread past the UV islands' edges (hides seams), and "
                                    "the gap between islands")
    unwrap: EnumProperty(name="Unwrap", items=UNWRAP_ITEMS, default="AUTO",
                         description="How the UV islands are made")
    save: EnumProperty(name="Store", items=SAVE_ITEMS, default="AUTO")

    def execute(self, context):
        ob = context.active_object
        try:
            image, path = bake_colors(context, ob, size=int(self.size), margin=self.margin, save=self.save,
                                      method=self.unwrap)
        except (BakeError, RuntimeError) as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        where = f"saved to {path}" if path else "packed into the .blend file"
        self.report({'INFO'}, f"Baked '{image.name}' ({image.size[0]} px), {where}; the material now uses it.")
        return {'FINISHED'}


CLASSES = (PIFUHD_OT_bake,)
register, unregister = bpy.utils.register_classes_factory(CLASSES)
