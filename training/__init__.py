"""Synthetic people with exact ground truth, and the training of the small demo PIFuHD model.

Not part of the add-on zip (``build_addon.py`` excludes this folder). Modules: ``bodies`` (primitives and
implicit functions), ``people`` (seeded person sampler), ``render`` (orthographic renderer), ``dataset``
(network inputs, frames, labelled points), ``evaluate`` (ground truth on the engine's grid, mesh
measures), ``train`` (the training command), ``make_example`` (the bundled example photo).
"""
