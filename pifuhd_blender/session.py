"""What the add-on remembers while Blender runs (module state, never saved in the .blend): the worker
process, the running job and its status for the panel, the last result (so that Redo with another height
is instant) and measured run times. No bpy.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from .client import Job, WorkerClient
from .request import ResultCache


@dataclass
class Status:
    """The panel's status line and progress bar."""

    text: str = "Ready"
    fraction: float | None = None   # None: no progress bar
    level: str = "INFO"             # INFO, WARNING or ERROR: picks the icon


@dataclass
class Session:
    client: WorkerClient | None = None
    client_spec: tuple | None = None
    job: Job | None = None
    cancel_requested: bool = False
    status: Status = field(default_factory=Status)
    results: ResultCache = field(default_factory=ResultCache)
    measured: dict = field(default_factory=dict)   # (resolution, device) -> seconds of the last run
    preview_image: str | None = None                # name of the preview image in bpy.data

    def busy(self) -> bool:
        return self.job is not None and not self.job.finished

    def get_client(self, python: str, prepend: list[str], append: list[str]) -> WorkerClient:
        """The worker client for this interpreter and module paths (a new one when they changed)."""
        spec = (python, tuple(prepend), tuple(append))
        if self.client is None or self.client_spec != spec:
            if self.client is not None:
                self.client.stop()
            self.client = WorkerClient(python=python, prepend_paths=prepend, append_paths=append)
            self.client_spec = spec
        return self.client

    def stop_worker(self) -> None:
        """End the worker process (frees its memory, GPU memory included)."""
        if self.client is not None:
            self.client.stop()

    def shutdown(self) -> None:
        self.stop_worker()
        self.client = self.client_spec = self.job = None
        self.results.clear()

    def set_status(self, text: str, fraction: float | None = None, level: str = "INFO") -> None:
        self.status = Status(text, fraction, level)

    def remember_time(self, seconds: float | None, resolution: int, device: str) -> None:
        """The measured time of a finished run, shown by the panel instead of the estimate."""
        if seconds is not None:
            self.measured[(resolution, device)] = (seconds, time.time())


SESSION = Session()
