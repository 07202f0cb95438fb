"""The committed demo model from scratch, in one command: the training runs it was made by, in order.

    python -m training.recipe --out models/demo/pifuhd_demo.pt

Each stage is one ``python -m training.train`` run that starts from the previous stage's checkpoint
(``--init``: same weights, a fresh optimiser and learning-rate schedule, its own seed), with more people
and points as the model improves. Stage checkpoints go to ``--work`` (each with its ``.train.json``, which
keeps the records of the stages before it); the last one is copied to ``--out``. ``--stages N`` stops after
the first N stages. The model's 0.5 level is used as trained (``training.calibrate`` is not part of it:
see the model card).
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from . import train

# (seed, training people, steps, points per image, peak learning rate); batch 2 images throughout.
STAGES = (
    (0, 320, 1500, 8000, 1e-3),
    (1, 320, 1000, 16000, 3e-4),
    (2, 640, 2000, 12000, 3e-4),
    (3, 960, 2500, 12000, 2.5e-4),
    (4, 960, 1500, 12000, 1.5e-4),
)


def stage_args(k: int, out: Path, init: Path | None, cache: Path) -> list[str]:
    """The ``training.train`` command line of stage ``k`` (0-based)."""
    seed, people, steps, points, lr = STAGES[k]
    argv = ["--seed", str(seed), "--out", str(out), "--people", str(people), "--steps", str(steps),
            "--batch", "2", "--points", str(points), "--lr", f"{lr:g}", "--cache", str(cache)]
    return argv + (["--init", str(init)] if init is not None else [])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("models/demo/pifuhd_demo.pt"))
    ap.add_argument("--work", type=Path, default=Path(".cache/recipe"), help="stage checkpoints")
    ap.add_argument("--cache", type=Path, default=Path(".cache/demo_data"), help="rendered people")
    ap.add_argument("--stages", type=int, default=len(STAGES), help="run the first N stages only")
    args = ap.parse_args(argv)
    if not 1 <= args.stages <= len(STAGES):
        ap.error(f"--stages must be 1..{len(STAGES)}")
    args.work.mkdir(parents=True, exist_ok=True)
    init = None
    t0 = time.time()
    for k in range(args.stages):
        out = args.work / f"stage{k + 1}.pt"
        command = stage_args(k, out, init, args.cache)
        print(f"== stage {k + 1}/{args.stages}: python -m training.train {' '.join(command)}", flush=True)
        train.main(command)
        init = out
    shutil.copyfile(init, args.out)
    shutil.copyfile(init.with_suffix(".train.json"), args.out.with_suffix(".train.json"))
    print(f"wrote {args.out} after {args.stages} stage(s) in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
