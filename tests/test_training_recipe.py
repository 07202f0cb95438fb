"""The one-command recipe (``python -m training.recipe``) is the chain of training runs that made the
committed demo model: its stages match, in order, the runs recorded in ``pifuhd_demo.train.json``."""
from __future__ import annotations

import json

import pytest

from tests.conftest import REPO
from training import recipe

RECORD = REPO / "models" / "demo" / "pifuhd_demo.train.json"


def recorded_runs() -> list[dict]:
    """The runs behind the committed model, first to last (each record nests the one it started from)."""
    runs, record = [], json.loads(RECORD.read_text())
    while record is not None:
        runs.append(record)
        record = record.get("init_record")
    return runs[::-1]


def test_recipe_stages_are_the_recorded_runs():
    runs = recorded_runs()
    assert len(runs) == len(recipe.STAGES)
    for k, (run, st) in enumerate(zip(runs, recipe.STAGES)):
        args = run["args"]
        assert run["command"].startswith(f"python -m training.{st.trainer} "), f"stage {k + 1}"
        assert (int(args["seed"]), int(args["people"]), int(args["steps"]), int(args["batch"])) == \
            (st.seed, st.people, st.steps, st.batch), f"stage {k + 1}"
        assert float(args["lr"]) == pytest.approx(st.lr)
        assert (int(args["points"]) if "points" in args else None) == st.points
        assert (args.get("init") in (None, "None")) == (k == 0)         # every later stage continues


def test_recipe_has_the_two_level_architecture_stages():
    trainers = [st.trainer for st in recipe.STAGES]
    assert trainers.index("train_normals") < len(trainers) - 1 - trainers[::-1].index("train")  # coarse again
    assert trainers[-1] == "train_fine"


def test_recipe_command_lines_parse_as_training_runs(tmp_path):
    init = None
    for k in range(len(recipe.STAGES)):
        out = tmp_path / f"stage{k + 1}.pt"
        argv = recipe.stage_args(k, out, init, tmp_path / "cache")
        parsed = recipe.trainer(k).parser().parse_args(argv)
        assert parsed.seed == recipe.STAGES[k].seed and parsed.out == out and parsed.init == init
        assert parsed.steps == recipe.STAGES[k].steps and parsed.batch == recipe.STAGES[k].batch
        init = out
