"""The person's foreground mask: MediaPipe's probability map brought to photo pixels, optionally refined
at the edge with GrabCut.

Masks are bool [H, W] in the photo frame (True = person). The probability map is float32 [h, w] in [0, 1]
on the detection copy, which is the photo scaled uniformly (``h/H == w/W`` up to rounding).
"""
from __future__ import annotations

import cv2
import numpy as np

THRESHOLD = 0.5          # probability above which a pixel is the person
REFINE_SIDE = 512        # GrabCut runs on the person's region shrunk to at most this longer side (px)
REFINE_ITERATIONS = 3
REFINE_MARGIN = 0.1      # the region is the probable-person box grown by this share of its size per side
REFINE_BAND = 0.02       # ... and may grow the model's mask by at most this share of the region's longer side
GRABCUT_SEED = 12345
SURE_FG, LIKELY_FG, SURE_BG = 0.95, 0.5, 0.05   # probability bands seeding GrabCut's four labels


def probability_to_mask(probability: np.ndarray, size: tuple[int, int],
                        threshold: float = THRESHOLD) -> np.ndarray:
    """Probability [h, w] -> bool mask of ``size`` = (width, height) photo pixels (bilinear, then threshold).

    Resized as uint8 so a 50 MP photo costs one byte per pixel.
    """
    levels = np.clip(probability * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if (levels.shape[1], levels.shape[0]) != tuple(size):
        levels = cv2.resize(levels, tuple(size), interpolation=cv2.INTER_LINEAR)
    return levels > int(threshold * 255)


def refine_with_grabcut(photo: np.ndarray, probability: np.ndarray, side: int = REFINE_SIDE,
                        iterations: int = REFINE_ITERATIONS) -> np.ndarray:
    """Edge-refined person mask, bool [H, W] in the photo frame.

    ``photo``: uint8 [H, W, 3] RGB (the colours GrabCut models). GrabCut is seeded from the probability
    (> 0.95 sure person, > 0.5 likely person, < 0.05 sure background, the rest likely background) and runs on
    the region around the person shrunk to at most ``side`` pixels, so its cost does not grow with the photo size.
    """
    H, W = photo.shape[:2]
    h, w = probability.shape
    sx, sy = W / w, H / h
    ys, xs = np.nonzero(probability > SURE_BG)
    if len(xs) == 0:
        return np.zeros((H, W), dtype=bool)
    # Region in photo pixels: the probable-person box, grown by the margin, clipped to the photo.
    bx0, bx1, by0, by1 = xs.min() * sx, (xs.max() + 1) * sx, ys.min() * sy, (ys.max() + 1) * sy
    mx, my = REFINE_MARGIN * (bx1 - bx0), REFINE_MARGIN * (by1 - by0)
    x0, y0 = max(int(bx0 - mx), 0), max(int(by0 - my), 0)
    x1, y1 = min(int(np.ceil(bx1 + mx)), W), min(int(np.ceil(by1 + my)), H)
    scale = min(side / max(x1 - x0, y1 - y0), 1.0)   # never enlarged: no detail to gain
    size = (max(int(round((x1 - x0) * scale)), 1), max(int(round((y1 - y0) * scale)), 1))
    region = cv2.resize(np.ascontiguousarray(photo[y0:y1, x0:x1, :3]), size, interpolation=cv2.INTER_AREA)
    # The probability over the same region, from the detection copy.
    prob_region = probability[int(y0 / sy):int(np.ceil(y1 / sy)), int(x0 / sx):int(np.ceil(x1 / sx))]
    prob = cv2.resize(prob_region, size, interpolation=cv2.INTER_LINEAR)
    labels = np.where(prob > SURE_FG, cv2.GC_FGD,
                      np.where(prob > LIKELY_FG, cv2.GC_PR_FGD,
                               np.where(prob < SURE_BG, cv2.GC_BGD, cv2.GC_PR_BGD))).astype(np.uint8)
    person = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
    # GrabCut may only move the edge by a band around the model's mask, so it cannot leak into a
    # background that resembles the person (paving, rocks, sky).
    band = max(int(REFINE_BAND * max(size)), 1)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1,) * 2)
    near = cv2.dilate(person.astype(np.uint8), disc)
    labels[near == 0] = cv2.GC_BGD
    if person.all() or not person.any():
        return probability_to_mask(probability, (W, H))
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(GRABCUT_SEED)     # GrabCut's k-means start is random: same photo, same mask
    try:
        cv2.grabCut(cv2.cvtColor(region, cv2.COLOR_RGB2BGR), labels, None, bgd, fgd, iterations,
                    cv2.GC_INIT_WITH_MASK)
    except cv2.error:                # degenerate colour statistics: keep the model's own mask
        return probability_to_mask(probability, (W, H))
    fg = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8) * 255
    fg = cv2.resize(fg, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR) > 127
    out = np.zeros((H, W), dtype=bool)
    out[y0:y1, x0:x1] = fg
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks of the same shape (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
