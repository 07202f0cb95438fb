"""prepare_photo on real photos (MediaPipe runs for real, no mocks): a person is found in every shared photo,
the crop holds the whole ground-truth mask and equals the official rule on the same keypoints, the mask
matches ground truth, and every awkward input (no person, several people, cut-off feet or head, cut-outs,
EXIF rotation, non-ASCII names, a 49-megapixel photo) gives the right result or the right error."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import backend
from backend import NoPersonError, PreparedPhoto, prepare_photo
from backend.image_io import load_image
from backend import input_transform
from backend.input_transform import composite_over_grey, default_crop, prepare_inputs
from backend.photo.crop import contains, fullbody_crop
from backend.photo.inputs import network_inputs
from backend.photo.mask import iou
from tests.conftest import REPO

PHOTOS = REPO / "tests" / "data" / "photos"
NAMES = sorted(p.name for p in PHOTOS.iterdir() if not p.stem.endswith("_mask"))
TRUTH = {"coco_000000000785_skier.jpg": "coco_000000000785_mask.png", "ryota_rgba.png": "ryota_mask.png"}
GREY = (127 / 255 - 0.5) / 0.5          # a 0.5-grey background pixel in the network input


def truth(name: str) -> np.ndarray:
    return load_image(PHOTOS / TRUTH[name])[:, :, 0] > 127


@pytest.fixture(scope="module")
def prepared() -> dict[str, PreparedPhoto]:
    return {name: prepare_photo(PHOTOS / name) for name in NAMES}


def test_all_shared_photos_are_here():
    assert len(NAMES) == 7 and set(TRUTH) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_person_found_and_crop_follows_the_official_rule(prepared, name):
    p = prepared[name]
    photo = load_image(PHOTOS / name)
    h, w = photo.shape[:2]
    assert p.people == 1 and p.photo_size == (w, h)
    assert p.mask.shape == (h, w) and p.mask.dtype == bool and 0.02 < p.mask.mean() < 0.9
    assert p.keypoints.shape == (25, 3) and p.landmarks.shape == (33, 4) and p.world_landmarks.shape == (33, 4)
    assert p.inputs.image_512.shape == (1, 3, 512, 512) and p.inputs.image_1024.shape == (1, 3, 1024, 1024)
    assert p.inputs.crop == p.crop and p.inputs.photo_size == (w, h)
    assert p.preview.shape == (1024, 1536, 3)
    assert p.warnings == [], p.warnings            # every shared photo shows one whole person
    if photo.shape[2] == 4:                        # the cut-out: cropped from its alpha, alpha kept
        assert p.crop_source == "alpha" and p.crop == default_crop(photo)
        assert np.array_equal(p.mask, photo[:, :, 3] > 127)
    else:
        assert p.crop_source == "keypoints" and p.crop == fullbody_crop(p.keypoints)
    # The person is in the middle of the crop: mask inside it, keypoints inside it.
    assert contains(p.crop, p.mask)
    x, y, side = p.crop
    sure = p.keypoints[p.keypoints[:, 2] > 0.5, :2]
    assert (sure >= (x, y)).all() and (sure < (x + side, y + side)).all()


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_crop_contains_the_whole_ground_truth_mask(prepared, name):
    assert contains(prepared[name].crop, truth(name))


def test_crops_agree_with_the_measured_notes(prepared):
    """Crops measured independently (shared/docs/photo-preparation.md, section 4), within 3 px of MediaPipe
    numerics across machines."""
    measured = {"vlado_street.jpg": (-87, -30, 1158), "yoga_warrior_beach.jpg": (238, 175, 558),
                "vlado_suit_waterfall.jpg": (-12, 6, 1034)}
    for name, crop in measured.items():
        assert np.abs(np.subtract(prepared[name].crop, crop)).max() <= 3, name


def test_mask_matches_ground_truth(prepared):
    skier = "coco_000000000785_skier.jpg"
    assert iou(prepared[skier].mask, truth(skier)) >= 0.88
    assert iou(prepare_photo(PHOTOS / skier, refine_edges=False).mask, truth(skier)) >= 0.88
    # The cut-out keeps its own alpha; and the pose mask alone, on the portrait flattened over grey, agrees.
    assert iou(prepared["ryota_rgba.png"].mask, truth("ryota_rgba.png")) >= 0.95
    flat = composite_over_grey(load_image(PHOTOS / "ryota_rgba.png"))
    assert iou(prepare_photo(flat).mask, truth("ryota_rgba.png")) >= 0.95


def test_background_replaced_the_official_way(prepared):
    name = "vlado_street.jpg"
    p = prepared[name]
    photo = load_image(PHOTOS / name)
    want = prepare_inputs(np.dstack([photo, p.mask.astype(np.uint8) * 255]), p.crop, pad=input_transform.GREY)
    assert torch.equal(p.inputs.image_1024, want.image_1024) and torch.equal(p.inputs.image_512, want.image_512)
    assert p.background_removed
    # Top-left of the photo (street, not person) becomes grey in the 1024 input.
    x, y, side = p.crop
    u, v = int((0 - x) * 1024 / side) + 4, int((0 - y) * 1024 / side) + 4
    assert torch.allclose(p.inputs.image_1024[0, :, v, u], torch.tensor(GREY), atol=1e-6)
    # The crop runs past the photo's bottom edge: background there too, so grey, not the official black
    h = photo.shape[0]
    assert y + side > h
    below = int((h - y) * 1024 / side) + 4
    assert torch.allclose(p.inputs.image_1024[0, :, below:, :], torch.tensor(GREY), atol=1e-6)
    kept = prepare_photo(PHOTOS / name, remove_background=False)
    assert not kept.background_removed and kept.crop == p.crop
    assert torch.equal(kept.inputs.image_1024, prepare_inputs(photo, p.crop).image_1024)
    assert (kept.inputs.image_1024[0, :, below:, :] == -1).all()       # kept background: black, officially


def test_cutout_keeps_its_alpha(prepared):
    photo = load_image(PHOTOS / "ryota_rgba.png")
    p = prepared["ryota_rgba.png"]
    # the official transform of the RGBA photo, but grey (background) where the crop leaves the photo
    assert torch.equal(p.inputs.image_1024, prepare_inputs(photo, p.crop, pad=input_transform.GREY).image_1024)
    kept = prepare_photo(photo, remove_background=False)       # its own alpha still applies
    assert torch.equal(kept.inputs.image_1024, p.inputs.image_1024)


@pytest.mark.parametrize("name", ["yoga_tree_white.jpg", "ryota_rgba.png"])
def test_inputs_at_other_sizes_repeat_the_preparation(prepared, name):
    # a model whose input sizes are not 512/1024 (the demo model: 256/512) gets the same crop and
    # background treatment without a second detection
    p = prepared[name]
    again = prepare_photo(PHOTOS / name, coarse_size=256, fine_size=512)
    inputs = p.inputs_at(PHOTOS / name, 256, 512)
    assert inputs.image_512.shape[-1] == 256 and inputs.image_1024.shape[-1] == 512
    assert torch.equal(inputs.image_512, again.inputs.image_512)
    assert torch.equal(inputs.image_1024, again.inputs.image_1024)
    assert inputs.crop == p.crop and torch.equal(inputs.calib, again.inputs.calib)
    with pytest.raises(ValueError, match="not the prepared photo"):
        p.inputs_at(np.zeros((300, 200, 3), np.uint8), 256, 512)


def test_array_input_and_user_crop(prepared):
    name = "yoga_tree_white.jpg"
    photo = load_image(PHOTOS / name)
    from_array = prepare_photo(photo)
    assert from_array.crop == prepared[name].crop and np.array_equal(from_array.mask, prepared[name].mask)
    mine = prepare_photo(photo, crop=(10, 20, 400))
    assert mine.crop == (10, 20, 400) and mine.crop_source == "user" and mine.inputs.crop == (10, 20, 400)


def test_world_landmarks_are_metric(prepared):
    world = prepared["vlado_street.jpg"].world_landmarks
    nose_to_ankle = np.linalg.norm(world[0, :3] - (world[27, :3] + world[28, :3]) / 2)
    assert 1.1 < nose_to_ankle < 1.7                # a standing adult, in metres
    assert abs(world[[23, 24], :3].mean(axis=0)).max() < 0.05   # origin between the hips


def test_feet_cut_off_uses_the_no_feet_branch_and_warns():
    photo = load_image(PHOTOS / "vlado_suit_waterfall.jpg")
    top = photo[: photo.shape[0] // 2]                 # 1024 x 484: from the head to the thighs
    p = prepare_photo(top)
    feet = p.keypoints[[11, 19, 21, 22], 2]
    assert (feet <= 0.5).all()                         # so the official rule takes the no-feet branch
    assert p.crop == fullbody_crop(p.keypoints)
    assert np.abs(np.subtract(p.crop, (10, -10, 992))).max() <= 3   # the notes' measurement
    assert any(w.startswith("The feet") for w in p.warnings)
    assert not any(w.startswith("The head") for w in p.warnings)


def test_head_cut_off_warns():
    photo = load_image(PHOTOS / "vlado_street.jpg")
    p = prepare_photo(np.ascontiguousarray(photo[110:]))    # cuts through the face
    assert any(w.startswith("The head") for w in p.warnings)


def scene(kind: str, seed: int = 0) -> np.ndarray:
    """A photo with nobody in it, drawn with OpenCV: a landscape or a still life (RGB uint8)."""
    rng = np.random.default_rng(seed)
    if kind == "landscape":
        img = np.zeros((600, 900, 3), np.uint8)
        img[:300] = (135, 180, 235)
        img[300:] = (70, 130, 60)
        for _ in range(40):
            cx = int(rng.integers(0, 900))
            peak = (cx, int(150 + rng.integers(0, 100)))
            cv2.fillPoly(img, [np.array([(cx - 80, 320), peak, (cx + 80, 320)])],
                         tuple(int(c) for c in rng.integers(60, 140, 3)))
        cv2.circle(img, (750, 90), 45, (250, 230, 120), -1)
    else:
        img = np.full((700, 700, 3), (210, 200, 180), np.uint8)
        img[450:] = (120, 80, 50)
        for centre, r, colour in [((250, 420), 70, (200, 40, 30)), ((380, 430), 60, (240, 180, 30)),
                                  ((480, 410), 80, (90, 160, 40))]:
            cv2.circle(img, centre, r, colour, -1)
        cv2.ellipse(img, (350, 300), (60, 150), 0, 0, 360, (60, 90, 160), -1)
    img = cv2.GaussianBlur(img, (5, 5), 0)
    return np.clip(img + rng.normal(0, 5, img.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("kind", ["landscape", "still_life"])
def test_no_person_is_a_clear_error(tmp_path, kind):
    path = tmp_path / f"{kind}.png"
    Image.fromarray(scene(kind)).save(path)
    with pytest.raises(NoPersonError, match="No person found") as err:
        prepare_photo(path)
    assert path.name in str(err.value)


def test_several_people_the_tallest_is_used():
    tall = load_image(PHOTOS / "vlado_street.jpg")                      # 959 x 1024
    small = cv2.resize(load_image(PHOTOS / "yoga_tree_white.jpg"), (700, 700))
    group = np.full((1024, 959 + 700, 3), 255, np.uint8)
    group[:, :959] = tall
    group[1024 - 700:, 959:] = small
    for photo, tall_left in [(group, True), (np.ascontiguousarray(group[:, ::-1]), False)]:
        p = prepare_photo(photo)
        assert p.people == 2 and any("2 people" in w for w in p.warnings)
        centre = p.crop[0] + p.crop[2] / 2
        assert (centre < 959) == tall_left
        other_side = p.mask[:, 959:] if tall_left else p.mask[:, :700]
        assert other_side.sum() < 0.01 * p.mask.sum()          # the mask is the tall person's alone


def test_exif_rotated_phone_photo(tmp_path, prepared):
    photo = load_image(PHOTOS / "vlado_street.jpg")
    exif = Image.Exif()
    exif[0x0112] = 8                    # stored turned clockwise; viewers turn it back anticlockwise
    path = tmp_path / "IMG_2001.JPG"
    Image.fromarray(np.ascontiguousarray(np.rot90(photo, -1))).save(path, quality=95, exif=exif.tobytes())
    p = prepare_photo(path)
    assert p.photo_size == (959, 1024) and p.mask.shape == (1024, 959)
    assert p.keypoints[0, 1] < p.keypoints[11, 1]          # head above the feet: upright
    assert np.abs(np.subtract(p.crop, prepared["vlado_street.jpg"].crop)).max() <= 6


def test_non_ascii_names_and_preview_file(tmp_path):
    folder = tmp_path / "Фото 写真"
    folder.mkdir()
    path = folder / "José en la playa.jpg"
    path.write_bytes((PHOTOS / "yoga_warrior_beach.jpg").read_bytes())
    preview = folder / "vista previa ñ.png"
    p = prepare_photo(path, preview_path=preview)
    assert p.source == str(path)
    saved = load_image(preview)
    assert np.array_equal(saved, p.preview)


def test_import_backend_does_not_load_mediapipe():
    code = "import sys, backend; print(json.dumps(['mediapipe' in sys.modules, 'PIL' in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", "import json; " + code], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out) == [False, False]


def test_without_mediapipe_a_clear_error_that_is_also_an_import_error():
    code = """
import sys
sys.modules["mediapipe"] = None          # as if it were not installed
import backend
from backend.errors import PIFuHDError
try:
    backend.prepare_photo(sys.argv[1])
except ImportError as err:
    print(isinstance(err, PIFuHDError), err.name, "mediapipe==0.10.21" in str(err), "--no-detect" in str(err))
"""
    run = subprocess.run([sys.executable, "-c", code, str(PHOTOS / "yoga_tree_white.jpg")], cwd=REPO,
                         capture_output=True, text=True)
    assert run.stdout.split() == ["True", "mediapipe", "True", "True"], run.stderr[-2000:]


BIG = """
import resource, sys, time
import backend
from backend.photo.detect import detector
import numpy as np
detector().detect(np.zeros((256, 256, 3), np.uint8))            # MediaPipe's graph built before measuring
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
p = backend.prepare_photo(sys.argv[1])
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"crop": p.crop, "size": p.photo_size, "seconds": seconds, "peak_mb": peak / 1024,
                  "growth_mb": (peak - base) / 1024, "warnings": p.warnings}))
"""


def test_fifty_megapixel_photo_memory_and_time(tmp_path, prepared):
    """A 6715 x 7170 (48 MP) photo: detected on a small copy, inputs made from the crop window in stripes."""
    photo = load_image(PHOTOS / "vlado_street.jpg")
    factor = 7
    big = cv2.resize(photo, (959 * factor, 1024 * factor), interpolation=cv2.INTER_LINEAR)
    path = tmp_path / "big.jpg"
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(big, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    path.write_bytes(buf.tobytes())
    del big, buf
    run = subprocess.run([sys.executable, "-c", "import json" + BIG, str(path)], cwd=REPO,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    photo_mb = 959 * factor * 1024 * factor * 3 / 2**20                # 138 MB of RGB
    assert out["size"] == [959 * factor, 1024 * factor]
    assert out["growth_mb"] < 6 * photo_mb, out                         # not float copies of the photo
    small_crop = np.array(prepared["vlado_street.jpg"].crop) * factor
    assert np.abs(np.array(out["crop"]) - small_crop).max() <= 0.01 * small_crop[2], out   # 1% of the side
