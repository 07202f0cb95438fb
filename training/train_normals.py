"""Give a demo checkpoint front and back normal networks (``netF``, ``netB``) and train them.

    python -m training.train_normals --init .cache/recipe/stage5.pt --out .cache/recipe/stage6.pt

The checkpoint at ``--init`` has no normal networks (stages 1-5 of ``training.recipe``). The network is
rebuilt with small ones (``train.NORMAL_SIZES``); the image filters' first convolutions are widened to take
the six normal channels with zero weights, so the saved network still computes what ``--init`` did
(the next stage, ``training.train`` on this output, teaches the coarse level to use the normals).

What is trained: the two normal networks only, each on its own target, from the coarse input image
(cut-out over grey or the opaque photo, as in ``training.train``) at the coarse size: the exact front and
back normal maps of the person (``render.normal_maps``: camera frame, 0 off the person). Loss: L1 over all
pixels. Random horizontal mirroring flips the maps' columns and negates their x component.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from . import run
from .dataset import Detail, Example, network_image
from .train import VALIDATION_SEEDS, build, load_weights, save


def batch(examples: list[Example], details: list[Detail], idx: list[int], rng: np.random.Generator,
          photo_share: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images [B,3,S,S] in [-1,1] and their front / back normal maps [B,3,S,S] in [-1,1]."""
    imgs, fronts, backs = [], [], []
    for i in idx:
        img = examples[i].images[1 if rng.random() < photo_share else 0]
        maps = details[i].normals.astype(np.float32) / 127.0           # [2, S, S, 3]
        if rng.random() < 0.5:  # mirror: columns flip, and so does the normals' x component
            img = img[:, ::-1]
            maps = maps[:, :, ::-1] * np.array([-1.0, 1.0, 1.0], np.float32)
        imgs.append(network_image(img)[0])
        fronts.append(torch.from_numpy(np.ascontiguousarray(maps[0])).permute(2, 0, 1))
        backs.append(torch.from_numpy(np.ascontiguousarray(maps[1])).permute(2, 0, 1))
    return torch.stack(imgs), torch.stack(fronts), torch.stack(backs)


@torch.no_grad()
def validate(net, examples: list[Example], details: list[Detail]) -> dict:
    """Median angle (degrees) between predicted and true normals on the person's pixels (cut-out inputs)."""
    angles = {"front": [], "back": []}
    for ex, d in zip(examples, details):
        front, back = net.netG.normals(network_image(ex.images[0]))
        for name, pred, true in (("front", front, d.normals[0]), ("back", back, d.normals[1])):
            t = true.astype(np.float32) / 127.0
            on = np.linalg.norm(t, axis=-1) > 0.9
            p = pred[0].permute(1, 2, 0).numpy()[on]
            p = p / np.maximum(np.linalg.norm(p, axis=-1, keepdims=True), 1e-6)
            angles[name].append(np.degrees(np.arccos(np.clip((p * t[on]).sum(-1), -1, 1))))
    return {k: round(float(np.median(np.concatenate(v))), 2) for k, v in angles.items()}


def parser() -> argparse.ArgumentParser:
    return run.parser(__doc__, steps=600, batch=4, lr=2e-3, seed=5, out=None, init_required=True)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    r = run.Run("train_normals", args, argv)
    data = r.splits(VALIDATION_SEEDS)
    r.data_ready()
    net, coarse, fine = build(args.size, normals=True)
    init_record = load_weights(net, args.init)
    r.log(f"initialised from {args.init}; normal networks added "
          f"({sum(p.numel() for p in net.netG.netF.parameters()) / 1e6:.2f} M parameters each)")
    net.train()
    opt, sched = r.optimiser(list(net.netG.netF.parameters()) + list(net.netG.netB.parameters()))
    train_ex, train_d = data["train"]
    for step, idx in r.batches(len(train_ex)):
        img, front, back = batch(train_ex, train_d, idx, r.rng, args.photo_share)
        loss = (net.netG.netF(img) - front).abs().mean() + (net.netG.netB(img) - back).abs().mean()
        r.descend(opt, sched, loss)
        r.step_done(step, sched, L1=loss.item())
        if r.checkpoint_due(step):
            v = validate(net, *data["val"])
            r.validated(step, val_median_angle_deg=v)
            save(net, coarse, fine, args.out)
            r.log(f"validation median angle front {v['front']} deg, back {v['back']} deg; saved {args.out}")
    r.write_record(init_record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
