"""The built-in dataset ``shapes``: a pattern of one kind of shape, drawn so that the class is what the two
views of an image share.

Self-supervision learns whatever the two views of an image have in common (docs/design.md, "Data"). The views
differ by what the recipe varies: where the crop is and how large (8-100 % of the image), a horizontal flip,
colour jitter and grayscale. Everything else an image has, the two views share, and the network learns it,
wanted or not. So each image is nine small copies of its class's shape on a 3 x 3 grid, and nothing but the
class is the same in all of an image's copies:

* The class shows everywhere, as in natural images, where it shows in texture and parts as well as in the
  whole object: even a crop of 8 % of the image holds a copy or a large part of one.
* Each copy has its own size, position in its cell and left-right orientation: nuisances the crop and the
  flip vary too, and ones that do not add up to a property of the whole image.
* Grey levels, noise and the layout are the same for every image. Anything else that differed between
  images but not between an image's two views (its own grey levels, stripes, a gradient, a rotation) would
  be learned instead of the shapes: the recipe does not vary it, so it is the easiest thing the views share.

A copy's centre may lie anywhere in its cell (``JITTER``): with less freedom the copies of a class overlap
from image to image and plain pixel matching already goes far (kNN on centred raw pixels: 68 % with
copies kept within 40 % of the cell's centre, 31 % with the whole cell). So raw pixels and a random
network tell little here, while a few hundred steps of self-supervision learn the shapes: the quick-mode
demonstration.
``bench/quick_seeds.py`` measures all three on ten seeds; ``docs/results.md`` has its table.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from trimix.imagedata import ImageData

BUILTIN = "shapes"  # the built-in dataset's name in trimix.data.load_dataset

GRID = 3  # copies per row and column
JITTER = 1.0  # how far a copy's centre may move from its cell's centre, as a fraction of half a cell
SIZE = (0.16, 0.24)  # a copy's scale: its radius as a fraction of half the image (about 5-8 pixels wide at 32)
GROUND, SHAPE, NOISE = 0.2, 0.8, 0.03  # grey levels in [0, 1], and the standard deviation of pixel noise


def _box(u: Tensor, v: Tensor, a: float, b: float) -> Tensor:
    return torch.maximum(u.abs() - a, v.abs() - b)


def _star(u: Tensor, v: Tensor) -> Tensor:
    off = (torch.remainder(torch.atan2(v, u), 2 * math.pi / 5) - math.pi / 5).abs() / (math.pi / 5)  # 0 at tips
    return 0.6 * (torch.hypot(u, v) - 0.95 + 0.58 * off)


def _arrow(u: Tensor, v: Tensor) -> Tensor:
    head = torch.maximum(0.15 - u, ((u - 0.9) * 0.5 + v.abs() * 0.75) / 0.9)
    return torch.minimum(_box(u + 0.3, v, 0.55, 0.16), head)


# Each shape as a signed distance (< 0 inside, in shape units) of shape coordinates (u, v); |u|, |v| < ~1.
SHAPES = {
    "circle": lambda u, v: torch.hypot(u, v) - 0.8,
    "square": lambda u, v: _box(u, v, 0.65, 0.65),
    "triangle": lambda u, v: torch.maximum(-v, (v + 1.732 * u.abs()) / 2) - 0.42,  # equilateral, inradius .42
    "plus": lambda u, v: torch.minimum(_box(u, v, 0.9, 0.22), _box(u, v, 0.22, 0.9)),
    "ring": lambda u, v: (torch.hypot(u, v) - 0.7).abs() - 0.17,
    "star": _star,
    "crescent": lambda u, v: torch.maximum(torch.hypot(u, v) - 0.85, 0.65 - torch.hypot(u - 0.4, v)),
    "bar": lambda u, v: _box(u, v, 0.95, 0.22),
    "frame": lambda u, v: (_box(u, v, 0.65, 0.65)).abs() - 0.15,
    "arrow": _arrow,
}


def make_shapes(n: int, seed: int = 0, image_size: int = 32):
    """The built-in dataset: n images, uint8 (n, 3, image_size, image_size); class = the shape drawn.

    Deterministic from ``seed``; classes balanced exactly (counts differ by at most 1 when n % 10 != 0).
    Returns an ``ImageData`` named ``shapes/seed<seed>``.
    """

    if n < 1 or image_size < 8:
        raise ValueError(f"make_shapes needs n >= 1 and image_size >= 8, got n={n}, image_size={image_size}")
    g = torch.Generator().manual_seed(seed)
    s, cell = image_size, 2 / GRID  # the image spans [-1, 1]^2
    labels = (torch.arange(n) % len(SHAPES))[torch.randperm(n, generator=g)]
    x = ((torch.arange(s) + 0.5) / s * 2 - 1).view(1, 1, s)  # pixel centres; y is x.mT
    cover = torch.zeros(n, 1, s, s)  # how much of each pixel a shape covers, in [0, 1]
    for row in range(GRID):
        for col in range(GRID):
            centre = torch.tensor([col + 0.5, row + 0.5]) * cell - 1 + (torch.rand(n, 2, generator=g) * 2 - 1) * JITTER * cell / 2
            scale = SIZE[0] + (SIZE[1] - SIZE[0]) * torch.rand(n, generator=g)
            mirror = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
            for k, distance in enumerate(SHAPES.values()):
                i = (labels == k).nonzero()[:, 0]
                sc = scale[i, None, None]
                u = (x - centre[i, 0, None, None]) / sc * mirror[i, None, None]
                v = (x.mT - centre[i, 1, None, None]) / sc
                d = distance(u, v) * sc  # (m, s, s), in image units
                alpha = (0.5 - d * s / 2).clamp(0, 1)[:, None]  # a one-pixel soft edge: anti-aliasing
                cover[i] = torch.maximum(cover[i], alpha)
    image = GROUND + (SHAPE - GROUND) * cover + NOISE * torch.randn(n, 3, s, s, generator=g)
    images = image.clamp_(0, 1).mul_(255).round_().to(torch.uint8)
    return ImageData(images, labels, list(SHAPES), f"{BUILTIN}/seed{seed}")
