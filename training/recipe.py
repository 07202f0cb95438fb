"""The committed demo model from scratch, in one command: the training runs it was made by, in order.

    python -m training.recipe --out models/demo/pifuhd_demo.pt

Each stage is one run of a trainer in this package that starts from the previous stage's checkpoint
(``--init``: same weights, a fresh optimiser and learning-rate schedule, its own seed):

1-5. ``training.train``: the coarse level (image filter + MLP) from scratch, with more people and points as
     the model improves;
6.   ``training.train_normals``: adds the front/back normal networks and trains them on exact normal maps;
7.   ``training.train``: the coarse level again, now reading the (frozen) normal networks' maps;
8.   ``training.train_fine``: the fine level on windows of the fine input, over the frozen coarse level.

Stage checkpoints go to ``--work`` (each with its ``.train.json``, which keeps the records of the stages
before it); the last one is copied to ``--out``. ``--stages N`` stops after the first N stages;
``--after K`` starts from ``--work``/stageK.pt, made before, and runs the stages after it. The
model's 0.5 level is used as trained (``training.calibrate`` is not part of it: see the model card).
"""
from __future__ import annotations

import argparse
import importlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Stage:
    """One training run: ``python -m training.<trainer>`` with these arguments."""

    trainer: str          # "train", "train_normals" or "train_fine"
    seed: int
    people: int           # training people: seeds 0 .. people-1
    steps: int
    lr: float             # peak learning rate (one-cycle schedule)
    points: int | None    # points per image (train) or per window (train_fine); None for train_normals
    batch: int = 2        # images per step


STAGES = (
    Stage("train", 0, 320, 1500, 1e-3, 8000),
    Stage("train", 1, 320, 1000, 3e-4, 16000),
    Stage("train", 2, 640, 2000, 3e-4, 12000),
    Stage("train", 3, 960, 2500, 2.5e-4, 12000),
    Stage("train", 4, 960, 1500, 1.5e-4, 12000),
    Stage("train_normals", 5, 320, 800, 2e-3, None, batch=4),
    Stage("train", 6, 960, 1200, 2e-4, 12000),
    Stage("train_fine", 7, 320, 800, 3e-4, 4000),
)


def stage_args(k: int, out: Path, init: Path | None, cache: Path) -> list[str]:
    """The command line of stage ``k`` (0-based) for its trainer."""
    st = STAGES[k]
    argv = ["--seed", str(st.seed), "--out", str(out), "--people", str(st.people), "--steps", str(st.steps),
            "--batch", str(st.batch), "--lr", f"{st.lr:g}", "--cache", str(cache)]
    if st.points is not None:
        argv += ["--points", str(st.points)]
    return argv + (["--init", str(init)] if init is not None else [])


def trainer(k: int):
    """The module that runs stage ``k`` (it has ``main(argv)`` and ``parser()``)."""
    return importlib.import_module(f"training.{STAGES[k].trainer}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("models/demo/pifuhd_demo.pt"))
    ap.add_argument("--work", type=Path, default=Path(".cache/recipe"), help="stage checkpoints")
    ap.add_argument("--cache", type=Path, default=Path(".cache/demo_data"), help="rendered people")
    ap.add_argument("--stages", type=int, default=len(STAGES), help="run the first N stages only")
    ap.add_argument("--after", type=int, default=0, help="continue from the work folder's stage K checkpoint")
    args = ap.parse_args(argv)
    if not 1 <= args.stages <= len(STAGES):
        ap.error(f"--stages must be 1..{len(STAGES)}")
    if not 0 <= args.after < args.stages:
        ap.error(f"--after must be 0..{args.stages - 1}")
    args.work.mkdir(parents=True, exist_ok=True)
    init = args.work / f"stage{args.after}.pt" if args.after else None
    if init is not None and not init.is_file():
        ap.error(f"--after {args.after}: {init} does not exist (run the stages up to it first)")
    t0 = time.time()
    for k in range(args.after, args.stages):
        out = args.work / f"stage{k + 1}.pt"
        command = stage_args(k, out, init, args.cache)
        print(f"== stage {k + 1}/{args.stages}: python -m training.{STAGES[k].trainer} {' '.join(command)}",
              flush=True)
        trainer(k).main(command)
        init = out
    shutil.copyfile(init, args.out)
    shutil.copyfile(init.with_suffix(".train.json"), args.out.with_suffix(".train.json"))
    print(f"wrote {args.out} after {args.stages} stage(s) in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
