"""End to end with exact ground truth: the committed demo model on generated people it never saw.

Each person (seeds ``training.people.TEST_SEEDS``, never used in training) is rendered as a 1024 px RGBA
cut-out and reconstructed through the public API: ``backend.load_model``, ``backend.prepare_photo`` (crop
from the alpha), ``backend.reconstruct`` (coarse-to-fine extraction at resolution 128), and
``meshops.clean_mesh`` (the add-on's default clean-up, here allowed to drop specks only). The mesh is
compared with the exact shape on the engine's grid: height error <= 3 %, one closed component, and the
volumetric IoU >= 0.75 for every person (the issue's target; the committed demo model, trained on a 2-core
CPU, reaches 0.752-0.917), and a mean that keeps the measured level.
The colours of the back (issue 6) are checked on the same reconstructions.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

import backend
from backend.image_io import load_image
from backend.input_transform import NetworkInputs, default_crop, prepare_inputs
from backend.meshops import clean_mesh, colorize_details
from backend.meshops.components import face_components
from backend.meshops.topology import face_areas, vertex_normals
from training.bodies import Shape
from training.dataset import CubeFrame, cube_frame
from training.evaluate import Score, score
from training.people import EXAMPLE_SEED, TEST_SEEDS
from training.render import albedo, render_person

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = REPO / "models" / "demo" / "pifuhd_demo.pt"
EXAMPLE = REPO / "examples" / "person.png"
RESOLUTION = 128
TARGET_IOU = 0.75        # the target, for every person (worst measured 0.752)
MEAN_IOU_FLOOR = 0.82    # and on average (measured 0.855); see models/demo/MODEL_CARD.md
MAX_HEIGHT_ERROR = 0.03
MAX_SPECKS = 0.001       # share of the raw surface area allowed outside its largest piece
MAX_NORMAL_ANGLE = 15.0  # median degrees between predicted and exact normals on a person's pixels
_runs: dict[int, "Run"] = {}
_color_checks: dict[int, tuple[float, int]] = {}


@pytest.fixture(scope="module")
def model() -> backend.Model:
    assert CHECKPOINT.is_file(), f"the demo checkpoint {CHECKPOINT} is missing"
    return backend.load_model(CHECKPOINT, device="cpu")


@dataclass
class Run:
    """One person through the pipeline: the exact shape, its cube frame, the network inputs, the mesh."""

    shape: Shape
    frame: CubeFrame
    inputs: NetworkInputs
    mesh: backend.Mesh
    score: Score
    main_piece: float   # share of the raw reconstruction's surface area in its largest piece


def run_person(model: backend.Model, seed: int) -> Run:
    """image -> photo preparation -> engine -> clean-up -> mesh, compared with the exact shape (once per
    seed). The clean-up (``meshops.clean_mesh``, the add-on's default) keeps the person's piece."""
    if seed in _runs:
        return _runs[seed]
    shape, camera, rgba = render_person(seed, 1024)
    prepared = backend.prepare_photo(rgba, coarse_size=model.coarse.load_size, fine_size=model.fine.load_size)
    crop = default_crop(rgba)
    assert prepared.crop_source == "alpha" and tuple(prepared.crop) == crop
    # the engine's own alpha path (reconstruct without inputs) would feed the networks exactly the same
    direct = prepare_inputs(rgba, crop, model.coarse.load_size, model.fine.load_size)
    assert torch.equal(prepared.inputs.image_512, direct.image_512)
    assert torch.equal(prepared.inputs.image_1024, direct.image_1024)
    raw = backend.reconstruct(rgba, model, resolution=RESOLUTION, inputs=prepared.inputs)
    assert not raw.is_empty
    pieces, label = face_components(raw.faces, len(raw.vertices))
    area = np.bincount(label, weights=face_areas(raw.vertices, raw.faces))
    mesh = clean_mesh(raw)
    # colours come from the photo: the visible side's vertices are not the grey backdrop
    front = mesh.vertices[:, 2] > np.median(mesh.vertices[:, 2])
    assert np.abs(mesh.colors[front] - 0.5).max() > 0.1
    frame = cube_frame(camera, crop, model.coarse.load_size)
    s = score(mesh.vertices, mesh.faces, shape, frame, RESOLUTION)
    print(f"person {seed}: IoU {s.iou:.3f}, height {s.height_mesh:.3f} vs {s.height_true:.3f} "
          f"({100 * s.height_error:.1f} %), {s.components} component(s), closed {s.closed}; raw: {pieces} "
          f"piece(s), the largest {100 * area.max() / area.sum():.2f} % of the area")
    _runs[seed] = Run(shape, frame, prepared.inputs, mesh, s, float(area.max() / area.sum()))
    return _runs[seed]


def test_demo_checkpoint_is_small_and_official_layout(model):
    assert CHECKPOINT.stat().st_size <= 20 * 1024 * 1024
    assert model.coarse.mlp_norm == "none" and model.fine.mlp_norm == "none"  # batch-independent field


def test_demo_model_is_the_two_level_architecture_with_trained_levels(model):
    """Coarse level with front and back normal networks, and a fine level, all trained: the release's
    architecture, made small (see the model card for how much each part adds)."""
    from training.dataset import make_detail, make_example
    from training.train_normals import validate

    net = model.net
    assert model.coarse.use_front_normal and model.coarse.use_back_normal
    assert net.netG.image_filter.conv1.weight.shape[1] == 9 and net.image_filter.conv1.weight.shape[1] == 9
    # the normal networks predict an unseen person's exact normal maps (camera frame) to a few degrees
    seed = TEST_SEEDS[0]
    angles = validate(net, [make_example(seed, 256, 512)], [make_detail(seed, 256, 512)])
    assert angles["front"] < MAX_NORMAL_ANGLE and angles["back"] < MAX_NORMAL_ANGLE, angles
    # the later stages trained what started at zero: the coarse filter's weights on the normal channels
    # and the fine MLP's weights on the fine features; the fine level changes the coarse answer
    assert (net.netG.image_filter.conv1.weight[:, 3:] != 0).float().mean() > 0.99
    assert (net.mlp.filters[0].weight[:, :model.fine.hg_dim] != 0).float().mean() > 0.99
    shape, camera, rgba = render_person(seed, 1024)
    inputs = prepare_inputs(rgba, default_crop(rgba), model.coarse.load_size, model.fine.load_size)
    with torch.no_grad():
        maps = net.filter(inputs.image_512, inputs.image_1024)
        fine, coarse = net.query(maps, torch.rand(1, 3, 20000, generator=torch.Generator().manual_seed(0)) * 2 - 1,
                                 inputs.calib)
    assert (fine - coarse).abs().max() > 0.02


@pytest.mark.parametrize("seed", TEST_SEEDS)
def test_unseen_person_reconstructs_within_tolerance(model, seed):
    s = run_person(model, seed).score
    assert s.height_error <= MAX_HEIGHT_ERROR, f"height error {100 * s.height_error:.1f} % > 3 %"
    assert s.components == 1, f"{s.components} components"
    assert s.closed, "the mesh has open edges"
    # the clean-up only drops specks: the network's own surface is one piece but for <= 0.1 % of its area
    assert run_person(model, seed).main_piece >= 1 - MAX_SPECKS
    assert s.iou >= TARGET_IOU, f"volumetric IoU {s.iou:.3f} < {TARGET_IOU}"


def test_mean_iou_of_unseen_people(model):
    ious = [run_person(model, seed).score.iou for seed in TEST_SEEDS]
    assert np.mean(ious) >= MEAN_IOU_FLOOR, f"mean IoU {np.mean(ious):.3f} < {MEAN_IOU_FLOOR}"


def test_bundled_example_is_an_unseen_generated_person():
    image = load_image(EXAMPLE)
    assert image.shape == (1024, 1024, 4)
    assert EXAMPLE_SEED not in TEST_SEEDS
    _, _, rgba = render_person(EXAMPLE_SEED, 1024)
    assert (image == rgba).all(axis=2).mean() > 0.999


# Colour all round (issue 6) on people whose garments the front photo determines all round: plain or
# horizontally striped (a check or dot pattern's back is out of phase with its front, nobody can know it).
COLOR_SEEDS = (900001, 900002, 900003, 900007)
COLOR_TOLERANCE = 0.15   # largest sRGB channel difference from the true garment colour (in [0, 1])
COLOR_SHARE = 0.7        # share of back-facing vertices within it, per person (measured 0.78-0.84)
MEAN_COLOR_SHARE = 0.78  # and on average (measured 0.82; front-only fill 0.56, plain projection 0.82)


def garment_truth(run: Run, front_seen: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """True garment colour [V, 3] of every vertex as this photo shows it facing the camera: the generator's
    albedo at the vertex, times the photo's exposure (one scalar: the median photo / albedo brightness
    ratio over the vertices the camera sees head-on; the render's light makes a frontal surface ~0.8 of
    its albedo)."""
    alb = albedo(run.shape, run.frame.to_world(run.mesh.vertices.astype(np.float64)))
    k = np.median((colors[front_seen].sum(1) + 1e-3) / (alb[front_seen].sum(1) + 1e-3))
    return alb * k


def back_color_check(model: backend.Model, seed: int) -> tuple[float, int]:
    """(share of back-facing vertices within COLOR_TOLERANCE of the garment colour, number of vertices not
    seen head-on that came out black where the garment is not) of the person's colour fill
    (``meshops.colorize``), once per seed."""
    if seed not in _color_checks:
        run = run_person(model, seed)
        res = colorize_details(run.mesh, run.inputs.image_1024, run.inputs.calib)
        truth = garment_truth(run, res.front_weight >= 0.999, res.colors)
        back = vertex_normals(run.mesh.vertices, run.mesh.faces)[:, 2] < -0.3
        assert back.mean() > 0.2
        err = np.abs(res.colors[back] - truth[back]).max(axis=1)
        # black where the garment is not, on a vertex the camera does not see head-on (what it sees keeps
        # the photo's colour: at the edge of a dark shoe the photo is dark whatever the mesh's ankle is)
        wrongly_black = (res.colors.max(axis=1) < 0.05) & (truth.max(axis=1) > 0.1) & (res.front_weight < 0.999)
        _color_checks[seed] = (float((err <= COLOR_TOLERANCE).mean()), int(wrongly_black.sum()))
        print(f"person {seed}: {_color_checks[seed][0]:.3f} of the back within {COLOR_TOLERANCE}")
    return _color_checks[seed]


@pytest.mark.parametrize("seed", COLOR_SEEDS)
def test_back_of_the_reconstruction_takes_the_garment_colours(model, seed):
    share, wrongly_black = back_color_check(model, seed)
    assert share >= COLOR_SHARE, f"{share:.3f} of the back within {COLOR_TOLERANCE} of the garment colour"
    assert wrongly_black == 0, f"{wrongly_black} vertices black where the garment is not"


def test_back_colors_on_average(model):
    mean = np.mean([back_color_check(model, seed)[0] for seed in COLOR_SEEDS])
    assert mean >= MEAN_COLOR_SHARE, f"mean share {mean:.3f} < {MEAN_COLOR_SHARE}"
