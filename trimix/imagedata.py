"""``ImageData``, a whole split of a dataset held in memory, and stratified subsets of it.

Every loader (``trimix.data``, the built-in ``trimix.shapes``, the stand-in of ``trimix.stand_in``) returns
one, so training can move a split to the device once and augment it there.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset


class ImageData(Dataset):
    """A whole split held in memory.

    images: uint8 (N, 3, H, W), grayscale served as 3 channels; labels: int64 (N,), -1 = unlabelled
    (STL-10's unlabelled split); classes: class names, index = label; name: e.g. "cifar10/train".
    """

    def __init__(self, images: Tensor, labels: Tensor, classes: Sequence[str], name: str):
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"{name}: images must be uint8 (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
        if len(images) == 0:
            raise ValueError(f"{name}: the dataset is empty")
        labels = torch.as_tensor(labels, dtype=torch.int64)
        if labels.shape != (len(images),):
            raise ValueError(f"{name}: {len(images)} images but labels of shape {tuple(labels.shape)}")
        if labels.min() < -1 or labels.max() >= len(classes):
            raise ValueError(f"{name}: labels must lie in [-1, {len(classes)}), got {labels.min()}..{labels.max()}")
        self.images, self.labels, self.classes, self.name = images, labels, list(classes), name

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.images[i], int(self.labels[i])

    @property
    def image_size(self) -> int:
        return self.images.shape[2]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        _, c, h, w = self.images.shape
        return f"ImageData({self.name!r}: {len(self)} images of {c}x{h}x{w}, {self.num_classes} classes)"


def stratified_subset(labels: Tensor, fraction: float, seed: int = 0) -> Tensor:
    """Indices of a stratified labelled subset (every class keeps the same fraction), for the 1% / 10% /
    100% splits of Tables II, IV.

    Each class keeps round(fraction * its count) samples (halves round up), at least one, drawn with
    ``seed``. Unlabelled samples (label -1) are never picked. Returns sorted int64 indices (K,);
    fraction 1.0 returns every labelled index.
    """
    if not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be a number in (0, 1], got {fraction!r}")
    if labels.dim() != 1:
        raise ValueError(f"labels must be 1-D (N,), got shape {tuple(labels.shape)}")
    labels = labels.cpu()
    gen = torch.Generator().manual_seed(seed)
    picked = []
    for c in torch.unique(labels[labels >= 0]):  # sorted, so the draw order (and result) depends only on the seed
        idx = torch.nonzero(labels == c).flatten()
        keep = max(1, math.floor(fraction * len(idx) + 0.5))
        picked.append(idx[torch.randperm(len(idx), generator=gen)[:keep]])
    return torch.cat(picked).sort().values


def subset(data: ImageData, n: int | None, seed: int = 0) -> ImageData:
    """A stratified subset of about ``n`` images (``stratified_subset``); None or n >= N: all of ``data``."""
    if n is None or n >= len(data):
        return data
    idx = stratified_subset(data.labels, n / len(data), seed)
    return ImageData(data.images[idx], data.labels[idx], data.classes, f"{data.name}[{len(idx)}]")
