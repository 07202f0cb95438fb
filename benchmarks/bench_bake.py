"""Colour-bake atlas benchmark: the bundled example reconstructed by the demo model, baked with each unwrap
method of ``bpy.ops.pifuhd.bake``; prints the UV islands, the share of the texture the islands cover, and the
colour error of the baked texture against the vertex colours (8-bit sRGB levels, at each triangle's centroid
texel: the barycentric mix of its corners' colours is what the texture should hold there). Asserts nothing.

Run: ``python benchmarks/bench_bake.py [--resolution 256] [--size 2048]``
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from addon_session import addon_module, install_addon, reconstruct  # noqa: E402


def corner_arrays(me):
    """(faces [F, 3], uv [F, 3, 2], linear colours [F, 3, 3]) per loop triangle."""
    me.calc_loop_triangles()
    n = len(me.loop_triangles)
    loops = np.empty(n * 3, np.int32)
    me.loop_triangles.foreach_get("loops", loops)
    loops = loops.reshape(-1, 3)
    uv = np.empty(len(me.loops) * 2, np.float32)
    me.uv_layers.active.data.foreach_get("uv", uv)
    vert = np.empty(len(me.loops), np.int32)
    me.loops.foreach_get("vertex_index", vert)
    attr = me.color_attributes.active_color
    col = np.empty(len(attr.data) * 4, np.float32)
    attr.data.foreach_get("color", col)
    return vert[loops], uv.reshape(-1, 2)[loops].astype(np.float64), col.reshape(-1, 4)[vert[loops], :3]


def colour_error(image, uv: np.ndarray, colours: np.ndarray, uv_atlas, placement) -> np.ndarray:
    """|baked - expected| in 8-bit levels (max over RGB) at each triangle's centroid texel, for triangles
    whose centroid texel centre lies well inside them (``uv_atlas.centroid_texels``)."""
    w, h = image.size
    px = np.empty(w * h * image.channels, np.float32)
    image.pixels.foreach_get(px)
    px = px.reshape(h, w, image.channels)[:, :, :3]
    texel, bary, inside = uv_atlas.centroid_texels(uv, w)
    expected = placement.linear_to_srgb((bary[inside, :, None] * colours[inside]).sum(axis=1))
    got = px[texel[inside, 1], texel[inside, 0]]
    return 255.0 * np.abs(got - expected).max(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--methods", default="SMART,ATLAS")
    args = parser.parse_args()
    bpy, package = install_addon()
    bake, uv_atlas = addon_module(package, "bake"), addon_module(package, "uv_atlas")
    print(f"xatlas installed: {uv_atlas.available()}")
    ob = reconstruct(bpy, resolution=args.resolution)
    print(f"example at resolution {args.resolution}: {len(ob.data.vertices):,} vertices, "
          f"{len(ob.data.polygons):,} faces; texture {args.size} px")
    print("| unwrap | islands | texture used | colour error, mean / 95th pct / max (8-bit levels) | bake time |")
    print("|---|---|---|---|---|")
    for method in args.methods.split(","):
        t = time.perf_counter()
        image, _ = bake.bake_colors(bpy.context, ob, size=args.size, save='PACK', method=method)
        elapsed = time.perf_counter() - t
        faces, uv, colours = corner_arrays(ob.data)
        islands = uv_atlas.uv_islands(faces, uv)
        used = uv_atlas.texture_use(uv, args.size)
        err = colour_error(image, uv, colours, uv_atlas, addon_module(package, "placement"))
        print(f"| {method} | {islands} | {100 * used:.1f} % | {err.mean():.2f} / {np.percentile(err, 95):.2f} / "
              f"{err.max():.1f} | {elapsed:.0f} s |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
    import os
    os._exit(0)
