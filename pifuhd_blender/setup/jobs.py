"""Background jobs for the set-up tasks (installing dependencies, downloading or installing the model).

A :class:`Job` runs a plain function in a thread. The function gets ``progress(fraction, stage)`` and a
``cancel`` event; Blender's main thread only reads :meth:`Job.snapshot` (from a timer or a draw call), so
no bpy data is touched off the main thread. No bpy here.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

ProgressFn = Callable[[float, str], None]
CancelLike = Any  # threading.Event-like (``is_set()``), a zero-argument callable, or None


class SetupError(Exception):
    """A set-up step failed; ``str(err)`` says what to do. ``log_path`` points at a log when there is one."""

    def __init__(self, message: str, log_path: Optional[Path] = None):
        super().__init__(message)
        self.log_path = log_path


class SetupCancelled(SetupError):
    """The user cancelled; nothing half-done was kept in place of a working install."""


def is_cancelled(cancel: CancelLike) -> bool:
    """True when ``cancel`` (an Event, a callable or None) says stop."""
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):
        return bool(cancel.is_set())
    return bool(cancel())


def check_cancel(cancel: CancelLike) -> None:
    """Raise :class:`SetupCancelled` when the user asked to stop."""
    if is_cancelled(cancel):
        raise SetupCancelled("Cancelled.")


def sleep_unless_cancelled(seconds: float, cancel: CancelLike, step: float = 0.1) -> None:
    """Sleep up to ``seconds``, waking early (and raising) when cancelled."""
    end = time.monotonic() + seconds
    while True:
        check_cancel(cancel)
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(step, left))


@dataclass(frozen=True)
class JobState:
    """What the UI shows: ``state`` is 'running', 'done', 'failed' or 'cancelled'."""

    name: str
    state: str
    fraction: float
    stage: str
    message: str
    log_path: Optional[Path]
    result: Any = None

    @property
    def running(self) -> bool:
        return self.state == "running"


class Job:
    """``target(progress, cancel)`` run in a daemon thread; its return value becomes ``result``."""

    def __init__(self, name: str, target: Callable[[ProgressFn, threading.Event], Any],
                 done_message: Callable[[Any], str] | str = "Done."):
        self.name = name
        self._target = target
        self._done_message = done_message
        self.cancel_event = threading.Event()
        self._lock = threading.Lock()
        self._state = JobState(name, "running", 0.0, "Starting", "", None)
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "Job":
        self._thread = threading.Thread(target=self.run, name=f"pifuhd-{self.name}", daemon=True)
        self._thread.start()
        return self

    def run(self) -> JobState:
        """Run the target in the calling thread (``start`` runs this in a new one); returns the final state."""
        try:
            result = self._target(self._progress, self.cancel_event)
        except SetupCancelled as err:
            self._finish("cancelled", str(err) or "Cancelled.", err.log_path)
        except SetupError as err:
            self._finish("failed", str(err), err.log_path)
        except Exception as err:  # a bug: still end the job with a message instead of a silent thread death
            self._finish("failed", f"Unexpected error: {type(err).__name__}: {err}", None)
        else:
            done = self._done_message
            self._finish("done", done(result) if callable(done) else done, None, result)
        return self.snapshot()

    def _progress(self, fraction: float, stage: str) -> None:
        with self._lock:
            s = self._state
            value = min(max(float(fraction), s.fraction), 1.0)  # never goes backwards
            self._state = JobState(s.name, s.state, value, stage, s.message, s.log_path)

    def _finish(self, state: str, message: str, log_path: Optional[Path], result: Any = None) -> None:
        with self._lock:
            s = self._state
            fraction = 1.0 if state == "done" else s.fraction
            self._state = JobState(s.name, state, fraction, s.stage, message, log_path, result)

    def snapshot(self) -> JobState:
        with self._lock:
            return self._state

    def cancel(self) -> None:
        self.cancel_event.set()

    def wait(self, timeout: Optional[float] = None) -> JobState:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.snapshot()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
