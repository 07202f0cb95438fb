"""Photo preparation, the parts without MediaPipe: the official full-body crop rule on keypoint arrays (both
branches, worked out by hand), the BODY_25 mapping, framing warnings, the memory-light network inputs
(bit-identical to the engine's transform) and the preview geometry."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.errors import ImageError, NoPersonError
from backend.image_io import load_image
from backend.input_transform import prepare_inputs
from backend.photo import body25
from backend.photo.checks import framing_warnings, people_warning, size_warning
from backend.photo.crop import alpha_crop, contains, fullbody_crop, has_cutout_alpha
from backend.photo.inputs import network_inputs
from backend.input_transform import from_network_tensor as tensor_to_rgb
from backend.photo.preview import _to_crop_pixels, draw_preview
from tests.conftest import PARITY


def keypoints(**points: tuple[float, float, float]) -> np.ndarray:
    """BODY_25 array with the named points set (x, y, conf); every other point at (0, 0) with conf 0."""
    k = np.zeros((25, 3))
    for name, value in points.items():
        k[body25.INDEX[name]] = value
    return k


# ---- the official full-body rule -------------------------------------------------------------------------

def test_feet_branch_box_of_confident_points():
    # A foot point (RAnkle) is sure (> 0.5), so: box of the points with conf > 0.2.
    k = keypoints(Nose=(100.6, 50.2, 0.9), MidHip=(110, 220, 0.9), RWrist=(40, 200, 0.25),
                  RAnkle=(90, 400, 0.6), LAnkle=(130, 410, 0.3),
                  LWrist=(500, 500, 0.15))           # not confident enough for the box: ignored
    # box x 40..130, y 50.2..410 -> centre (85, 230.1); half-side 0.65 * 359.8 = 233.87
    # -> integers: centre (85, 230), half-side 233 -> (85 - 233, 230 - 233, 466)
    assert fullbody_crop(k) == (-148, -3, 466)


@pytest.mark.parametrize("foot", ["RAnkle", "LBigToe", "LHeel", "RBigToe"])
def test_each_foot_point_selects_the_feet_branch(foot):
    k = keypoints(Nose=(50, 0, 0.9), MidHip=(50, 100, 0.9), **{foot: (50, 200, 0.51)})
    # box 50..50 x 0..200 -> centre (50, 100), half-side 130
    assert fullbody_crop(k) == (-80, -30, 260)


def test_no_feet_branch_reach_from_mid_hip():
    # No foot point above 0.5 (RAnkle exactly 0.5 does not count; LAnkle is not one of the four).
    k = keypoints(MidHip=(200.9, 300.0, 0.9), Nose=(200, 100, 0.9), LWrist=(260, 300, 0.7),
                  RAnkle=(190, 480, 0.5), LAnkle=(210, 530, 0.95),
                  RKnee=(190, 700, 0.4))             # not confident enough for the reach: ignored
    # LAnkle (conf .95) is the farthest sure point: distance sqrt(9.1^2 + 230^2) = 230.18 from the mid-hip;
    # half-side 1.45 * 230.18 = 333.76; centre (200.9, 300 + 0.05 * 333.76 = 316.69)
    # -> integers: centre (200, 316), half-side 333 -> (200 - 333, 316 - 333, 666)
    assert fullbody_crop(k) == (-133, -17, 666)


def test_no_feet_branch_with_the_head_farthest():
    k = keypoints(MidHip=(200.9, 300.0, 0.9), Nose=(200, 100, 0.9), LWrist=(260, 300, 0.7))
    # farthest: the nose, sqrt(0.81 + 40000) = 200.002 -> half-side 290.003; centre y 300 + 14.50 = 314.50
    # -> centre (200, 314), half-side 290
    assert fullbody_crop(k) == (-90, 24, 580)


def test_rule_refuses_keypoints_with_nothing_sure():
    with pytest.raises(NoPersonError):
        fullbody_crop(keypoints(MidHip=(10, 10, 0.3)))
    with pytest.raises(ValueError):
        fullbody_crop(np.zeros((18, 3)))


# ---- BODY_25 from MediaPipe --------------------------------------------------------------------------------

def test_mediapipe_to_body25_mapping():
    lm = np.zeros((33, 4))
    lm[:, 0] = np.linspace(0.1, 0.9, 33)        # x: distinct per landmark
    lm[:, 1] = np.linspace(0.9, 0.2, 33)
    lm[:, 3] = np.linspace(0.3, 1.0, 33)
    lm[32, 0] = 1.2                             # right foot index outside the photo
    k = body25.from_mediapipe(lm, width=200, height=100)
    assert k.shape == (25, 3)
    px = lm[:, :2] * (200, 100)
    assert np.allclose(k[0], [*px[0], lm[0, 3]])                                   # nose
    assert np.allclose(k[1, :2], (px[11] + px[12]) / 2) and k[1, 2] == lm[11, 3]   # neck, the lower visibility
    assert np.allclose(k[8, :2], (px[23] + px[24]) / 2) and k[8, 2] == lm[23, 3]   # mid-hip
    for b25, mp in [(2, 12), (4, 16), (5, 11), (7, 15), (9, 24), (11, 28), (12, 23), (14, 27),
                    (15, 5), (16, 2), (17, 8), (18, 7), (19, 31), (20, 31), (21, 29), (24, 30)]:
        assert np.allclose(k[b25], [*px[mp], lm[mp, 3]]), body25.NAMES[b25]
    assert np.allclose(k[22, :2], px[32]) and k[22, 2] == 0.0 and k[23, 2] == 0.0  # outside: conf 0


# ---- cut-out alpha -------------------------------------------------------------------------------------------

def test_cutout_alpha_detection_and_crop():
    rgba = np.zeros((300, 200, 4), np.uint8)
    assert not has_cutout_alpha(rgba) and not has_cutout_alpha(rgba[:, :, :3])
    rgba[:, :, 3] = 255
    assert not has_cutout_alpha(rgba)
    rgba[:, :, 3] = 0
    rgba[50:250, 80:120, 3] = 255                # a 40 x 200 figure
    assert has_cutout_alpha(rgba)
    x, y, side = alpha_crop(rgba)
    assert side == 250                          # the figure's height fills 80% of the square
    assert contains((x, y, side), rgba[:, :, 3] > 0)
    assert not contains((x + 200, y, side), rgba[:, :, 3] > 0)


# ---- framing warnings ------------------------------------------------------------------------------------------

def standing(h: int = 400, w: int = 300, top: int = 40, bottom: int = 360) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints and mask of a stick person from row ``top`` (head) to ``bottom`` (soles)."""
    k = np.zeros((25, 3))
    k[:, 0], k[:, 2] = 150, 0.9
    k[:, 1] = (top + bottom) / 2
    k[list(body25.HEAD), 1] = top + 15
    k[list(body25.FEET), 1] = bottom - 5
    mask = np.zeros((h, w), bool)
    mask[max(top, 0):min(bottom, h), 120:180] = True
    return k, mask


def test_framing_warnings():
    assert framing_warnings(*standing(), (300, 400)) == []
    head = framing_warnings(*standing(top=-10), (300, 400))
    assert len(head) == 1 and "head" in head[0]
    feet = framing_warnings(*standing(bottom=420), (300, 400))
    assert len(feet) == 1 and "feet" in feet[0]
    # The same check on a mask at half the photo's resolution (the detection copy's).
    k, mask = standing(bottom=420)
    assert framing_warnings(k, mask[::2, ::2], (300, 400)) == feet
    assert people_warning(1) == [] and "2 people" in people_warning(2)[0]
    assert size_warning(300) == [] and "small" in size_warning(200)[0]


# ---- network inputs from the crop window --------------------------------------------------------------------

def test_network_inputs_match_the_official_fixture():
    expected = np.load(PARITY / "small" / "expected.npz")
    photo = load_image(PARITY / "small" / "input" / "person.png")
    x, y, w, h = (int(v) for v in (PARITY / "small" / "input" / "person_rect.txt").read_text().split())
    got = network_inputs(photo, (x, y, w))
    assert torch.equal(got.image_1024, torch.from_numpy(expected["img_1024"]))
    assert torch.equal(got.image_512, torch.from_numpy(expected["img_512"]))
    assert np.allclose(got.calib_world, expected["calib_world"])


@pytest.mark.parametrize("crop", [(-163, -30, 1240), (100, 200, 500), (600, 900, 700)])
def test_mask_as_alpha_is_bit_identical_to_the_engine_transform(crop):
    photo = load_image(PARITY / "small" / "input" / "person.png")
    rgb = np.ascontiguousarray(photo[:, :, :3])
    mask = photo[:, :, 3] > 100
    got = network_inputs(rgb, crop, mask)
    want = prepare_inputs(np.dstack([rgb, mask.astype(np.uint8) * 255]), crop)
    assert torch.equal(got.image_1024, want.image_1024) and torch.equal(got.image_512, want.image_512)
    assert np.array_equal(got.calib_world, want.calib_world)
    assert (got.crop, got.photo_size) == (want.crop, want.photo_size)
    plain = network_inputs(rgb, crop)            # no mask: the RGB photo as it is
    assert torch.equal(plain.image_1024, prepare_inputs(rgb, crop).image_1024)


def test_network_inputs_refuse_a_crop_off_the_photo():
    with pytest.raises(ImageError, match="does not overlap"):
        network_inputs(np.zeros((200, 200, 3), np.uint8), (300, 0, 100))


# ---- preview --------------------------------------------------------------------------------------------------

def test_preview_shows_the_exact_inputs_with_outline_and_keypoints():
    photo = load_image(PARITY / "small" / "input" / "person.png")
    mask = photo[:, :, 3] > 127
    crop = (-163, -30, 1240)
    inputs = network_inputs(photo, crop)
    assert np.array_equal(tensor_to_rgb(inputs.image_512),
                          np.round((inputs.image_512[0].permute(1, 2, 0).numpy() * 0.5 + 0.5) * 255))
    k = np.zeros((25, 3))
    k[:, :2], k[:, 2] = (450, 600), 0.9
    preview = draw_preview(inputs, mask, k, ["hello"])
    assert preview.shape == (1024, 1536, 3) and preview.dtype == np.uint8
    fine = tensor_to_rgb(inputs.image_1024)
    changed = np.any(preview[:, :1024] != fine, axis=2)
    assert 0.001 < changed.mean() < 0.1          # outline and skeleton drawn, the rest untouched
    # Photo pixel -> input pixel: the crop's corner maps to 0, its far corner to the input size.
    corners = np.array([[-163, -30, 1], [-163 + 1240, -30 + 1240, 1]], float)
    k25 = np.zeros((25, 3))
    k25[:2] = corners
    assert np.allclose(_to_crop_pixels(k25, crop, 1024)[:2, :2], [[0, 0], [1024, 1024]])


def test_tabulated_blend_equals_the_official_one():
    from backend.input_transform import composite_over_grey
    from backend.photo.inputs import _over_grey

    rgba = np.random.default_rng(3).integers(0, 256, (300, 500, 4), dtype=np.uint8)
    rgba[:100, :, 3] = 255
    rgba[100:150, :, 3] = 0
    assert np.array_equal(_over_grey(rgba[:, :, :3], rgba[:, :, 3]), composite_over_grey(rgba))
