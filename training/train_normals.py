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
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from .dataset import Detail, Example, prepare_dataset
from .train import VALIDATION_SEEDS, build, load_weights, save


def batch(examples: list[Example], details: list[Detail], idx: list[int], rng: np.random.Generator,
          photo_share: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images [B,3,S,S] in [-1,1] and their front / back normal maps [B,3,S,S] in [-1,1]."""
    imgs, fronts, backs = [], [], []
    for i in idx:
        img = examples[i].images[1 if rng.random() < photo_share else 0].astype(np.float32) / 127.5 - 1.0
        maps = details[i].normals.astype(np.float32) / 127.0           # [2, S, S, 3]
        if rng.random() < 0.5:  # mirror: columns flip, and so does the normals' x component
            img = img[:, ::-1]
            maps = maps[:, :, ::-1] * np.array([-1.0, 1.0, 1.0], np.float32)
        imgs.append(torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1))
        fronts.append(torch.from_numpy(np.ascontiguousarray(maps[0])).permute(2, 0, 1))
        backs.append(torch.from_numpy(np.ascontiguousarray(maps[1])).permute(2, 0, 1))
    return torch.stack(imgs), torch.stack(fronts), torch.stack(backs)


@torch.no_grad()
def validate(net, examples: list[Example], details: list[Detail]) -> dict:
    """Median angle (degrees) between predicted and true normals on the person's pixels (cut-out inputs)."""
    angles = {"front": [], "back": []}
    for ex, d in zip(examples, details):
        img = torch.from_numpy(ex.images[0]).permute(2, 0, 1).float()[None] / 127.5 - 1.0
        front, back = net.netG.normals(img)
        for name, pred, true in (("front", front, d.normals[0]), ("back", back, d.normals[1])):
            t = true.astype(np.float32) / 127.0
            on = np.linalg.norm(t, axis=-1) > 0.9
            p = pred[0].permute(1, 2, 0).numpy()[on]
            p = p / np.maximum(np.linalg.norm(p, axis=-1, keepdims=True), 1e-6)
            angles[name].append(np.degrees(np.arccos(np.clip((p * t[on]).sum(-1), -1, 1))))
    return {k: round(float(np.median(np.concatenate(v))), 2) for k, v in angles.items()}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--init", type=Path, required=True, help="demo checkpoint without normal networks")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--people", type=int, default=320, help="training people (seeds 0..people-1)")
    ap.add_argument("--size", type=int, default=256, help="coarse input size (the normal networks' input)")
    ap.add_argument("--render-size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=4, help="images per step")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--photo-share", type=float, default=0.2, help="share of steps on the opaque photo")
    ap.add_argument("--cache", type=Path, default=Path(".cache/demo_data"))
    ap.add_argument("--workers", type=int, default=2, help="rendering processes")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--save-every", type=int, default=100)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - t0:7.0f}s] {msg}", flush=True)

    log(f"args {vars(args)}; machine {platform.machine()}, torch {torch.__version__}")
    seeds, val_seeds = list(range(args.people)), list(VALIDATION_SEEDS)
    data = {}
    for name, ss in (("train", seeds), ("val", val_seeds)):
        data[name] = (prepare_dataset(ss, args.size, args.render_size, args.cache, args.workers, log),
                      prepare_dataset(ss, args.size, args.render_size, args.cache, args.workers, log, detail=True))
    t_data = time.time() - t0
    net, coarse, fine = build(args.size, normals=True)
    init_record = load_weights(net, args.init)
    log(f"initialised from {args.init}; normal networks added "
        f"({sum(p.numel() for p in net.netG.netF.parameters()) / 1e6:.2f} M parameters each)")
    net.train()
    params = list(net.netG.netF.parameters()) + list(net.netG.netB.parameters())
    opt = torch.optim.Adam(params, lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.05,
                                                div_factor=10.0, final_div_factor=50.0)
    train_ex, train_d = data["train"]
    order = np.concatenate([rng.permutation(len(train_ex))
                            for _ in range(args.steps * args.batch // len(train_ex) + 1)])
    history, running = [], []
    for step in range(1, args.steps + 1):
        idx = order[(step - 1) * args.batch: step * args.batch].tolist()
        img, front, back = batch(train_ex, train_d, idx, rng, args.photo_share)
        loss = (net.netG.netF(img) - front).abs().mean() + (net.netG.netB(img) - back).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running.append(loss.item())
        if step % 10 == 0:
            log(f"step {step}/{args.steps} L1 {np.mean(running):.4f} lr {sched.get_last_lr()[0]:.2e}")
            running = []
        if step % args.save_every == 0 or step == args.steps:
            v = validate(net, *data["val"])
            history.append({"step": step, "val_median_angle_deg": v, "seconds": round(time.time() - t0)})
            save(net, coarse, fine, args.out)
            log(f"validation median angle front {v['front']} deg, back {v['back']} deg; saved {args.out}")
    total = time.time() - t0
    info = {"command": "python -m training.train_normals " + " ".join(argv or __import__("sys").argv[1:]),
            "seed": args.seed, "seconds_total": round(total), "seconds_dataset": round(t_data),
            "machine": f"{platform.machine()} {platform.node()}", "cpu_threads": args.threads,
            "torch": torch.__version__, "history": history, "init": str(args.init), "init_record": init_record,
            "args": {k: str(v) for k, v in vars(args).items()}}
    args.out.with_suffix(".train.json").write_text(json.dumps(info, indent=1))
    log(f"done in {total:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
