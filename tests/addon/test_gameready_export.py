"""Export presets (``bpy.ops.pifuhd.export``): every engine x format file re-imports in bpy with the armature,
the 22 bones, the weights (vertex groups, every vertex weighted) and the colours, at the person's real size
and facing; the FBX units and axes each engine wants; the GLB's skin and attributes read from its JSON."""
from __future__ import annotations

import json
import struct
from importlib import import_module

import numpy as np
import pytest

HEIGHT = 1.75
CASES = [("UNITY", "FBX"), ("UNREAL", "FBX"), ("GODOT", "GLB"), ("UNITY", "GLB"), ("UNREAL", "GLB"),
         ("GODOT", "FBX")]


@pytest.fixture(scope="module")
def mods(installed_addon):
    return {name: import_module(f"{installed_addon}.{name}") for name in ("export", "skeleton", "rig")}


@pytest.fixture
def rigged_person(bpy, clean_scene, make_person):
    ob, _ = make_person()
    bpy.context.view_layer.objects.active = ob
    assert bpy.ops.pifuhd.rig() == {'FINISHED'}
    return ob


@pytest.fixture
def world_box(world_positions):
    def box(ob):
        pts = world_positions(ob)
        return pts.min(axis=0), pts.max(axis=0), pts
    return box


def glb_json(path) -> dict:
    data = open(path, "rb").read()
    magic, _version, _length = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF"
    chunk_length, chunk_type = struct.unpack_from("<I4s", data, 12)
    assert chunk_type == b"JSON"
    return json.loads(data[20:20 + chunk_length])


def fbx_unit_scale(path) -> float:
    """UnitScaleFactor from a binary FBX's GlobalSettings (the double after the property's name)."""
    data = open(path, "rb").read()
    at = data.index(b"UnitScaleFactor")
    at = data.index(b"D", at + len("UnitScaleFactor") + 20)   # the value's type code, after "double"/"Number"/""
    return struct.unpack_from("<d", data, at + 1)[0]


def reimport(bpy, path, fmt):
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    if fmt == "GLB":
        assert bpy.ops.import_scene.gltf(filepath=str(path)) == {'FINISHED'}
    else:
        assert bpy.ops.import_scene.fbx(filepath=str(path)) == {'FINISHED'}
    arms = [o for o in bpy.data.objects if o.type == 'ARMATURE']
    meshes = [o for o in bpy.data.objects if o.type == 'MESH' and len(o.data.vertices) > 1000]
    assert len(arms) == 1 and len(meshes) == 1, [(o.name, o.type) for o in bpy.data.objects]
    return arms[0], meshes[0]


@pytest.mark.parametrize("target, fmt", CASES)
def test_export_reimports_with_rig_weights_and_colours(bpy, mods, rigged_person, world_box, tmp_path, target, fmt):
    ob = rigged_person
    lo, hi, _ = world_box(ob)
    root = np.asarray(mods["rig"].existing_rig(ob).matrix_world.translation)
    lo, hi = lo - root, hi - root                   # the files' origin is the rig's root, between the feet
    original_colours = np.empty(len(ob.data.vertices) * 4, np.float32)
    ob.data.color_attributes["Col"].data.foreach_get("color", original_colours)
    mean_colour = original_colours.reshape(-1, 4)[:, :3].mean(axis=0)
    names_before = {o.name for o in bpy.data.objects}
    path = tmp_path / f"avatar_{target.lower()}"
    result = bpy.ops.pifuhd.export(filepath=str(path), target=target, format=fmt)
    assert result == {'FINISHED'}
    path = path.with_suffix(".glb" if fmt == "GLB" else ".fbx")
    assert path.is_file() and path.stat().st_size > 10_000
    assert {o.name for o in bpy.data.objects} == names_before          # temporary copies are gone
    assert ob.name in bpy.data.objects and mods["rig"].existing_rig(ob) is not None

    if fmt == "FBX":
        # Unity/Godot: metres (UnitScaleFactor 100 = 1 unit is 100 cm); Unreal: centimetres (1)
        assert fbx_unit_scale(path) == pytest.approx(1.0 if target == "UNREAL" else 100.0)
    else:
        gltf = glb_json(path)
        assert len(gltf["skins"]) == 1 and len(gltf["skins"][0]["joints"]) == 22
        attributes = gltf["meshes"][0]["primitives"][0]["attributes"]
        assert {"POSITION", "NORMAL", "JOINTS_0", "WEIGHTS_0", "COLOR_0"} <= set(attributes)
        assert "JOINTS_1" not in attributes                              # at most 4 influences
        assert "animations" not in gltf

    arm, mesh = reimport(bpy, path, fmt)
    bones = {b.name for b in arm.data.bones}
    assert bones == set(mods["skeleton"].BONE_NAMES)
    if fmt == "FBX" and target == "UNREAL":
        assert arm.name == "root"                                    # Unreal's root bone, at the feet
        assert np.allclose(arm.scale, 0.01, rtol=1e-4)               # no node scale in the file: cm units only
    elif fmt == "FBX":
        assert np.allclose(arm.scale, 1.0, rtol=1e-4)                # Unity / Godot: scale 1 everywhere
    groups = {g.index: g.name for g in mesh.vertex_groups}
    assert set(groups.values()) >= bones
    totals = np.zeros(len(mesh.data.vertices))
    for v in mesh.data.vertices:
        totals[v.index] = sum(g.weight for g in v.groups if g.group in groups)
    assert np.allclose(totals, 1.0, atol=2e-3)                       # every vertex weighted, sums to 1
    assert any(m.type == 'ARMATURE' and m.object == arm for m in mesh.modifiers)
    # real size, on the floor, in the same place and facing: the bounding box comes back (axes, units)
    lo2, hi2, pts = world_box(mesh)
    assert np.allclose(lo2, lo, atol=0.005) and np.allclose(hi2, hi, atol=0.005), (lo, hi, lo2, hi2)
    # and no mirror: the vertices at the person's far left (+X) move with the left hand
    dominant = {}
    for v in mesh.data.vertices:
        if pts[v.index, 0] > hi[0] - 0.03:
            best = max((g for g in v.groups if g.group in groups), key=lambda g: g.weight)
            dominant[groups[best.group]] = dominant.get(groups[best.group], 0) + 1
    assert max(dominant, key=dominant.get) == "LeftHand", dominant
    # the colours
    attrs = mesh.data.color_attributes
    assert len(attrs) >= 1
    attr = attrs[attrs.render_color_index] if 0 <= attrs.render_color_index < len(attrs) else attrs[0]
    n = len(attr.data)
    colours = np.empty(n * 4, np.float32)
    attr.data.foreach_get("color", colours)
    colours = colours.reshape(-1, 4)[:, :3]
    assert colours.std(axis=0).max() > 0.1
    assert np.abs(colours.mean(axis=0) - mean_colour).max() < 0.05


def test_posed_rig_exports_its_rest_pose(bpy, mods, rigged_person, world_box, tmp_path):
    ob = rigged_person
    arm = mods["rig"].existing_rig(ob)
    lo, hi, _ = world_box(ob)
    root = np.asarray(arm.matrix_world.translation)
    lo, hi = lo - root, hi - root
    arm.pose.bones["LeftUpperArm"].rotation_mode = 'XYZ'
    arm.pose.bones["LeftUpperArm"].rotation_euler = (1.0, 0.0, 0.0)
    bpy.context.view_layer.objects.active = arm               # the rig selected works as well as the mesh
    assert bpy.ops.pifuhd.export(filepath=str(tmp_path / "posed.glb"), target='GODOT') == {'FINISHED'}
    assert arm.data.pose_position == 'POSE'                   # the scene's pose is left as it was
    _arm, mesh = reimport(bpy, tmp_path / "posed.glb", "GLB")
    lo2, hi2, _ = world_box(mesh)
    assert np.allclose(lo2, lo, atol=0.005) and np.allclose(hi2, hi, atol=0.005)


def test_unrigged_mesh_exports_too(bpy, mods, clean_scene, make_person, world_box, tmp_path):
    ob, _ = make_person()
    assert bpy.ops.pifuhd.export(filepath=str(tmp_path / "plain.fbx"), target='UNREAL') == {'FINISHED'}
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    assert bpy.ops.import_scene.fbx(filepath=str(tmp_path / "plain.fbx")) == {'FINISHED'}
    mesh = next(o for o in bpy.data.objects if o.type == 'MESH')
    _lo, hi, _pts = world_box(mesh)
    assert hi[2] == pytest.approx(HEIGHT, abs=0.005)                 # centimetres in the file, metres back


def test_option_names_exist_in_this_blender(bpy, mods):
    """Every preset option is one this Blender's exporters know (none is silently dropped here)."""
    ex = mods["export"]
    fbx = {p.identifier for p in bpy.ops.export_scene.fbx.get_rna_type().properties}
    gltf = {p.identifier for p in bpy.ops.export_scene.gltf.get_rna_type().properties}
    for target in ("UNITY", "UNREAL", "GODOT"):
        assert set(ex.fbx_options(target)) <= fbx
        assert set(ex.gltf_options(target, False)) <= gltf
    assert ex.resolve_format("GODOT", "AUTO") == "GLB" and ex.resolve_format("UNITY", "AUTO") == "FBX"


def test_export_needs_a_person(bpy, clean_scene):
    assert not bpy.ops.pifuhd.export.poll()
    bpy.ops.object.empty_add()
    assert not bpy.ops.pifuhd.export.poll()


def fbx_root_transforms(bpy, path) -> dict:
    """{model name: (Lcl Translation, Lcl Rotation, Lcl Scaling)} of the FBX's root nodes (Models connected to
    the scene root), read with Blender's own FBX parser; a property the file leaves out is its default."""
    import sys
    sys.path.insert(0, bpy.utils.system_resource('SCRIPTS') + "/addons_core")
    from io_scene_fbx import parse_fbx
    root, _version = parse_fbx.parse(str(path))
    top = {e.id: e for e in root.elems}
    models = {}
    for e in top[b"Objects"].elems:
        if e.id == b"Model":
            name = e.props[1].split(b"\x00")[0].decode()
            values = {b"Lcl Translation": (0.0, 0.0, 0.0), b"Lcl Rotation": (0.0, 0.0, 0.0),
                      b"Lcl Scaling": (1.0, 1.0, 1.0)}
            for sub in e.elems:
                if sub.id == b"Properties70":
                    for prop in sub.elems:
                        if prop.props[0] in values:
                            values[prop.props[0]] = tuple(prop.props[4:7])
            models[e.props[0]] = (name, values)
    roots = {}
    for c in top[b"Connections"].elems:
        if c.props[0] == b"OO" and c.props[2] == 0 and c.props[1] in models:
            name, values = models[c.props[1]]
            roots[name] = tuple(values[k] for k in (b"Lcl Translation", b"Lcl Rotation", b"Lcl Scaling"))
    return roots


@pytest.mark.parametrize("target, fmt", CASES)
def test_root_nodes_are_identity_and_the_rig_comes_back(bpy, mods, rigged_person, world_positions, tmp_path,
                                                        target, fmt):
    """Wherever the person stands in the scene, every file's root nodes (armature and mesh) have identity
    transforms, the origin is the rig's root on the floor between the feet, and the bones and weights
    re-import unchanged (bones at the same places, each vertex's weights by bone name)."""
    ob = rigged_person
    rig, skeleton = mods["rig"], mods["skeleton"]
    arm = rig.existing_rig(ob)
    arm.location = (1.5, -2.0, 0.0)                              # somewhere else in the scene
    bpy.context.view_layer.update()
    to_root = np.asarray(arm.matrix_world.inverted())
    heads = {b.name: np.asarray(b.head_local) for b in arm.data.bones}
    names = [b.name for b in arm.data.bones]
    weights = rig.read_weights(ob, names)
    pts = world_positions(ob) @ to_root[:3, :3].T + to_root[:3, 3]
    feet = 0.5 * (heads["LeftFoot"] + heads["RightFoot"])
    assert np.allclose(feet[:2], 0.0, atol=1e-5) and pts[:, 2].min() == pytest.approx(0.0, abs=1e-4)

    bpy.context.view_layer.objects.active = ob
    path = tmp_path / ("avatar" + (".glb" if fmt == "GLB" else ".fbx"))
    assert bpy.ops.pifuhd.export(filepath=str(path), target=target, format=fmt) == {'FINISHED'}
    if fmt == "GLB":
        gltf = glb_json(path)
        roots = [gltf["nodes"][i] for i in gltf["scenes"][gltf.get("scene", 0)]["nodes"]]
        assert len(roots) >= 1
        for node in roots:
            assert "matrix" not in node, node
            assert np.allclose(node.get("translation", [0, 0, 0]), 0.0, atol=1e-6), node
            assert np.allclose(node.get("rotation", [0, 0, 0, 1]), [0, 0, 0, 1], atol=1e-6), node
            assert np.allclose(node.get("scale", [1, 1, 1]), 1.0, atol=1e-6), node
    else:
        roots = fbx_root_transforms(bpy, path)
        assert len(roots) == 2, roots                            # the armature and the mesh
        for name, (t, r, s) in roots.items():
            assert np.allclose(t, 0.0, atol=1e-4) and np.allclose(r, 0.0, atol=1e-4), (name, t, r)   # units, degrees
            assert np.allclose(s, 1.0, atol=1e-6), (name, s)

    arm2, mesh2 = reimport(bpy, path, fmt)
    world = np.asarray(arm2.matrix_world)
    heads2 = {b.name: world[:3, :3] @ np.asarray(b.head_local) + world[:3, 3] for b in arm2.data.bones}
    assert set(heads2) == set(heads)
    for name, head in heads.items():
        assert np.abs(heads2[name] - head).max() < 1e-3, (name, head, heads2[name])
    # every vertex back in the same place, weighted the same bone by bone (the rig's separation of touching
    # parts leaves pairs of vertices at one place with different weights: any of the nearest few may match)
    from scipy.spatial import cKDTree
    dist, index = cKDTree(world_positions(mesh2)).query(pts, k=4)
    assert dist[:, 0].max() < 1e-3
    weights2 = rig.read_weights(mesh2, names)
    differs = np.abs(weights2[index] - weights[:, None, :]).max(axis=2)
    differs[dist > 1e-3] = np.inf
    assert differs.min(axis=1).max() < 2e-3
    assert len(skeleton.BONE_NAMES) == len(names)


VALIDATE_JS = """
const fs = require('fs');
const validator = require('gltf-validator');
validator.validateBytes(new Uint8Array(fs.readFileSync(process.argv[1])), {maxIssues: 100})
  .then((report) => console.log(JSON.stringify(report.issues)))
  .catch((error) => { console.error(String(error)); process.exit(2); });
"""


def gltf_validator_env() -> dict | None:
    """Environment under which ``node`` can ``require('gltf-validator')`` (the Khronos validator from npm), or
    None. Looks in $GLTF_VALIDATOR_MODULES (a node_modules folder), $NODE_PATH and npm's global folder."""
    import os
    import shutil
    import subprocess
    if shutil.which("node") is None:
        return None
    folders = [os.environ.get("GLTF_VALIDATOR_MODULES", ""), os.environ.get("NODE_PATH", "")]
    if shutil.which("npm"):
        try:
            folders.append(subprocess.run(["npm", "root", "-g"], capture_output=True, text=True,
                                          timeout=60).stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    env = dict(os.environ, NODE_PATH=os.pathsep.join(f for f in folders if f))
    probe = subprocess.run(["node", "-e", "require('gltf-validator')"], env=env, capture_output=True, timeout=60)
    return env if probe.returncode == 0 else None


@pytest.mark.parametrize("target", ["GODOT", "UNREAL"])
def test_glb_passes_the_khronos_gltf_validator(bpy, rigged_person, tmp_path, target):
    import subprocess
    env = gltf_validator_env()
    if env is None:
        pytest.skip("the Khronos glTF validator is not installed (npm install gltf-validator; "
                    "GLTF_VALIDATOR_MODULES=<its node_modules folder>)")
    path = tmp_path / "avatar.glb"
    bpy.context.view_layer.objects.active = rigged_person
    assert bpy.ops.pifuhd.export(filepath=str(path), target=target, format='GLB') == {'FINISHED'}
    run = subprocess.run(["node", "-e", VALIDATE_JS, str(path)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    issues = json.loads(run.stdout)
    errors = [m for m in issues["messages"] if m["severity"] == 0]
    assert issues["numErrors"] == 0 and not errors, errors
    # and the skinned mesh's node is a root (glTF ignores a skinned mesh's parent transforms)
    assert not [m for m in issues["messages"] if m["code"] == "NODE_SKINNED_MESH_NON_ROOT"], issues["messages"]
