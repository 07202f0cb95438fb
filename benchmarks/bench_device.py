"""One command for a device's figures (a GPU when present): per model, precision and resolution, the time of
the image pass (normal nets + both filters; the example photo with a fixed crop, no detection), the field (coarse-to-fine, network queries in it), marching
cubes, colours and their sum (end to end, photo preparation excluded: it runs on the CPU), the field
evaluations, and the peak GPU memory (``torch.cuda.max_memory_allocated``) or, on a CPU, the process's peak
resident memory so far.

Models:
- ``demo``: the committed demo model (``models/demo/pifuhd_demo.pt``) on the bundled example photo;
- ``released``: the released configuration (384.5 M parameters) with random weights. Random weights give no
  person, so its field stage replays the demo model's evaluated points at that resolution (same batches,
  same count) through the released network, and adds the demo run's sampler bookkeeping; marching cubes and
  colours are the demo mesh's. Needs ``demo`` in the same run (it is added when missing);
- ``tiny``: a small random two-level network (for ``--quick`` and the tests: exercises every stage fast).

Run on a GPU machine: ``python benchmarks/bench_device.py --device cuda --json gpu.json``
(defaults there: demo and released, fp32 and fp16, resolutions 256 and 512).
On a CPU: ``python benchmarks/bench_device.py --device cpu [--quick]``; it says that no GPU was measured.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import backend  # noqa: E402
from backend.colors import vertex_colors  # noqa: E402
from backend.device import resolve_device, resolve_precision  # noqa: E402
from backend.engine import (LEVEL, MIN_BATCH, SPARSE_CHUNK, Model, NetworkField, batch_dependent,  # noqa: E402
                            compute_features)
from backend.image_io import load_image  # noqa: E402
from backend.input_transform import prepare_inputs  # noqa: E402
from backend.networks import LevelOptions, PIFuHD  # noqa: E402
from backend.progress import Reporter  # noqa: E402
from backend.surface import marching_cubes, sample_coarse_to_fine  # noqa: E402
from benchmarks.bench_engine import RELEASED_COARSE, RELEASED_FINE  # noqa: E402

CHECKPOINT = REPO / "models" / "demo" / "pifuhd_demo.pt"
PHOTO = REPO / "examples" / "person.png"
CROP = (158, 164, 782)   # the person's square in PHOTO (x, y, side), as the CLI's --no-detect --crop takes it
TINY_COARSE = dict(RELEASED_COARSE, loadSize=128, num_stack=1, hg_dim=32, mlp_dim=[33, 64, 32, 32, 1],
                   normal_base=8, normal_downsamplings=2, normal_blocks=1)
TINY_FINE = dict(RELEASED_FINE, loadSize=256, hg_dim=8, mlp_dim=[40, 32, 16, 1])
STAGES = ("image_pass", "field", "marching_cubes", "colors", "end_to_end")


@dataclass
class Run:
    model: str
    precision: str
    resolution: int
    seconds: dict[str, float]
    evaluations: int
    query_seconds: float
    vertices: int
    peak_gpu_mib: float | None
    peak_rss_mib: float
    notes: list[str] = field(default_factory=list)


def peak_rss_mib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if platform.system() != "Darwin" else kib / 2 ** 20


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def random_model(coarse: dict, fine: dict, device: torch.device, dtype: torch.dtype, name: str) -> Model:
    torch.manual_seed(0)
    net = PIFuHD(LevelOptions.from_namespace(coarse, fine=False), LevelOptions.from_namespace(fine, fine=True))
    net = net.eval().to(device, dtype)
    return Model(net=net, device=device, path=Path(name), coarse=net.netG.opt, fine=net.opt, dtype=dtype)


class TimedField:
    """A field that times its network queries (synchronised) and can record the grid indices asked for."""

    def __init__(self, field_fn, device: torch.device, record: bool):
        self.field, self.device, self.seconds, self.count = field_fn, device, 0.0, 0
        self.recorded: list[np.ndarray] | None = [] if record else None

    def __call__(self, index: np.ndarray) -> np.ndarray:
        t = time.perf_counter()
        out = self.field(index)
        sync(self.device)
        self.seconds += time.perf_counter() - t
        self.count += len(index)
        if self.recorded is not None:
            self.recorded.append(index.copy())
        return out


def timed(device: torch.device, fn, *args, **kwargs):
    sync(device)
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    sync(device)
    return out, time.perf_counter() - t


def measure(model: Model, name: str, precision: str, inputs, res: int, chunk: int,
            replay: dict | None = None) -> tuple[Run, dict]:
    """One reconstruction's stages; ``replay`` (from a demo run) stands in for the field of random weights."""
    dev = model.device
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
    with torch.no_grad():
        maps, t_image = timed(dev, compute_features, model, inputs, Reporter())
        min_batch = MIN_BATCH if batch_dependent(model) else 0
        net_field = NetworkField(model, maps, inputs.calib, res, min_batch=min_batch)
        notes: list[str] = []
        if replay is None:
            field = TimedField(net_field, dev, record=name == "demo")
            volume, t_field = timed(dev, sample_coarse_to_fine, field, res, level=LEVEL, chunk=chunk)
            (verts, faces), t_mc = timed(dev, marching_cubes, volume, LEVEL)
            del volume
            colors, t_col = timed(dev, vertex_colors, verts, inputs.image_1024.to(dev), inputs.calib)
            evaluations, query = field.count, field.seconds
            kept = {"indices": field.recorded, "bookkeeping": t_field - field.seconds, "mc": t_mc,
                    "colors": t_col, "vertices": len(verts)}
        else:
            field = TimedField(net_field, dev, record=False)
            for index in replay["indices"]:
                field(index)
            t_field = field.seconds + replay["bookkeeping"]
            t_mc, t_col = replay["mc"], replay["colors"]
            evaluations, query, kept = field.count, field.seconds, {"vertices": replay["vertices"]}
            notes.append("field = the demo model's points replayed through this network + the demo run's "
                         "bookkeeping; marching cubes and colours: the demo mesh's")
    seconds = {"image_pass": t_image, "field": t_field, "marching_cubes": t_mc, "colors": t_col}
    seconds["end_to_end"] = sum(seconds.values())
    peak_gpu = torch.cuda.max_memory_allocated(dev) / 2 ** 20 if dev.type == "cuda" else None
    run = Run(name, precision, res, seconds, evaluations, query, kept["vertices"], peak_gpu, peak_rss_mib(), notes)
    return run, kept


def warm_up(model: Model, inputs, chunk: int) -> None:
    """One image pass and one query batch (kernel selection, caches, lazy initialisation) before timing."""
    with torch.no_grad():
        maps = compute_features(model, inputs, Reporter())
        grid = np.random.default_rng(0).integers(0, 64, (chunk, 3))
        NetworkField(model, maps, inputs.calib, 64)(grid)
    sync(model.device)


def print_table(runs: list[Run], gpu: bool) -> None:
    mem = "peak GPU MiB" if gpu else "peak RSS MiB*"
    head = (f"{'model':<9}{'prec':<6}{'res':>5}{'image':>8}{'field':>8}{'(query)':>9}{'(other)':>8}{'mcubes':>8}{'colour':>8}"
            f"{'total':>8}{'evals':>11}{'verts':>9}{mem:>15}")
    print(head)
    for r in runs:
        s = r.seconds
        peak = r.peak_gpu_mib if gpu else r.peak_rss_mib
        other = 1 - r.query_seconds / s["field"] if s["field"] > 0 else 0.0
        print(f"{r.model:<9}{r.precision:<6}{r.resolution:>5}{s['image_pass']:>8.2f}{s['field']:>8.2f}"
              f"{r.query_seconds:>9.2f}{other:>8.0%}{s['marching_cubes']:>8.2f}{s['colors']:>8.2f}{s['end_to_end']:>8.2f}"
              f"{r.evaluations:>11,}{r.vertices:>9,}{peak:>15,.0f}")
    print("times in seconds; total = image + field + mcubes + colour (photo preparation excluded); (other): the\n"
          "field's share spent outside the network queries (the sampler's bookkeeping)")
    if not gpu:
        print("* process peak so far (includes every earlier row)")
    if any(r.notes for r in runs):
        print("released: " + next(r.notes[0] for r in runs if r.notes))


@torch.no_grad()   # inference only, and the caller's autograd mode is left as it was (tests import this)
def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", help="auto, cuda, cuda:1, mps or cpu")
    ap.add_argument("--quick", action="store_true", help="small settings: tiny network, resolutions 24 and 32")
    ap.add_argument("--models", nargs="+", choices=["demo", "released", "tiny"])
    ap.add_argument("--precisions", nargs="+", choices=["fp32", "fp16", "bf16"])
    ap.add_argument("--resolutions", type=int, nargs="+")
    ap.add_argument("--chunk", type=int, help="points per query (default: the engine's for the device)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    try:
        device = resolve_device(args.device)
    except backend.PIFuHDError as err:
        raise SystemExit(f"bench_device: {err}") from None
    gpu = device.type == "cuda"
    models = args.models or (["tiny"] if args.quick else ["demo", "released"])
    if "released" in models and "demo" not in models:
        models = ["demo"] + models
    models = sorted(models, key=["tiny", "demo", "released"].index)
    precisions = args.precisions or (["fp32", "fp16"] if device.type != "cpu" else ["fp32"])
    resolutions = args.resolutions or ([24, 32] if args.quick else [256, 512])
    chunk = args.chunk or SPARSE_CHUNK.get(device.type, 8192)
    info = {"device": str(device), "gpu_measured": gpu, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "chunk": chunk, "machine": platform.machine()}
    if gpu:
        info["gpu"] = torch.cuda.get_device_name(device)
        print(f"GPU: {info['gpu']}, torch {torch.__version__}, chunk {chunk}")
    else:
        info["note"] = f"No GPU was measured: this ran on {device.type.upper()}."
        print(f"{info['note']} ({platform.machine()}, {torch.get_num_threads()} threads, torch "
              f"{torch.__version__}, chunk {chunk})")

    photo = load_image(PHOTO)
    prepared = {}
    runs: list[Run] = []
    for precision in precisions:
        try:
            resolve_precision(precision, device)
        except backend.PIFuHDError as err:
            print(f"skipping {precision}: {err}")
            continue
        demo_kept: dict[int, dict] = {}
        for name in models:
            if name == "demo":
                model = backend.load_model(CHECKPOINT, device, precision=precision)
            elif name == "released":
                model = random_model(RELEASED_COARSE, RELEASED_FINE, device, resolve_precision(precision, device),
                                     "released-random")
            else:
                model = random_model(TINY_COARSE, TINY_FINE, device, resolve_precision(precision, device),
                                     "tiny-random")
            sizes = model.input_sizes
            if sizes not in prepared:
                prepared[sizes] = prepare_inputs(photo, CROP, *sizes)
            inputs = prepared[sizes]
            warm_up(model, inputs, chunk)
            for res in resolutions:
                run, kept = measure(model, name, precision, inputs, res, chunk,
                                    replay=demo_kept.get(res) if name == "released" else None)
                if name == "demo":
                    demo_kept[res] = kept
                runs.append(run)
                print(f"  measured {name} {precision} {res}: {run.seconds['end_to_end']:.2f} s", flush=True)
            del model
            if gpu:
                torch.cuda.empty_cache()
    print()
    print_table(runs, gpu)
    result = {"info": info, "runs": [vars(r) for r in runs]}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    main()
