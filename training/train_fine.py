"""Train the demo model's fine level (its image filter and MLP) on top of a trained, frozen coarse level.

    python -m training.train_fine --init .cache/recipe/stage7.pt --out .cache/recipe/stage8.pt

The fine level sees the fine-size input (twice the coarse size) with the normal maps of the coarse level's
normal networks upsampled to it, as at inference; its MLP reads the fine features and the coarse MLP's
``phi`` at the same points. As in the release (``loadSizeLocal``), it trains on square windows of the fine
input (``--window`` px, centred on a random point of the person), which keeps a step affordable on a CPU;
points are drawn as in ``training.train`` and kept where they project into the window. The coarse level and
the normal networks are frozen. At the start the fine MLP copies the coarse head with zero weights on the
fine features (``train.copy_head_to_fine``), so training starts from the coarse level's answer.
Loss: binary cross-entropy on the fine occupancy. Validation runs the whole network on whole images.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from backend.ndc import ndc_to_index
from backend.networks.pifu import fine_input, project, sample_features

from . import run
from .dataset import Detail, Example, network_image, sample_points
from .people import sample_person
from .train import (CALIB, VALIDATION_SEEDS, build, copy_head_to_fine, has_normals, load_weights, occupancy_loss,
                    point_iou, save, with_normals)

def window_points(xy_ndc: np.ndarray, size: int, window: int, centre: np.ndarray
                  ) -> tuple[int, int, np.ndarray, np.ndarray]:
    """The ``window`` px square of a ``size`` px image centred near ``centre`` (NDC [2]) and which of the
    points at image NDC ``xy_ndc`` [N, 2] (align_corners: -1 and 1 are the centres of the first and last
    pixels; x right, y down) fall in it. Returns (col0, row0, inside mask [N], window NDC [N, 2])."""
    px = ndc_to_index(xy_ndc, size)                               # pixel-centre coordinates (col, row)
    c = ndc_to_index(centre, size)
    col0, row0 = (int(np.clip(round(v - window / 2), 0, size - window)) for v in c)
    local = px - np.array([col0, row0])
    inside = ((local >= 0) & (local <= window - 1)).all(axis=1)
    return col0, row0, inside, local * 2.0 / (window - 1) - 1.0


def fine_step_inputs(net, ex: Example, d: Detail, rng: np.random.Generator, n_points: int, window: int,
                     photo_share: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One person's window input [1, C, w, w], window NDC of its points [1, 2, n], the coarse level's
    phi at those points [1, Cphi, n] (no gradient), and their labels [1, 1, n]."""
    shape = sample_person(ex.seed)
    k = 1 if rng.random() < photo_share else 0
    coarse_img, fine_img = ex.images[k], d.fine_images[k]
    mirror = rng.random() < 0.5
    if mirror:  # image columns and cube x flip together (align_corners NDC)
        coarse_img, fine_img = coarse_img[:, ::-1], fine_img[:, ::-1]
    coarse_t, fine_t = network_image(coarse_img), network_image(fine_img)
    normals = with_normals(net, coarse_t)
    fine_t = fine_input(fine_t, normals)
    size = fine_t.shape[-1]
    pts, labels, win, kept = [], [], [], 0
    p, _ = sample_points(ex, shape, 16, rng)
    centre = np.array([p[0, 0] * (-1 if mirror else 1), -p[0, 1]])   # a near-surface point, image NDC
    while kept < n_points:
        p, lab = sample_points(ex, shape, 4 * n_points, rng)
        if mirror:
            p = p * np.array([-1, 1, 1], np.float32)
        col0, row0, inside, local = window_points(np.stack([p[:, 0], -p[:, 1]], 1), size, window, centre)
        pts.append(p[inside])
        labels.append(lab[inside])
        win.append(local[inside])
        kept += int(inside.sum())
    pts, labels, win = (np.concatenate(a)[:n_points] for a in (pts, labels, win))
    with torch.no_grad():
        coarse = net.netG.filter(coarse_t, normals)
        _, phi = net.netG.query_projected(coarse, project(torch.from_numpy(pts.T.copy())[None], CALIB))
    crop = fine_t[:, :, row0:row0 + window, col0:col0 + window]
    return crop, torch.from_numpy(win.T.copy().astype(np.float32))[None], phi, torch.from_numpy(labels)[None, None]


@torch.no_grad()
def validate(net, examples: list[Example], details: list[Detail]) -> dict:
    """Point IoU (threshold 0.5) of the fine and of the coarse occupancy, whole network on whole images
    (cut-out inputs), at fixed points of the validation people."""
    counts = np.zeros((2, 2))
    for ex, d in zip(examples, details):
        p, lab = sample_points(ex, sample_person(ex.seed), 8000, np.random.default_rng(ex.seed))
        maps = net.filter(network_image(ex.images[0]), network_image(d.fine_images[0]))
        preds = net.query(maps, torch.from_numpy(p.T.copy())[None], CALIB)
        for row, pred in enumerate(preds):
            inside, truth = pred[0, 0].numpy() > 0.5, lab > 0.5
            counts[row] += [(inside & truth).sum(), (inside | truth).sum()]
    iou = counts[:, 0] / np.maximum(counts[:, 1], 1.0)
    return {"fine": round(float(iou[0]), 4), "coarse": round(float(iou[1]), 4)}


def parser() -> argparse.ArgumentParser:
    ap = run.parser(__doc__, steps=600, batch=2, lr=3e-4, seed=7, out=None, init_required=True)
    ap.add_argument("--points", type=int, default=4000, help="points per window per step")
    ap.add_argument("--window", type=int, default=192, help="window side in fine-input pixels")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    r = run.Run("train_fine", args, argv)
    data = r.splits(VALIDATION_SEEDS)
    r.data_ready()
    net, coarse, fine = build(args.size, normals=has_normals(args.init))
    init_record = load_weights(net, args.init)
    copy_head_to_fine(net)
    r.log(f"initialised from {args.init}; the fine level starts as the coarse head; "
          f"validation {validate(net, *data['val'])}")
    net.eval()                                   # the frozen coarse level (group norm: same in both modes)
    opt, sched = r.optimiser(list(net.image_filter.parameters()) + list(net.mlp.parameters()))
    train_ex, train_d = data["train"]
    for step, idx in r.batches(len(train_ex)):
        parts = [fine_step_inputs(net, train_ex[i], train_d[i], r.rng, args.points, args.window, args.photo_share)
                 for i in idx]
        crop, win, phi, lab = (torch.cat(t) for t in zip(*parts))
        feat = net.image_filter(crop)
        pred, _ = net.mlp(torch.cat([sample_features(feat, win), phi], 1))
        loss = occupancy_loss(pred, lab)
        r.descend(opt, sched, loss)
        r.step_done(step, sched, loss=loss.item(), point_iou=point_iou(pred, lab))
        if r.checkpoint_due(step):
            v = validate(net, *data["val"])
            r.validated(step, val_point_iou=v)
            save(net, coarse, fine, args.out, fine_from_coarse=False)
            r.log(f"validation point-IoU {v}; saved {args.out}")
    r.write_record(init_record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
