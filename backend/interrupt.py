"""Ctrl+C in the command line that is never lost.

Python raises KeyboardInterrupt wherever the program is when the signal arrives. When that is inside a
callback it cannot propagate from (a weakref callback of the import machinery while torch loads, a
``__del__``), Python prints "Exception ignored in ..." and carries on: the run would finish and write its
files after all. :func:`install` makes Ctrl+C remembered as well as raised (and such swallowed interrupts
silent); :func:`check` raises KeyboardInterrupt at a safe point when one was swallowed.
"""
from __future__ import annotations

import signal
import sys

_seen = False


def install() -> None:
    """Remember every Ctrl+C. Leaves SIGINT alone when it is not Python's default handler (ignored, as for a
    program started in the background, or someone else's)."""
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return

    def on_sigint(signum, frame) -> None:
        global _seen
        _seen = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    previous = sys.unraisablehook

    def unraisable(info) -> None:
        if not isinstance(info.exc_value, KeyboardInterrupt):   # a swallowed Ctrl+C: check() raises it
            previous(info)

    sys.unraisablehook = unraisable


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl+C was pressed (and swallowed somewhere) since :func:`install`."""
    if _seen:
        raise KeyboardInterrupt
