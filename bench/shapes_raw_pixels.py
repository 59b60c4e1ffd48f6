"""How much of the built-in shapes plain pixel matching solves, as the copies' freedom in their cells grows.

    python bench/shapes_raw_pixels.py

For each value of ``trimix.shapes.JITTER`` (how far a copy's centre may move from its cell's centre, as a
fraction of half a cell) it draws 5000 training and 1000 test images and scores ``evaluate.RawPixels``
(the pixels, centred on the mean training image) with the kit's kNN (k = 200, T = 0.1). The kit keeps
JITTER = 1.0, where this stays near 30 % (chance: 10 %): see trimix/shapes.py.
"""
from __future__ import annotations

import torch

from trimix import shapes
from trimix.augment import prepare
from trimix.evaluate import RawPixels, knn_accuracy


def raw_pixel_knn(jitter: float, seed: int = 11) -> float:
    kept = shapes.JITTER
    shapes.JITTER = jitter
    try:
        train, test = shapes.make_shapes(5000, seed=seed), shapes.make_shapes(1000, seed=seed + 1)
    finally:
        shapes.JITTER = kept
    pixels = RawPixels(train.images)
    features = [pixels(prepare(d.images)) for d in (train, test)]
    return knn_accuracy(features[0], train.labels, features[1], test.labels, num_classes=len(shapes.SHAPES))


if __name__ == "__main__":
    torch.set_num_threads(1)
    print("| JITTER | raw-pixel kNN % |\n| --- | --- |")
    for jitter in (0.4, 0.7, 1.0):
        print(f"| {jitter} | {raw_pixel_knn(jitter):.1f} |", flush=True)
