"""The later training stages: normal networks added to a checkpoint without them, and the fine level's
training windows (``training.train``, ``training.train_fine``)."""
from __future__ import annotations

import numpy as np
import torch

from backend.networks.pifu import sample_features
from training.train import build, load_weights, save, with_normals
from training.train_fine import window_points

SIZE = 64   # a coarse input the small normal networks accept (3 halvings)


def _outputs(net, img: torch.Tensor, pts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    calib = torch.diag(torch.tensor([1.0, -1.0, 1.0, 1.0]))[None]
    with torch.no_grad():
        big = torch.nn.functional.interpolate(img, scale_factor=2, mode="bilinear", align_corners=True)
        return net.query(net.filter(img, big), pts, calib)


def test_adding_normal_networks_keeps_what_the_network_computes(tmp_path):
    torch.manual_seed(0)
    plain, coarse, fine = build(SIZE)
    path = tmp_path / "plain.pt"
    save(plain, coarse, fine, path)                   # float16 on disk, as the stages write it
    before, _, _ = build(SIZE)
    load_weights(before, path)
    after, _, _ = build(SIZE, normals=True)
    load_weights(after, path)
    assert after.netG.netF is not None and after.netG.image_filter.conv1.weight.shape[1] == 9
    assert after.image_filter.conv1.weight.shape[1] == 9
    img = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    assert len(with_normals(after, img)) == 2 and with_normals(before, img) == []
    pts = torch.rand(1, 3, 500) * 2 - 1
    for a, b in zip(_outputs(before, img, pts), _outputs(after, img, pts)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    # the widened channels are zero only until trained: a weight there changes the answer
    with torch.no_grad():
        after.netG.image_filter.conv1.weight[:, 3:] += 0.5
    assert not torch.allclose(_outputs(before, img, pts)[1], _outputs(after, img, pts)[1], atol=1e-3)


def test_window_points_look_up_what_the_whole_image_has_there():
    rng = np.random.default_rng(3)
    size, window = 48, 20
    image = torch.from_numpy(rng.normal(size=(1, 4, size, size)).astype(np.float32))
    xy = rng.uniform(-1, 1, (3000, 2))
    centre = np.array([0.3, -0.2])
    col0, row0, inside, local = window_points(xy, size, window, centre)
    assert 0 <= col0 <= size - window and 0 <= row0 <= size - window
    assert 50 < inside.sum() < len(xy)
    assert (np.abs(local[inside]) <= 1 + 1e-9).all() and not (np.abs(local[~inside]) <= 1).all(axis=1).any()
    crop = image[:, :, row0:row0 + window, col0:col0 + window]
    whole = sample_features(image, torch.from_numpy(xy[inside].T.astype(np.float32))[None])
    part = sample_features(crop, torch.from_numpy(local[inside].T.astype(np.float32))[None])
    torch.testing.assert_close(part, whole, rtol=0, atol=1e-4)
    # a window is clamped into the image near its border
    col0, row0, _, _ = window_points(xy, size, window, np.array([1.0, -1.0]))
    assert (col0, row0) == (size - window, 0)
