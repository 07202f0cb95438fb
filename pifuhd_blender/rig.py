"""Auto-rig: a humanoid armature for a reconstructed person, skinned (``bpy.ops.pifuhd.rig``, and the
panel's "Rig" option after a reconstruction).

The joints come from :mod:`.skeleton` (photo keypoints lifted into the mesh, with fallbacks); this module
builds the armature (edit bones) and skins the mesh. Default: body-part weights (:mod:`.part_weights`), after
cutting the mesh where parts that are not joined in the skeleton touch (:mod:`.part_split`: a hand on a hip,
an arm against the torso), measured against exact re-posed truth in ``benchmarks/bench_rig.py``. Options:
Blender's automatic weights (bone heat; what it leaves unweighted gets distance-to-bone weights), or
distance weights only. Every vertex ends with at most ``max_influences`` bones, weights summing to 1 (what
game engines expect).

Re-rigging an object replaces the rig this add-on made for it before.
"""
from __future__ import annotations

import bpy
import numpy as np
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty
from mathutils import Matrix, Vector

from . import part_split, part_weights, scene_object, skeleton
from .person import PersonOperator

RIG_TAG = "pifuhd_rig"            # on the armature object: the naming convention used
WEIGHTS_TAG = "pifuhd_rig_weights"  # on the mesh: how its weights were made
NAMING_ITEMS = [
    ("HUMANOID", "Humanoid", "Unity Humanoid / Godot names: Hips, Spine, Chest, UpperChest, Neck, Head, "
                             "LeftUpperArm, LeftLowerArm, LeftHand, LeftUpperLeg, ..."),
    ("MIXAMO", "Mixamo", "Mixamo names: mixamorig:Hips, mixamorig:Spine, mixamorig:LeftArm, ... (for Mixamo "
                         "animations and tools that expect them)"),
]
WEIGHT_ITEMS = [
    ("AUTO", "Bone Heat", "Blender's automatic weights (bone heat); vertices it cannot weight get distance "
                          "weights. Spreads along the surface: a hand resting on a hip drags the hip along"),
    ("NEAREST", "Distance", "Weights by distance to the bones only (fast; for meshes where automatic weights "
                            "fail or take too long)"),
    ("PARTS", "Body Parts", "Each vertex belongs to a limb segment only inside that limb's measured thickness, "
                            "else to the torso: hands on hips, arms against the torso and skirts do not drag "
                            "the wrong part along"),
]
MAX_AUTO_VERTICES = 250_000   # bone heat gets slow beyond this (about 15 s at 200k vertices): use distance weights
FALLOFF = 0.03                # distance weights blend between bones within ~3% of the height


class RigError(Exception):
    """The rig could not be made; the message says why."""


def _mesh_arrays(me: bpy.types.Mesh) -> tuple[np.ndarray, np.ndarray]:
    verts = np.empty(len(me.vertices) * 3, np.float32)
    me.vertices.foreach_get("co", verts)
    me.calc_loop_triangles()
    tris = np.empty(len(me.loop_triangles) * 3, np.int32)
    me.loop_triangles.foreach_get("vertices", tris)
    return verts.reshape(-1, 3), tris.reshape(-1, 3)


def existing_rig(ob: bpy.types.Object) -> bpy.types.Object | None:
    """The armature this add-on made for ``ob`` (its parent, or its Armature modifier's object)."""
    candidates = [ob.parent] + [m.object for m in ob.modifiers if m.type == 'ARMATURE']
    for arm in candidates:
        if arm is not None and arm.type == 'ARMATURE' and RIG_TAG in arm:
            return arm
    return None


def remove_rig(ob: bpy.types.Object) -> None:
    """Undo a previous rig of ``ob``: its Armature modifier, the bones' vertex groups, the parenting and the
    armature itself (when nothing else uses it)."""
    arm = existing_rig(ob)
    if arm is None:
        return
    bone_names = {b.name for b in arm.data.bones}
    for mod in [m for m in ob.modifiers if m.type == 'ARMATURE' and m.object == arm]:
        ob.modifiers.remove(mod)
    for vg in [g for g in ob.vertex_groups if g.name in bone_names]:
        ob.vertex_groups.remove(vg)
    if ob.parent == arm:
        world = ob.matrix_world.copy()
        ob.parent = None
        ob.matrix_world = world
    if not [o for o in arm.children if o != ob]:
        data = arm.data
        bpy.data.objects.remove(arm)
        if data.users == 0:
            bpy.data.armatures.remove(data)


def _roll_axis(head: np.ndarray, tail: np.ndarray) -> Vector:
    """Bones' Z axes point forward (-Y), or up for bones that lie along Y (feet, toes)."""
    d = tail - head
    d = d / max(np.linalg.norm(d), 1e-12)
    return Vector((0.0, 0.0, 1.0)) if abs(d[1]) > 0.7 else Vector((0.0, -1.0, 0.0))


def _object_mode(context) -> None:
    if context.mode != 'OBJECT':
        bpy.ops.object.mode_set(mode='OBJECT')


def build_armature(context, ob: bpy.types.Object, skel: skeleton.Skeleton, naming: str,
                   floor: float) -> bpy.types.Object:
    """An armature object for ``skel`` (joints in ``ob``'s local frame) with its origin on the floor (local
    Z ``floor``) between the feet (under the middle of the ankles), linked beside ``ob``. Its bones get the
    chosen naming convention. The exports put this origin at the file's origin (see ``export``)."""
    bones = skel.bones(naming)
    feet = 0.5 * (skel.joints["ankle_l"] + skel.joints["ankle_r"])
    root = np.array([feet[0], feet[1], floor])
    name = f"{ob.name} Rig"
    arm_data = bpy.data.armatures.new(name)
    arm_data.display_type = 'OCTAHEDRAL'
    arm = bpy.data.objects.new(name, arm_data)
    arm.show_in_front = True
    arm[RIG_TAG] = naming
    collection = ob.users_collection[0] if ob.users_collection else context.scene.collection
    collection.objects.link(arm)
    arm.matrix_world = ob.matrix_world @ Matrix.Translation(Vector(root.tolist()))
    context.view_layer.update()
    with context.temp_override(active_object=arm, object=arm, selected_objects=[arm],
                               selected_editable_objects=[arm]):
        context.view_layer.objects.active = arm
        bpy.ops.object.mode_set(mode='EDIT')
        try:
            edit = arm_data.edit_bones
            for bone_name, parent, head, tail, connected in bones:
                eb = edit.new(bone_name)
                eb.head = Vector((head - root).tolist())
                eb.tail = Vector((tail - root).tolist())
                eb.align_roll(_roll_axis(head, tail))
                if parent is not None:
                    eb.parent = edit[parent]
                    eb.use_connect = bool(connected) and (eb.parent.tail - eb.head).length < 1e-6
        finally:
            bpy.ops.object.mode_set(mode='OBJECT')
    for bone in arm_data.bones:
        bone.use_deform = True
    return arm


def _auto_weights(context, ob: bpy.types.Object, arm: bpy.types.Object) -> bool:
    """Parent ``ob`` to ``arm`` with automatic weights. False when Blender raised an error (the parenting is
    then redone without weights by the caller)."""
    for other in context.view_layer.objects:
        if other.select_get():
            other.select_set(False)
    ob.select_set(True)
    arm.select_set(True)
    context.view_layer.objects.active = arm
    try:
        with context.temp_override(active_object=arm, object=arm, selected_objects=[ob, arm],
                                   selected_editable_objects=[ob, arm]):
            result = bpy.ops.object.parent_set(type='ARMATURE_AUTO')
    except RuntimeError as err:
        print(f"PIFuHD rig: automatic weights failed: {err}")
        return False
    return result == {'FINISHED'}


def _parent_without_weights(context, ob: bpy.types.Object, arm: bpy.types.Object) -> None:
    world = ob.matrix_world.copy()
    ob.parent = arm
    ob.matrix_parent_inverse = arm.matrix_world.inverted()
    ob.matrix_world = world
    if not any(m.type == 'ARMATURE' and m.object == arm for m in ob.modifiers):
        mod = ob.modifiers.new("Armature", 'ARMATURE')
        mod.object = arm


def read_weights(ob: bpy.types.Object, names: list[str]) -> np.ndarray:
    """Dense weights [V, B] of the vertex groups ``names`` (missing groups read as zero)."""
    index = {ob.vertex_groups[n].index: b for b, n in enumerate(names) if n in ob.vertex_groups}
    w = np.zeros((len(ob.data.vertices), len(names)), np.float32)
    for v in ob.data.vertices:
        for g in v.groups:
            b = index.get(g.group)
            if b is not None:
                w[v.index, b] = g.weight
    return w


def write_weights(ob: bpy.types.Object, names: list[str], weights: np.ndarray) -> None:
    """Replace the vertex groups ``names`` with ``weights`` [V, B] (zeros are not stored)."""
    for b, name in enumerate(names):
        vg = ob.vertex_groups.get(name)
        if vg is not None:
            ob.vertex_groups.remove(vg)
        vg = ob.vertex_groups.new(name=name)
        column = weights[:, b]
        for i in np.flatnonzero(column > 0):
            vg.add([int(i)], float(column[i]), 'REPLACE')


def _replace_geometry(me: bpy.types.Mesh, verts: np.ndarray, faces: np.ndarray, source: np.ndarray,
                      rims: part_split.Rims) -> None:
    """Give the triangle mesh ``me`` new vertices [V, 3] and triangles [F, 3]; point-domain attributes (the
    vertex colours) are carried over from each new vertex's ``source`` vertex, or for a vertex in ``rims``
    (one that closes a hole: old vertex indices and their shares) blended from the old vertices around it,
    smooth shading kept."""
    saved = []
    for attr in me.attributes:
        if attr.domain == 'POINT' and not attr.name.startswith(".") and attr.name != "position":
            width = {'FLOAT_COLOR': 4, 'BYTE_COLOR': 4, 'FLOAT_VECTOR': 3, 'FLOAT2': 2}.get(attr.data_type, 1)
            key = "color" if attr.data_type in ('FLOAT_COLOR', 'BYTE_COLOR') else (
                "vector" if width > 1 else "value")
            data = np.empty(len(attr.data) * width, np.float32 if attr.data_type not in ('INT', 'BOOLEAN',
                                                                                            'INT8') else np.int32)
            try:
                attr.data.foreach_get(key, data)
            except (TypeError, AttributeError):
                continue
            saved.append((attr.name, attr.data_type, key, width, data.reshape(-1, width)))
    colours = me.color_attributes
    active = colours.active_color.name if colours.active_color is not None else None
    render = colours[colours.render_color_index].name if 0 <= colours.render_color_index < len(colours) else None
    smooth = bool(me.polygons[0].use_smooth) if len(me.polygons) else False
    me.clear_geometry()
    me.vertices.add(len(verts))
    me.vertices.foreach_set("co", np.asarray(verts, np.float32).ravel())
    me.loops.add(len(faces) * 3)
    me.loops.foreach_set("vertex_index", np.asarray(faces, np.int32).ravel())
    me.polygons.add(len(faces))
    me.polygons.foreach_set("loop_start", np.arange(len(faces), dtype=np.int32) * 3)
    me.polygons.foreach_set("use_smooth", np.full(len(faces), smooth))
    for name, data_type, key, width, data in saved:
        attr = me.attributes.get(name) or me.attributes.new(name, data_type, 'POINT')
        carried = data[source]
        if data.dtype.kind == 'f':
            for i, (around, shares) in rims.items():
                carried[i] = shares @ data[around]
        attr.data.foreach_set(key, carried.ravel())
    for i, attr in enumerate(colours):
        if attr.name == active:
            colours.active_color_index = i
        if attr.name == render:
            colours.render_color_index = i
    me.update()
    me.validate()


def _can_separate(me: bpy.types.Mesh) -> bool:
    """Whether the mesh may be cut (see ``part_weights.separate``): triangles only, no UV maps or shape keys
    (their data could not follow the new vertices)."""
    return len(me.loops) == 3 * len(me.polygons) and not len(me.uv_layers) and me.shape_keys is None


def rig_object(context, ob: bpy.types.Object, *, naming: str = "HUMANOID", use_keypoints: bool = True,
               weights: str = "PARTS", max_influences: int = 4, min_confidence: float = 0.3,
               separate_parts: bool = True) -> tuple[bpy.types.Object, dict]:
    """Rig the mesh object ``ob``: returns (armature object, info). Raises :class:`RigError`.

    ``separate_parts`` (with the 'PARTS' weights): cut the mesh where parts that are not joined in the
    skeleton touch (a hand on a hip) and close each side, so each moves on its own (changes the mesh)."""
    if ob is None or ob.type != 'MESH':
        raise RigError("Select the reconstructed person (a mesh object) first.")
    if len(ob.data.vertices) < 8 or len(ob.data.polygons) < 4:
        raise RigError(f"'{ob.name}' has too little geometry to rig.")
    _object_mode(context)
    remove_rig(ob)
    verts, tris = _mesh_arrays(ob.data)
    keypoints = scene_object.stored_keypoints(ob) if use_keypoints else None
    try:
        skel = skeleton.estimate_skeleton(verts, tris, keypoints, min_confidence=min_confidence)
    except ValueError as err:
        raise RigError(str(err)) from None
    arm = build_armature(context, ob, skel, naming, float(verts[:, 2].min()))
    names = [b[0] for b in skel.bones(naming)]
    method = weights
    if weights == 'AUTO' and len(verts) > MAX_AUTO_VERTICES:
        method = 'NEAREST'
    auto_ok = method == 'AUTO' and _auto_weights(context, ob, arm)
    if not auto_ok:
        _parent_without_weights(context, ob, arm)
    # distance weights in the mesh's frame (bones are in the armature's frame: bring them over)
    to_mesh = np.asarray(ob.matrix_world.inverted() @ arm.matrix_world)
    heads = np.array([to_mesh[:3, :3] @ np.asarray(b.head_local) + to_mesh[:3, 3] for b in arm.data.bones
                      if b.name in names])
    tails = np.array([to_mesh[:3, :3] @ np.asarray(b.tail_local) + to_mesh[:3, 3] for b in arm.data.bones
                      if b.name in names])
    order = [b.name for b in arm.data.bones if b.name in names]
    nearest = skeleton.nearest_bone_weights(verts, heads, tails, falloff=FALLOFF * skel.height,
                                            max_influences=max_influences)
    repaired = 0
    separated = 0
    if method == 'PARTS':
        bones = [b for b in arm.data.bones if b.name in names]
        parents = [order.index(b.parent.name) if b.parent is not None and b.parent.name in order else None
                   for b in bones]
        cut = separate_parts and _can_separate(ob.data)
        skin = part_weights.body_part_skin(
            verts, tris, heads, tails, order, parents, height=skel.height, falloff=FALLOFF * skel.height,
            max_influences=max_influences, separate_parts=cut)
        w, separated = skin.weights, skin.dropped
        if len(skin.vertices) != len(verts) or not np.array_equal(skin.faces, tris):
            _replace_geometry(ob.data, skin.vertices, skin.faces, skin.source, skin.rims)
            verts = skin.vertices.astype(np.float32)
        how = "body parts" + (f", touching parts separated ({separated} faces between them cut, the holes "
                              f"closed)" if separated else "")
    elif auto_ok:
        w = read_weights(ob, order)
        unweighted = w.sum(axis=1) <= 1e-6
        # bone heat that failed for a bone leaves it (nearly) empty: give its region distance weights
        dominant = nearest.argmax(axis=1)
        orphan = np.zeros(len(verts), bool)
        for b in range(len(order)):
            region = dominant == b
            if region.sum() >= 20 and w[region, b].sum() < 0.05 * region.sum():
                orphan |= region
        fix = unweighted | orphan
        w[fix] = nearest[fix]
        repaired = int(fix.sum())
        w = skeleton.limit_and_normalize(w, max_influences)
        still = w.sum(axis=1) <= 0
        w[still] = nearest[still]
        how = "automatic" if repaired == 0 else f"automatic, {repaired} vertices by distance"
    else:
        w = nearest
        if weights == 'NEAREST':
            how = "distance"
        elif method == 'NEAREST':
            how = f"distance (over {MAX_AUTO_VERTICES:,} vertices: choose a polygon budget for automatic weights)"
        else:
            how = "distance (automatic weights failed)"
    write_weights(ob, order, w)
    for mod in ob.modifiers:
        if mod.type == 'ARMATURE' and mod.object == arm:
            mod.use_deform_preserve_volume = False   # game engines skin linearly: show what they will show
            mod.use_vertex_groups = True
            mod.use_bone_envelopes = False
    ob[WEIGHTS_TAG] = how
    for other in context.view_layer.objects:
        if other.select_get():
            other.select_set(False)
    ob.select_set(True)
    context.view_layer.objects.active = ob
    info = {"bones": len(order), "weights": how, "repaired": repaired, "fallbacks": skel.fallbacks,
            "separated": separated,
            "keypoints": keypoints is not None, "swapped_sides": skel.swapped_sides, "faces_away": skel.faces_away}
    return arm, info


def describe(arm: bpy.types.Object, info: dict) -> str:
    text = f"Rigged with '{arm.name}': {info['bones']} bones, {info['weights']} weights"
    if not info["keypoints"]:
        text += "; no photo keypoints, so the joints follow the mesh's proportions"
    elif info["fallbacks"]:
        text += f"; estimated from the mesh: {', '.join(info['fallbacks'])}"
        if {"LAnkle", "RAnkle"} <= set(info["fallbacks"]):
            text += (" (the photo shows no feet: if the person is cut off, the leg bones sit in the mesh's lower "
                     "part and posing them moves it; use a photo head to toe)")
    if info.get("faces_away"):
        # only then: the detector's left/right labels are swapped for every featureless front face too, and
        # the rig corrects those silently (the mesh always faces the camera)
        text += ("; the person seems to face away from the camera (the feet point away), so the rig's front "
                 "is their back")
    return text + "."


class PIFUHD_OT_rig(PersonOperator, bpy.types.Operator):
    """Add a humanoid armature to the selected person (placed from the photo's body keypoints), skinned"""

    bl_idname = "pifuhd.rig"
    bl_label = "Rig Person"
    bl_options = {'REGISTER', 'UNDO'}
    PANEL_DEFAULTS = {"naming": "rig_naming", "weights": "rig_weights", "separate_parts": "rig_separate_parts"}

    naming: EnumProperty(name="Naming", items=NAMING_ITEMS, default="HUMANOID",
                         description="Bone names: Unity/Godot Humanoid, or Mixamo's")
    weights: EnumProperty(name="Weights", items=WEIGHT_ITEMS, default="PARTS")
    separate_parts: BoolProperty(name="Separate Touching Parts", default=True,
                                 description="With Body Parts weights: cut the mesh where a hand rests on a hip, "
                                             "an arm lies against the torso or the legs touch, and close each "
                                             "side, so each part moves on its own (changes the mesh)")
    use_keypoints: BoolProperty(name="Use Photo Keypoints", default=True,
                                description="Place the joints from the photo's body keypoints when the object "
                                            "has them (else from the mesh's proportions)")
    max_influences: IntProperty(name="Bones per Vertex", default=4, min=1, max=8,
                                description="Most bones that move one vertex (game engines: 4)")
    min_confidence: FloatProperty(name="Keypoint Confidence", default=0.3, min=0.0, max=1.0,
                                  description="Keypoints the detector was less sure of are estimated instead")

    def execute(self, context):
        ob = context.active_object
        try:
            arm, info = rig_object(context, ob, naming=self.naming, use_keypoints=self.use_keypoints,
                                   weights=self.weights, max_influences=self.max_influences,
                                   min_confidence=self.min_confidence, separate_parts=self.separate_parts)
        except RigError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        self.report({'INFO'}, describe(arm, info))
        return {'FINISHED'}


CLASSES = (PIFUHD_OT_rig,)
register, unregister = bpy.utils.register_classes_factory(CLASSES)
