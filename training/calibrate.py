"""Calibrate the demo model's decision level on the validation people, and fold it into the weights.

    python -m training.calibrate --checkpoint models/demo/pifuhd_demo.pt

Binary cross-entropy makes the network's 0.5 level the most likely boundary point by point, not the one
that gives the best volumetric IoU: where depth is uncertain the two differ. This picks the probability
threshold ``t`` that maximises the mean volumetric IoU (resolution 128, the engine's grid) on the
validation people (seeds ``VALIDATION_SEEDS``, 1024 px renders as at inference; never the test people),
among the thresholds at which every validation person's occupancy stays one 6-connected piece (a
higher threshold thins arms and legs until hands and feet come off), then adds ``-logit(t)`` to the
bias of the last layer of both MLPs, so that the engine's fixed level 0.5 falls where ``t`` was. The checkpoint is rewritten in place (official layout, float16); the choice is
recorded in its ``.train.json``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import label

import backend
from backend.checkpoint import save_checkpoint
from backend.input_transform import default_crop, prepare_inputs

from .dataset import cube_frame
from .evaluate import grid_axes, gt_field
from .render import render_person
from .train import VALIDATION_SEEDS

THRESHOLDS = np.round(np.arange(0.3, 0.96, 0.025), 3)


@torch.no_grad()
def predicted_and_true(model: backend.Model, seed: int, res: int
                       ) -> tuple[np.ndarray, np.ndarray, int, tuple[int, int, int]]:
    """Occupancy probabilities [M] and exact occupancy [M] (float32, bool) on the grid points of the
    person's bounding box (grown by 0.1 cube units), and the count of inside grid points outside that box
    (0 unless the box is wrong), and the box's shape; the rest of the grid is outside in the prediction."""
    shape, camera, rgba = render_person(seed, 1024)
    crop = default_crop(rgba)
    inputs = prepare_inputs(rgba, crop, model.coarse.load_size, model.fine.load_size)
    frame = cube_frame(camera, crop, model.coarse.load_size)
    truth = gt_field(shape, frame, res) < 0
    lo, hi = shape.bounds(margin=0.02)
    clo, chi = frame.to_cube(lo[None])[0] - 0.1, frame.to_cube(hi[None])[0] + 0.1
    axes = grid_axes(res)
    sel = [np.nonzero((a >= l) & (a <= h))[0] for a, l, h in zip(axes, clo, chi)]
    gx, gy, gz = np.meshgrid(*(a[s] for a, s in zip(axes, sel)), indexing="ij")
    pts = torch.from_numpy(np.stack([gx.ravel(), gy.ravel(), gz.ravel()]).astype(np.float32))[None]
    maps = model.net.filter(inputs.image_512, inputs.image_1024)
    probs = []
    for start in range(0, pts.shape[2], 65536):
        fine, _ = model.net.query(maps, pts[:, :, start:start + 65536], inputs.calib)
        probs.append(fine[0, 0].numpy())
    inside_box = truth[np.ix_(*sel)]
    return np.concatenate(probs), inside_box.ravel(), int(truth.sum() - inside_box.sum()), inside_box.shape


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=Path("models/demo/pifuhd_demo.pt"))
    ap.add_argument("--resolution", type=int, default=128)
    args = ap.parse_args(argv)
    model = backend.load_model(args.checkpoint, device="cpu")
    ious = np.zeros((len(VALIDATION_SEEDS), len(THRESHOLDS)))
    pieces = np.zeros((len(VALIDATION_SEEDS), len(THRESHOLDS)), int)
    at_half = list(THRESHOLDS).index(0.5)
    for i, seed in enumerate(VALIDATION_SEEDS):
        prob, truth, missed, box = predicted_and_true(model, seed, args.resolution)
        for k, t in enumerate(THRESHOLDS):
            pred = prob > t
            ious[i, k] = (pred & truth).sum() / ((pred | truth).sum() + missed)
            pieces[i, k] = label(pred.reshape(box))[1]
        print(f"person {seed}: IoU {ious[i, at_half]:.3f} at 0.5, best {ious[i].max():.3f} at "
              f"{THRESHOLDS[ious[i].argmax()]}; pieces {pieces[i].tolist()}", flush=True)
    mean = ious.mean(axis=0)
    whole = (pieces == 1).all(axis=0)  # thresholds at which every person stays one piece
    k = int(np.argmax(np.where(whole, mean, -1.0))) if whole.any() else at_half
    t = float(THRESHOLDS[k])
    shift = -float(np.log(t / (1 - t)))
    print(f"mean validation IoU {mean[at_half]:.3f} at 0.5 -> {mean[k]:.3f} at {t} (thresholds keeping every "
          f"person in one piece: {THRESHOLDS[whole].tolist()}); last-layer bias shift {shift:+.4f}")
    net = model.net
    with torch.no_grad():
        net.netG.mlp.filters[-1].bias += shift
        net.mlp.filters[-1].bias += shift
    with torch.serialization.safe_globals([argparse.Namespace]):
        raw = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    save_checkpoint(net.half(), vars(raw["opt_netG"]), vars(raw["opt"]), args.checkpoint)
    record_path = args.checkpoint.with_suffix(".train.json")
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    record["calibration"] = {"command": "python -m training.calibrate --checkpoint " + str(args.checkpoint),
                             "threshold": t, "bias_shift": shift, "validation_seeds": list(VALIDATION_SEEDS),
                             "mean_iou_at_0.5": round(float(mean[at_half]), 4),
                             "mean_iou_calibrated": round(float(mean[k]), 4)}
    record_path.write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
