"""Turning the worker's arrays into a Blender object (main thread only).

All numerics (frame, scale, floor, colour encoding) come from ``placement.py``; this module only
moves arrays into bpy data with ``foreach_set``, adds the colour attribute and material, and records where
the object came from. Either the whole object is built, or nothing is left behind.
"""
from __future__ import annotations

import bpy
import numpy as np

from . import placement

COLOR_ATTRIBUTE = "Col"
PREFIX = "pifuhd_"


def _mesh_from_arrays(name: str, vertices: np.ndarray, faces: np.ndarray) -> bpy.types.Mesh:
    me = bpy.data.meshes.new(name)
    me.vertices.add(len(vertices))
    me.loops.add(faces.size)
    me.polygons.add(len(faces))
    me.attributes["position"].data.foreach_set("vector", np.ascontiguousarray(vertices, np.float32).ravel())
    me.attributes[".corner_vert"].data.foreach_set("value", np.ascontiguousarray(faces, np.int32).ravel())
    me.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    me.update(calc_edges=True)
    me.shade_smooth()
    return me


def _add_colors(me: bpy.types.Mesh, colors_linear_rgba: np.ndarray) -> None:
    attr = me.color_attributes.new(name=COLOR_ATTRIBUTE, type='FLOAT_COLOR', domain='POINT')
    attr.data.foreach_set("color", np.ascontiguousarray(colors_linear_rgba, np.float32).ravel())
    me.color_attributes.active_color = attr
    me.color_attributes.render_color_index = me.color_attributes.find(attr.name)
    if hasattr(me.color_attributes, "default_color_name"):  # 5.0+
        me.color_attributes.default_color_name = attr.name


def _material(name: str, use_colors: bool) -> bpy.types.Material:
    mat = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True  # a new material already has nodes in 5.0 (and the setter is deprecated there)
    mat.diffuse_color = (0.8, 0.8, 0.8, 1.0)
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = next((n for n in nodes if n.type == 'BSDF_PRINCIPLED'), None)
    if bsdf is None:
        bsdf = nodes.new("ShaderNodeBsdfPrincipled")
        out = next((n for n in nodes if n.type == 'OUTPUT_MATERIAL'), None) or nodes.new("ShaderNodeOutputMaterial")
        links.new(bsdf.outputs[0], out.inputs["Surface"])
    bsdf.inputs["Roughness"].default_value = 0.8
    if use_colors:
        vc = nodes.new("ShaderNodeVertexColor")  # the "Color Attribute" node
        vc.layer_name = COLOR_ATTRIBUTE
        vc.location = (bsdf.location[0] - 300, bsdf.location[1])
        links.new(vc.outputs["Color"], bsdf.inputs["Base Color"])
    return mat


SHADING_ATTRIBUTE = 'VERTEX'  # the identifier of solid shading's "Attribute" colour (4.2 to 5.0)


def show_attribute_colors(context) -> None:
    """Solid-mode 3D views show colour attributes (so the person appears coloured at once). Cosmetic: a
    view that refuses is left as it is."""
    wm = context.window_manager
    for window in getattr(wm, "windows", []):
        for area in window.screen.areas:
            if area.type != 'VIEW_3D':
                continue
            for space in area.spaces:
                if space.type == 'VIEW_3D':
                    try:
                        space.shading.color_type = SHADING_ATTRIBUTE
                    except (TypeError, AttributeError):
                        pass


KEYPOINTS = PREFIX + "keypoints"
OWNED = PREFIX + "generated"   # on the meshes and materials we make: removed once nothing uses them
KEYPOINTS_LAYOUT = ("BODY_25 keypoints, 25 rows of (X, Z, confidence) in this object's local frame (metres); "
                    "the photo gives no depth (Y)")


def keypoints_to_local(keypoints_cube: np.ndarray, transform) -> np.ndarray:
    """Cube-frame keypoints [N, 3] (x, y, confidence) -> [N, 3] (X, Z, confidence) in the placed mesh's frame."""
    kp = np.asarray(keypoints_cube, dtype=np.float64).reshape(-1, 3)
    world = transform.apply(np.c_[kp[:, :2], np.zeros(len(kp))])
    return np.c_[world[:, 0], world[:, 2], kp[:, 2]]


def stored_keypoints(ob) -> np.ndarray | None:
    """The object's keypoints [25, 3] (X, Z, confidence) in its local frame, or None."""
    value = ob.get(KEYPOINTS) if ob is not None else None
    if value is None:
        return None
    arr = np.asarray(list(value), dtype=np.float64)
    return arr.reshape(-1, 3) if arr.size and arr.size % 3 == 0 else None


def build_person(context, cube_vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None, *,
                 name: str, target_height: float, provenance: dict,
                 keypoints: np.ndarray | None = None) -> bpy.types.Object:
    """Create the placed, coloured object from the engine's cube-frame arrays, link it into the active
    collection, make it the only selected and the active object. ``keypoints``: BODY_25 [25, 3] (cube x, y,
    confidence) from photo preparation, stored on the object for the rig. Raises ``placement.PlacementError``
    or ``ValueError`` with a user-facing message; on any failure nothing is left in ``bpy.data``."""
    faces = np.asarray(faces, np.int32).reshape(-1, 3)
    if len(faces) == 0:
        raise placement.PlacementError("The reconstruction is empty: no surface was found in this photo.")
    if faces.min() < 0 or faces.max() >= len(cube_vertices):
        raise ValueError("The reconstruction is damaged (a face refers to a missing vertex).")
    cursor = context.scene.cursor.location
    world, transform = placement.place_in_scene(cube_vertices, target_height, center=(cursor.x, cursor.y))
    made: list = []
    try:
        me = _mesh_from_arrays(name, world, faces)
        made.append(me)
        me[OWNED] = True
        if colors is not None:
            _add_colors(me, placement.rgba(placement.srgb_to_linear(colors)))
        mat = _material(name, colors is not None)
        made.append(mat)
        mat[OWNED] = True
        me.materials.append(mat)
        ob = bpy.data.objects.new(name, me)
        made.append(ob)
        for key, value in provenance.items():
            ob[PREFIX + key] = value
        ob[PREFIX + "scale"] = transform.scale
        if keypoints is not None and np.size(keypoints):
            ob[KEYPOINTS] = [float(v) for v in keypoints_to_local(keypoints, transform).ravel()]
            ob[KEYPOINTS + "_layout"] = KEYPOINTS_LAYOUT
        collection = context.collection or context.scene.collection
        collection.objects.link(ob)
        for other in context.selected_objects:
            other.select_set(False)
        ob.select_set(True)
        context.view_layer.objects.active = ob
        if colors is not None:
            show_attribute_colors(context)
    except Exception:
        for block in reversed(made):
            remove_block(block)
        raise
    return ob


REMOVERS = ((bpy.types.Object, "objects"), (bpy.types.Mesh, "meshes"), (bpy.types.Material, "materials"),
            (bpy.types.Armature, "armatures"), (bpy.types.Image, "images"))


def remove_block(block) -> None:
    """Remove an object, mesh, material, armature or image from ``bpy.data`` (gone already: nothing)."""
    try:
        for kind, collection in REMOVERS:
            if isinstance(block, kind):
                getattr(bpy.data, collection).remove(block)
                return
    except ReferenceError:
        pass


def remove_orphans() -> int:
    """Remove the meshes and materials this add-on made that nothing uses any more (their person was
    deleted), so none outlives its object until the file is saved and reopened. Returns how many."""
    removed = 0
    for collection in (bpy.data.meshes, bpy.data.materials):    # meshes first: they hold the materials
        for block in [b for b in collection if b.users == 0 and b.get(OWNED)]:
            collection.remove(block)
            removed += 1
    return removed


_seen = {"objects": None}


@bpy.app.handlers.persistent
def _on_depsgraph_update(_scene, _depsgraph=None) -> None:
    """After an object was deleted (fewer objects than last time), remove our orphaned data."""
    count = len(bpy.data.objects)
    previous, _seen["objects"] = _seen["objects"], count
    if previous is not None and count < previous:
        remove_orphans()


def register() -> None:
    if _on_depsgraph_update not in bpy.app.handlers.depsgraph_update_post:
        bpy.app.handlers.depsgraph_update_post.append(_on_depsgraph_update)


def unregister() -> None:
    if _on_depsgraph_update in bpy.app.handlers.depsgraph_update_post:
        bpy.app.handlers.depsgraph_update_post.remove(_on_depsgraph_update)
