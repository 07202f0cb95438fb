"""Train the coarse level of the small demo PIFuHD on synthetic people; save it in the official layout.

    python -m training.train --seed 0 --out models/demo/pifuhd_demo.pt

One run of this is one stage; the committed model is a chain of them (``python -m training.recipe``).

What is trained: the coarse level (``netG``: image filter + point MLP) on the ``loadSize`` input, with
points near and away from the exact surface and BCE on their exact occupancy. When ``--init`` has normal
networks (``training.train_normals`` added them), they run frozen and their maps are the filter's extra
input channels, as at inference. The fine level is not trained here (``training.train_fine`` does it, last):
its MLP is kept an exact copy of the coarse MLP's layers after ``merge_layer`` with zero weights on the
fine image features, so the two-level network's output equals the coarse level's. The saved file loads
with ``backend.load_model``.

People: training seeds ``0 .. people-1``; validation seeds 800000+; the test and example seeds
(900000+) are never used here. The dataset is cached under ``--cache`` (re-made identically from seeds).
``--init`` continues from a previous run's checkpoint (fresh optimiser and schedule).
"""
from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from backend.checkpoint import save_checkpoint
from backend.networks import LevelOptions, PIFuHD
from backend.surface.grid import EVAL_CALIB

from . import run
from .dataset import Example, network_image, sample_points
from .people import sample_person

VALIDATION_SEEDS = tuple(range(800000, 800006))
CALIB = torch.from_numpy(EVAL_CALIB.astype(np.float32))[None]   # cube -> image NDC (y down), [1, 4, 4]


# The demo's normal networks: 16 base channels, 3 downsamplings, 3 residual blocks (1.1 M parameters each;
# the release's: 64, 4, 9 and 182 M). Stored in our own options (``backend/networks/options.py``).
NORMAL_SIZES = dict(normal_base=16, normal_downsamplings=3, normal_blocks=3)


def options(size: int, normals: bool = False) -> tuple[dict, dict]:
    """Coarse (``opt_netG``) and fine (``opt``) options of the demo network for a ``size`` coarse input,
    with front and back normal networks when ``normals``."""
    coarse = dict(loadSize=size, loadSizeBig=2 * size, loadSizeLocal=size, num_stack=1, hg_depth=2, hg_dim=32,
                  hg_down="ave_pool", norm="group", mlp_dim=[33, 128, 128, 64, 1], mlp_res_layers=[1],
                  mlp_norm="none", merge_layer=1, z_size=200.0, use_front_normal=normals, use_back_normal=normals,
                  train_full_pifu=True)
    if normals:
        coarse.update(NORMAL_SIZES)
    fine = dict(loadSize=2 * size, loadSizeBig=2 * size, loadSizeLocal=size, num_stack=1, hg_depth=1, hg_dim=8,
                hg_down="no_down", norm="group", mlp_dim=[8 + 128, 64, 1], mlp_res_layers=[], mlp_norm="none",
                merge_layer=-1, z_size=200.0, use_front_normal=False, use_back_normal=False, train_full_pifu=True)
    return coarse, fine


def build(size: int, normals: bool = False) -> tuple[PIFuHD, dict, dict]:
    coarse, fine = options(size, normals)
    net = PIFuHD(LevelOptions.from_namespace(coarse, fine=False), LevelOptions.from_namespace(fine, fine=True))
    return net, coarse, fine


def has_normals(path: Path) -> bool:
    """Whether the demo checkpoint at ``path`` has normal networks."""
    from backend.checkpoint import read_checkpoint

    return read_checkpoint(path).coarse.use_front_normal


@torch.no_grad()
def load_weights(net: PIFuHD, path: Path) -> dict | None:
    """Load a demo checkpoint's weights into ``net`` (float16 -> float32); returns its training record.

    A checkpoint without normal networks loads into a ``net`` with them: the image filters' first
    convolutions get zero weights on the normal channels (so the network computes what the checkpoint
    did) and the normal networks keep their initialisation.
    """
    from backend.checkpoint import read_checkpoint

    state = read_checkpoint(path).state_dict
    own = net.state_dict()
    for key, value in state.items():
        if key in own and own[key].shape != value.shape and key.endswith("conv1.weight") \
                and value.shape[1] < own[key].shape[1]:
            wide = torch.zeros_like(own[key])
            wide[:, :value.shape[1]] = value
            state[key] = wide
    missing, unexpected = net.load_state_dict(state, strict=False)
    if unexpected or any(".netF." not in k and ".netB." not in k for k in missing):
        raise ValueError(f"{path} does not fit this network (missing {missing[:3]}, unexpected {unexpected[:3]})")
    record = path.with_suffix(".train.json")
    return json.loads(record.read_text()) if record.is_file() else None


def with_normals(net: PIFuHD, img: torch.Tensor) -> list[torch.Tensor]:
    """The normal maps the (frozen) normal networks predict for coarse inputs ``img`` [B,3,S,S] (none
    when the net has no normal networks)."""
    if net.netG.netF is None:
        return []
    with torch.no_grad():
        front, back = net.netG.normals(img)
    return [m for m in (front, back) if m is not None]


@torch.no_grad()
def copy_head_to_fine(net: PIFuHD) -> None:
    """Make the fine MLP reproduce the coarse MLP's layers after ``merge_layer`` (fine features weighted 0)."""
    src = net.netG.mlp.filters[net.netG.mlp.merge_layer + 1:]
    dst = net.mlp.filters
    if len(src) != len(dst):
        raise ValueError("fine MLP depth must equal the coarse MLP's depth after merge_layer")
    n_fine = net.opt.hg_dim
    for k, (s, d) in enumerate(zip(src, dst)):
        d.bias.copy_(s.bias)
        if k == 0:
            d.weight.zero_()
            d.weight[:, n_fine:].copy_(s.weight)
        else:
            d.weight.copy_(s.weight)


def save(net: PIFuHD, coarse: dict, fine: dict, path: Path, fine_from_coarse: bool = True) -> None:
    """The official layout in float16 (the loader casts to float32); with ``fine_from_coarse`` the fine
    head is first made a copy of the coarse one (:func:`copy_head_to_fine`: the fine level is not trained)."""
    if fine_from_coarse:
        copy_head_to_fine(net)
    half = copy.deepcopy(net).half()
    save_checkpoint(half, coarse, fine, path)


def batch(examples: list[Example], idx: list[int], n_points: int, rng: np.random.Generator,
          photo_share: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images [B,3,S,S] in [-1,1], points [B,3,N] (cube), labels [B,1,N]; random mirror and backdrop."""
    imgs, pts, labs = [], [], []
    for i in idx:
        ex = examples[i]
        shape = sample_person(ex.seed)
        p, lab = sample_points(ex, shape, n_points, rng)
        img = ex.images[1 if rng.random() < photo_share else 0]
        if rng.random() < 0.5:  # mirror: image columns and cube x flip together (align_corners NDC)
            img = img[:, ::-1]
            p = p * np.array([-1, 1, 1], np.float32)
        imgs.append(network_image(img)[0])
        pts.append(torch.from_numpy(p.T.copy()))
        labs.append(torch.from_numpy(lab)[None])
    return torch.stack(imgs), torch.stack(pts), torch.stack(labs)


def occupancy_loss(pred: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of predicted occupancies [B,1,N] against exact labels (1 inside)."""
    return F.binary_cross_entropy(pred.clamp(1e-5, 1 - 1e-5), labels)


@torch.no_grad()
def point_iou(pred: torch.Tensor, labels: torch.Tensor) -> float:
    """IoU of the points predicted inside (> 0.5) and those labelled inside."""
    inside, truth = pred > 0.5, labels > 0.5
    return float((inside & truth).sum()) / max(float((inside | truth).sum()), 1.0)


@torch.no_grad()
def validate(net: PIFuHD, examples: list[Example], calib: torch.Tensor) -> float:
    """Point IoU (threshold 0.5) on fixed points of the validation people (alpha-path images)."""
    inter = union = 0.0
    for ex in examples:
        rng = np.random.default_rng(ex.seed)
        p, lab = sample_points(ex, sample_person(ex.seed), 8000, rng)
        img = network_image(ex.images[0])
        feat = net.netG.filter(img, with_normals(net, img))
        pred, _ = net.netG.query(feat, torch.from_numpy(p.T.copy())[None], calib)
        inside = pred[0, 0].numpy() > 0.5
        truth = lab > 0.5
        inter += float((inside & truth).sum())
        union += float((inside | truth).sum())
    return inter / max(union, 1.0)


def parser() -> argparse.ArgumentParser:
    """The command line of a training run."""
    ap = run.parser(__doc__, steps=800, batch=2, lr=1e-3, seed=0, out=Path("models/demo/pifuhd_demo.pt"),
                    init_required=False)
    ap.add_argument("--points", type=int, default=5000, help="points per image per step")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    r = run.Run("train", args, argv)
    train, val = r.people(list(range(args.people))), r.people(list(VALIDATION_SEEDS))
    r.data_ready()
    r.log(f"dataset ready: {len(train)} training, {len(val)} validation people")

    net, coarse, fine = build(args.size, normals=args.init is not None and has_normals(args.init))
    init_record = None
    if args.init is not None:
        init_record = load_weights(net, args.init)
        r.log(f"initialised from {args.init}" + (" (with its normal networks, frozen)" if net.netG.netF else ""))
    net.train()
    opt, sched = r.optimiser(list(net.netG.image_filter.parameters()) + list(net.netG.mlp.parameters()))
    for step, idx in r.batches(len(train)):
        img, pts, lab = batch(train, idx, args.points, r.rng, args.photo_share)
        feat = net.netG.filter(img, with_normals(net, img))
        pred, _ = net.netG.query(feat, pts, CALIB.expand(len(idx), 4, 4))
        loss = occupancy_loss(pred, lab)
        r.descend(opt, sched, loss)
        r.step_done(step, sched, loss=loss.item(), point_iou=point_iou(pred, lab))
        if r.checkpoint_due(step):
            net.eval()
            v = validate(net, val, CALIB)
            net.train()
            r.validated(step, val_point_iou=round(v, 4))
            save(net, coarse, fine, args.out)
            r.log(f"validation point-IoU {v:.3f}; saved {args.out}")
    r.write_record(init_record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
