"""Progress reporting and cooperative cancellation, shared by every long-running step.

A ``progress`` callback receives a fraction in [0, 1] (non-decreasing) and a short stage label.
A ``cancel`` is any zero-argument callable (or an object with ``is_set()``, e.g. ``threading.Event``)
that returns True when the caller wants the work stopped; work then raises :class:`Cancelled`.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from .errors import Cancelled

ProgressFn = Callable[[float, str], None]
CancelFn = Any  # Callable[[], bool] | threading.Event-like | None


class Reporter:
    """Maps a sub-task's own [0, 1] progress into a slice [start, end] of the caller's progress."""

    def __init__(self, progress: Optional[ProgressFn] = None, cancel: CancelFn = None,
                 start: float = 0.0, end: float = 1.0, stage: str = ""):
        self._progress = progress
        self._cancel = cancel
        self.start, self.end, self.stage = start, end, stage
        self._last = start

    def cancelled(self) -> bool:
        c = self._cancel
        if c is None:
            return False
        if hasattr(c, "is_set"):
            return bool(c.is_set())
        return bool(c())

    def check(self) -> None:
        """Raise :class:`Cancelled` if the caller asked to stop."""
        if self.cancelled():
            raise Cancelled("Cancelled by the user.")

    def update(self, fraction: float) -> None:
        """Report ``fraction`` of this slice done (clamped, never going backwards), then check for cancel."""
        value = self.start + (self.end - self.start) * min(max(float(fraction), 0.0), 1.0)
        if value > self._last:
            self._last = value
            if self._progress is not None:
                self._progress(value, self.stage)
        self.check()

    def slice(self, start: float, end: float, stage: str | None = None) -> "Reporter":
        """A reporter for the sub-range [start, end] of this one (both fractions of this slice)."""
        span = self.end - self.start
        return Reporter(self._progress, self._cancel, self.start + span * start, self.start + span * end,
                        self.stage if stage is None else stage)
