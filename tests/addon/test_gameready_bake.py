"""Colour texture bake (``bpy.ops.pifuhd.bake``): a UV map, an image whose pixels match the vertex colours
at sampled UVs, the material switched to the image, the image packed (unsaved file) or saved next to the
.blend, and the texture travelling with the exports (GLB without COLOR_0, FBX re-import with the image)."""
from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest

from pifuhd_blender.placement import linear_to_srgb
from pifuhd_blender.uv_atlas import centroid_texels

SIZE = 512


@pytest.fixture
def person(clean_scene, make_person):
    ob, _ = make_person()
    return ob


def pixels(image):
    w, h = image.size
    px = np.empty(w * h * image.channels, np.float32)
    image.pixels.foreach_get(px)
    return px.reshape(h, w, image.channels)


def corner_arrays(me):
    me.calc_loop_triangles()
    n = len(me.loop_triangles)
    loops = np.empty(n * 3, np.int32)
    me.loop_triangles.foreach_get("loops", loops)
    uv_all = np.empty(len(me.loops) * 2, np.float32)
    me.uv_layers.active.data.foreach_get("uv", uv_all)
    vert = np.empty(len(me.loops), np.int32)
    me.loops.foreach_get("vertex_index", vert)
    col = np.empty(len(me.vertices) * 4, np.float32)
    me.color_attributes["Col"].data.foreach_get("color", col)
    loops = loops.reshape(-1, 3)
    return uv_all.reshape(-1, 2)[loops], col.reshape(-1, 4)[vert[loops], :3]


def bake(bpy, ob, **kwargs):
    bpy.context.view_layer.objects.active = ob
    result = bpy.ops.pifuhd.bake(size=str(SIZE), **kwargs)
    assert result == {'FINISHED'}
    return bpy.data.images[f"{ob.name} Color"]


def assert_texture_matches_vertex_colours(image, me):
    uv, colours = corner_arrays(me)
    assert uv.min() >= 0.0 and uv.max() <= 1.0
    px = pixels(image)[:, :, :3]
    assert px.std(axis=(0, 1)).max() > 0.1                                  # non-trivial colours
    # the texel nearest each triangle's centroid, where its centre lies inside the triangle: the colour
    # there is the barycentric mix of the corners' colours (colour attributes interpolate linearly), stored
    # sRGB-encoded in the 8-bit image
    texel, bary, inside = centroid_texels(uv, SIZE)
    assert inside.sum() > 1000
    picks = np.random.default_rng(0).choice(np.flatnonzero(inside), 200, replace=False)
    expected = linear_to_srgb((bary[picks, :, None] * colours[picks]).sum(axis=1))
    got = px[texel[picks, 1], texel[picks, 0]]
    error = np.abs(got - expected).max(axis=1)
    assert np.median(error) < 0.004 and error.max() < 0.01, (np.median(error), error.max())
    # texels outside every island got the margin's colour, not black, next to the islands
    assert (px.sum(axis=2) > 0.05).mean() > 0.5


def test_baked_image_matches_the_vertex_colours(bpy, person):
    ob = person
    image = bake(bpy, ob)
    assert tuple(image.size) == (SIZE, SIZE) and image.packed_file is not None   # unsaved .blend: packed
    assert ob.data.uv_layers.active is not None
    assert_texture_matches_vertex_colours(image, ob.data)


def uv_layout(ob):
    me = ob.data
    me.calc_loop_triangles()
    loops = np.empty(len(me.loop_triangles) * 3, np.int32)
    me.loop_triangles.foreach_get("loops", loops)
    vert = np.empty(len(me.loops), np.int32)
    me.loops.foreach_get("vertex_index", vert)
    uv = np.empty(len(me.loops) * 2, np.float32)
    me.uv_layers.active.data.foreach_get("uv", uv)
    return vert[loops].reshape(-1, 3), uv.reshape(-1, 2)[loops.reshape(-1, 3)]


def test_atlas_has_fewer_islands_and_fills_more_of_the_texture(bpy, installed_addon, person):
    """At a game texture's size (2048 px, islands 8 px apart), the atlas against Smart UV Project."""
    from importlib import import_module
    uv_atlas, bake_module = (import_module(f"{installed_addon}.{m}") for m in ("uv_atlas", "bake"))
    if not uv_atlas.available():
        pytest.skip("xatlas is not installed")
    ob = person
    found = {}
    for method in ("SMART", "ATLAS"):
        bake_module.ensure_uvs(bpy.context, ob, margin=8 / 2048, method=method, size=2048)
        faces, uv = uv_layout(ob)
        found[method] = uv_atlas.uv_islands(faces, uv), uv_atlas.texture_use(uv, 2048)
    (smart_islands, smart_use), (atlas_islands, atlas_use) = found["SMART"], found["ATLAS"]
    # the analytic body's fingers and staircase need many charts; the bundled example gets 40 islands against
    # hundreds (benchmarks/bench_bake.py)
    assert atlas_islands < smart_islands, found
    assert atlas_use > smart_use, found


def test_without_xatlas_the_bake_falls_back_to_smart_uv_project(bpy, installed_addon, person, monkeypatch):
    from importlib import import_module
    uv_atlas = import_module(f"{installed_addon}.uv_atlas")
    monkeypatch.setattr(uv_atlas, "available", lambda: False)
    ob = person
    image = bake(bpy, ob, unwrap='ATLAS')                                  # asked for, not there: fallback
    assert_texture_matches_vertex_colours(image, ob.data)


def test_material_uses_the_texture_and_keeps_the_colour_node(bpy, person):
    ob = person
    image = bake(bpy, ob, unwrap='SMART')
    mat = ob.active_material
    nodes = mat.node_tree.nodes
    bsdf = next(n for n in nodes if n.type == 'BSDF_PRINCIPLED')
    source = bsdf.inputs["Base Color"].links[0].from_node
    assert source.type == 'TEX_IMAGE' and source.image == image
    assert any(n.type == 'VERTEX_COLOR' for n in nodes)                   # kept, to switch back by hand
    assert mat["pifuhd_baked_image"] == image.name
    assert len(ob.material_slots) == 1 and ob.material_slots[0].material == mat   # slots restored
    assert not [m for m in bpy.data.materials if "temporary" in m.name]
    # a second bake reuses the image and the nodes
    bake(bpy, ob, unwrap='SMART')
    assert len([n for n in mat.node_tree.nodes if n.type == 'TEX_IMAGE']) == 1
    assert len([i for i in bpy.data.images if i.name.startswith(ob.name)]) == 1


def test_saved_blend_gets_a_png_next_to_it(bpy, person, tmp_path):
    ob = person
    blend = tmp_path / "avatar.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    ob = bpy.data.objects[ob.name]
    image = bake(bpy, ob, unwrap='SMART')
    png = tmp_path / "textures" / (bpy.path.clean_name(ob.name) + "_color.png")
    assert png.is_file() and png.stat().st_size > 1000
    assert image.packed_file is None and bpy.path.abspath(image.filepath) == str(png)
    reread = bpy.data.images.load(str(png))
    assert tuple(reread.size) == (SIZE, SIZE)
    assert np.abs(pixels(reread)[:, :, :3] - pixels(image)[:, :, :3]).max() < 1.5 / 255


def test_render_engine_is_restored(bpy, person):
    bpy.context.scene.render.engine = 'BLENDER_WORKBENCH'
    bake(bpy, person, unwrap='SMART')
    assert bpy.context.scene.render.engine == 'BLENDER_WORKBENCH'


def glb_json(path) -> dict:
    data = open(path, "rb").read()
    length = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20:20 + length])


def test_baked_texture_is_exported(bpy, person, tmp_path):
    ob = person
    bpy.context.view_layer.objects.active = ob
    assert bpy.ops.pifuhd.rig() == {'FINISHED'}
    image = bake(bpy, ob, unwrap='SMART')
    glb, fbx = tmp_path / "a.glb", tmp_path / "a.fbx"
    assert bpy.ops.pifuhd.export(filepath=str(glb), target='GODOT') == {'FINISHED'}
    gltf = glb_json(glb)
    assert len(gltf["images"]) == 1 and len(gltf["textures"]) == 1
    material = gltf["materials"][0]["pbrMetallicRoughness"]
    assert "baseColorTexture" in material
    attributes = gltf["meshes"][0]["primitives"][0]["attributes"]
    assert "TEXCOORD_0" in attributes and "COLOR_0" not in attributes     # glTF would multiply them
    assert bpy.ops.pifuhd.export(filepath=str(fbx), target='UNITY') == {'FINISHED'}
    original = pixels(image)[:, :, :3]
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    assert bpy.ops.import_scene.fbx(filepath=str(fbx)) == {'FINISHED'}
    mesh = next(o for o in bpy.data.objects if o.type == 'MESH')
    nodes = mesh.active_material.node_tree.nodes
    textures = [n for n in nodes if n.type == 'TEX_IMAGE' and n.image is not None]
    assert textures and tuple(textures[0].image.size) == (SIZE, SIZE)
    assert np.abs(pixels(textures[0].image)[:, :, :3] - original).max() < 1.5 / 255   # embedded in the FBX
    assert any(o.type == 'ARMATURE' for o in bpy.data.objects) and len(mesh.vertex_groups) == 22
    os.remove(fbx)


def test_bake_needs_colours(bpy, clean_scene):
    bpy.ops.mesh.primitive_cube_add()
    with pytest.raises(RuntimeError) as err:
        bpy.ops.pifuhd.bake(size='1024')
    assert "no color attribute" in str(err.value)
