"""Offline data for notebooks 06-07: a stand-in for a MedMNIST target, and a nuisance label (hue).

``shapes_stand_in`` only demonstrates the mechanics of transfer, never a medical result.
"""
from __future__ import annotations

import warnings

import torch

from trimix.data import DatasetCorruptError, DatasetNotFoundError, load_dataset
from trimix.imagedata import ImageData, subset
from trimix.shapes import make_shapes

STAND_IN_CLASSES = ("circle", "ring", "crescent", "star")  # 4 classes, as many as OCTMNIST
STAND_IN_SPLITS = {"train": (2000, 101), "val": (500, 102), "test": (500, 103)}  # (images, seed)


def shapes_stand_in(split: str = "train", image_size: int = 28, grayscale: bool = True) -> ImageData:
    """An OFFLINE STAND-IN for a MedMNIST dataset: NOT medical data, and a near target for an encoder
    trained on the built-in shapes (its classes are four of them), unlike MedMNIST for a CIFAR-10 encoder.

    Built from the built-in shapes with other seeds than its train/test splits: 4 of its classes,
    drawn at ``image_size`` (28 px, MedMNIST's size), grayscale served as 3 equal channels (as OCTMNIST)
    with multiplicative speckle noise. It shows the *mechanics* of transfer (resizing to the encoder's
    size, channel replication, a linear probe on frozen features); its numbers say nothing about
    medical images. Splits: train 2000, val 500, test 500 images, classes balanced.
    """
    if split not in STAND_IN_SPLITS:
        raise ValueError(f"the stand-in has no split {split!r}; valid splits: {', '.join(STAND_IN_SPLITS)}")
    n, seed = STAND_IN_SPLITS[split]
    shapes = make_shapes(n * 10 // len(STAND_IN_CLASSES), seed=seed, image_size=image_size)
    wanted = [shapes.classes.index(c) for c in STAND_IN_CLASSES]
    keep = torch.isin(shapes.labels, torch.tensor(wanted))
    images, labels = shapes.images[keep].float() / 255, shapes.labels[keep]
    if grayscale:  # luminance, stretched to the full range of each image (as OCT scans use their range)
        gray = (images * torch.tensor([0.2989, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        low, high = gray.amin((2, 3), keepdim=True), gray.amax((2, 3), keepdim=True)
        gray = (gray - low) / (high - low).clamp_min(1e-3)
        speckle = 1 + 0.15 * torch.randn(gray.shape, generator=torch.Generator().manual_seed(seed))
        images = (gray * speckle).expand(-1, 3, -1, -1)
    images = images.clamp(0, 1).mul(255).round().to(torch.uint8).contiguous()
    remap = torch.full((len(shapes.classes),), -1, dtype=torch.int64)
    remap[wanted] = torch.arange(len(wanted))
    return ImageData(images, remap[labels], list(STAND_IN_CLASSES), f"shapes-stand-in/{split}")


def load_target_or_stand_in(name: str, split: str, root: str = "data", download: bool = False,
                            max_images: int | None = None) -> tuple[ImageData, bool]:
    """``(data, is_real)``: the real ``name`` when on disk (or downloaded), else ``shapes_stand_in(split)``.

    With ``download`` a missing dataset is fetched; when that fails for want of a network, a warning says
    so and the stand-in is returned. A corrupt file is still an error. ``max_images`` keeps a
    stratified subset of a real dataset (quick mode on a CPU).
    """
    try:
        return subset(load_dataset(name, split, root=root), max_images), True
    except DatasetNotFoundError:
        if download:
            try:
                return subset(load_dataset(name, split, root=root, download=True), max_images), True
            except DatasetCorruptError:
                raise
            except (OSError, RuntimeError) as error:  # no network: URLError; medmnist: "download failed"
                first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                warnings.warn(f"could not download {name} ({first}); using the offline stand-in instead")
    return shapes_stand_in(split), False


def hue_labels(images: torch.Tensor, bins: int = 6) -> torch.Tensor:
    """A nuisance label: the hue of each image's mean colour, cut into ``bins`` equal bins (0 = red).

    uint8 (N, 3, H, W) -> int64 (N,). Scoring features against it (e.g. with kNN) shows how much of a
    representation is colour rather than content (notebook 06).
    """
    rgb = images.float().mean((2, 3)) / 255  # (N, 3)
    top, which = rgb.max(1)
    spread = (top - rgb.min(1).values).clamp_min(1e-6)
    r, g, b = rgb.unbind(1)
    sector = torch.where(which == 0, ((g - b) / spread) % 6,
                         torch.where(which == 1, (b - r) / spread + 2, (r - g) / spread + 4))  # hue x 6, in [0, 6)
    return (sector / 6 * bins).long().clamp(0, bins - 1)
