"""Operators: Reconstruct from Image (``bpy.ops.pifuhd.reconstruct``), Cancel, Preview and Free Memory.

``invoke`` (the panel's button) hands the job to the worker process and returns at once; a modal timer
reads its progress 10 times a second. ``execute`` (scripts, tests, Redo) runs the same job and waits for
it. Either way the object is built here, on Blender's main thread, and only once the worker has finished.
"""
from __future__ import annotations

import hashlib
import os
import sys
import traceback

import bpy
import numpy as np
from bpy.props import StringProperty

from . import bake, placement, preferences, rig, scene_object
from .client import WorkerError
from .props import settings_values
from .request import Request, RequestError, build_request, options_from_settings, photo_from_file
from .session import SESSION

PREVIEW_IMAGE = "PIFuHD Preview"
STAGE_LABELS = {"starting": "Starting", "photo": "Reading the photo", "model": "Loading the model",
                "prepare": "Preparing the photo", "networks": "Running the networks",
                "surface": "Extracting the surface", "mesh": "Building the mesh", "cleanup": "Cleaning the mesh",
                "colors": "Coloring", "decimate": "Reducing polygons"}


class UserError(Exception):
    """Something the user can fix; the message says how."""


def _photo_from_image(image: bpy.types.Image, client) -> tuple[dict, tuple, str]:
    """Photo fields of the worker request for an image loaded in Blender: its file when it is unchanged
    on disk, else its pixels (saved as .npy for the worker)."""
    path = bpy.path.abspath(image.filepath, library=image.library) if image.filepath else ""
    if image.source == 'FILE' and image.packed_file is None and not image.is_dirty and os.path.isfile(path):
        photo, key, source, _name = photo_from_file(path)
        return photo, key, source
    if len(image.pixels) == 0 or min(image.size) == 0:
        raise UserError(f"The image '{image.name}' has no pixels Blender can read: open it from a file.")
    width, height = image.size
    channels = len(image.pixels) // (width * height)
    pixels = np.empty(width * height * channels, np.float32)
    image.pixels.foreach_get(pixels)
    photo = placement.image_pixels_to_photo(pixels, width, height, channels, linear=image.is_float)
    digest = hashlib.sha1(photo.tobytes()).hexdigest()
    npy = client.temp_path(f"image-{digest[:16]}.npy")
    try:
        np.save(npy, photo)
    except OSError as err:
        raise UserError(f"Could not hand the image to the reconstruction: writing {npy} failed "
                        f"({err.strerror or err}). Free some disk space or check the temporary folder.") from None
    return {"photo_array": npy, "photo_name": image.name}, ("image", digest), f"Blender image '{image.name}'"


def _client(context):
    """The session's worker client, started the way the preferences (and the set-up) say."""
    env = preferences.worker_environment(context)
    return SESSION.get_client(env["python"], env["prepend"], env["append"])


def _stage_text(job) -> str:
    label = STAGE_LABELS.get(job.stage, job.stage.capitalize())
    return f"{label}… {job.fraction * 100:.0f}%"


def _redraw_panels(context) -> None:
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == 'VIEW_3D':
                area.tag_redraw()


class PIFUHD_OT_reconstruct(bpy.types.Operator):
    """Reconstruct the person in a photo as a coloured 3D mesh (PIFuHD), standing on the floor at the 3D cursor"""

    bl_idname = "pifuhd.reconstruct"
    bl_label = "Reconstruct from Image"
    bl_options = {'REGISTER', 'UNDO'}

    # What the call itself names; every setting comes from the panel (scene.pifuhd, declared in props.py).
    filepath: StringProperty(name="Photo", subtype='FILE_PATH',
                             description="The photo file (default: the panel's photo)")
    image_name: StringProperty(name="Image", description="An image loaded in Blender, used when no photo "
                                                         "file is given")
    checkpoint: StringProperty(name="Model File", subtype='FILE_PATH',
                               description="PIFuHD checkpoint; overrides the model set in the preferences")

    @classmethod
    def poll(cls, context):
        if SESSION.busy():
            cls.poll_message_set("A reconstruction is already running")
            return False
        return context.scene is not None and getattr(context.scene, "pifuhd", None) is not None

    # -- setting up the job
    def _make_request(self, context, client) -> Request:
        if context.mode != 'OBJECT':
            raise UserError("Switch to Object Mode first: the reconstruction is added as a new object.")
        settings = context.scene.pifuhd
        filepath, image_name = self.filepath, self.image_name
        if not filepath and not image_name:
            if settings.source == 'IMAGE':
                image_name = settings.image.name if settings.image else ""
            else:
                filepath = settings.filepath
        options = options_from_settings(settings_values(settings))
        if filepath:
            photo, photo_key, source, name = photo_from_file(bpy.path.abspath(filepath))
        elif image_name:
            image = bpy.data.images.get(image_name)
            if image is None:
                raise UserError(f"There is no image '{image_name}' in this file: choose the photo again.")
            photo, photo_key, source = _photo_from_image(image, client)
            name = os.path.splitext(image.name)[0]
        else:
            raise UserError("Choose a photo first: a file, or an image loaded in Blender (PIFuHD panel).")
        checkpoint, problem = preferences.resolve_checkpoint(context, self.checkpoint)
        if problem:
            raise UserError(problem)
        return build_request(photo, photo_key, source, name, checkpoint, options)

    def _start(self, context):
        """(request, job) for a new worker job, or (request, None) when the last result can be reused."""
        client = _client(context)
        request = self._make_request(context, client)
        if SESSION.results.get(request.key) is not None:
            return request, None
        out = client.temp_path(f"result-{os.getpid()}-{id(request)}.npz")
        job = client.submit("reconstruct", out=out, **request.payload)
        SESSION.job, SESSION.cancel_requested = job, False
        SESSION.set_status("Starting…", 0.0)
        return request, job

    # -- finishing
    def _fail(self, message: str) -> set:
        self.report({'ERROR'}, message)
        SESSION.set_status(message, None, "ERROR")
        return {'CANCELLED'}

    def _conclude(self, context, request: Request, job) -> set:
        """Turn the finished job (or the cached result when ``job`` is None) into the object."""
        if job is not None:
            if job.state == "cancelled":
                self.report({'INFO'}, "Reconstruction cancelled: nothing was added.")
                SESSION.set_status("Cancelled")
                return {'CANCELLED'}
            if job.state == "error":
                return self._fail(job.error_message or "The reconstruction failed.")
            arrays = job.load_arrays()
            device_used = str(job.result.get("info", {}).get("device", ""))
            SESSION.results.put(request.key, arrays, job.result.get("info", {}), job.warnings)
            SESSION.remember_time(job.seconds, request.options.resolution,
                                  "cpu" if device_used.startswith("cpu") else "gpu")
        cached = SESSION.results.get(request.key)
        arrays, info, warnings = cached.arrays, cached.info, cached.warnings
        settings = context.scene.pifuhd
        recorded = {k: v for k, v in request.options.to_dict().items() if v is not None}  # ID props hold no None
        provenance = {
            "source_photo": request.source,
            "model": request.payload["checkpoint"],
            "weights_license": preferences.WEIGHTS_LICENSE,
            "settings": dict(recorded, crop=[int(v) for v in info.get("crop", ())],
                             device_used=str(info.get("device", "")), target_height=settings.target_height,
                             use_colors=settings.use_colors, back_photo=request.options.back_photo or ""),
            "frame": "Z up, facing -Y, feet on z=0, centred on the 3D cursor",
        }
        try:
            ob = scene_object.build_person(
                context, arrays["vertices"], arrays["faces"], arrays["colors"] if settings.use_colors else None,
                name=request.name, target_height=settings.target_height, provenance=provenance,
                keypoints=arrays.get("keypoints"))
        except (placement.PlacementError, ValueError) as err:
            return self._fail(str(err))
        warnings = list(warnings) + self._gameready(context, ob)
        for warning in warnings:
            self.report({'WARNING'}, warning)
        seconds = f" in {job.seconds:.0f} s" if job is not None and job.seconds else ""
        message = (f"Added '{ob.name}': {len(arrays['vertices']):,} vertices, {len(arrays['faces']):,} faces"
                   f"{seconds}.")
        self.report({'INFO'}, message)
        SESSION.set_status(message, None, "WARNING" if warnings else "INFO")
        prefs = preferences.get_preferences(context)
        if prefs is not None and not prefs.keep_model_loaded:
            SESSION.stop_worker()
        return {'FINISHED'}

    def _gameready(self, context, ob) -> list[str]:
        """The Blender-side game-ready steps the user asked for (rig, texture bake) on the new object. A step
        that fails leaves the object as it is and becomes a warning."""
        notes = []
        settings = context.scene.pifuhd
        if settings.use_rig:
            try:
                arm, info = rig.rig_object(context, ob, naming=settings.rig_naming, weights=settings.rig_weights,
                                            separate_parts=settings.rig_separate_parts)
                self.report({'INFO'}, rig.describe(arm, info))
            except (rig.RigError, RuntimeError) as err:
                notes.append(f"The person was added but could not be rigged: {err}")
        if settings.use_bake:
            try:
                bake.bake_colors(context, ob, size=int(settings.bake_size), method=settings.bake_unwrap)
            except (bake.BakeError, RuntimeError) as err:
                notes.append(f"The person was added but its texture could not be baked: {err}")
        return notes

    def _guarded(self, fn, *args) -> set:
        """Run ``fn``; an unforeseen error becomes a report (details in the console), never a half result."""
        try:
            return fn(*args)
        except (UserError, RequestError, WorkerError) as err:
            return self._fail(str(err))
        except Exception as err:
            traceback.print_exc(file=sys.stderr)
            return self._fail(f"Unexpected problem ({type(err).__name__}: {err}). Details are in the system "
                              "console; please report it.")

    # -- the two ways in
    def execute(self, context):
        return self._guarded(self._execute, context)

    def _execute(self, context) -> set:
        request, job = self._start(context)
        if job is not None:
            wm = context.window_manager
            wm.progress_begin(0, 100)
            try:
                job.wait(on_progress=lambda j: wm.progress_update(int(j.fraction * 100)))
            finally:
                wm.progress_end()
        return self._conclude(context, request, job)

    def invoke(self, context, event):
        return self._guarded(self._invoke, context)

    def _invoke(self, context) -> set:
        self._request, self._job = self._start(context)
        if self._job is None:
            return self._conclude(context, self._request, None)
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        wm.progress_begin(0, 100)
        return {'RUNNING_MODAL'}

    def modal(self, context, event):
        job = self._job
        consumed = event.type == 'ESC'
        if consumed and event.value == 'PRESS':
            SESSION.cancel_requested = True
        if SESSION.cancel_requested and not job.finished and not job.cancelling:
            job.cancel()
            SESSION.set_status("Cancelling…", job.fraction)
        if event.type != 'TIMER':
            return {'RUNNING_MODAL'} if consumed else {'PASS_THROUGH'}
        job.poll()
        if not job.finished:
            if not job.cancelling:
                SESSION.set_status(_stage_text(job), job.fraction)
            context.window_manager.progress_update(int(job.fraction * 100))
            if context.workspace is not None:
                context.workspace.status_text_set(f"PIFuHD: {_stage_text(job)} (Esc to cancel)")
            _redraw_panels(context)
            return {'PASS_THROUGH'}
        self._end_modal(context)
        return self._guarded(self._conclude, context, self._request, job)

    def _end_modal(self, context) -> None:
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        if context.workspace is not None:
            context.workspace.status_text_set(None)
        SESSION.cancel_requested = False
        _redraw_panels(context)

    def cancel(self, context):  # Blender ends the modal (file closed, window gone): stop the job too
        if self._job is not None and not self._job.finished:
            self._job.cancel()
        self._end_modal(context)


class PIFUHD_OT_cancel(bpy.types.Operator):
    """Stop the running reconstruction (nothing is added)"""

    bl_idname = "pifuhd.cancel"
    bl_label = "Cancel"
    bl_options = {'INTERNAL'}

    @classmethod
    def poll(cls, context):
        return SESSION.busy()

    def execute(self, context):
        SESSION.cancel_requested = True
        if SESSION.job is not None and SESSION.job.op != "reconstruct":
            SESSION.job.cancel()
        return {'FINISHED'}


class PIFUHD_OT_preview(bpy.types.Operator):
    """Show what the network will see: the crop of the photo, with the background removed if chosen"""

    bl_idname = "pifuhd.preview"
    bl_label = "Preview Input"
    bl_options = {'REGISTER'}

    @classmethod
    def poll(cls, context):
        return not SESSION.busy() and getattr(context.scene, "pifuhd", None) is not None

    def _submit(self, context):
        settings = context.scene.pifuhd
        client = _client(context)
        if settings.source == 'IMAGE':
            if settings.image is None:
                raise UserError("Choose an image first.")
            photo, _key, _source = _photo_from_image(settings.image, client)
        else:
            if not settings.filepath:
                raise UserError("Choose a photo file first.")
            photo = photo_from_file(bpy.path.abspath(settings.filepath))[0]
        options = options_from_settings(settings_values(settings))
        job = client.submit("preview", out=client.temp_path("preview.png"), options=options.to_dict(), **photo)
        SESSION.job, SESSION.cancel_requested = job, False
        SESSION.set_status("Preparing the preview…", None)
        return job

    def execute(self, context):  # scripts and background mode: wait for it
        try:
            job = self._submit(context)
        except (UserError, RequestError, WorkerError) as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        job.wait()
        return {'FINISHED'} if finish_preview(job) else {'CANCELLED'}

    def invoke(self, context, event):
        try:
            self._submit(context)
        except (UserError, RequestError, WorkerError) as err:
            self.report({'ERROR'}, str(err))
            return {'CANCELLED'}
        bpy.app.timers.register(_poll_preview, first_interval=0.2)
        return {'FINISHED'}


def finish_preview(job) -> bool:
    """Load the finished preview into the ``PIFuHD Preview`` image (packed, so it outlives the temp file)."""
    if job.state != "done":
        text = job.error_message if job.state == "error" else "Preview cancelled."
        SESSION.set_status(text or "The preview failed.", None, "ERROR" if job.state == "error" else "INFO")
        return False
    path = job.result["path"]
    old = bpy.data.images.get(PREVIEW_IMAGE)
    if old is not None:
        bpy.data.images.remove(old)
    image = bpy.data.images.load(path)
    image.name = PREVIEW_IMAGE
    image.pack()
    try:
        os.remove(path)
    except OSError:
        pass
    SESSION.preview_image = image.name
    SESSION.set_status("; ".join(job.warnings) if job.warnings else "Preview ready: this is what the network sees.",
                       None, "WARNING" if job.warnings else "INFO")
    return True


def _poll_preview():
    job = SESSION.job
    if job is None or job.op != "preview":
        return None
    if SESSION.cancel_requested:
        job.cancel()
    if job.poll() == "running":
        return 0.2
    finish_preview(job)
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            area.tag_redraw()
    return None


class PIFUHD_OT_free_memory(bpy.types.Operator):
    """End the reconstruction process and free the memory its model uses (the next run loads it again)"""

    bl_idname = "pifuhd.free_memory"
    bl_label = "Free Memory"

    @classmethod
    def poll(cls, context):
        return not SESSION.busy()

    def execute(self, context):
        SESSION.stop_worker()
        SESSION.results.clear()
        self.report({'INFO'}, "The PIFuHD model was unloaded.")
        return {'FINISHED'}


CLASSES = (PIFUHD_OT_reconstruct, PIFUHD_OT_cancel, PIFUHD_OT_preview, PIFUHD_OT_free_memory)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    if bpy.app.timers.is_registered(_poll_preview):
        bpy.app.timers.unregister(_poll_preview)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
