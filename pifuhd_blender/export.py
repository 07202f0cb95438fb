"""One-click export of the rigged person for a game engine (``bpy.ops.pifuhd.export``): glTF binary (.glb)
or FBX with the axes, scale and options Unity, Unreal and Godot expect, with the mesh, its colours (vertex
colours, or the baked texture when there is one), the armature and the skin weights.

Presets (see :func:`fbx_options` and :func:`gltf_options`):

- glTF (.glb), any target: glTF is defined as metres, +Y up, +Z forward; Blender's exporter converts
  (``export_yup``), so the person (facing -Y in Blender) faces +Z. Skins on, at most 4 bones per vertex,
  deform bones only, no animation, modifiers not applied (the Armature modifier stays a skin). COLOR_0 holds
  the vertex colours unless the material uses a baked texture (glTF multiplies COLOR_0 into the base colour,
  so both would darken it).
- FBX for Unity (and Godot): -Z forward, Y up (the FBX convention; the person faces Unity's +Z), "FBX All"
  scaling with the unit scale applied, so the file is in metres with UnitScaleFactor 100 and Unity imports
  it at scale 1 with no scale on any node; no leaf bones; Y primary / X secondary bone axes (Blender's).
- FBX for Unreal: centimetres throughout, as Epic's own "Send to Unreal" add-on writes them: the data is
  scaled by 100 with scale factor 1 (UnitScaleFactor 1 = cm), so no node carries a scale; Z up and Y forward
  (Blender's axes, what Send to Unreal uses); no leaf bones; Y primary / X secondary bone axes; the armature node is named ``root``, which Unreal imports as the root
  bone at the feet (as its Mannequin has), with ``Hips`` below it.

Every preset exports temporary copies of the mesh and the armature expressed in the rig's root frame (its
origin on the floor between the feet), with the FBX axis conversion (and Unreal's centimetres) applied to
their data rather than to the nodes: the root nodes (armature, and the mesh) carry identity transforms in
every file, wherever the person stands in the scene (Blender's own ``bake_space_transform`` does this for
meshes only, not armatures).

Option names are those of Blender 4.2, 4.5 and 5.0; any option an exporter does not know is left out.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy_extras.io_utils import axis_conversion
from mathutils import Matrix

from . import bake, rig, scene_object
from .person import PersonOperator

TARGET_ITEMS = [
    ("UNITY", "Unity", "FBX or glTF for Unity: metres, Y up, facing +Z; Humanoid bone names map automatically"),
    ("UNREAL", "Unreal", "FBX or glTF for Unreal Engine: centimetres, Z up, a 'root' bone at the feet"),
    ("GODOT", "Godot", "glTF binary (or FBX) for Godot 4: metres, +Y up; bone names match Godot's humanoid "
                       "profile"),
]
FORMAT_ITEMS = [
    ("AUTO", "Auto", "The engine's usual format: FBX for Unity and Unreal, glTF (.glb) for Godot"),
    ("GLB", "glTF (.glb)", "glTF 2.0 binary"),
    ("FBX", "FBX", "Autodesk FBX (binary)"),
]
USUAL_FORMAT = {"UNITY": "FBX", "UNREAL": "FBX", "GODOT": "GLB"}
EXTENSIONS = {"GLB": ".glb", "FBX": ".fbx"}
UNREAL_ROOT = "root"
CM = 100.0


class ExportError(Exception):
    """The export could not be made; the message says why."""


def resolve_format(target: str, fmt: str) -> str:
    return USUAL_FORMAT[target] if fmt == "AUTO" else fmt


def has_baked_texture(ob: bpy.types.Object) -> bool:
    mat = ob.active_material
    return mat is not None and bool(mat.get(bake.BAKED_TAG)) and bpy.data.images.get(mat[bake.BAKED_TAG]) is not None


def fbx_options(target: str) -> dict:
    """The FBX exporter's options for ``target`` (not the file path or selection)."""
    options = dict(
        object_types={'ARMATURE', 'MESH'}, use_mesh_modifiers=True, mesh_smooth_type='FACE', use_tspace=False,
        colors_type='SRGB', prioritize_active_color=True, add_leaf_bones=False, use_armature_deform_only=True,
        armature_nodetype='NULL', primary_bone_axis='Y', secondary_bone_axis='X', bake_anim=False,
        path_mode='COPY', embed_textures=True, use_custom_props=False, bake_space_transform=False,
    )
    if target == "UNREAL":
        # data pre-scaled to centimetres on copies; apply_unit_scale off means Blender units x 100 (cm), which
        # global_scale 0.01 undoes: node transforms unscaled, UnitScaleFactor 1 (centimetres)
        options.update(axis_forward='Y', axis_up='Z', apply_unit_scale=False, apply_scale_options='FBX_SCALE_NONE',
                       global_scale=1.0 / CM)
    else:
        options.update(axis_forward='-Z', axis_up='Y', apply_unit_scale=True, apply_scale_options='FBX_SCALE_ALL',
                       global_scale=1.0)
    return options


def gltf_options(target: str, textured: bool) -> dict:
    """The glTF exporter's options (the same for every engine: glTF fixes axes and units)."""
    return dict(
        export_format='GLB', export_yup=True, export_apply=False, export_texcoords=True, export_normals=True,
        export_materials='EXPORT', export_image_format='AUTO',
        export_vertex_color='NONE' if textured else 'ACTIVE', export_all_vertex_colors=False,
        export_skins=True, export_all_influences=False, export_def_bones=True, export_animations=False,
        export_morph=False, export_cameras=False, export_lights=False, export_extras=False,
        export_rest_position_armature=True,
    )


def _supported(operator, options: dict) -> dict:
    """Only the options this Blender's exporter has."""
    known = {p.identifier for p in operator.get_rna_type().properties}
    return {k: v for k, v in options.items() if k in known}


def find_avatar(context) -> tuple[bpy.types.Object, bpy.types.Object | None]:
    """(person mesh, its armature or None) from the active object (the mesh, or its armature)."""
    ob = context.active_object
    if ob is None:
        raise ExportError("Select the person (its mesh or its rig) first.")
    if ob.type == 'ARMATURE':
        meshes = [c for c in ob.children if c.type == 'MESH']
        meshes += [o for o in context.scene.objects if o.type == 'MESH' and o not in meshes
                   and any(m.type == 'ARMATURE' and m.object == ob for m in o.modifiers)]
        if not meshes:
            raise ExportError(f"The armature '{ob.name}' has no mesh to export.")
        return meshes[0], ob
    if ob.type != 'MESH':
        raise ExportError("Select the person (its mesh or its rig) first.")
    arm = rig.existing_rig(ob)
    if arm is None:
        arm = next((m.object for m in ob.modifiers if m.type == 'ARMATURE' and m.object is not None), None)
    if arm is None and ob.parent is not None and ob.parent.type == 'ARMATURE':
        arm = ob.parent
    return ob, arm


@contextmanager
def _selection(context, objects: list):
    """Select exactly ``objects`` (the exporters' use_selection), restoring the selection afterwards."""
    view_layer = context.view_layer
    before = [o for o in view_layer.objects if o.select_get()]
    active = view_layer.objects.active
    try:
        for o in before:
            o.select_set(False)
        for o in objects:
            o.select_set(True)
        view_layer.objects.active = objects[0]
        yield
    finally:
        for o in objects:
            try:
                o.select_set(False)
            except ReferenceError:
                pass
        for o in before:
            try:
                o.select_set(True)
            except ReferenceError:
                pass
        view_layer.objects.active = active


@contextmanager
def _rest_pose(arm):
    """Export the bind pose whatever pose the rig shows."""
    if arm is None:
        yield
        return
    saved = arm.data.pose_position
    arm.data.pose_position = 'REST'
    try:
        yield
    finally:
        arm.data.pose_position = saved


def _blocks_of(block):
    """The ``bpy.data`` collection ``block`` lives in (objects, meshes or armatures)."""
    for kind, blocks in ((bpy.types.Object, bpy.data.objects), (bpy.types.Mesh, bpy.data.meshes),
                         (bpy.types.Armature, bpy.data.armatures)):
        if isinstance(block, kind):
            return blocks
    raise TypeError(f"cannot rename {block!r}")


@contextmanager
def _renamed(renames: list):
    """Give each data-block in ``renames`` [(object, mesh or armature, name)] exactly that name for the
    duration; blocks that held those names are renamed meanwhile. Everything gets its old name back
    afterwards."""
    saved = []
    try:
        for obj, name in renames:
            holder = _blocks_of(obj).get(name)
            if holder is obj:
                continue
            if holder is not None:
                saved.append((holder, holder.name))
                holder.name = name + ".pifuhd-export"
            saved.append((obj, obj.name))
            obj.name = name
        yield
    finally:
        for obj, _name in saved:          # free every name first, then give them back
            obj.name = obj.name + ".pifuhd-restore"
        for obj, name in reversed(saved):
            obj.name = name


def fbx_global_matrix(options: dict, scene) -> Matrix:
    """The matrix Blender's FBX exporter applies to every root node (axis conversion and scale, as its
    ``save_single`` builds it from these options); meshes and armatures below it keep their local data."""
    axes = axis_conversion(to_forward=options.get("axis_forward", '-Z'), to_up=options.get("axis_up", 'Y')).to_4x4()
    scale = options.get("global_scale", 1.0)
    mode = options.get("apply_scale_options", 'FBX_SCALE_NONE')
    unit = 100.0
    if options.get("apply_unit_scale", True) and scene.unit_settings.system != 'NONE':
        unit *= scene.unit_settings.scale_length
    if mode == 'FBX_SCALE_NONE':
        return Matrix.Scale(unit * scale, 4) @ axes
    if mode == 'FBX_SCALE_UNITS':
        return Matrix.Scale(scale, 4) @ axes
    if mode == 'FBX_SCALE_CUSTOM':
        return Matrix.Scale(unit, 4) @ axes
    return axes


@contextmanager
def _root_frame_copies(context, mesh_ob, arm, data_matrix: Matrix, node_matrix: Matrix, arm_name: str | None,
                       parent_mesh: bool = True):
    """Temporary copies of the mesh and armature for export, in the rig's root frame (its origin on the floor
    between the feet), so every root node the exporter writes has an identity transform wherever the person
    stands in the scene.

    ``node_matrix``: the exporter's root-node matrix (FBX axis conversion and scale; identity for glTF,
    whose exporter converts the data itself). ``data_matrix``: applied to the copies' data on top of the
    root frame (the axis conversion, times 100 for Unreal's centimetres). The copies' object matrices are
    ``node_matrix`` inverted, so the exporter writes identity, and the data holds the rest. The mesh copy
    takes the mesh's name, the armature copy ``arm_name`` (or the rig's name); all are removed afterwards.
    ``parent_mesh`` False leaves the mesh copy unparented (skinned by its Armature modifier alone): glTF wants
    a skinned mesh's node at the root, where no parent transform applies."""
    to_root = arm.matrix_world.inverted() if arm is not None else Matrix.Identity(4)
    undo_nodes = node_matrix.inverted()
    collection = bpy.data.collections.new("PIFuHD export (temporary)")
    context.scene.collection.children.link(collection)
    made = []
    try:
        arm_copy = None
        if arm is not None:
            arm_copy = arm.copy()
            arm_copy.data = arm.data.copy()
            made += [arm_copy, arm_copy.data]
            arm_copy.animation_data_clear()
            arm_copy.data.transform(data_matrix)
            collection.objects.link(arm_copy)
            arm_copy.parent = None
            arm_copy.matrix_world = undo_nodes
        mesh_copy = mesh_ob.copy()
        mesh_copy.data = mesh_ob.data.copy()
        made += [mesh_copy, mesh_copy.data]
        mesh_copy.data.transform(data_matrix @ to_root @ mesh_ob.matrix_world)
        collection.objects.link(mesh_copy)
        mesh_copy.parent = arm_copy if parent_mesh else None
        mesh_copy.matrix_parent_inverse = Matrix.Identity(4)
        mesh_copy.matrix_basis = Matrix.Identity(4) if mesh_copy.parent is not None else undo_nodes
        for mod in mesh_copy.modifiers:
            if mod.type == 'ARMATURE':
                mod.object = arm_copy
        context.view_layer.update()
        renames = [(mesh_copy, mesh_ob.name), (mesh_copy.data, mesh_ob.data.name)]   # glTF names meshes by data
        if arm_copy is not None:
            renames += [(arm_copy, arm_name or arm.name), (arm_copy.data, arm.data.name)]
        with _renamed(renames):
            yield mesh_copy, arm_copy
    finally:
        for block in made:
            scene_object.remove_block(block)
        bpy.data.collections.remove(collection)


def default_path(mesh_ob, target: str, fmt: str) -> str:
    base = bpy.path.clean_name(mesh_ob.name) + "_" + target.lower() + EXTENSIONS[fmt]
    folder = os.path.dirname(bpy.data.filepath) if bpy.data.filepath else os.path.expanduser("~")
    return os.path.join(folder, base)


def export_avatar(context, filepath: str, target: str = "UNITY", fmt: str = "AUTO") -> dict:
    """Export the active person (mesh + rig) to ``filepath`` for ``target``. Returns a summary dict."""
    fmt = resolve_format(target, fmt)
    mesh_ob, arm = find_avatar(context)
    if context.mode != 'OBJECT':
        bpy.ops.object.mode_set(mode='OBJECT')
    path = bpy.path.ensure_ext(bpy.path.abspath(filepath), EXTENSIONS[fmt])
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    textured = has_baked_texture(mesh_ob)
    if fmt == "GLB":
        exporter, options = bpy.ops.export_scene.gltf, gltf_options(target, textured)
    else:
        exporter, options = bpy.ops.export_scene.fbx, fbx_options(target)
    options = _supported(exporter, options)

    def run(objects):
        with _selection(context, objects):
            result = exporter(filepath=path, use_selection=True, **options)
        if result != {'FINISHED'} or not os.path.isfile(path):
            raise ExportError(f"The {fmt} exporter did not write {path} ({result}).")

    if fmt == "FBX":
        nodes = fbx_global_matrix(options, context.scene)
        scale = CM if target == "UNREAL" else 1.0
        data = nodes @ Matrix.Scale(scale / nodes.median_scale, 4)
    else:
        nodes = data = Matrix.Identity(4)
    arm_name = UNREAL_ROOT if (fmt == "FBX" and target == "UNREAL") else None
    with _rest_pose(arm), _root_frame_copies(context, mesh_ob, arm, data, nodes, arm_name,
                                             parent_mesh=fmt == "FBX") as copies:
        run([o for o in copies if o is not None])
    return {"path": path, "format": fmt, "target": target, "rigged": arm is not None, "textured": textured,
            "bytes": os.path.getsize(path)}


class PIFUHD_OT_export(PersonOperator, bpy.types.Operator):
    """Export the selected person and its rig for a game engine (glTF or FBX, that engine's axes and scale)"""

    bl_idname = "pifuhd.export"
    bl_label = "Export for Game Engine"
    bl_options = {'REGISTER'}
    PANEL_DEFAULTS = {"target": "export_target", "format": "export_format"}

    target: EnumProperty(name="Engine", items=TARGET_ITEMS, default="UNITY")
    format: EnumProperty(name="Format", items=FORMAT_ITEMS, default="AUTO")
    filepath: StringProperty(name="File", subtype='FILE_PATH', description="Where to write the file")
    filter_glob: StringProperty(default="*.glb;*.fbx", options={'HIDDEN'})
    check_existing: bpy.props.BoolProperty(default=True, options={'HIDDEN'})

    @classmethod
    def poll(cls, context):
        ob = context.active_object
        if ob is None or ob.type not in {'MESH', 'ARMATURE'}:
            cls.poll_message_set("Select the person (its mesh or its rig) first")
            return False
        return True

    def invoke(self, context, event):
        self.apply_panel_defaults(context)
        try:
            mesh_ob, _arm = find_avatar(context)
        except ExportError as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        if not self.filepath:
            self.filepath = default_path(mesh_ob, self.target, resolve_format(self.target, self.format))
        if bpy.app.background:
            return self.execute(context)
        context.window_manager.fileselect_add(self)
        return {'RUNNING_MODAL'}

    def check(self, context):
        ext = EXTENSIONS[resolve_format(self.target, self.format)]
        fixed = bpy.path.ensure_ext(os.path.splitext(self.filepath)[0] if self.filepath else "", ext)
        if self.filepath and fixed != self.filepath:
            self.filepath = fixed
            return True
        return False

    def execute(self, context):
        self.apply_panel_defaults(context)
        if not self.filepath:
            self.report({'ERROR'}, "Choose a file to export to.")
            return {'CANCELLED'}
        try:
            summary = export_avatar(context, self.filepath, self.target, self.format)
        except (ExportError, RuntimeError) as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        what = "mesh and rig" if summary["rigged"] else "mesh (no rig: use Rig Person first to animate it)"
        colors = "baked texture" if summary["textured"] else "vertex colors"
        self.report({'INFO'}, f"Exported the {what} with {colors} for {summary['target'].title()} to "
                              f"{summary['path']}.")
        return {'FINISHED'}


CLASSES = (PIFUHD_OT_export,)
register, unregister = bpy.utils.register_classes_factory(CLASSES)
