import sys

from . import interrupt

interrupt.install()        # first: a Ctrl+C while the libraries load is remembered, not lost
try:
    from .cli import main

    code = main()
except KeyboardInterrupt:   # Ctrl+C before the CLI could catch it (while Python was still importing)
    print("error: interrupted; nothing was written", file=sys.stderr)
    code = 130
raise SystemExit(code)
