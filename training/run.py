"""What every training stage shares: its common command-line options, seeding, a timed log, the optimiser
with its one-cycle schedule, the order people are visited in, and the run record beside the checkpoint.

The record (``<out>.train.json``) holds the command, seed, times, machine, validation history and the record
of the checkpoint the run started from (``init_record``), so a chain of stages keeps its whole history.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import torch


def parser(doc: str | None, *, steps: int, batch: int, lr: float, seed: int, out: Path | None,
           init_required: bool) -> argparse.ArgumentParser:
    """The options every stage has (its own come on top): people, sizes, schedule, cache, threads."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=seed, help="seed of the initialisation and the sampling")
    if out is None:
        ap.add_argument("--out", type=Path, required=True)
    else:
        ap.add_argument("--out", type=Path, default=out)
    ap.add_argument("--people", type=int, default=320, help="training people (seeds 0..people-1)")
    ap.add_argument("--size", type=int, default=256, help="coarse input size (loadSize); fine is twice")
    ap.add_argument("--render-size", type=int, default=512, help="render size of the training images")
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--batch", type=int, default=batch, help="images per step")
    ap.add_argument("--lr", type=float, default=lr, help="peak learning rate (one-cycle schedule)")
    ap.add_argument("--photo-share", type=float, default=0.2, help="share of steps on the opaque photo")
    ap.add_argument("--cache", type=Path, default=Path(".cache/demo_data"))
    ap.add_argument("--workers", type=int, default=2, help="rendering processes")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--init", type=Path, required=init_required, default=None,
                    help="start from this demo checkpoint (a previous stage's output)")
    return ap


class Run:
    """One training run of ``python -m training.<module>`` with parsed ``args`` (from ``argv``)."""

    def __init__(self, module: str, args: argparse.Namespace, argv: list[str] | None):
        torch.set_num_threads(args.threads)
        torch.manual_seed(args.seed)
        self.rng = np.random.default_rng(args.seed)
        self.t0 = time.time()
        self.module, self.args = module, args
        self.argv = list(sys.argv[1:] if argv is None else argv)
        self.history: list[dict] = []
        self.seconds_data = 0.0
        self._running: list[tuple[float, ...]] = []
        self.log(f"args {vars(args)}; machine {platform.machine()} {platform.processor() or ''}, "
                 f"torch {torch.__version__}")

    def log(self, msg: str) -> None:
        print(f"[{time.time() - self.t0:7.0f}s] {msg}", flush=True)

    def people(self, seeds: list[int], detail: bool = False) -> list:
        """The rendered examples (with ``detail``: their :class:`dataset.Detail`) of ``seeds``, made once
        and cached under ``--cache``."""
        from .dataset import prepare_dataset

        a = self.args
        return prepare_dataset(seeds, a.size, a.render_size, a.cache, a.workers, self.log, detail=detail)

    def splits(self, validation_seeds: tuple[int, ...]) -> dict[str, tuple[list, list]]:
        """{"train": (examples, details), "val": (...)}: people ``0..--people-1`` and ``validation_seeds``."""
        groups = (("train", list(range(self.args.people))), ("val", list(validation_seeds)))
        return {name: (self.people(seeds), self.people(seeds, detail=True)) for name, seeds in groups}

    def data_ready(self) -> None:
        """Mark the end of the dataset preparation (its time goes into the record)."""
        self.seconds_data = time.time() - self.t0

    def optimiser(self, params: list[torch.nn.Parameter]
                  ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
        """Adam with a one-cycle learning rate peaking at ``--lr`` after 5 % of the steps."""
        opt = torch.optim.Adam(params, lr=self.args.lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.args.lr, total_steps=self.args.steps,
                                                    pct_start=0.05, div_factor=10.0, final_div_factor=50.0)
        return opt, sched

    def batches(self, n_people: int) -> Iterator[tuple[int, list[int]]]:
        """(step, people indexes) for steps 1..``--steps``: ``--batch`` people each, every person once per
        pass in a fresh random order."""
        a = self.args
        order = np.concatenate([self.rng.permutation(n_people) for _ in range(a.steps * a.batch // n_people + 1)])
        for step in range(1, a.steps + 1):
            yield step, order[(step - 1) * a.batch: step * a.batch].tolist()

    @staticmethod
    def descend(opt: torch.optim.Optimizer, sched, loss: torch.Tensor) -> None:
        """One optimiser step on ``loss`` and one schedule step."""
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()

    def step_done(self, step: int, sched, **metrics: float) -> None:
        """Note this step's metrics; every 10 steps log their means and the learning rate."""
        self._running.append(tuple(metrics.values()))
        if step % 10 == 0:
            means = np.mean(self._running, axis=0)
            self._running = []
            text = " ".join(f"{k} {v:.4f}" for k, v in zip(metrics, means))
            self.log(f"step {step}/{self.args.steps} {text} lr {sched.get_last_lr()[0]:.2e}")

    def checkpoint_due(self, step: int) -> bool:
        return step % self.args.save_every == 0 or step == self.args.steps

    def validated(self, step: int, **values) -> None:
        """Add a validation result to the history."""
        self.history.append({"step": step, **values, "seconds": round(time.time() - self.t0)})

    def write_record(self, init_record: dict | None) -> None:
        """``<out>.train.json``: command, seed, times, machine, history, and the record of ``--init``."""
        a = self.args
        total = time.time() - self.t0
        info = {"command": f"python -m training.{self.module} " + " ".join(self.argv),
                "seed": a.seed, "seconds_total": round(total), "seconds_dataset": round(self.seconds_data),
                "machine": f"{platform.machine()} {platform.node()}", "cpu_threads": a.threads,
                "torch": torch.__version__, "history": self.history, "init": str(a.init) if a.init else None,
                "init_record": init_record, "args": {k: str(v) for k, v in vars(a).items()}}
        a.out.with_suffix(".train.json").write_text(json.dumps(info, indent=1))
        self.log(f"done in {total:.0f} s")
