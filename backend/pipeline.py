"""Photo -> finished person, composed once for every caller (Python API, CLI, the add-on's worker).

Order, always the same: photo preparation (optional) -> network inputs at the model's own sizes ->
networks -> occupancy field -> marching cubes (``engine.extract_surface``) -> the empty-surface check ->
clean-up (optional) -> colour (once: plain projection, or the visibility-aware fill with an optional
back photo) -> decimation (optional). Everything stays in the normalised cube frame (x right, y up,
z towards the camera, [-1, 1]); the add-on puts it into a Blender scene.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .engine import Model, as_image, extract_surface
from .errors import ImageError, NoPersonError, PIFuHDError
from .input_transform import NetworkInputs
from .mesh import Mesh
from .options import CLEAN_MIN_PIECE, Options
from .progress import CancelFn, ProgressFn, Reporter

if TYPE_CHECKING:
    from .photo import PreparedPhoto

# Share of the progress bar per stage.
STAGES = {"prepare": (0.0, 0.03), "surface": (0.03, 0.92), "cleanup": (0.92, 0.94), "colors": (0.94, 0.99),
          "decimate": (0.99, 1.0)}
STARTED = 0.01   # a stage's first report (a report at its very start would not move the bar, so is not sent)
NO_SURFACE = ("The network found no surface in this photo: check that one whole person is visible and fills "
              "most of the photo's height, or try another crop.")


@dataclass
class Reconstruction:
    """One finished reconstruction, in the normalised cube frame.

    mesh: the coloured mesh (``mesh.colors`` sRGB in [0, 1]). keypoints: BODY_25 [25, 3] float64 (cube x,
    cube y, confidence) from photo preparation, or None without it (``backend.keypoints``). preview: uint8
    RGB picture of the network inputs with the crop, mask and keypoints, or None. warnings: things the user
    should know. info: how it was made (options, crop, evaluations, ``seconds`` per stage, device, model).
    """

    mesh: Mesh
    keypoints: np.ndarray | None = None
    preview: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def load_model_for(checkpoint: str | os.PathLike, options: Options | None = None) -> Model:
    """The model ``options`` ask for (device, precision, network state), loaded with ``engine.load_model``.
    Raises :class:`CheckpointError`, :class:`PIFuHDError` (device not available)."""
    from .engine import load_model as load

    options = (options or Options()).validate()
    return load(checkpoint, device=options.device, network_state=options.network_state,
                precision=options.precision)


def prepare(photo: str | os.PathLike | np.ndarray, options: Options | None = None,
            sizes: tuple[int, int] = (512, 1024)) -> PreparedPhoto:
    """Photo preparation as ``options`` ask (background, crop) for network inputs of ``sizes``; a front end
    may call it before loading the model (a bad photo fails fast) and hand it to :func:`run` as
    ``prepared``. Raises :class:`ImageError`, :class:`NoPersonError`."""
    from .photo import prepare_photo

    options = (options or Options()).validate()
    return prepare_photo(photo, remove_background=options.remove_background, crop=options.crop,
                         coarse_size=sizes[0], fine_size=sizes[1])


def inputs_for(prepared: PreparedPhoto, photo: str | os.PathLike | np.ndarray,
               sizes: tuple[int, int]) -> NetworkInputs:
    """The prepared photo's network inputs at ``sizes`` (rebuilt with the same crop and mask when it was
    prepared at others; never fed at the wrong size)."""
    if prepared.inputs.sizes == tuple(sizes):
        return prepared.inputs
    try:
        return prepared.inputs_at(photo, *sizes)
    except ValueError as err:
        raise ImageError(f"The prepared photo does not belong to this photo ({err}): prepare it again.") from None


def run(photo: str | os.PathLike | np.ndarray, model: Model, options: Options | None = None,
        progress: ProgressFn | None = None, cancel: CancelFn = None, *, prepared: PreparedPhoto | None = None,
        inputs: NetworkInputs | None = None, chunk: int | None = None) -> Reconstruction:
    """Reconstruct the person in ``photo`` (a path, or an RGB(A) array) with ``model`` as ``options`` say.

    progress(fraction, stage) is called as work advances (stages ``prepare``, ``networks``, ``surface``,
    ``mesh``, ``cleanup``, ``colors``, ``decimate``); cancel() returning True (or an Event being set) stops
    within about a second with :class:`Cancelled`. prepared: the result of :func:`prepare` for this photo
    (any sizes: rebuilt at the model's). inputs: ready network inputs instead of the photo's own (they must
    be at the model's sizes, else :class:`InputSizeError`). chunk: points per network query.

    Raises :class:`OptionsError` (bad options, before any work), :class:`ImageError`,
    :class:`NoPersonError`, :class:`InputSizeError`, :class:`PIFuHDError` (no surface, out of memory).
    """
    options = (options or Options()).validate()
    report = Reporter(progress, cancel)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    sizes = model.input_sizes
    keypoints = preview = person = None         # person: the prepared photo whose mask the inputs used
    warnings: list[str] = []
    stage = report.slice(*STAGES["prepare"], stage="prepare")
    stage.check()
    # Given inputs: extract_surface checks their sizes before any network runs.
    if inputs is None and options.detect:
        if prepared is None:
            prepared = prepare(photo, options, sizes)
        inputs, person = inputs_for(prepared, photo, sizes), prepared
        from .keypoints import photo_to_cube

        keypoints = photo_to_cube(prepared.keypoints, prepared.crop, sizes[1])
        warnings, preview = [str(w) for w in prepared.warnings], prepared.preview
    elif inputs is None:
        from .input_transform import prepare_inputs

        inputs = prepare_inputs(as_image(photo), options.crop, *sizes)
    back = _back_photo(options) if options.back_photo is not None else None      # fails before the networks
    stage.update(1.0)
    seconds["prepare"] = time.perf_counter() - t0

    surface = extract_surface(model, inputs, resolution=options.resolution, dense=options.dense, chunk=chunk,
                              report=report.slice(*STAGES["surface"]))
    seconds.update(surface.seconds)
    if len(surface.faces) == 0:
        raise PIFuHDError(NO_SURFACE)
    mesh = Mesh(surface.vertices, surface.faces, np.zeros_like(surface.vertices))
    steps: dict[str, Any] = {}

    if options.cleanup:
        t = time.perf_counter()
        report.slice(*STAGES["cleanup"], stage="cleanup").update(STARTED)
        from .meshops import clean_mesh

        from .photo.inputs import network_mask

        # with the person's mask, pieces the networks made in the background are dropped
        mask = None if person is None else network_mask(person.mask, inputs.crop, sizes[1])
        mesh = clean_mesh(mesh, min_component_fraction=CLEAN_MIN_PIECE, person_mask=mask, calib=inputs.calib)
        if mesh.is_empty:
            raise PIFuHDError("Nothing was left of the surface after the clean-up: try without clean-up.")
        steps["clean"] = mesh.info["clean"]
        seconds["cleanup"] = time.perf_counter() - t

    t = time.perf_counter()
    colors_report = report.slice(*STAGES["colors"], stage="colors")
    colors_report.update(STARTED)
    mesh.colors = _colors(mesh, inputs, model, options, back, keypoints)
    colors_report.update(1.0)
    seconds["colors"] = time.perf_counter() - t

    target = options.target_faces
    last = "colors"
    if target is not None and len(mesh.faces) > target:
        t = time.perf_counter()
        last = "decimate"
        report.slice(*STAGES["decimate"], stage=last).update(STARTED)
        from .meshops import decimate

        mesh = decimate(mesh, target)
        steps["decimation"] = mesh.info["decimation"]
        seconds["decimate"] = time.perf_counter() - t
    report.slice(*STAGES["decimate"], stage=last).update(1.0)
    seconds["total"] = time.perf_counter() - t0

    info = {"resolution": options.resolution, "dense": options.dense, "color_fill": options.color_fill,
            "crop": tuple(int(v) for v in inputs.crop), "photo_size": tuple(int(v) for v in inputs.photo_size),
            "evaluations": surface.evaluations, "seconds": seconds, "device": str(model.device),
            "checkpoint": str(model.path), "network_state": model.network_state, "input_sizes": sizes,
            "options": options.to_dict(),
            "keypoints": keypoints is not None, **steps}
    mesh.info = info
    return Reconstruction(mesh, keypoints, preview, warnings, info)


def reconstruct(image: str | os.PathLike | np.ndarray, model: Model, *, resolution: int = 256,
                crop: tuple[int, int, int] | None = None, dense: bool = False,
                progress: ProgressFn | None = None, cancel: CancelFn = None,
                inputs: NetworkInputs | None = None, chunk: int | None = None, color_fill: bool = False) -> Mesh:
    """The coloured mesh of ``image`` without photo preparation: :func:`run` with
    ``Options(detect=False, ...)``, returning only the mesh (cube frame). ``inputs``: network inputs at the
    model's sizes to use instead of the photo's own. The same options through ``run`` give the same mesh."""
    options = Options(resolution=resolution, crop=None if crop is None else tuple(int(v) for v in crop),
                      dense=dense, color_fill=color_fill, detect=False)
    return run(image, model, options, progress, cancel, inputs=inputs, chunk=chunk).mesh


def _colors(mesh: Mesh, inputs: NetworkInputs, model: Model, options: Options,
            back: tuple[np.ndarray, np.ndarray] | None, keypoints: np.ndarray | None) -> np.ndarray:
    """Vertex colours [V, 3] sRGB in [0, 1]: the visibility-aware fill (with the back photo and its person
    mask when given), or the photo's colour straight along the view axis (the official photo-colour path)."""
    if not options.color_fill:
        from .colors import vertex_colors

        return vertex_colors(mesh.vertices, inputs.image_1024.to(model.device), inputs.calib)
    from .meshops import colorize

    back_image, back_mask = back if back is not None else (None, None)
    result = colorize(mesh, inputs.image_1024, inputs.calib, back_image, back_mask=back_mask, keypoints=keypoints)
    return np.asarray(result, np.float32)


def _back_photo(options: Options) -> tuple[np.ndarray, np.ndarray]:
    """The back photo (uint8 RGB) and its person mask: a cut-out's alpha, else photo preparation's mask."""
    from .image_io import load_image

    path = os.fspath(options.back_photo)
    image = load_image(path)
    if image.shape[2] == 4:
        return np.ascontiguousarray(image[:, :, :3]), image[:, :, 3] > 127
    if not options.detect:
        raise ImageError(f"The back photo {path} needs the person separated from the background: use a cut-out "
                         "PNG with transparency, or turn photo preparation on.")
    from .photo import prepare_photo

    try:
        prepared = prepare_photo(image, remove_background=True)
    except NoPersonError:
        raise NoPersonError(f"No person found in the back photo {path}: use a photo of the whole person from "
                            "behind, or a cut-out PNG with transparency.") from None
    return image, prepared.mask
