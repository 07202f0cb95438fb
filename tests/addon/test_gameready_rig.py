"""Auto-rig (``bpy.ops.pifuhd.rig``) on the analytic person, whose joints are known: bone names and hierarchy,
joints placed from the photo keypoints inside the mesh, every vertex weighted with weights summing to 1,
posing an upper arm moves that hand and not the opposite foot, fallbacks (no keypoints, missing keypoints,
automatic weights failing), and re-rigging."""
from __future__ import annotations

import math
from importlib import import_module

import numpy as np
import pytest

HEIGHT = 1.75


@pytest.fixture(scope="module")
def mods(installed_addon):
    return {name: import_module(f"{installed_addon}.{name}") for name in ("rig", "skeleton", "scene_object")}


@pytest.fixture
def person(clean_scene, make_person):
    return make_person()


def rigged(bpy, mods, ob, **kwargs):
    bpy.context.view_layer.objects.active = ob
    result = bpy.ops.pifuhd.rig(**kwargs)
    assert result == {'FINISHED'}
    arm = mods["rig"].existing_rig(ob)
    assert arm is not None and arm.type == 'ARMATURE'
    return arm


def weights_of(mods, ob, arm):
    names = [b.name for b in arm.data.bones]
    return names, mods["rig"].read_weights(ob, names)


def to_world(transform, cube_xy):
    """Cube (x, y) at z = 0 -> Blender world, as the person was placed."""
    pts = np.c_[np.asarray(cube_xy, float).reshape(-1, 2), np.zeros(len(np.atleast_2d(cube_xy)))]
    return transform.apply(pts)


def test_bone_names_and_hierarchy_follow_the_documented_convention(bpy, mods, person):
    ob, _ = person
    sk = mods["skeleton"]
    arm = rigged(bpy, mods, ob)
    bones = arm.data.bones
    assert [b.name for b in bones] == list(sk.BONE_NAMES)
    for name, parent, _head, _tail, connected in sk.BONES:
        bone = bones[name]
        assert (bone.parent.name if bone.parent else None) == parent, name
        assert bone.use_connect == connected, name
        assert bone.use_deform
    # the documented convention: Unity Humanoid (HumanBodyBones) names, mapped one to one onto Mixamo's
    humanoid = {"Hips", "Spine", "Chest", "UpperChest", "Neck", "Head", "LeftShoulder", "LeftUpperArm",
                "LeftLowerArm", "LeftHand", "RightShoulder", "RightUpperArm", "RightLowerArm", "RightHand",
                "LeftUpperLeg", "LeftLowerLeg", "LeftFoot", "LeftToes", "RightUpperLeg", "RightLowerLeg",
                "RightFoot", "RightToes"}
    assert set(sk.BONE_NAMES) == humanoid and set(sk.MIXAMO_NAMES) == humanoid
    assert len(set(sk.MIXAMO_NAMES.values())) == len(humanoid)
    assert all(v.startswith("mixamorig:") for v in sk.MIXAMO_NAMES.values())
    assert ob.parent == arm and arm[mods["rig"].RIG_TAG] == "HUMANOID"
    assert {g.name for g in ob.vertex_groups} == humanoid


def test_mixamo_naming(bpy, mods, person):
    ob, _ = person
    sk = mods["skeleton"]
    arm = rigged(bpy, mods, ob, naming='MIXAMO')
    assert [b.name for b in arm.data.bones] == [sk.MIXAMO_NAMES[n] for n in sk.BONE_NAMES]
    assert arm.data.bones["mixamorig:LeftForeArm"].parent.name == "mixamorig:LeftArm"
    assert {g.name for g in ob.vertex_groups} == set(sk.MIXAMO_NAMES.values())


@pytest.mark.parametrize("weights, how", [("PARTS", "body parts"), ("AUTO", "automatic")])
def test_every_vertex_is_weighted_and_weights_sum_to_one(bpy, mods, person, weights, how):
    ob, _ = person
    arm = rigged(bpy, mods, ob, weights=weights)
    names, w = weights_of(mods, ob, arm)
    assert w.shape == (len(ob.data.vertices), 22)
    assert np.allclose(w.sum(axis=1), 1.0, atol=1e-4)
    assert (w > 0).sum(axis=1).max() <= 4                       # game engines: 4 bones per vertex
    assert ob[mods["rig"].WEIGHTS_TAG].startswith(how)          # (bone heat works on this clean mesh)
    assert sum(m.type == 'ARMATURE' and m.object == arm for m in ob.modifiers) == 1


def test_the_patches_closing_a_cut_keep_the_colours_around_them(bpy, mods, person, installed_addon):
    """Where the rig cuts touching parts apart (the legs here) and closes each side, the mesh stays closed and
    every vertex keeps its colour: the closing triangles join the rim's own vertices, and a vertex the
    closing adds (a chord's middle between two patches of a slit, a fan's centre where the rim allows no
    other way across) has the mean colour of the vertices around it, not the colour of one of them (which
    drew a dark star on the example's hip where her hand had rested)."""
    ob, _ = person
    name = import_module(f"{installed_addon}.scene_object").COLOR_ATTRIBUTE

    def read(me):
        colour = np.empty(len(me.vertices) * 4, np.float32)
        me.color_attributes[name].data.foreach_get("color", colour)
        co = np.empty(len(me.vertices) * 3, np.float32)
        me.vertices.foreach_get("co", co)
        tris = np.empty(len(me.polygons) * 3, np.int32)
        me.polygons.foreach_get("vertices", tris)
        return colour.reshape(-1, 4), co.reshape(-1, 3).round(6), tris.reshape(-1, 3)

    colour0, co0, tris0 = read(ob.data)
    rigged(bpy, mods, ob)
    colour, co, tris = read(ob.data)
    by_place = {tuple(p): c for p, c in zip(co0, colour0)}
    shapes = lambda points, t: {frozenset(map(tuple, points[x])) for x in t}     # noqa: E731
    before, after = shapes(co0, tris0), shapes(co, tris)
    assert before - after and after - before                     # the legs were cut apart and closed
    edges = np.sort(np.r_[tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]], axis=1)
    assert (np.unique(edges, axis=0, return_counts=True)[1] == 2).all()           # closed: two faces an edge
    kept = [i for i, p in enumerate(co) if tuple(p) in by_place]
    assert np.allclose(colour[kept], [by_place[tuple(co[i])] for i in kept], atol=1e-5)
    for c in sorted(set(range(len(co))) - set(kept)):          # each at the middle of the vertices it blends
        ring = sorted({int(i) for t in tris if c in t for i in t} - {c})
        blended = [[a, b] for a in ring for b in ring if a < b and np.allclose(co[c], (co[a] + co[b]) / 2, atol=1e-5)]
        blended += [ring] if np.allclose(co[c], co[ring].mean(axis=0), atol=1e-5) else []
        assert any(np.allclose(colour[c], colour[x].mean(axis=0), atol=1e-5) for x in blended), c


def test_joints_come_from_the_keypoints_and_lie_inside_the_mesh(bpy, mods, person, analytic_person):
    ob, transform = person
    arm = rigged(bpy, mods, ob)
    m = np.asarray(arm.matrix_world)
    truth = dict(zip(("LShoulder", "LElbow", "LWrist", "RKnee", "RAnkle"),
                     to_world(transform, [analytic_person["truth"][i] for i in (5, 6, 7, 10, 11)])))
    heads = {b.name: m[:3, :3] @ np.asarray(b.head_local) + m[:3, 3] for b in arm.data.bones}
    for bone, joint in (("LeftUpperArm", "LShoulder"), ("LeftLowerArm", "LElbow"), ("LeftHand", "LWrist"),
                        ("RightLowerLeg", "RKnee"), ("RightFoot", "RAnkle")):
        # X and Z from the photo keypoint; the depth Y is the middle of the limb (its axis is at cube z ~ 0)
        assert np.abs(heads[bone][[0, 2]] - truth[joint][[0, 2]]).max() < 0.01, bone
        assert abs(heads[bone][1] - truth[joint][1]) < 0.05, bone
    # feet and toes point forward (-Y), the head's tail is at the top of the head
    assert heads["LeftToes"][1] < heads["LeftFoot"][1] - 0.03
    assert np.asarray(arm.data.bones["Head"].tail_local)[2] + m[2, 3] == pytest.approx(HEIGHT, abs=0.02)


@pytest.mark.parametrize("bone, hand, foot", [("LeftUpperArm", 1, "right"), ("RightUpperArm", 0, "left")])
def test_posing_the_upper_arm_moves_the_hand_and_not_the_opposite_foot(bpy, mods, person, analytic_person,
                                                                        world_positions, bone, hand, foot):
    ob, transform = person
    arm = rigged(bpy, mods, ob)
    cube = analytic_person["vertices"]
    near_hand = np.linalg.norm(cube - analytic_person["hands"][hand], axis=1) < 0.06
    opposite_foot = (cube[:, 1] < -0.7) & ((cube[:, 0] < 0) if foot == "right" else (cube[:, 0] > 0))
    assert near_hand.sum() > 50 and opposite_foot.sum() > 100
    rest = world_positions(ob)
    pose_bone = arm.pose.bones[bone]
    pose_bone.rotation_mode = 'XYZ'
    pose_bone.rotation_euler = (math.radians(45.0), 0.0, 0.0)      # swing the arm forward by 45 degrees
    bpy.context.view_layer.update()
    # the rig may have separated touching parts (the legs): copies follow the original vertices, in order
    moved = np.linalg.norm(world_positions(ob) - rest, axis=1)[:len(cube)]
    # shoulder to hand is ~0.55 m here: a 45 degree swing moves the hand by ~0.4 m
    assert moved[near_hand].min() > 0.2, moved[near_hand].min()
    assert moved[opposite_foot].max() < 1e-6
    pose_bone.rotation_euler = (0.0, 0.0, 0.0)


def test_missing_and_unsure_keypoints_fall_back(bpy, mods, clean_scene, make_person, analytic_person):
    """The left wrist unsure, the right elbow and knee missing: mirrored from the other side; the rig still
    places those joints within a few centimetres."""
    kp = analytic_person["keypoints"].copy()
    kp[7, 2] = 0.1              # LWrist: unsure
    kp[3] = (0.0, 0.0, 0.0)     # RElbow: not seen
    kp[10] = (0.0, 0.0, 0.0)    # RKnee: not seen
    ob, transform = make_person(keypoints=kp)
    sk = mods["skeleton"]
    verts = np.asarray([v.co for v in ob.data.vertices])
    skel = sk.estimate_skeleton(verts, np.array([p.vertices[:] for p in ob.data.polygons]),
                                mods["scene_object"].stored_keypoints(ob))
    assert skel.sources["LWrist"] == "mirrored" and skel.sources["RElbow"] == "mirrored"
    assert skel.sources["RKnee"] == "mirrored" and skel.sources["LShoulder"] == "keypoint"
    truth = to_world(transform, [analytic_person["truth"][i] for i in (7, 3, 10)])
    for joint, expected in zip(("wrist_l", "elbow_r", "knee_r"), truth):
        assert np.abs(skel.joints[joint][[0, 2]] - expected[[0, 2]]).max() < 0.03, joint
    arm = rigged(bpy, mods, ob)
    _names, w = weights_of(mods, ob, arm)
    assert np.allclose(w.sum(axis=1), 1.0, atol=1e-4)


def test_no_keypoints_uses_the_mesh_proportions(bpy, mods, clean_scene, make_person):
    ob, _ = make_person(keypoints=None)
    assert mods["scene_object"].stored_keypoints(ob) is None
    arm = rigged(bpy, mods, ob)
    m = np.asarray(arm.matrix_world)
    heads = {b.name: m[:3, :3] @ np.asarray(b.head_local) + m[:3, 3] for b in arm.data.bones}
    assert heads["LeftHand"][0] > 0.35 and heads["RightHand"][0] < -0.35     # the hands found at the sides
    assert heads["Head"][2] > heads["Neck"][2] > heads["Chest"][2] > heads["Hips"][2]
    assert heads["LeftFoot"][2] < 0.15 and heads["RightFoot"][2] < 0.15
    _names, w = weights_of(mods, ob, arm)
    assert np.allclose(w.sum(axis=1), 1.0, atol=1e-4)


def test_failed_automatic_weights_fall_back_to_distance_weights(bpy, mods, person, monkeypatch):
    ob, _ = person
    monkeypatch.setattr(mods["rig"], "_auto_weights", lambda context, ob, arm: False)   # bone heat errored
    arm = rigged(bpy, mods, ob, weights='AUTO')
    _names, w = weights_of(mods, ob, arm)
    assert np.allclose(w.sum(axis=1), 1.0, atol=1e-4)
    assert ob[mods["rig"].WEIGHTS_TAG].startswith("distance")
    assert ob.parent == arm and any(m.type == 'ARMATURE' and m.object == arm for m in ob.modifiers)


def test_bones_left_empty_by_bone_heat_are_repaired(bpy, mods, person, monkeypatch):
    """Bone heat "fails to find a solution" for some bones on difficult meshes: those bones end up with no
    weight and some vertices with none at all. Simulated by emptying the left hand's group after it ran."""
    ob, _ = person
    real = mods["rig"]._auto_weights

    def partly_failing(context, mesh, arm):
        ok = real(context, mesh, arm)
        group = mesh.vertex_groups["LeftHand"]
        group.remove(list(range(len(mesh.data.vertices))))
        return ok

    monkeypatch.setattr(mods["rig"], "_auto_weights", partly_failing)
    arm = rigged(bpy, mods, ob, weights='AUTO')
    names, w = weights_of(mods, ob, arm)
    assert np.allclose(w.sum(axis=1), 1.0, atol=1e-4)
    assert w[:, names.index("LeftHand")].sum() > 20
    assert "by distance" in ob[mods["rig"].WEIGHTS_TAG]


def test_rigging_again_replaces_the_rig(bpy, mods, person):
    ob, _ = person
    first = rigged(bpy, mods, ob).name
    arm = rigged(bpy, mods, ob, naming='MIXAMO')
    assert first not in bpy.data.objects or bpy.data.objects[first] == arm
    assert len([o for o in bpy.data.objects if o.type == 'ARMATURE']) == 1
    assert len(ob.vertex_groups) == 22 and sum(m.type == 'ARMATURE' for m in ob.modifiers) == 1


def test_rig_needs_a_mesh(bpy, clean_scene):
    assert not bpy.ops.pifuhd.rig.poll()
    bpy.ops.object.empty_add()
    assert not bpy.ops.pifuhd.rig.poll()


def test_pure_weight_helpers(mods):
    sk = mods["skeleton"]
    w = sk.limit_and_normalize(np.array([[0.5, 0.3, 0.1, 0.05, 0.05], [0, 0, 0, 0, 0], [2, 0, 0, 0, 1]]), 2)
    assert np.allclose(w[0], [0.625, 0.375, 0, 0, 0]) and not w[1].any() and np.allclose(w[2], [2 / 3, 0, 0, 0, 1 / 3])
    pts = np.array([[0.0, 0.0, 0.5], [1.0, 0.0, 0.5]])
    d = sk.segment_distances(pts, np.zeros((1, 3)), np.array([[0.0, 0.0, 1.0]]))
    assert np.allclose(d[:, 0], [0.0, 1.0])


def test_left_and_right_swapped_by_the_detector_are_put_back(bpy, mods, clean_scene, make_person, analytic_person):
    """A pose detector that takes the person for facing away labels the sides the other way round; the mesh
    always faces the camera, so the rig's Left bones still go to +X (the subject's left)."""
    sk = mods["skeleton"]
    kp = analytic_person["keypoints"].copy()
    for name, i in sk.KP.items():
        if name.startswith("L"):
            kp[[i, sk.KP[sk.MIRROR[name]]]] = kp[[sk.KP[sk.MIRROR[name]], i]]
    ob, _ = make_person(keypoints=kp)
    bpy.context.view_layer.objects.active = ob
    arm = rigged(bpy, mods, ob)
    m = np.asarray(arm.matrix_world)
    head = {b.name: m[:3, :3] @ np.asarray(b.head_local) + m[:3, 3] for b in arm.data.bones}
    assert head["LeftHand"][0] > 0.4 and head["RightHand"][0] < -0.4
    assert head["LeftUpperLeg"][0] > 0 > head["RightUpperLeg"][0]


def test_detector_labels_swapped_on_a_front_view_are_fixed_silently(bpy, mods, clean_scene, make_person,
                                                                    analytic_person):
    """Featureless front faces make the detector swap its left/right labels: the rig corrects them, and the
    message says nothing about the person facing away (the feet point at the camera)."""
    sk, rig = mods["skeleton"], mods["rig"]
    kp = analytic_person["keypoints"].copy()
    for name, i in sk.KP.items():
        if name.startswith("L"):
            kp[[i, sk.KP[sk.MIRROR[name]]]] = kp[[sk.KP[sk.MIRROR[name]], i]]
    for labels in (kp, analytic_person["keypoints"]):
        ob, _ = make_person(keypoints=labels)
        arm, info = rig.rig_object(bpy.context, ob)
        assert info["swapped_sides"] == (labels is kp)
        assert not info["faces_away"]
        text = rig.describe(arm, info)
        assert "away" not in text and "swapped" not in text, text
        bpy.data.objects.remove(arm)
        bpy.data.objects.remove(ob)


def test_a_photo_without_feet_is_told(bpy, mods, clean_scene, make_person, analytic_person):
    """The photo cut off at the knees (no ankle the detector is sure of): the message says the legs are guessed
    and what to do; with one ankle missing (mirrored from the other) it does not."""
    sk, rig = mods["skeleton"], mods["rig"]
    for missing in (("LAnkle", "RAnkle"), ("LAnkle",)):
        kp = analytic_person["keypoints"].copy()
        for name in missing:
            kp[sk.KP[name], 2] = 0.0
        ob, _ = make_person(keypoints=kp)
        arm, info = rig.rig_object(bpy.context, ob)
        text = rig.describe(arm, info)
        assert ("shows no feet" in text and "head to toe" in text) == (len(missing) == 2), text
        bpy.data.objects.remove(arm)
        bpy.data.objects.remove(ob)


def test_a_person_facing_away_is_told(bpy, mods, clean_scene, make_person):
    """The photo showed the person's back: the mesh's feet point away from the camera (+Y)."""
    from mathutils import Matrix
    ob, _ = make_person()
    ob.data.transform(Matrix.Diagonal((1.0, -1.0, 1.0, 1.0)))   # mirror front to back: feet point +Y
    ob.data.flip_normals()
    arm, info = mods["rig"].rig_object(bpy.context, ob)
    assert info["faces_away"]
    assert "face away from the camera" in mods["rig"].describe(arm, info)


def test_feet_the_photo_shows_side_on_say_nothing_about_facing(bpy, mods, clean_scene, make_person,
                                                               analytic_person):
    """A yoga warrior faces the camera with both feet turned sideways (heel to toe across the photo): the
    depth of such feet tells nothing, so the feet pointing back in the mesh must not make the rig say the
    person faces away (yoga_warrior_beach.jpg said it)."""
    from mathutils import Matrix
    sk = mods["skeleton"]
    kp = analytic_person["keypoints"].copy()
    for side, sign in (("L", 1.0), ("R", -1.0)):
        kp[sk.KP[side + "BigToe"], 0] = kp[sk.KP[side + "Heel"], 0] + sign * 0.25   # cube units, ~0.15 h
        kp[sk.KP[side + "BigToe"], 2] = kp[sk.KP[side + "Heel"], 2] = 0.9
    ob, _ = make_person(keypoints=kp)
    ob.data.transform(Matrix.Diagonal((1.0, -1.0, 1.0, 1.0)))   # the feet point away (+Y), as in the test above
    ob.data.flip_normals()
    arm, info = mods["rig"].rig_object(bpy.context, ob)
    assert not info["faces_away"]
    assert "away" not in mods["rig"].describe(arm, info)
