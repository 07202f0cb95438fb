"""The set-up's Blender glue with the real ``bpy`` wheel: register/unregister, the settings group, the
Preferences drawing (into a recording layout: background mode has no UI), and the operators' synchronous
path (background mode runs the job in the foreground). User folders go to a temporary directory."""
from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

bpy = pytest.importorskip("bpy")

from pifuhd_blender import setup  # noqa: E402
from pifuhd_blender.setup import deps, ui, weights  # noqa: E402
from test_setup_download import checkpoint_bytes  # noqa: E402,F401  (the tiny valid checkpoint fixture)


class Layout:
    """Records what the drawing code asks for; every container is another recorder."""

    def __init__(self, log: list):
        self.log = log
        self.enabled = True

    def _child(self, *args, **kwargs) -> "Layout":
        return Layout(self.log)
    row = column = box = _child

    def label(self, text="", icon="NONE"):
        self.log.append(("label", text, icon))

    def prop(self, data, name, **kwargs):
        getattr(data, name)  # fails on a wrong property name
        self.log.append(("prop", name, self.enabled))

    def operator(self, idname, **kwargs):
        self.log.append(("operator", idname, self.enabled))
        return SimpleNamespace()

    def progress(self, **kwargs):
        self.log.append(("progress", kwargs.get("text")))


@pytest.fixture
def registered(tmp_path, monkeypatch):
    """The set-up registered, with preferences built the way preferences.py builds them."""
    monkeypatch.setattr(ui, "user_dir", lambda: tmp_path / "user")
    setup.register()
    annotations = {"model_path": bpy.props.StringProperty(subtype="FILE_PATH"), **setup.preference_properties()}
    Prefs = type("PIFUHD_PG_test_prefs", (bpy.types.PropertyGroup,), {"__annotations__": annotations})
    bpy.utils.register_class(Prefs)
    bpy.types.WindowManager.pifuhd_test = bpy.props.PointerProperty(type=Prefs)
    prefs = bpy.context.window_manager.pifuhd_test
    monkeypatch.setattr(ui, "addon_preferences", lambda context=None: prefs)
    yield prefs
    del bpy.types.WindowManager.pifuhd_test
    bpy.utils.unregister_class(Prefs)
    setup.unregister()


def test_register_puts_the_site_dir_on_the_path_and_unregister_removes_it(registered, tmp_path):
    site = str(tmp_path / "user" / "site-packages")
    assert sys.path[-1] == site and hasattr(bpy.types, "PIFUHD_OT_download_model")
    assert registered.download_urls == weights.OFFICIAL_URL and not registered.accepted_licence
    setup.unregister()
    assert site not in sys.path and not hasattr(bpy.types, "PIFUHD_OT_download_model")
    setup.register()  # for the fixture's teardown


def test_preferences_draw(registered):
    log: list = []
    setup.draw_preferences(Layout(log), registered, bpy.context)
    labels = [entry[1] for entry in log if entry[0] == "label"]
    assert any(text.startswith("PyTorch 2.13.0") for text in labels)
    assert any("CC BY-NC 4.0" in text for text in labels) and "Not installed" in labels
    assert any("Online access is off" in text for text in labels)  # background Blender is offline
    buttons = {entry[1]: entry[2] for entry in log if entry[0] == "operator"}
    assert buttons["pifuhd.download_model"] is False and buttons["pifuhd.install_model_from_file"] is False
    assert buttons["pifuhd.install_dependencies"] is True
    assert {"accepted_licence", "download_urls", "python_path", "torch_build"} <= {
        entry[1] for entry in log if entry[0] == "prop"}
    # The size of what Install Dependencies brings, download and disk (the installer used to say "about 200 MB")
    assert f"Size: {deps.CPU_SIZE_TEXT}" in labels and "GB on disk" in deps.CPU_SIZE_TEXT


def test_operators_refuse_clearly_then_install_from_file(registered, tmp_path, checkpoint_bytes):  # noqa: F811
    """The real path: the checkpoint is checked by the backend's loader in a child Blender Python."""
    with pytest.raises(RuntimeError, match="Accept the PIFuHD licence"):
        bpy.ops.pifuhd.download_model()
    registered.accepted_licence = True
    with pytest.raises(RuntimeError, match="Allow Online Access"):
        bpy.ops.pifuhd.download_model()
    source = tmp_path / "pifuhd.pt"
    source.write_bytes(checkpoint_bytes)
    assert bpy.ops.pifuhd.install_model_from_file(filepath=str(source)) == {"FINISHED"}
    installed = tmp_path / "user" / "models" / "pifuhd.pt"
    assert installed.read_bytes() == checkpoint_bytes and setup.installed_model_path() == str(installed)
    site = str(tmp_path / "user" / "site-packages")
    assert setup.worker_environment(registered) == {"python": None, "append_paths": [site]}
    registered.python_path = sys.executable
    assert setup.worker_environment(registered) == {"python": sys.executable, "append_paths": []}


def test_background_job_progress_cancel_and_result(registered):
    """The interactive path: a job in a thread, the timer callback (called here: timers don't run headless)
    and the drawing while it runs; Cancel through the operator."""
    from pifuhd_blender.setup.jobs import Job, SetupCancelled

    def work(progress, cancel):
        progress(0.25, "Downloading: 1 of 4 GB")
        cancel.wait(30)
        raise SetupCancelled("Cancelled; the partial download is kept.")
    operator = SimpleNamespace(report=lambda kind, text: None)
    assert ui._start(operator, "model", Job("model", work), synchronous=False) == {"FINISHED"}
    assert bpy.app.timers.is_registered(ui._poll_jobs) and ui._poll_jobs() == 0.2
    log: list = []
    setup.draw_preferences(Layout(log), registered, bpy.context)
    assert ("progress", "Downloading: 1 of 4 GB") in log and ("operator", "pifuhd.cancel_setup", True) in log
    assert ui._start(operator, "model", Job("model", work), synchronous=False) == {"CANCELLED"}  # one at a time
    assert bpy.ops.pifuhd.cancel_setup(kind="model") == {"FINISHED"}
    ui._jobs["model"].wait(5)
    assert ui._poll_jobs() is None and "model" not in ui._jobs
    assert ui._finished["model"].state == "cancelled"
    bpy.app.timers.unregister(ui._poll_jobs)
