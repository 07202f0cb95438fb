"""Ctrl+C in the command line that is never lost, and never lands inside a library's loading.

Python raises KeyboardInterrupt wherever the program is when the signal arrives. Inside a callback it cannot
propagate from (a weakref callback of the import machinery) Python prints "Exception ignored in ..." and
carries on, so the run finished and wrote its files after all; inside a C extension's loading (numpy's) it
turns into an ImportError with a traceback. So :func:`install` only remembers Ctrl+C while the CLI loads
its libraries; :func:`arm` raises one remembered and from then on Ctrl+C raises at once (remembered too, so
:func:`check`, called at every progress step, raises one Python swallowed, and :func:`pressed` tells a
failure Ctrl+C caused from a real one).
"""
from __future__ import annotations

import signal
import sys

_seen = False
_raising = False


def install() -> None:
    """Remember every Ctrl+C (raise it only once :func:`arm` is called). Leaves SIGINT alone when it is not
    Python's default handler (ignored, as for a program started in the background, or someone else's)."""
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return

    def on_sigint(signum, frame) -> None:
        global _seen
        _seen = True
        if _raising:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    previous = sys.unraisablehook

    def unraisable(info) -> None:
        if not isinstance(info.exc_value, KeyboardInterrupt):   # a swallowed Ctrl+C: check() raises it
            previous(info)

    sys.unraisablehook = unraisable


def arm() -> None:
    """From now on Ctrl+C raises KeyboardInterrupt at once; raises it now if it was pressed before."""
    global _raising
    _raising = True
    check()


def pressed() -> bool:
    """Whether Ctrl+C was pressed since :func:`install`."""
    return _seen


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl+C was pressed since :func:`install`."""
    if _seen:
        raise KeyboardInterrupt
