"""Blender's side of the worker protocol (see ``worker.py``), without bpy: start the worker process, send
jobs, read its messages without blocking, cancel, and notice a crash.

Blender's main thread calls :meth:`Job.poll` from a modal timer (or :meth:`Job.wait` in ``execute``); a
reader thread only moves decoded messages into a queue, so no bpy data is ever touched off the main thread.
"""
from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

from . import worker as protocol

WORKER_SCRIPT = Path(protocol.__file__).resolve()
CANCEL_GRACE = 1.0      # seconds the worker gets to stop by itself before it is killed
STOP_GRACE = 2.0        # seconds for a polite quit before a kill
# Lines native libraries write to the worker's log (glog "W0000 00:00:17.1 123 file.cc:12] ...", TF Lite's
# "INFO: ..."): never what went wrong, so never quoted as the reason for a crash.
NATIVE_LOG = re.compile(r"^([IWEF]\d{4} \d\d:\d\d:|INFO: |WARNING: All log messages before absl)")


class WorkerError(Exception):
    """The worker could not be started or asked; the message says what to do."""


class Job:
    """One request to the worker. ``state`` is 'running', then 'done', 'error' or 'cancelled'."""

    def __init__(self, client: "WorkerClient", job_id: int, op: str):
        self.client, self.id, self.op = client, job_id, op
        self.state = "running"
        self.fraction, self.stage = 0.0, "starting"
        self.result: dict | None = None
        self.model: dict | None = None       # the worker's "model" message: cached, description
        self.error_kind: str | None = None
        self.error_message: str | None = None
        self.warnings: list[str] = []
        self.cancel_deadline: float | None = None
        self.started = time.monotonic()
        self.seconds: float | None = None

    @property
    def finished(self) -> bool:
        return self.state != "running"

    @property
    def cancelling(self) -> bool:
        return self.cancel_deadline is not None and not self.finished

    def poll(self) -> str:
        """Read what the worker said so far (never blocks); returns the state."""
        self.client.poll()
        return self.state

    def cancel(self) -> None:
        """Ask the worker to stop this job; it is killed if it has not stopped within ``CANCEL_GRACE``."""
        if self.finished or self.cancel_deadline is not None:
            return
        self.cancel_deadline = time.monotonic() + CANCEL_GRACE
        self.client.send({"op": "cancel", "id": self.id})

    def wait(self, timeout: float | None = None, on_progress: Callable[["Job"], None] | None = None,
             interval: float = 0.05) -> str:
        """Block until the job ends (for ``execute`` and scripts); ``on_progress(job)`` after each poll."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() == "running":
            if on_progress is not None:
                on_progress(self)
            if end is not None and time.monotonic() > end:
                self.cancel()
                end = None  # the cancel deadline takes over
            time.sleep(interval)
        return self.state

    def load_arrays(self) -> dict:
        """The result's arrays (vertices, faces, colors); the temporary file is removed."""
        import numpy as np
        path = self.result["path"]
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        _remove(path)
        return arrays

    # -- called by the client
    def _message(self, msg: dict) -> None:
        kind = msg.get("type")
        if kind == "progress":
            self.fraction = max(self.fraction, float(msg.get("fraction", 0.0)))
            self.stage = str(msg.get("stage", ""))
        elif kind == "model":
            self.model = msg
        elif kind == "result":
            if self.cancel_deadline is not None:  # the user already cancelled: drop it
                _remove(msg.get("path"))
                self._end("cancelled")
            else:
                self.result = msg
                self.warnings = list(msg.get("warnings", []))
                self.fraction = 1.0
                self._end("done")
        elif kind == "error":
            self.error_kind, self.error_message = msg.get("kind"), msg.get("message")
            self._end("cancelled" if self.cancel_deadline is not None else "error")
        elif kind == "cancelled":
            self._end("cancelled")

    def _worker_exited(self, code: int | None, log_tail: str) -> None:
        if self.cancel_deadline is not None:
            self._end("cancelled")
            return
        why = " (it was killed, which usually means the computer ran out of memory)" if code in (-9, 137) else ""
        self.error_kind = protocol.CRASH
        self.error_message = (f"The reconstruction process stopped unexpectedly{why}, exit code {code}. "
                              "Choose a lower quality or the CPU device and try again."
                              + (f" Last log line: {log_tail}" if log_tail else ""))
        self._end("error")

    def _end(self, state: str) -> None:
        if not self.finished:
            self.state = state
            self.seconds = time.monotonic() - self.started


class WorkerClient:
    """A worker process (started on first use, restarted after a crash) and its message queue."""

    def __init__(self, python: str | None = None, prepend_paths: Sequence[str] = (),
                 append_paths: Sequence[str] = (), env: dict | None = None):
        """python: the interpreter (default: Blender's own). prepend_paths / append_paths: folders the worker
        puts before / after its ``sys.path`` (the backend's folder first; an installed-dependencies folder
        after, so the interpreter's own numpy wins). env: the worker's environment (default: ours)."""
        self.python = python or sys.executable
        self.prepend_paths = [str(p) for p in prepend_paths]
        self.append_paths = [str(p) for p in append_paths]
        self.env = dict(os.environ if env is None else env)
        self.proc: subprocess.Popen | None = None
        self.messages: "queue.Queue[dict]" = queue.Queue()
        self.tmpdir: str | None = None
        self.ready: dict | None = None
        self.devices: dict | None = None
        self.current: Job | None = None
        self._next_id = 0

    # -- process
    @property
    def log_path(self) -> str | None:
        return os.path.join(self.tmpdir, "worker.log") if self.tmpdir else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def temp_path(self, name: str) -> str:
        """A path in this client's own temporary folder (made on first use). Raises :class:`WorkerError`
        when the system's temporary folder cannot be written."""
        if self.tmpdir is None:
            try:
                self.tmpdir = tempfile.mkdtemp(prefix="pifuhd-")
            except OSError as err:
                raise WorkerError(f"Could not create a temporary folder in {tempfile.gettempdir()} "
                                  f"({err.strerror or err}): make it writable or set another one in Edit > "
                                  "Preferences > File Paths > Temporary Files, then try again.") from None
        return os.path.join(self.tmpdir, name)

    def start(self) -> None:
        if self.alive():
            return
        try:
            log = open(self.temp_path("worker.log"), "ab")
        except OSError as err:
            raise WorkerError(f"Could not write the worker's log in {self.tmpdir} ({err.strerror or err}): "
                              "check the temporary folder (Edit > Preferences > File Paths).") from None
        env = dict(self.env)
        env[protocol.PATHS_VARIABLE] = json.dumps({"prepend": self.prepend_paths, "append": self.append_paths})
        env["PYTHONUNBUFFERED"] = "1"
        if self.python != sys.executable:
            env.pop("PYTHONHOME", None)  # an external interpreter must not see Blender's Python home
        kwargs = {"creationflags": subprocess.CREATE_NO_WINDOW} if os.name == "nt" else {}
        try:
            proc = subprocess.Popen([self.python, str(WORKER_SCRIPT)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=log, env=env, cwd=self.tmpdir, **kwargs)
        except OSError as err:
            raise WorkerError(f"Could not start the Python interpreter {self.python} ({err}): check the "
                              "interpreter in the add-on's preferences.") from None
        finally:
            log.close()
        self.proc, self.ready = proc, None
        self.messages = queue.Queue()
        threading.Thread(target=_read_messages, args=(proc, self.messages), daemon=True,
                         name="pifuhd-worker-reader").start()

    def send(self, msg: dict) -> None:
        if not self.alive():
            return  # the exit message will tell the job
        try:
            self.proc.stdin.write(protocol.encode(msg))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def stop(self) -> None:
        """End the worker (politely, then by force) and remove the temporary folder."""
        if self.current is not None and not self.current.finished:
            self.current.cancel()
        if self.alive():
            self.send({"op": "quit"})
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.current is not None:
            self.current._end("cancelled")
        self.proc = None
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    # -- jobs
    def submit(self, op: str, **payload) -> Job:
        """Start a job (the worker is started first if needed). One job at a time."""
        if self.current is not None and not self.current.finished:
            raise WorkerError("A reconstruction is already running: wait for it or cancel it first.")
        self.start()
        self._next_id += 1
        job = Job(self, self._next_id, op)
        self.current = job
        self.send({"op": op, "id": job.id, **payload})
        return job

    def poll(self) -> None:
        """Hand every message received so far to its job; enforce the cancel deadline."""
        while True:
            try:
                msg = self.messages.get_nowait()
            except queue.Empty:
                break
            kind = msg.get("type")
            if kind == "ready":
                self.ready = msg
            elif kind == "devices":
                self.devices = msg
            elif kind == "exit":
                if self.current is not None and not self.current.finished:
                    self.current._worker_exited(msg.get("code"), self.log_tail())
            elif self.current is not None and msg.get("id") == self.current.id:
                self.current._message(msg)
        job = self.current
        if job is not None and job.cancelling and time.monotonic() > job.cancel_deadline:
            self.kill()  # it did not stop in time: stop it for real (the model is lost; fine)
            job._end("cancelled")

    def log_tail(self, max_chars: int = 300) -> str:
        """The last non-empty line of the worker's log that says something about the worker (for error
        messages); native libraries' own log lines (MediaPipe, TensorFlow Lite) are skipped."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 4096))
                lines = [ln.strip() for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        except (OSError, TypeError):
            return ""
        lines = [ln for ln in lines if not NATIVE_LOG.match(ln)]
        return lines[-1][:max_chars] if lines else ""


def _read_messages(proc: subprocess.Popen, messages: "queue.Queue[dict]") -> None:
    for line in proc.stdout:
        msg = protocol.decode(line)
        if msg is not None:
            messages.put(msg)
    messages.put({"type": "exit", "code": proc.wait()})


def _remove(path: str | None) -> None:
    if path:
        try:
            os.remove(path)
        except OSError:
            pass
