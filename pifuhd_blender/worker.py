"""The reconstruction worker: a separate Python process that runs the backend for Blender.

Why a process: a crash or an out-of-memory kill takes down the worker, not Blender; Cancel can always stop
it (cooperatively first, by killing it if that is too slow); the GPU memory is freed when it ends; and the
model stays loaded between runs while it lives. Blender's process never imports torch.

This file has two halves and imports neither bpy nor the backend at module load:
the *protocol* (used on both sides) and :func:`main` (the worker process, started as
``python worker.py``; the folders for ``sys.path``, the one holding the ``backend`` package first, come in the
environment variable ``PIFUHD_WORKER_PATHS``).

Protocol: one JSON object per line (UTF-8). Blender -> worker on the worker's stdin::

    {"op": "reconstruct", "id": 1, "photo": "/path.jpg" | null, "photo_array": "/tmp/x.npy" | null,
     "checkpoint": "/path/pifuhd.pt", "device": "auto|cpu|gpu", "resolution": 256,
     "remove_background": true, "out": "/tmp/result-1.npz",
     "gameready": {"cleanup": true, "color_fill": true, "target_faces": 30000}}   # optional; 0 = no decimation
    {"op": "preview", "id": 2, "photo": ..., "photo_array": ..., "remove_background": true, "out": "/tmp/p.png"}
    {"op": "cancel", "id": 1}          # stop job 1 (acted on at once, even while it runs)
    {"op": "quit"}                     # end the worker (EOF on stdin does the same)

Worker -> Blender on a private copy of the worker's original stdout (the process's own fd 1 is pointed at
stderr, so stray prints from libraries never corrupt the protocol; stderr goes to a log file)::

    {"type": "ready", "protocol": 1, "pid": 123, "python": "3.11.7"}
    {"type": "devices", "torch": "2.13.0", "cuda": false, "mps": false}     # once the backend is imported
    {"type": "model", "id": 1, "cached": true, "description": "PIFuHD pifuhd.pt (... parameters) on cuda"}
    {"type": "progress", "id": 1, "fraction": 0.42, "stage": "surface"}
    {"type": "result", "id": 1, "path": "/tmp/result-1.npz", "vertices": V, "faces": F,
     "info": {...}, "warnings": [...]}
    {"type": "error", "id": 1, "kind": "ImageError", "message": "Photo not found: ..."}
    {"type": "cancelled", "id": 1}

Result arrays travel in an uncompressed ``.npz`` (``vertices`` [V,3] float32 in the cube frame, ``faces``
[F,3] int32, ``colors`` [V,3] float32 sRGB values, and when photo preparation ran ``keypoints`` [25,3] float64:
the BODY_25 keypoints as (cube x, cube y, confidence), see ``backend/keypoints.py``), written to a temporary
name and renamed when complete. The game-ready steps (``backend.meshops``: clean-up, colour fill, decimation)
run after the reconstruction when the job asks for them; one that is not available becomes a warning.
Every job ends with exactly one of ``result``, ``error`` or ``cancelled``.
"""
from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
import traceback

PROTOCOL = 1
PATHS_VARIABLE = "PIFUHD_WORKER_PATHS"  # JSON {"prepend": [...], "append": [...]}: folders for sys.path
PROGRESS_INTERVAL = 0.1  # seconds between progress messages of the same stage (the UI polls at 10 Hz)

# Error kinds beyond the backend's exception class names.
DEPENDENCY_ERROR = "DependencyError"
INTERNAL_ERROR = "InternalError"
CRASH = "WorkerCrashed"
MEMORY_ERROR = "OutOfMemory"


def encode(message: dict) -> bytes:
    """One protocol message -> one line of bytes."""
    return (json.dumps(message, separators=(",", ":"), default=str) + "\n").encode("utf-8")


def decode(line: bytes | str) -> dict | None:
    """One line -> a message dict, or None for a line that is not one (ignored by both sides)."""
    try:
        msg = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return msg if isinstance(msg, dict) else None


# ----------------------------------------------------------------------------------------- worker side

class _Sender:
    """Writes protocol messages to the private pipe; safe from several threads."""

    def __init__(self, stream):
        self.stream = stream
        self.lock = threading.Lock()

    def __call__(self, **message) -> None:
        data = encode(message)
        with self.lock:
            try:
                self.stream.write(data)
                self.stream.flush()
            except (BrokenPipeError, OSError):
                os._exit(0)  # Blender is gone: nobody to work for


class _Progress:
    """The engine's progress(fraction, stage) callback, mapped into [start, end] and throttled."""

    def __init__(self, send: _Sender, job_id: int, start: float = 0.0, end: float = 1.0):
        self.send, self.job_id, self.start, self.end = send, job_id, start, end
        self.last_time, self.last_stage = 0.0, None

    def __call__(self, fraction: float, stage: str) -> None:
        now = time.monotonic()
        if stage == self.last_stage and now - self.last_time < PROGRESS_INTERVAL and fraction < 1.0:
            return
        self.last_time, self.last_stage = now, stage
        value = self.start + (self.end - self.start) * min(max(float(fraction), 0.0), 1.0)
        self.send(type="progress", id=self.job_id, fraction=round(value, 4), stage=stage)


class _Worker:
    """Runs one job at a time from the command queue; keeps the last model loaded."""

    def __init__(self, send: _Sender):
        self.send = send
        self.backend = None
        self.import_error: str | None = None
        self.model = None
        self.model_key = None

    def import_backend(self) -> None:
        try:
            import numpy  # noqa: F401
            import backend
            import backend.engine  # noqa: F401  (backend loads lazily: this is what needs torch)
            self.backend = backend
        except ImportError as err:
            missing = getattr(err, "name", None) or str(err)
            self.import_error = (
                f"The reconstruction needs Python packages that are not installed ({missing}). "
                "Open Edit > Preferences > Add-ons > PIFuHD and click Install dependencies.")
            print(f"worker: import failed: {err!r}", file=sys.stderr)

    # -- helpers
    def load_photo(self, msg: dict):
        import numpy as np
        from backend.engine import as_image
        from backend.errors import ImageError
        if msg.get("photo_array"):
            try:
                arr = np.load(msg["photo_array"], allow_pickle=False)
            except (OSError, ValueError) as err:
                raise ImageError(f"Could not read the image handed over by Blender ({err}).") from None
            return as_image(arr), msg.get("photo_name") or "Blender image"
        photo = msg.get("photo")
        if not photo:
            raise ImageError("No photo was given: choose a photo file or an image loaded in Blender.")
        return as_image(photo), photo

    def get_model(self, checkpoint: str, device: str):
        from backend.errors import CheckpointError
        if not checkpoint:
            raise CheckpointError("No PIFuHD model is set: install it in Edit > Preferences > Add-ons > "
                                  "PIFuHD (Download model or Install from file), or give a checkpoint path.")
        try:
            st = os.stat(checkpoint)
            key = (os.path.realpath(checkpoint), st.st_size, st.st_mtime_ns, device)
        except OSError:
            raise CheckpointError(f"Model file not found: {checkpoint}. Check the model path in the "
                                  "add-on's preferences.") from None
        if self.model is not None and self.model_key == key:
            return self.model, True
        self.model = self.model_key = None  # free the old one first (GPU memory)
        self.model = self.backend.load_model(checkpoint, device=device)
        self.model_key = key
        return self.model, False

    def prepare(self, photo, remove_background: bool, sizes: tuple[int, int] = (512, 1024)):
        """Photo preparation (person detection, crop, background) when the backend has it.

        Returns (inputs or None, warnings, preview or None, keypoints or None); None inputs mean "use the
        engine's default crop" (the alpha's extent for a cut-out, else the whole photo). keypoints: BODY_25
        [25, 3] (cube x, cube y, confidence) for the fine input of ``sizes``.
        """
        try:
            prepare_photo = getattr(self.backend, "prepare_photo", None)  # loaded on first use
            if prepare_photo is None:
                return None, ["Person detection is not part of this version: the photo was used as it is "
                              "(a cut-out PNG with transparency works best)."], None, None
            prepared = prepare_photo(photo, remove_background=remove_background,
                                     coarse_size=sizes[0], fine_size=sizes[1])
        except ImportError as err:
            print(f"worker: photo preparation unavailable: {err!r}", file=sys.stderr)
            return None, [f"Person detection needs a package that is missing ({getattr(err, 'name', err)}): "
                          "the photo was used as it is. Install dependencies in the add-on's preferences."], None, None
        keypoints = None
        if getattr(prepared, "keypoints", None) is not None and getattr(prepared, "crop", None) is not None:
            from backend.keypoints import photo_to_cube
            keypoints = photo_to_cube(prepared.keypoints, prepared.crop, sizes[1])
        return (getattr(prepared, "inputs", None), [str(w) for w in getattr(prepared, "warnings", [])],
                getattr(prepared, "preview", None), keypoints)

    def gameready(self, mesh, inputs, options: dict, progress, cancel: threading.Event):
        """The optional game-ready steps on the engine's mesh, in the cube frame: clean-up (keep the person,
        close small holes, drop degenerate faces), colour fill (photo colour where the camera saw the
        surface, on the back of the same part where it matches the sides, filled along the surface elsewhere), decimation to ``target_faces`` triangles (colours kept).
        They come from ``backend.meshops``; a step it does not offer (yet) is skipped with a warning.
        Returns (mesh, warnings, info)."""
        import numpy as np
        from backend.errors import Cancelled
        wanted = [name for name, on in (("cleanup", options.get("cleanup")), ("color_fill", options.get("color_fill")),
                                        ("decimate", int(options.get("target_faces") or 0) > 0)) if on]
        if not wanted:
            return mesh, [], {}
        try:
            from backend import meshops
        except ImportError as err:
            print(f"worker: backend.meshops unavailable: {err!r}", file=sys.stderr)
            meshops = None
        functions = {"cleanup": "clean_mesh", "color_fill": "colorize", "decimate": "decimate"}
        labels = {"cleanup": "Mesh clean-up", "color_fill": "Colour fill", "decimate": "Decimation"}
        warnings, info = [], {}
        for k, step in enumerate(wanted):
            if cancel.is_set():
                raise Cancelled("Cancelled by the user.")
            progress(k / len(wanted), step)
            fn = getattr(meshops, functions[step], None) if meshops is not None else None
            if fn is None:
                warnings.append(f"{labels[step]} is not available in this version of the add-on (backend.meshops."
                                f"{functions[step]} is missing), so it was skipped.")
                continue
            before = (len(mesh.vertices), len(mesh.faces))
            if step == "cleanup":   # keep a detached hand or foot: pieces of at least 5% of the body's area
                kwargs = {"min_component_fraction": 0.05} if _accepts(fn, "min_component_fraction") else {}
                mesh = _as_mesh(fn(mesh, **kwargs), mesh)
            elif step == "color_fill":
                colors = fn(mesh, inputs.image_1024, inputs.calib)
                mesh.colors = np.ascontiguousarray(getattr(colors, "colors", colors), dtype=np.float32).reshape(-1, 3)
            else:
                target = int(options["target_faces"])
                if len(mesh.faces) > target:
                    mesh = _as_mesh(fn(mesh, target), mesh)
            info[step] = {"vertices_before": before[0], "faces_before": before[1],
                          "vertices_after": int(len(mesh.vertices)), "faces_after": int(len(mesh.faces))}
        progress(1.0, wanted[-1])
        return mesh, warnings, info

    # -- jobs
    def reconstruct(self, msg: dict, cancel: threading.Event) -> None:
        import numpy as np
        from backend.errors import Cancelled, PIFuHDError
        job_id = msg["id"]
        self.send(type="progress", id=job_id, fraction=0.0, stage="photo")
        photo, _name = self.load_photo(msg)
        if cancel.is_set():
            raise Cancelled("Cancelled by the user.")
        self.send(type="progress", id=job_id, fraction=0.01, stage="model")
        model, cached = self.get_model(msg.get("checkpoint") or "", msg.get("device") or "auto")
        self.send(type="model", id=job_id, cached=cached, description=model.describe())
        if cancel.is_set():
            raise Cancelled("Cancelled by the user.")
        self.send(type="progress", id=job_id, fraction=0.05, stage="prepare")
        sizes = (model.coarse.load_size, model.fine.load_size)
        inputs, warnings, _preview, keypoints = self.prepare(photo, bool(msg.get("remove_background", True)), sizes)
        options = dict(msg.get("gameready") or {})
        if inputs is None and options.get("color_fill"):   # the colour fill needs the inputs: make the default ones
            from backend.input_transform import prepare_inputs
            inputs = prepare_inputs(photo, None, *sizes)
        extra = any(options.get(k) for k in ("cleanup", "color_fill", "target_faces"))
        end = 0.9 if extra else 0.99
        mesh = self.backend.reconstruct(photo, model, resolution=int(msg.get("resolution", 256)), inputs=inputs,
                                        progress=_Progress(self.send, job_id, 0.08, end), cancel=cancel)
        if mesh.is_empty:
            raise PIFuHDError("The network found no surface in this photo: check that one whole person is "
                              "visible and fills most of the photo's height, or try another photo.")
        info = dict(mesh.info)
        mesh, more, steps = self.gameready(mesh, inputs, options, _Progress(self.send, job_id, end, 0.99), cancel)
        warnings = warnings + more
        if mesh.is_empty:
            raise PIFuHDError("Nothing was left of the surface after the clean-up: try without clean-up.")
        arrays = {"vertices": mesh.vertices, "faces": mesh.faces, "colors": mesh.colors}
        if keypoints is not None:
            arrays["keypoints"] = np.asarray(keypoints, dtype=np.float64)
        out = msg["out"]
        tmp = out + ".part.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, out)
        info["model_reused"] = cached
        info["model"] = model.describe()
        info["keypoints"] = keypoints is not None
        if steps:
            info["gameready"] = steps
        self.send(type="result", id=job_id, path=out, vertices=int(len(mesh.vertices)),
                  faces=int(len(mesh.faces)), info=info, warnings=warnings)

    def preview(self, msg: dict, cancel: threading.Event) -> None:
        """What the network sees: the prepared 512 input (photo preparation's own preview when it has one)."""
        import cv2
        import numpy as np
        photo, _name = self.load_photo(msg)
        inputs, warnings, preview, _keypoints = self.prepare(photo, bool(msg.get("remove_background", True)))
        if preview is None:
            if inputs is None:
                from backend.input_transform import prepare_inputs
                inputs = prepare_inputs(photo, None, 512, 512)
            t = inputs.image_512[0].permute(1, 2, 0).cpu().numpy()
            preview = np.clip((t * 0.5 + 0.5) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        preview = np.asarray(preview)
        if preview.ndim == 3 and preview.shape[2] >= 3:
            preview = cv2.cvtColor(preview[:, :, :3], cv2.COLOR_RGB2BGR)
        ok, data = cv2.imencode(".png", preview)
        if not ok:
            raise RuntimeError("could not encode the preview")
        tmp = msg["out"] + ".part"
        with open(tmp, "wb") as fh:
            fh.write(data.tobytes())
        os.replace(tmp, msg["out"])
        self.send(type="result", id=msg["id"], path=msg["out"], warnings=warnings)

    def run(self, msg: dict, cancel: threading.Event) -> None:
        """Run one job and always end it with exactly one terminal message."""
        job_id = msg.get("id")
        handler = {"reconstruct": self.reconstruct, "preview": self.preview}.get(msg.get("op"))
        if handler is None:
            self.send(type="error", id=job_id, kind=INTERNAL_ERROR, message=f"Unknown request {msg.get('op')!r}.")
            return
        if self.backend is None:
            self.send(type="error", id=job_id, kind=DEPENDENCY_ERROR, message=self.import_error)
            return
        from backend.errors import Cancelled, PIFuHDError
        try:
            if cancel.is_set():
                raise Cancelled("Cancelled by the user.")
            handler(msg, cancel)
        except Cancelled:
            self.send(type="cancelled", id=job_id)
        except PIFuHDError as err:
            self.send(type="error", id=job_id, kind=type(err).__name__, message=str(err))
        except MemoryError:
            self.model = self.model_key = None
            self.send(type="error", id=job_id, kind=MEMORY_ERROR,
                      message="Out of memory: choose a lower quality, or close other programs.")
        except ImportError as err:
            self.send(type="error", id=job_id, kind=DEPENDENCY_ERROR,
                      message=f"A Python package is missing ({err}). Open Edit > Preferences > Add-ons > "
                              "PIFuHD and click Install dependencies.")
        except Exception as err:  # anything unforeseen: a readable line for the user, the traceback to the log
            traceback.print_exc(file=sys.stderr)
            if "out of memory" in str(err).lower():
                self.model = self.model_key = None
                self.send(type="error", id=job_id, kind=MEMORY_ERROR,
                          message="Out of memory: choose a lower quality or the CPU device.")
            else:
                self.send(type="error", id=job_id, kind=INTERNAL_ERROR,
                          message=f"The reconstruction failed ({type(err).__name__}: {err}). "
                                  "The worker log has the details.")
        finally:
            sys.stderr.flush()


def _accepts(fn, name: str) -> bool:
    import inspect
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _as_mesh(result, template):
    """A mesh operation's result as a backend Mesh (it may return one, or (vertices, faces[, colors]))."""
    if hasattr(result, "vertices") and hasattr(result, "faces"):
        return result
    import numpy as np
    from backend.mesh import Mesh
    vertices, faces = result[0], result[1]
    colors = result[2] if len(result) > 2 else np.full((len(vertices), 3), 0.5, np.float32)  # none given: grey
    return Mesh(vertices, faces, colors, frame=template.frame, info=dict(template.info))


def _read_commands(commands: "queue.Queue[dict]", cancels: dict, lock: threading.Lock) -> None:
    """stdin reader thread: cancel requests act at once; everything else is queued. EOF cancels all."""
    for line in sys.stdin.buffer:
        msg = decode(line)
        if msg is None:
            continue
        if msg.get("op") == "cancel":
            with lock:
                event = cancels.setdefault(msg.get("id"), threading.Event())
            event.set()
        else:
            commands.put(msg)
    with lock:
        for event in cancels.values():
            event.set()
    commands.put({"op": "quit"})


def _devices() -> dict:
    """Which devices torch can use here (the panel's estimate picks CPU or GPU from it)."""
    try:
        import torch
    except ImportError:
        return {"torch": False, "cuda": False, "mps": False}
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None)
    info = {"torch": torch.__version__, "cuda": cuda, "mps": bool(mps is not None and mps.is_available())}
    if cuda:
        props = torch.cuda.get_device_properties(0)
        info.update(gpu_name=props.name, gpu_memory_gb=round(props.total_memory / 2 ** 30, 1))
    return info


def _extend_sys_path() -> None:
    try:
        paths = json.loads(os.environ.get(PATHS_VARIABLE) or "{}")
    except ValueError:
        paths = {}
    sys.path[:0] = [p for p in paths.get("prepend", []) if p not in sys.path]
    sys.path.extend(p for p in paths.get("append", []) if p not in sys.path)


def main() -> int:
    _extend_sys_path()
    proto = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything printed to stdout now lands in the log, not in the protocol
    send = _Sender(proto)
    commands: "queue.Queue[dict]" = queue.Queue()
    cancels: dict = {}
    lock = threading.Lock()
    threading.Thread(target=_read_commands, args=(commands, cancels, lock), daemon=True).start()
    send(type="ready", protocol=PROTOCOL, pid=os.getpid(), python=sys.version.split()[0])
    worker = _Worker(send)
    worker.import_backend()
    send(type="devices", **_devices())
    while True:
        msg = commands.get()
        if msg.get("op") == "quit":
            break
        with lock:
            cancel = cancels.setdefault(msg.get("id"), threading.Event())
        worker.run(msg, cancel)
        with lock:
            cancels.pop(msg.get("id"), None)
    sys.stderr.flush()
    os._exit(0)  # no interpreter teardown: daemon threads and torch pools end with the process


if __name__ == "__main__":
    sys.exit(main())
