#!/usr/bin/env bash
# Run the add-on tests on Blender 4.2 LTS (bpy 4.2.x) in a separate virtual environment.
#   bash tests/addon/run_bpy42.sh      # venv in $VENV42 (default /tmp/pifuhd-venv-bpy4.2.23), made on first use
#   BPY_VERSION=4.5.15 bash tests/addon/run_bpy42.sh   # the same for 4.5 LTS
# The venv gets the project's pinned requirements with bpy swapped, installed in ONE pip command (bpy and
# the rest must agree on numpy < 2), then MediaPipe without its dependencies, as `make venv` does.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3.11}
VENV=${VENV42:-${TMPDIR:-/tmp}/pifuhd-venv-bpy${BPY_VERSION:-4.2.23}}
BPY_VERSION=${BPY_VERSION:-4.2.23}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import bpy, sys; sys.exit(bpy.app.version_string.split()[0] != '$BPY_VERSION')" 2>/dev/null; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r <(sed "s/^bpy==.*/bpy==$BPY_VERSION/" requirements.txt)
    "$VENV/bin/python" -m pip install --quiet --no-deps -r requirements-nodeps.txt
fi
"$VENV/bin/python" -c "import bpy; print('bpy', bpy.app.version_string)"
exec "$VENV/bin/python" -m pytest -q tests/addon tests/test_placement.py "$@"
