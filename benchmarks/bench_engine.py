"""Engine benchmark: prints figures, asserts nothing.

With the released (full-size) configuration and random weights, on the current device:
- time of the networks' image pass (normal nets + both filters) for one photo;
- query throughput (points/s) of the full two-level query;
- surface extraction on a body-shaped analytic field at resolution 256 and 512: field evaluations of the
  coarse-to-fine sampler against the dense grid, and wall times;
- peak resident memory of the process.

Run: ``python benchmarks/bench_engine.py [--device auto] [--points 100000] [--skip-network]``
"""
from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backend.device import resolve_device  # noqa: E402
from backend.networks import LevelOptions, PIFuHD  # noqa: E402
from backend.surface import EvaluationCounter, marching_cubes, sample_coarse_to_fine  # noqa: E402
from tests.support.body_field import grid_field  # noqa: E402

# The released configuration (shared/reference/pifuhd-reference.md, section 1).
RELEASED_COARSE = dict(loadSize=512, num_stack=4, hg_depth=2, hg_dim=256, hg_down="ave_pool", norm="group",
                       mlp_norm="group", mlp_dim=[257, 1024, 512, 256, 128, 1], merge_layer=2,
                       mlp_res_layers=[2, 3, 4], z_size=200.0, use_front_normal=True, use_back_normal=True)
RELEASED_FINE = dict(loadSize=1024, num_stack=1, hg_depth=2, hg_dim=16, norm="batch", mlp_norm="none",
                     mlp_dim=[272, 512, 256, 128, 1], merge_layer=-1, mlp_res_layers=[2, 3], z_size=200.0)


def peak_rss_mib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if platform.system() != "Darwin" else kib / 2 ** 20


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


@torch.no_grad()
def bench_network(device: torch.device, n_points: int, repeats: int) -> None:
    torch.manual_seed(0)
    net = PIFuHD(LevelOptions.from_namespace(RELEASED_COARSE, fine=False),
                 LevelOptions.from_namespace(RELEASED_FINE, fine=True)).eval().to(device)
    n_params = sum(p.numel() for p in net.parameters())
    print(f"released configuration: {n_params / 1e6:.1f} M parameters on {device}")
    img512 = torch.rand(1, 3, 512, 512, device=device) * 2 - 1
    img1024 = torch.rand(1, 3, 1024, 1024, device=device) * 2 - 1
    calib = torch.diag(torch.tensor([1.0, -1.0, 1.0, 1.0], device=device))[None]
    net.filter(img512, img1024)  # warm-up
    sync(device)
    t = time.perf_counter()
    maps = net.filter(img512, img1024)
    sync(device)
    print(f"image pass (normal nets + both filters): {time.perf_counter() - t:.2f} s")
    pts = (torch.rand(1, 3, n_points, device=device) * 2 - 1)
    net.query(maps, pts, calib)
    sync(device)
    t = time.perf_counter()
    for _ in range(repeats):
        net.query(maps, pts, calib)
    sync(device)
    dt = (time.perf_counter() - t) / repeats
    print(f"two-level query, batches of {n_points}: {n_points / dt:,.0f} points/s ({dt * 1e3:.0f} ms/batch)")


def bench_extraction(resolutions: list[int]) -> None:
    for res in resolutions:
        counter = EvaluationCounter(grid_field(res))
        t = time.perf_counter()
        volume = sample_coarse_to_fine(counter, res)
        t_field = time.perf_counter() - t
        t = time.perf_counter()
        verts, faces = marching_cubes(volume)
        t_mc = time.perf_counter() - t
        dense = res ** 3
        print(f"extraction at {res}: {counter.count:,} field evaluations vs {dense:,} dense "
              f"({dense / counter.count:.1f}x fewer); sampler {t_field:.2f} s (analytic field), "
              f"marching cubes {t_mc:.2f} s; {len(verts):,} vertices")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--skip-network", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    if device.type == "cuda":
        print(f"GPU: {torch.cuda.get_device_name(device)}")
    if not args.skip_network:
        bench_network(device, args.points, args.repeats)
    bench_extraction(args.resolutions)
    print(f"peak resident memory: {peak_rss_mib():,.0f} MiB")
    if device.type == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2 ** 20:,.0f} MiB")


if __name__ == "__main__":
    main()
