"""The add-on inside Blender (bpy wheel): install the built zip, enable it, reconstruct with the small
checkpoint through ``bpy.ops.pifuhd.reconstruct`` (the execute path), and check the object.

The small checkpoint has random weights: the mesh is chaos, but it is a real mesh from the real pipeline,
so its placement, size, colours, material and provenance can be checked. The face direction (nose to -Y)
needs a trained model; tests/test_placement.py checks the mapping that puts the cube's +z at Blender -Y.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

RESOLUTION = 32
HEIGHT = 1.75


@pytest.fixture(scope="module")
def paths_(shared_dir):
    return {
        "photo": str(shared_dir / "photos" / "ryota_rgba.png"),
        "checkpoint": str(shared_dir / "reference" / "parity" / "small" / "checkpoint.pt"),
    }


@pytest.fixture(scope="module")
def addon(installed_addon):
    import importlib
    return importlib.import_module(installed_addon)


def datablock_counts(bpy):
    return (len(bpy.data.objects), len(bpy.data.meshes), len(bpy.data.materials))


def vertex_positions(ob):
    co = np.empty(len(ob.data.vertices) * 3, np.float32)
    ob.data.vertices.foreach_get("co", co)
    return co.reshape(-1, 3) @ np.asarray(ob.matrix_world)[:3, :3].T + np.asarray(ob.matrix_world)[:3, 3]


@pytest.fixture(scope="module")
def reconstruction(bpy, addon, paths_, panel_settings):
    """One full reconstruction (about 30-40 s on 2 CPU cores), shared by the checks below."""
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    bpy.context.scene.cursor.location = (0.0, 0.0, 0.0)
    before = datablock_counts(bpy)
    t0 = time.monotonic()
    panel_settings(resolution=RESOLUTION, device='CPU', target_height=HEIGHT, use_colors=True,
                   remove_background=True)
    result = bpy.ops.pifuhd.reconstruct(filepath=paths_["photo"], checkpoint=paths_["checkpoint"])
    seconds = time.monotonic() - t0
    assert result == {'FINISHED'}
    ob = bpy.context.view_layer.objects.active
    return {"object": ob, "before": before, "seconds": seconds}


def test_addon_is_installed_from_the_zip(bpy, addon, installed_addon):
    assert "/extensions/user_default/" in addon.__file__.replace("\\", "/")
    assert hasattr(bpy.ops.pifuhd, "reconstruct")
    from importlib import import_module
    backend_root = import_module(f"{installed_addon}.paths").backend_root()
    assert (backend_root / "backend" / "engine.py").is_file()   # the bundled backend, not the repository's
    assert "extensions" in str(backend_root)


def test_object_exists_with_geometry(bpy, reconstruction):
    ob = reconstruction["object"]
    assert ob is not None and ob.type == 'MESH'
    assert ob.select_get() and bpy.context.view_layer.objects.active == ob
    assert len(ob.data.vertices) > 0 and len(ob.data.polygons) > 0
    assert all(p.loop_total == 3 for p in ob.data.polygons[:100])
    assert ob.name in bpy.context.scene.objects
    print(f"\nreconstruction: {len(ob.data.vertices)} vertices, {len(ob.data.polygons)} faces, "
          f"{reconstruction['seconds']:.1f} s")


def test_size_floor_and_centre(reconstruction):
    pts = vertex_positions(reconstruction["object"])
    height = pts[:, 2].max() - pts[:, 2].min()
    assert abs(height - HEIGHT) / HEIGHT < 0.01
    assert abs(pts[:, 2].min()) < 0.001
    centre = (pts[:, :2].min(axis=0) + pts[:, :2].max(axis=0)) / 2
    assert np.allclose(centre, 0.0, atol=1e-3)


def test_colour_attribute_material_and_shading(bpy, reconstruction):
    me = reconstruction["object"].data
    attr = me.color_attributes.get("Col")
    assert attr is not None and attr.data_type == 'FLOAT_COLOR' and attr.domain == 'POINT'
    assert me.color_attributes.active_color.name == "Col"
    assert me.color_attributes.render_color_index == me.color_attributes.find("Col")
    colours = np.empty(len(me.vertices) * 4, np.float32)
    attr.data.foreach_get("color", colours)
    colours = colours.reshape(-1, 4)
    assert colours[:, :3].min() >= 0.0 and colours[:, :3].max() <= 1.0 and colours[:, :3].std() > 0
    mat = me.materials[0]
    nodes = [n for n in mat.node_tree.nodes if n.type == 'VERTEX_COLOR']
    assert nodes and nodes[0].layer_name == "Col" and nodes[0].outputs["Color"].is_linked
    assert all(p.use_smooth for p in me.polygons[:100])
    views = [s for a in bpy.context.screen.areas if a.type == 'VIEW_3D' for s in a.spaces if s.type == 'VIEW_3D']
    assert views and all(v.shading.color_type == 'VERTEX' for v in views)  # 'VERTEX' is shown as "Attribute"


def test_provenance(reconstruction, paths_):
    ob = reconstruction["object"]
    assert ob["pifuhd_source_photo"] == paths_["photo"]
    assert ob["pifuhd_model"] == paths_["checkpoint"]
    assert ob["pifuhd_weights_license"] == "CC BY-NC 4.0"
    settings = ob["pifuhd_settings"].to_dict()
    assert settings["resolution"] == RESOLUTION and settings["device"] == "cpu"
    assert settings["target_height"] == pytest.approx(HEIGHT)
    assert len(settings["crop"]) == 3


def test_redo_with_another_height_reuses_the_result(bpy, reconstruction, paths_, panel_settings):
    """Adjust Last Operation re-runs execute; the same photo and model reuse the last result at once."""
    t0 = time.monotonic()
    panel_settings(target_height=1.2)
    result = bpy.ops.pifuhd.reconstruct(filepath=paths_["photo"], checkpoint=paths_["checkpoint"])
    panel_settings(target_height=HEIGHT)
    assert result == {'FINISHED'} and time.monotonic() - t0 < 5.0
    ob = bpy.context.view_layer.objects.active
    assert ob != reconstruction["object"]
    pts = vertex_positions(ob)
    assert abs((pts[:, 2].max() - pts[:, 2].min()) - 1.2) < 0.012
    bpy.data.objects.remove(ob)


def test_blender_image_source(bpy, addon, installed_addon, reconstruction, paths_):
    """An image loaded in Blender works: unchanged on disk -> its file; packed or edited -> its pixels
    (flipped to top-down rows, 8-bit), which match the file's."""
    import cv2
    from importlib import import_module
    ops = import_module(f"{installed_addon}.operators")
    image = bpy.data.images.load(paths_["photo"])
    client = addon.session.SESSION.client
    fields, key, source = ops._photo_from_image(image, client)
    assert fields == {"photo": paths_["photo"]} and source == paths_["photo"]
    image.pack()
    fields, key, source = ops._photo_from_image(image, client)
    arr = np.load(fields["photo_array"])
    expected = cv2.cvtColor(cv2.imread(paths_["photo"], cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)
    assert arr.shape == expected.shape and np.abs(arr.astype(int) - expected).max() <= 1
    # the operator takes the image by name and reuses the last result (same file, same settings)
    image.unpack(method='REMOVE')
    result = bpy.ops.pifuhd.reconstruct(image_name=image.name, checkpoint=paths_["checkpoint"])
    assert result == {'FINISHED'}
    bpy.data.objects.remove(bpy.context.view_layer.objects.active)


def test_undo_removes_the_object(bpy, addon, paths_, reconstruction, panel_settings):
    """One undo step removes the result.

    In the UI, Blender pushes an undo step after an operator with 'UNDO' in bl_options finishes. Headless,
    operators called from Python push none (and asking for it, ``bpy.ops.x('EXEC_DEFAULT', True)``,
    segfaults 5.0.1), and ``ed.undo`` needs a window context. So this test pushes the step the UI would push
    around the operator and checks that undoing it removes everything the operator made."""
    assert addon.operators.PIFUHD_OT_reconstruct.bl_options >= {'REGISTER', 'UNDO'}
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    panel_settings(resolution=RESOLUTION, device='CPU', target_height=HEIGHT, use_colors=True,
                   remove_background=True)
    window = bpy.context.window_manager.windows[0]
    area = next(a for a in window.screen.areas if a.type == 'VIEW_3D')
    with bpy.context.temp_override(window=window, area=area, region=area.regions[-1]):
        bpy.ops.ed.undo_push(message="before")
        before = {k: set(getattr(bpy.data, k).keys()) for k in ("objects", "meshes", "materials")}
        # same settings as the first run: the result is reused, so this is fast
        result = bpy.ops.pifuhd.reconstruct(filepath=paths_["photo"], checkpoint=paths_["checkpoint"])
        assert result == {'FINISHED'}
        bpy.ops.ed.undo_push(message="Reconstruct from Image")   # what the UI does for an 'UNDO' operator
        assert len(set(bpy.data.objects.keys()) - before["objects"]) == 1
        assert bpy.ops.ed.undo() == {'FINISHED'}
        after = {k: set(getattr(bpy.data, k).keys()) for k in ("objects", "meshes", "materials")}
        assert after == before


def test_deleting_people_leaves_no_orphan_data(bpy, addon, paths_, reconstruction, panel_settings):
    """Ten people (the last result reused, each at its own height), each deleted as a user would: no mesh or
    material of ours outlives its object."""
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    panel_settings(resolution=RESOLUTION, device='CPU', use_colors=True, remove_background=True)
    meshes, materials = set(bpy.data.meshes.keys()), set(bpy.data.materials.keys())
    for k in range(10):
        panel_settings(target_height=1.5 + 0.05 * k)
        assert bpy.ops.pifuhd.reconstruct(filepath=paths_["photo"], checkpoint=paths_["checkpoint"]) == {'FINISHED'}
        ob = bpy.context.view_layer.objects.active
        assert ob.data.get("pifuhd_generated") and ob.data.materials[0].get("pifuhd_generated")
        bpy.ops.object.select_all(action='DESELECT')
        ob.select_set(True)
        assert bpy.ops.object.delete() == {'FINISHED'}
        bpy.context.view_layer.update()
    orphans = [m.name for m in bpy.data.meshes if m.users == 0] + [m.name for m in bpy.data.materials if m.users == 0]
    assert orphans == []
    assert set(bpy.data.meshes.keys()) == meshes and set(bpy.data.materials.keys()) == materials


@pytest.mark.parametrize("case", ["missing photo", "photo is a folder", "not an image", "no model", "missing model",
                                  "bad model", "edit mode", "resolution too high", "resolution too low",
                                  "temp folder not writable"])
def test_failures_report_and_leave_nothing(bpy, addon, paths_, tmp_path, case, panel_settings, monkeypatch):
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    panel_settings(resolution=RESOLUTION, device='CPU')
    props = {"filepath": paths_["photo"], "checkpoint": paths_["checkpoint"]}
    expect = {"missing photo": "Photo not found", "photo is a folder": "is a folder", "not an image": "not an image",
              "no model": "Preferences", "missing model": "Model file not found", "bad model": "",
              "edit mode": "Object Mode", "resolution too high": "between 16 and 1024",
              "resolution too low": "between 16 and 1024",
              "temp folder not writable": "temporary folder"}[case]
    if case == "missing photo":
        props["filepath"] = str(tmp_path / "nobody.jpg")
    elif case == "photo is a folder":
        props["filepath"] = str(tmp_path)
    elif case == "resolution too high":
        panel_settings(resolution=100_000)                  # refused, not clamped to 1024 and started
        assert bpy.context.scene.pifuhd.resolution == 100_000
    elif case == "resolution too low":
        panel_settings(resolution=7)
    elif case == "temp folder not writable":
        addon.session.SESSION.results.clear()
        addon.session.SESSION.stop_worker()                 # a new client needs a new temporary folder
        import tempfile
        monkeypatch.setattr(tempfile, "mkdtemp", lambda *a, **k: (_ for _ in ()).throw(
            PermissionError(13, "Permission denied")))
    elif case == "not an image":
        bad = tmp_path / "photo.png"
        bad.write_text("not a picture")
        props["filepath"] = str(bad)
    elif case == "no model":
        props.pop("checkpoint")
    elif case == "missing model":
        props["checkpoint"] = str(tmp_path / "pifuhd.pt")
    elif case == "bad model":
        bad = tmp_path / "pifuhd.pt"
        bad.write_bytes(b"\0" * 4096)
        props["checkpoint"] = str(bad)
    elif case == "edit mode":
        bpy.ops.mesh.primitive_cube_add()
        bpy.ops.object.mode_set(mode='EDIT')
    before = datablock_counts(bpy)
    with pytest.raises(RuntimeError) as err:
        bpy.ops.pifuhd.reconstruct(**props)
    message = str(err.value)
    assert message.startswith("Error: ") and "Traceback" not in message
    assert expect in message, message
    assert datablock_counts(bpy) == before
    if case == "edit mode":
        bpy.ops.object.mode_set(mode='OBJECT')


def test_panel_and_settings_registered(bpy, addon):
    assert hasattr(bpy.types, "VIEW3D_PT_pifuhd")
    settings = bpy.context.scene.pifuhd
    assert settings.target_height == pytest.approx(1.75)
    assert [i.identifier for i in settings.bl_rna.properties["quality"].enum_items] == ["256", "384", "512",
                                                                                         "CUSTOM"]
    assert [i.identifier for i in settings.bl_rna.properties["device"].enum_items] == ["AUTO", "CPU", "GPU"]


class RecordingLayout:
    """Stands in for UILayout (background mode draws no UI): records labels, props and operators, and
    fails on a property name that does not exist."""

    def __init__(self, log):
        self.log, self.enabled, self.scale_y, self.use_property_split = log, True, 1.0, False

    def _child(self, *args, **kwargs):
        return RecordingLayout(self.log)
    row = column = box = _child

    def label(self, text="", icon='NONE'):
        self.log.append(("label", text))

    def prop(self, data, name, **kwargs):
        getattr(data, name)
        self.log.append(("prop", name))

    def operator(self, idname, **kwargs):
        from types import SimpleNamespace
        self.log.append(("operator", idname))
        return SimpleNamespace()  # operator properties get set on it

    def progress(self, **kwargs):
        self.log.append(("progress", kwargs.get("text")))

    def template_ID(self, data, name, **kwargs):
        getattr(data, name)
        self.log.append(("template_ID", name))

    def template_icon(self, **kwargs):
        self.log.append(("icon", kwargs.get("icon_value")))

    def separator(self, **kwargs):
        pass


def draw_panel(bpy, addon):
    from types import SimpleNamespace
    log = []
    addon.panel.VIEW3D_PT_pifuhd.draw(SimpleNamespace(layout=RecordingLayout(log)), bpy.context)
    return log


def test_panel_draws_idle_and_busy(bpy, addon):
    bpy.context.scene.pifuhd.source, bpy.context.scene.pifuhd.quality = 'FILE', '256'
    log = draw_panel(bpy, addon)
    props = [e[1] for e in log if e[0] == "prop"]
    assert props == ["source", "filepath", "quality", "device", "remove_background", "target_height",
                     "use_colors"]
    bpy.context.scene.pifuhd.quality = 'CUSTOM'        # the Custom quality shows its resolution
    assert "resolution" in [e[1] for e in draw_panel(bpy, addon) if e[0] == "prop"]
    bpy.context.scene.pifuhd.quality = '256'
    assert ("operator", "pifuhd.reconstruct") in log and ("operator", "pifuhd.preview") in log
    assert any(e[0] == "label" and (" on CPU" in e[1] or "Last run" in e[1]) for e in log)  # the estimate
    bpy.context.scene.pifuhd.source = 'IMAGE'
    assert ("template_ID", "image") in draw_panel(bpy, addon)
    bpy.context.scene.pifuhd.source = 'FILE'

    session = addon.session.SESSION
    busy = type("BusyJob", (), {"finished": False, "fraction": 0.4, "op": "reconstruct"})()
    saved = session.job
    session.job = busy
    session.set_status("Running the networks… 40%", 0.4)
    try:
        log = draw_panel(bpy, addon)
        assert ("progress", "Running the networks… 40%") in log and ("operator", "pifuhd.cancel") in log
        assert ("operator", "pifuhd.reconstruct") not in log
        assert not bpy.ops.pifuhd.reconstruct.poll()        # one job at a time
    finally:
        session.job = saved


def test_preview_of_what_the_network_sees(bpy, addon, paths_):
    bpy.context.scene.pifuhd.source = 'FILE'
    bpy.context.scene.pifuhd.filepath = paths_["photo"]
    assert bpy.ops.pifuhd.preview() == {'FINISHED'}
    image = bpy.data.images["PIFuHD Preview"]
    assert image.size[0] >= 512 and image.size[1] >= 512 and image.packed_file is not None
    log = draw_panel(bpy, addon)                   # the panel makes the image's preview icon and shows it
    assert image.preview is not None and ("icon", image.preview.icon_id) in log


def test_preferences_draw_with_the_setup_sections(bpy, addon, installed_addon):
    """The preferences panel (ours: model file, memory; the set-up's: dependencies, licence, download)."""
    prefs = bpy.context.preferences.addons[installed_addon].preferences
    assert prefs.model_path == "" and prefs.keep_model_loaded

    class Proxy:
        def __init__(self, layout):
            self.layout = layout

        def __getattr__(self, name):
            return getattr(prefs, name)

    log = []
    addon.preferences._draw(Proxy(RecordingLayout(log)), bpy.context)
    assert ("prop", "model_path") in log and ("operator", "pifuhd.free_memory") in log
    assert any("CC BY-NC 4.0" in e[1] for e in log if e[0] == "label")


def modal_driver(bpy, addon):
    """Something that runs the operator's modal code the way Blender would. Headless Blender never calls
    ``modal()`` (no event loop) and operator instances cannot be made by hand, so the operator's own
    functions are bound to a stand-in and fed timer and key events."""
    from types import SimpleNamespace
    cls = addon.operators.PIFUHD_OT_reconstruct

    class Driver:
        modal, _end_modal, _guarded, _conclude, _fail = (cls.__dict__[n] for n in (
            "modal", "_end_modal", "_guarded", "_conclude", "_fail"))

        def __init__(self, job, request):
            self._job, self._request, self.reports = job, request, []
            self._timer = bpy.context.window_manager.event_timer_add(0.1, window=bpy.context.window)

        def report(self, level, message):
            self.reports.append((set(level), message))

        def event(self, kind, value='NOTHING'):
            return self.modal(bpy.context, SimpleNamespace(type=kind, value=value))

    return Driver


@pytest.mark.parametrize("how", ["cancel button", "escape key"])
def test_modal_progress_and_cancel(bpy, addon, paths_, how):
    """The invoke path's loop: timer events show progress in the status; Cancel (the panel's button or Esc)
    stops the worker's job within about a second; nothing is added."""
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    ops, session = addon.operators, addon.session.SESSION
    client = ops._client(bpy.context)
    options = {"device": "cpu", "resolution": RESOLUTION, "remove_background": True}
    job = client.submit("reconstruct", out=client.temp_path("modal.npz"), photo=paths_["photo"],
                        checkpoint=paths_["checkpoint"], options=options)
    session.job, session.cancel_requested = job, False
    request = ops.Request({"checkpoint": paths_["checkpoint"]}, ("modal test",), paths_["photo"], "PIFuHD x",
                          addon.request.Options.from_dict(options))
    driver = modal_driver(bpy, addon)(job, request)
    before = datablock_counts(bpy)
    end = time.monotonic() + 120
    while job.stage not in ("prepare", "networks") and time.monotonic() < end:
        assert driver.event('TIMER') == {'PASS_THROUGH'}
        time.sleep(0.05)
    assert job.fraction > 0 and "%" in session.status.text and session.busy()
    assert driver.event('MOUSEMOVE') == {'PASS_THROUGH'}          # Blender stays usable meanwhile
    t0 = time.monotonic()
    if how == "cancel button":
        assert bpy.ops.pifuhd.cancel() == {'FINISHED'}
    else:
        assert driver.event('ESC', 'PRESS') == {'RUNNING_MODAL'}  # Esc is taken, not passed on
    result = {'PASS_THROUGH'}
    while result == {'PASS_THROUGH'} and time.monotonic() - t0 < 10:
        time.sleep(0.05)
        result = driver.event('TIMER')
    assert result == {'CANCELLED'} and time.monotonic() - t0 < 1.6
    assert any("cancelled" in message for _, message in driver.reports)
    assert datablock_counts(bpy) == before and not session.busy() and not session.cancel_requested
