# Set-up and everyday commands. Python 3.11 (the bpy wheel's version) is required.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv demo test test-bpy42 bench addon clean

$(VENV)/.installed: requirements.txt requirements-nodeps.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $@

venv: $(VENV)/.installed

# The main job on the bundled example: photo -> mesh (out/example.obj).
demo: venv
	$(PY) -m backend reconstruct examples/person.png --checkpoint models/demo/pifuhd_demo.pt --out out/example.obj --resolution 128 --color-fill

# Everything the tests read is in the repository (tests/data); the shared folder (../shared or $PIFUHD_SHARED) is
# optional: with it, a few extra tests check that the repository's copies equal it.
test: venv
	$(PY) -m pytest -q tests

# The add-on tests again on Blender 4.2 LTS (bpy 4.2.x, its own venv in /tmp). CI runs this too.
test-bpy42:
	bash tests/addon/run_bpy42.sh

# The installable add-on zip, checked by Blender's own validator: dist/pifuhd_reconstruct-<version>.zip
addon: venv
	$(PY) build_addon.py --validate

bench: venv
	$(PY) benchmarks/bench_device.py
	$(PY) benchmarks/bench_demo.py

clean:
	rm -rf $(VENV) dist out .pytest_cache
