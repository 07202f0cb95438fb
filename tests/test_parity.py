"""Parity with the official PIFuHD code: every array of the fixtures in tests/data/parity, in both module states.

``small`` and ``small_normals`` hold the official code's outputs with every module in eval mode; ``small_recon``
holds the outputs in the official inference script's state (fine level with batch statistics) for the same
checkpoint and inputs as ``small``. Checkpoints load through the production loader (``backend.load_model``):
``small``'s is rebuilt from its weights procedure by tests/conftest.py, ``small_normals``' (1.5 GB) here.
Tolerance: max abs difference <= 1e-4 on every array (fp32, CPU); meshes are compared in a way that holds on
any CPU (``tests/support/parity.compare_meshes``).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import backend
from backend.colors import vertex_colors
from backend.engine import DENSE_CHUNK, NetworkField
from backend.image_io import load_image
from backend.input_transform import prepare_inputs
from backend.surface import index_to_cube_matrix, sample_dense
from tests.conftest import PARITY, SMALL_CHECKPOINT
from tests.support.parity import compare_meshes, fixture_state_dict, write_fixture_checkpoint

TOL = 1e-4
# (fixture, the module state its outputs were made in)
CASES = [("small", "eval"), ("small_normals", "eval"), ("small_recon", "official")]


class Case:
    """One fixture folder with its model (in the fixture's module state), inputs and features computed once."""

    def __init__(self, name: str, state: str, tmp: Path):
        self.folder = PARITY / name
        self.state = state
        self.meta = json.loads((self.folder / "meta.json").read_text())
        self.expected = np.load(self.folder / "expected.npz")
        if "checkpoint" in self.meta:                       # small_recon: small's checkpoint
            ckpt = (self.folder / self.meta["checkpoint"]).resolve()
        elif (self.folder / "checkpoint.pt").exists():
            ckpt = self.folder / "checkpoint.pt"
        else:
            ckpt = write_fixture_checkpoint(self.folder, tmp / "checkpoint.pt")
        self.checkpoint = ckpt
        self.model = backend.load_model(ckpt, device="cpu", network_state=state)
        self.photo = self.folder / "input" / "person.png"
        x, y, w, h = (int(v) for v in (self.folder / "input" / "person_rect.txt").read_text().split())
        assert w == h
        self.crop = (x, y, w)
        self.inputs = prepare_inputs(load_image(self.photo), self.crop)
        with torch.no_grad():
            self.maps = self.model.net.filter(self.inputs.image_512, self.inputs.image_1024)


@pytest.fixture(scope="module", params=CASES, ids=[name for name, _ in CASES])
def case(request, tmp_path_factory) -> Case:
    name, state = request.param
    return Case(name, state, tmp_path_factory.mktemp(name))


def assert_close(actual, expected, name: str, tol: float = TOL) -> None:
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    diff = float(np.abs(actual.astype(np.float64) - expected).max()) if actual.size else 0.0
    assert diff <= tol, f"{name}: max abs difference {diff:.3g} > {tol}"


def predictions(model: backend.Model, maps, points: np.ndarray, calib: torch.Tensor):
    with torch.no_grad():
        fine, coarse = model.net.query(maps, torch.from_numpy(points)[None], calib)
    return fine.numpy(), coarse.numpy()


def test_small_checkpoint_is_rebuilt_by_the_documented_procedure():
    """The repository does not store small/checkpoint.pt: conftest rebuilds it, and it loads as the fixture says."""
    meta = json.loads((PARITY / "small" / "meta.json").read_text())
    stored = torch.load(SMALL_CHECKPOINT, map_location="cpu", weights_only=False)
    rebuilt = fixture_state_dict(PARITY / "small", meta["seed"])
    assert list(stored["model_state_dict"]) == list(rebuilt)
    assert all(torch.equal(stored["model_state_dict"][k], v) for k, v in rebuilt.items())
    assert vars(stored["opt"]) == meta["opt"] and vars(stored["opt_netG"]) == meta["opt_netG"]


def test_rebuilt_checkpoint_equals_the_shared_file(real_shared):
    """Where the team's shared folder exists: the rebuilt weights equal its 31 MB file's bit for bit, and both
    files give the network the same options. (The files' bytes differ: the shared one also pickles the official
    training options the network does not read, and torch writes a random serialization id into every file.)"""
    from backend.checkpoint import read_checkpoint

    shared = read_checkpoint(real_shared / "reference" / "parity" / "small" / "checkpoint.pt")
    ours = read_checkpoint(SMALL_CHECKPOINT)
    assert list(shared.state_dict) == list(ours.state_dict)
    for k, v in shared.state_dict.items():
        w = ours.state_dict[k]
        assert v.dtype == w.dtype and v.shape == w.shape
        assert v.numpy().tobytes() == w.numpy().tobytes(), k          # bit for bit, NaN or not
    assert (shared.coarse, shared.fine) == (ours.coarse, ours.fine)


def test_repository_fixtures_equal_the_shared_ones(real_shared):
    """tests/data/parity is a byte-for-byte copy of the shared fixtures (less the checkpoint)."""
    for name, _ in CASES:
        for f in (PARITY / name).rglob("*"):
            if f.is_file() and f.parent.name in (name, "input") and not f.name.startswith(("checkpoint", ".")):
                other = real_shared / "reference" / "parity" / f.relative_to(PARITY)
                assert other.read_bytes() == f.read_bytes(), f"{f} differs from {other}"


def test_network_is_built_from_the_checkpoint_options(case):
    net = case.model.net
    state = net.state_dict()  # the fixture counts every state-dict entry, shared norm layers twice
    assert sum(v.numel() for v in state.values()) == case.meta["params"]
    assert len(state) == case.meta["n_keys"]
    assert (net.netG.netF is not None) == case.meta["normals"]
    assert not any(p.requires_grad for p in net.parameters())
    assert case.model.network_state == case.state
    assert not net.netG.training                                   # the coarse level is always in eval mode
    assert net.image_filter.training == (case.state == "official")


def test_input_transform(case):
    e = case.expected
    assert tuple(e["rect"][:3]) == case.crop
    assert_close(case.inputs.image_512.numpy(), e["img_512"], "img_512")
    assert_close(case.inputs.image_1024.numpy(), e["img_1024"], "img_1024")
    assert_close(case.inputs.calib.numpy(), e["calib"], "calib")
    assert_close(case.inputs.calib_world[None], e["calib_world"], "calib_world")
    assert_close(case.inputs.b_min, e["b_min"], "b_min")
    assert_close(case.inputs.b_max, e["b_max"], "b_max")


def test_normal_maps(case):
    if not case.meta["normals"]:
        assert case.maps.normal_front is None and case.maps.normal_back is None
        return
    assert_close(case.maps.normal_front.numpy(), case.expected["nmlF"], "nmlF")
    assert_close(case.maps.normal_back.numpy(), case.expected["nmlB"], "nmlB")


def test_point_predictions(case):
    e = case.expected
    fine, coarse = predictions(case.model, case.maps, e["points"], case.inputs.calib)
    assert_close(coarse, e["pred_coarse"], "pred_coarse")
    assert_close(fine, e["pred_fine"], "pred_fine")
    assert 0.01 < float(fine.mean()) < 0.99  # a field with both sides, so the comparison means something


def test_dense_mesh_and_colours(case):
    """The whole public path: photo file + crop -> reconstruct(dense=True), compared with the official mesh in a
    machine-independent way: our field at the grid points against the official vertices (<= 1e-4), the
    crossed edges, vertex positions where the field is not flat along the edge, faces, and colours."""
    e = case.expected
    res = case.meta["mesh_res"]
    mesh = backend.reconstruct(case.photo, case.model, resolution=res, crop=case.crop, dense=True)
    assert mesh.info["network_state"] == case.state
    # The field the public path meshed: every grid point, in the official batches (grid order, DENSE_CHUNK).
    volume = sample_dense(NetworkField(case.model, case.maps, case.inputs.calib, res), res, chunk=DENSE_CHUNK)
    verts, faces = e["mesh_dense_verts"], e["mesh_dense_faces"]
    from backend.surface import marching_cubes

    mc_verts, mc_faces = marching_cubes(volume, 0.5)
    np.testing.assert_array_equal(mesh.vertices, mc_verts)
    np.testing.assert_array_equal(mesh.faces, mc_faces)
    bbox = float((verts.max(0) - verts.min(0)).max())
    to_index = np.linalg.inv(index_to_cube_matrix(res))
    # Our faces face outward; the official extraction returns them wound the other way.
    seen = compare_meshes(volume, 0.5, (mesh.vertices, mesh.faces), (verts, faces[:, ::-1]), to_index,
                          field_tol=TOL, pos_tol=TOL * bbox)
    # Strict still: nearly everything is compared exactly (uncertain grid points are rare).
    assert seen["faces_compared"] >= 0.97 * seen["faces"], seen
    assert seen["vertices_by_position"] >= 0.8 * len(verts), seen
    assert abs(len(mesh.vertices) - case.meta["dense_verts"]) <= 8 * seen["uncertain_points"]
    # Colours: our colouring at the official vertices gives the official colours.
    ref_colors = vertex_colors(verts, case.inputs.image_1024, case.inputs.calib)
    assert_close(ref_colors, e["mesh_dense_colors"], "vertex colours")
    assert mesh.colors.shape == mesh.vertices.shape


# ---- the two module states against each other ---------------------------------------------------------------

@pytest.fixture(scope="module")
def recon_inputs():
    folder = PARITY / "small_recon"
    x, y, w, _ = (int(v) for v in (folder / "input" / "person_rect.txt").read_text().split())
    inputs = prepare_inputs(load_image(folder / "input" / "person.png"), (x, y, w))
    return folder, json.loads((folder / "meta.json").read_text()), np.load(folder / "expected.npz"), inputs


def test_eval_state_differs_from_the_official_state_as_the_fixture_says(recon_inputs):
    """small_recon's meta records how far the eval state's predictions are from the official state's."""
    folder, meta, e, inputs = recon_inputs
    model = backend.load_model(SMALL_CHECKPOINT, device="cpu", network_state="eval")
    with torch.no_grad():
        maps = model.net.filter(inputs.image_512, inputs.image_1024)
    fine, coarse = predictions(model, maps, e["points"], inputs.calib)
    gap = float(np.abs(fine.astype(np.float64) - e["pred_fine"]).max())
    assert gap == pytest.approx(meta["vs_eval_mode"]["pred_fine_max_abs_diff"], abs=TOL)
    assert float(np.abs(coarse - e["pred_coarse"]).max()) <= max(TOL, meta["vs_eval_mode"]["pred_coarse_max_abs_diff"])


def test_official_state_is_the_default_and_leaves_the_weights_alone(recon_inputs):
    """load_model's default is the official state; running it twice gives identical results, and no stored
    tensor (running means/variances, batch counters) changes."""
    folder, meta, e, inputs = recon_inputs
    model = backend.load_model(SMALL_CHECKPOINT, device="cpu")
    assert model.network_state == "official"
    before = {k: v.clone() for k, v in model.net.state_dict().items()}
    runs = []
    for _ in range(2):
        with torch.no_grad():
            maps = model.net.filter(inputs.image_512, inputs.image_1024)
        runs.append(predictions(model, maps, e["points"], inputs.calib)[0])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert_close(runs[0], e["pred_fine"], "pred_fine (default state)")
    after = model.net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_unknown_network_state_is_refused():
    with pytest.raises(backend.PIFuHDError, match="network_state"):
        backend.load_model(SMALL_CHECKPOINT, device="cpu", network_state="train")


# ---- the mesh comparison itself -----------------------------------------------------------------------------

def noisy_field(res: int = 32) -> np.ndarray:
    """A rough random field (like the random-weight fixtures'), [res]^3 float32 in about [0, 1]."""
    rng = np.random.default_rng(7)
    coarse = rng.uniform(0, 1, (6, 6, 6))
    x = np.linspace(0, 5, res)
    from scipy.interpolate import RegularGridInterpolator

    grid = np.stack(np.meshgrid(x, x, x, indexing="ij"), -1)
    return RegularGridInterpolator((np.arange(6),) * 3, coarse)(grid).astype(np.float32)


def test_mesh_comparison_holds_under_float_noise_and_catches_real_differences():
    """A field that differs only by float noise (as on another CPU) passes, although vertices on flat edges
    move far; a field error of 1e-3 at one grid point fails."""
    from backend.surface import marching_cubes

    res = 32
    ref_field = noisy_field(res)
    ref = marching_cubes(ref_field, 0.5)
    to_index = np.linalg.inv(index_to_cube_matrix(res))
    noise = np.random.default_rng(1).uniform(-3e-5, 3e-5, ref_field.shape).astype(np.float32)
    near = np.abs(ref_field - 0.5) < 3e-5
    assert near.any()                          # some grid points really can change side
    other = ref_field + noise
    ours = marching_cubes(other, 0.5)
    moved = len(ours[0]) != len(ref[0]) or float(np.abs(ours[0] - ref[0]).max()) > 1e-3
    assert moved                               # a vertex-by-vertex comparison would fail here
    seen = compare_meshes(other, 0.5, ours, ref, to_index, field_tol=TOL, pos_tol=TOL)
    assert seen["faces_compared"] > 0.9 * seen["faces"]
    wrong = ref_field.copy()
    i = np.argwhere(np.abs(wrong - 0.5) < 0.05)[0]
    wrong[tuple(i)] += 1e-3
    with pytest.raises(AssertionError, match="from the level|differ"):
        compare_meshes(wrong, 0.5, marching_cubes(wrong, 0.5), ref, to_index, field_tol=TOL, pos_tol=TOL)


# ---- a batch-normed fine MLP: batch dependent in the official state only ---------------------------------------

@pytest.fixture(scope="module")
def batchnorm_mlp_model(tmp_path_factory):
    """small's configuration at 256/512 inputs, with a batch-normed fine MLP and a plain coarse MLP, random weights
    and running statistics; returns (path, inputs, features per state)."""
    from backend.checkpoint import save_checkpoint
    from backend.networks import LevelOptions, PIFuHD

    meta = json.loads((PARITY / "small" / "meta.json").read_text())
    coarse_opt = dict(meta["opt_netG"], loadSize=256, mlp_norm="none")
    fine_opt = dict(meta["opt"], loadSize=512, mlp_norm="batch")
    torch.manual_seed(5)
    net = PIFuHD(LevelOptions.from_namespace(coarse_opt, fine=False), LevelOptions.from_namespace(fine_opt, fine=True))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("bn_mlp") / "bn_mlp.pt"
    save_checkpoint(net, coarse_opt, fine_opt, path)
    x, y, w, _ = (int(v) for v in (PARITY / "small" / "input" / "person_rect.txt").read_text().split())
    inputs = prepare_inputs(load_image(PARITY / "small" / "input" / "person.png"), (x, y, w), 256, 512)
    return path, inputs


def test_batch_normed_fine_mlp_is_batch_dependent_only_in_the_official_state(batchnorm_mlp_model):
    from backend.engine import batch_dependent

    path, inputs = batchnorm_mlp_model
    official = backend.load_model(path, device="cpu")
    plain = backend.load_model(path, device="cpu", network_state="eval")
    assert batch_dependent(official) and not batch_dependent(plain)
    with torch.no_grad():
        maps = official.net.filter(inputs.image_512, inputs.image_1024)
    points = np.random.default_rng(0).uniform(-0.6, 0.6, (8192, 3)).astype(np.float32)
    field = NetworkField(official, maps, inputs.calib, 32)
    padded = NetworkField(official, maps, inputs.calib, 32, min_batch=4096)
    full = field.query(points)
    padded.query(points)                       # a large batch: becomes the padding context
    small = points[:40]
    err_alone = float(np.abs(field.query(small) - full[:40]).max())
    err_padded = float(np.abs(padded.query(small) - full[:40]).max())
    assert err_alone > 1e-3                    # batch statistics over 40 points are far from those over 8192
    assert err_padded < err_alone / 5
    one = padded.query(points[:1])             # one point alone cannot be batch-normalised; padded it can
    assert one.shape == (1,) and np.isfinite(one).all()


def test_padding_context_is_gathered_from_small_batches(batchnorm_mlp_model):
    """When every query is smaller than min_batch (small coarse-to-fine chunks), the padding sample is gathered
    from the first queries, so later small batches are padded all the same."""
    path, inputs = batchnorm_mlp_model
    model = backend.load_model(path, device="cpu")
    with torch.no_grad():
        maps = model.net.filter(inputs.image_512, inputs.image_1024)
    points = np.random.default_rng(1).uniform(-0.6, 0.6, (4096, 3)).astype(np.float32)
    full = NetworkField(model, maps, inputs.calib, 32).query(points)
    field = NetworkField(model, maps, inputs.calib, 32, min_batch=4096)
    for start in range(0, 4096, 1024):
        field.query(points[start:start + 1024])
    alone = NetworkField(model, maps, inputs.calib, 32).query(points[:40])
    padded = field.query(points[:40])
    assert float(np.abs(padded - full[:40]).max()) < float(np.abs(alone - full[:40]).max()) / 5
    mesh = backend.reconstruct(PARITY / "small" / "input" / "person.png", model, resolution=24, inputs=inputs)
    assert len(mesh.vertices) > 0 and mesh.info["network_state"] == "official"


def test_tests_read_their_data_from_the_repository():
    """A fresh clone is enough: the fixtures the tests read live under tests/data, whatever $PIFUHD_SHARED says."""
    from tests.conftest import DATA, PHOTOS, REPO

    assert PARITY.is_relative_to(REPO) and PHOTOS.is_relative_to(REPO)
    for name, _ in CASES:
        for f in ("expected.npz", "meta.json", "state_dict_keys.tsv", "input/person.png", "input/person_rect.txt"):
            assert (PARITY / name / f).is_file(), f"{name}/{f} missing from {DATA}"
    assert SMALL_CHECKPOINT.is_file()          # rebuilt at session start (tests/conftest.py)
