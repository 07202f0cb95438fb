"""Blender glue for the set-up: the preference properties, the operators, and the drawing of the
Dependencies and Model sections of the add-on's Preferences.

All bpy access happens on the main thread: an operator reads the settings, then starts a
:class:`~.jobs.Job` whose thread only sees plain values; a ``bpy.app.timers`` function polls the jobs and
redraws the Preferences. In background mode (scripts, tests) the operators run their job synchronously.
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Optional

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty
from bpy.types import Operator

from .. import paths as addon_paths
from . import deps, weights
from .jobs import Job, JobState, SetupError

ADDON_PACKAGE = __package__.rpartition(".")[0]  # e.g. "bl_ext.user_default.pifuhd_reconstruct"

TORCH_BUILDS = [
    ("CPU", "CPU", f"PyTorch CPU build and the image libraries ({deps.CPU_SIZE_TEXT}); works on every computer"),
    ("CUDA", "NVIDIA GPU (CUDA 12.6)", f"PyTorch CUDA 12.6 build and the image libraries ({deps.CUDA_SIZE_TEXT}); "
                                        "needs an NVIDIA GPU with a recent driver"),
]

# ------------------------------------------------------------------------------------ locations


def user_dir() -> Path:
    """The extension's own user folder (kept across add-on updates; no admin rights needed)."""
    try:
        return Path(bpy.utils.extension_path_user(ADDON_PACKAGE, create=True))
    except ValueError:  # not installed as an extension (a legacy add-on or a development checkout)
        name = ADDON_PACKAGE.rpartition(".")[2]
        return Path(bpy.utils.user_resource("CONFIG", path=name, create=True))


def site_packages_dir() -> Path:
    """Where "Install dependencies" puts the Python packages (appended to ``sys.path`` on enable)."""
    path = user_dir() / "site-packages"
    path.mkdir(parents=True, exist_ok=True)
    return path


def installed_model_file() -> Path:
    """Where Download / Install from File put the model."""
    return weights.model_file(user_dir())


def addon_preferences(context=None):
    """The add-on's AddonPreferences (holding the properties of :func:`preference_properties`), or None."""
    addon = (context or bpy.context).preferences.addons.get(ADDON_PACKAGE)
    return addon.preferences if addon is not None else None


def installed_model_path(prefs=None) -> Optional[str]:
    """The model installed by Download / Install from File, or None (hook for preferences.py)."""
    path = installed_model_file()
    return str(path) if path.is_file() else None


def worker_environment(prefs=None) -> dict:
    """How to start the backend's worker (hook for preferences.py): ``python`` (None: Blender's own) and
    ``append_paths`` (the add-on's site-packages, only for Blender's own interpreter)."""
    external = getattr(prefs, "python_path", "").strip() if prefs is not None else ""
    if external:
        return {"python": str(deps.resolve_interpreter(bpy.path.abspath(external))), "append_paths": []}
    return {"python": None, "append_paths": [str(site_packages_dir())]}


def missing_dependencies() -> list[str]:
    """Labels of the dependencies Blender's Python cannot import (for "install them first" messages)."""
    return deps.missing_dependencies(_dependency_status(refresh=True))


# ---------------------------------------------------------------------------------- job state

_jobs: dict[str, Job] = {}
_finished: dict[str, JobState] = {}
_cache: dict[str, object] = {}


def _dependency_status(refresh: bool = False) -> list[deps.DependencyStatus]:
    if refresh or "deps" not in _cache:
        _cache["deps"] = deps.dependency_status(site_packages_dir())
    return _cache["deps"]  # type: ignore[return-value]


def _redraw_preferences() -> None:
    wm = bpy.context.window_manager
    for window in getattr(wm, "windows", []):
        for area in window.screen.areas:
            if area.type == "PREFERENCES":
                area.tag_redraw()


def _job_finished(kind: str, state: JobState) -> None:
    _finished[kind] = state
    if kind == "deps":
        deps.add_site_dir(site_packages_dir())
        _dependency_status(refresh=True)
    print(f"PIFuHD {kind}: {state.state}: {state.message}")


def _poll_jobs() -> Optional[float]:
    for kind, job in list(_jobs.items()):
        if not job.alive:
            del _jobs[kind]
            _job_finished(kind, job.snapshot())
    _redraw_preferences()
    return 0.2 if _jobs else None


def _start(operator: Operator, kind: str, job: Job, synchronous: bool) -> set[str]:
    if kind in _jobs:
        operator.report({"ERROR"}, "That task is already running: wait for it or cancel it.")
        return {"CANCELLED"}
    _finished.pop(kind, None)
    if synchronous:
        state = job.run()
        _job_finished(kind, state)
        if state.state == "done":
            operator.report({"INFO"}, state.message)
            return {"FINISHED"}
        operator.report({"ERROR"} if state.state == "failed" else {"WARNING"}, state.message)
        return {"CANCELLED"}
    _jobs[kind] = job.start()
    if not bpy.app.timers.is_registered(_poll_jobs):
        bpy.app.timers.register(_poll_jobs, first_interval=0.2, persistent=True)  # survives opening a file
    return {"FINISHED"}


def _verifier_factory(prefs):
    """Read the interpreter settings now (main thread); the job builds its verifier with its cancel event."""
    worker = worker_environment(prefs)
    python, append = worker["python"], worker["append_paths"]
    backend_root = addon_paths.backend_root()

    def make(cancel) -> weights.Verifier:
        return weights.subprocess_verifier(python or sys.executable, backend_root, append,
                                           external=python is not None, cancel=cancel)
    return make


# ------------------------------------------------------------------------------------ settings


def preference_properties() -> dict:
    """The preference properties the set-up needs, merged into the add-on's AddonPreferences
    (``model_path`` is the preferences' own: empty means the installed model)."""
    return {
        "accepted_licence": BoolProperty(
            name="I accept the PIFuHD licence (CC BY-NC 4.0: non-commercial use only)",
            description="The PIFuHD weights may only be used for non-commercial purposes, crediting the authors",
            default=False),
        "download_urls": StringProperty(
            name="Download URLs",
            description="Where Download Model fetches pifuhd.pt, tried in order (separate them with spaces); "
                        "the official URL first",
            default=weights.OFFICIAL_URL),
        "python_path": StringProperty(
            name="External Python",
            description="Optional: a Python interpreter with PyTorch (e.g. your CUDA environment) that runs the "
                        "reconstruction instead of Blender's Python with the add-on's dependencies",
            subtype="FILE_PATH", default=""),
        "torch_build": EnumProperty(name="PyTorch build", items=TORCH_BUILDS, default="CPU"),
    }


# ----------------------------------------------------------------------------------- operators


class _SetupOperator:
    synchronous: BoolProperty(
        name="Wait", description="Run in the foreground and return when done (for scripts)",
        default=False, options={"SKIP_SAVE", "HIDDEN"})

    @property
    def foreground(self) -> bool:
        return self.synchronous or bpy.app.background  # no timers run in background mode


class PIFUHD_OT_install_dependencies(_SetupOperator, Operator):
    """Install PyTorch, OpenCV, scikit-image and MediaPipe (pinned versions) into the add-on's own folder"""

    bl_idname = "pifuhd.install_dependencies"
    bl_label = "Install Dependencies"

    variant: EnumProperty(name="PyTorch build", items=TORCH_BUILDS, default="CPU")

    @classmethod
    def poll(cls, context):
        return "deps" not in _jobs

    def execute(self, context):
        site, logs = site_packages_dir(), user_dir() / "logs"
        make_steps = deps.default_steps(sys.executable, self.variant.lower())
        numpy_version = deps.blender_numpy_version()

        def work(progress, cancel):
            return deps.install_dependencies(site, make_steps, log_dir=logs, numpy_version=numpy_version,
                                             progress=progress, cancel=cancel, env=deps.python_env())
        return _start(self, "deps", Job("deps", work, lambda report: report.message()), self.foreground)


class PIFUHD_OT_refresh_dependencies(Operator):
    """Look again for the dependencies"""

    bl_idname = "pifuhd.refresh_dependencies"
    bl_label = "Refresh"

    def execute(self, context):
        _dependency_status(refresh=True)
        return {"FINISHED"}


class PIFUHD_OT_check_python(_SetupOperator, Operator):
    """Check that the external Python interpreter runs and can import PyTorch"""

    bl_idname = "pifuhd.check_python"
    bl_label = "Check Interpreter"

    def execute(self, context):
        prefs = addon_preferences(context)
        external = getattr(prefs, "python_path", "").strip() if prefs is not None else ""
        path = bpy.path.abspath(external) if external else ""

        def work(progress, cancel):
            progress(0.1, "Starting the interpreter and importing PyTorch")
            check = deps.validate_python(path)
            if not check.ok:
                raise SetupError(check.message)
            return check
        return _start(self, "python", Job("python", work, lambda check: check.message), self.foreground)


class PIFUHD_OT_download_model(_SetupOperator, Operator):
    """Download the PIFuHD weights (about 1.5 GB) into the add-on's user folder, resuming a partial download"""

    bl_idname = "pifuhd.download_model"
    bl_label = "Download Model"

    @classmethod
    def poll(cls, context):
        return "model" not in _jobs

    def execute(self, context):
        prefs = addon_preferences(context)
        online = bool(getattr(bpy.app, "online_access", True))
        accepted = bool(getattr(prefs, "accepted_licence", False))
        try:
            weights.check_download_allowed(online, accepted)
            urls = weights.parse_urls(getattr(prefs, "download_urls", weights.OFFICIAL_URL))
        except weights.WeightsError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        dest, make_verifier = installed_model_file(), _verifier_factory(prefs)

        def work(progress, cancel):
            return weights.download_model(urls, dest, online_access=online, accepted_licence=accepted,
                                          verify=make_verifier(cancel), progress=progress, cancel=cancel)
        return _start(self, "model", Job("model", work, _installed_message), self.foreground)


class PIFUHD_OT_install_model_from_file(_SetupOperator, Operator):
    """Install a pifuhd.pt you downloaded yourself (it is checked, then copied into the add-on's user folder)"""

    bl_idname = "pifuhd.install_model_from_file"
    bl_label = "Install Model from File"

    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})
    filter_glob: StringProperty(default="*.pt;*.pth;*.tar", options={"HIDDEN"})

    @classmethod
    def poll(cls, context):
        return "model" not in _jobs

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        prefs = addon_preferences(context)
        accepted = bool(getattr(prefs, "accepted_licence", False))
        if not accepted:
            self.report({"ERROR"}, weights.LICENCE_MESSAGE)
            return {"CANCELLED"}
        source, dest = Path(bpy.path.abspath(self.filepath)), installed_model_file()
        make_verifier = _verifier_factory(prefs)

        def work(progress, cancel):
            return weights.install_from_file(source, dest, verify=make_verifier(cancel),
                                             accepted_licence=accepted, progress=progress, cancel=cancel)
        return _start(self, "model", Job("model", work, _installed_message), self.foreground)


class PIFUHD_OT_cancel_setup(Operator):
    """Stop this task (a partial download is kept and resumes next time)"""

    bl_idname = "pifuhd.cancel_setup"
    bl_label = "Cancel"

    kind: StringProperty(options={"HIDDEN"})

    def execute(self, context):
        job = _jobs.get(self.kind)
        if job is not None:
            job.cancel()
        return {"FINISHED"}


class PIFUHD_OT_open_setup_log(Operator):
    """Open the installation log"""

    bl_idname = "pifuhd.open_setup_log"
    bl_label = "Open Log"

    filepath: StringProperty(subtype="FILE_PATH", options={"HIDDEN"})

    def execute(self, context):
        bpy.ops.wm.path_open(filepath=self.filepath)
        return {"FINISHED"}


def _installed_message(info: weights.ModelInfo) -> str:
    return f"Model installed and checked: {info.path} ({weights.format_size(info.size)})."


# ------------------------------------------------------------------------------------- drawing


def _wrapped(layout, text: str, context, icon: str = "NONE") -> None:
    width = getattr(getattr(context, "region", None), "width", 600) or 600
    lines = textwrap.wrap(text, max(30, int(width / 7))) or [""]
    col = layout.column(align=True)
    for n, line in enumerate(lines):
        col.label(text=line, icon=icon if n == 0 else "BLANK1" if icon != "NONE" else "NONE")


def _draw_job(layout, kind: str, context) -> bool:
    """Progress and Cancel while ``kind`` runs (True), else the last result if there is one (False)."""
    job = _jobs.get(kind)
    if job is not None and not job.alive:  # ended while no timer ran: show its result
        del _jobs[kind]
        _job_finished(kind, job.snapshot())
        job = None
    if job is not None:
        state = job.snapshot()
        row = layout.row(align=True)
        if hasattr(row, "progress"):
            row.progress(factor=state.fraction, type="BAR", text=state.stage)
        else:
            row.label(text=f"{state.fraction:.0%} {state.stage}")
        row.operator(PIFUHD_OT_cancel_setup.bl_idname, text="", icon="CANCEL").kind = kind
        return True
    state = _finished.get(kind)
    if state is not None:
        icon = {"done": "CHECKMARK", "cancelled": "INFO"}.get(state.state, "ERROR")
        _wrapped(layout, state.message, context, icon)
        if state.log_path is not None and state.state != "done":
            layout.operator(PIFUHD_OT_open_setup_log.bl_idname, icon="TEXT").filepath = str(state.log_path)
    return False


def _draw_dependencies(layout, s, context) -> None:
    col = layout.column()
    col.label(text="Dependencies", icon="SCRIPTPLUGINS")
    for status in _dependency_status():
        icon = "ERROR" if not status.found else ("INFO" if status.version_differs else "CHECKMARK")
        col.label(text=status.describe(), icon=icon)
    if deps.has_pending(site_packages_dir()):
        col.label(text="A finished installation is waiting: restart Blender to use it.", icon="INFO")
    if not _draw_job(col, "deps", context):
        row = col.row(align=True)
        row.prop(s, "torch_build", text="")
        row.operator(PIFUHD_OT_install_dependencies.bl_idname, icon="IMPORT").variant = s.torch_build
        row.operator(PIFUHD_OT_refresh_dependencies.bl_idname, text="", icon="FILE_REFRESH")
        size = deps.CUDA_SIZE_TEXT if s.torch_build == "CUDA" else deps.CPU_SIZE_TEXT
        col.label(text=f"Size: {size}", icon="DISK_DRIVE")
    col.label(text=f"Installed into the add-on's own folder: {site_packages_dir()}")
    sub = col.box().column()
    sub.prop(s, "python_path")
    if s.python_path.strip():
        if not _draw_job(sub, "python", context):
            sub.operator(PIFUHD_OT_check_python.bl_idname, icon="CONSOLE")


def _draw_model(layout, s, context) -> None:
    col = layout.column()
    col.label(text="Get the model (PIFuHD weights)", icon="IMPORT")
    licence = col.box().column(align=True)
    for line in weights.LICENCE_SUMMARY:
        licence.label(text=line)
    row = licence.row()
    row.operator("wm.url_open", text=f"Licence ({weights.LICENCE_NAME})", icon="URL").url = weights.LICENCE_URL
    row.operator("wm.url_open", text="Official project", icon="URL").url = weights.SOURCE_URL
    col.prop(s, "accepted_licence")
    status = weights.model_status(installed_model_file())
    col.label(text=status.describe(), icon="CHECKMARK" if status.installed else "INFO")
    online = bool(getattr(bpy.app, "online_access", True))
    if not online:
        _wrapped(col, "Online access is off (Preferences > System > Network): Download is unavailable; "
                      "use Install from File.", context, "ERROR")
    col.prop(s, "download_urls")
    if not _draw_job(col, "model", context):
        row = col.row(align=True)
        sub = row.row(align=True)
        sub.enabled = s.accepted_licence and online
        sub.operator(PIFUHD_OT_download_model.bl_idname, text=f"Download Model ({weights.APPROX_SIZE_TEXT})",
                     icon="IMPORT")
        sub = row.row(align=True)
        sub.enabled = s.accepted_licence
        sub.operator(PIFUHD_OT_install_model_from_file.bl_idname, text="Install from File...", icon="FILEBROWSER")


def draw_preferences(layout, prefs, context) -> None:
    """Draw the Dependencies and Model sections into ``layout``; ``prefs`` is the AddonPreferences."""
    _draw_dependencies(layout.box(), prefs, context)
    _draw_model(layout.box(), prefs, context)


# ------------------------------------------------------------------------------------ register

CLASSES = (
    PIFUHD_OT_install_dependencies,
    PIFUHD_OT_refresh_dependencies,
    PIFUHD_OT_check_python,
    PIFUHD_OT_download_model,
    PIFUHD_OT_install_model_from_file,
    PIFUHD_OT_cancel_setup,
    PIFUHD_OT_open_setup_log,
)


def register() -> None:
    """Register the operators, then put the dependencies on ``sys.path`` (finishing an installation that
    waited for a restart)."""
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    site = site_packages_dir()
    deps.activate_staged(site)
    deps.add_site_dir(site)


def unregister() -> None:
    for job in _jobs.values():
        job.cancel()
    for job in _jobs.values():
        job.wait(2.0)
    _jobs.clear()
    _finished.clear()
    _cache.clear()
    if bpy.app.timers.is_registered(_poll_jobs):
        bpy.app.timers.unregister(_poll_jobs)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
    deps.remove_site_dir(site_packages_dir())
