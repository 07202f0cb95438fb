"""Write the bundled example photo: a generated person never used in training, as a 1024 px RGBA cut-out.

    python -m training.make_example --out examples/person.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from .people import EXAMPLE_SEED
from .render import render_person


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=EXAMPLE_SEED)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--out", type=Path, default=Path("examples/person.png"))
    args = ap.parse_args(argv)
    shape, _, rgba = render_person(args.seed, args.size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise SystemExit(f"could not write {args.out}")
    m = shape.meta
    print(f"{args.out}: seed {args.seed}, {m['height_m']:.2f} m, {m['pose']}, {m['top']} + {m['bottom']}, "
          f"turned {m['turn_deg']:.0f} deg")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
