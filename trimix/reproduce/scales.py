"""The three scales of a reproduction, and the datasets each one reads.

- ``quick``: ``trimix.config.quick_config()`` on its built-in dataset, a CPU in minutes. Medical tables use
  the offline stand-in of ``trimix.stand_in`` (NOT medical data, and labelled so in every table).
- ``small``: real data on a CPU (``SMALL_OVERRIDES``). CIFAR-10 for natural images (``--dataset
  folder:PATH`` or a copy downloaded into ``data/``), the four MedMNIST sets for medical ones.
- ``paper``: ``trimix.config.paper_config()``, the paper's section IV-A: ResNet-18, projector 3 x 1024,
  batch 256, 200 epochs, and its eight datasets. A GPU's job.

Every method and variant of a table runs with the same scale configuration (network, projector, views,
optimiser, batch, epochs or steps), so that a table compares objectives and nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from trimix.config import Config, paper_config, quick_config
from trimix.protocols import KNN, FineTune, LinearProbe
from trimix.data import load_dataset
from trimix.imagedata import ImageData, subset
from trimix.reproduce.paper_tables import DATASET_NAMES, MEDICAL, NATURAL
from trimix.stand_in import shapes_stand_in

STAND_IN = "stand-in"  # trimix.stand_in.shapes_stand_in: the quick scale's offline stand-in for MedMNIST

# The small scale: a narrow ResNet-18 (width 8: an eighth of the channels, 64-d features), the paper's
# 3-layer projector at 512 instead of 1024, and the paper's batch of 256, for one whole epoch (195 steps on
# CIFAR-10; a whole epoch rather than a step cap, so that schedules spanning the run, BYOL's momentum, are
# complete). Measured on this project's busy 2-core machine with OMP_NUM_THREADS=1: about 1.4 s per Barlow
# Twins step and 2 s per TriMix step, so 5-7 minutes per run. Width 16 was 2-3x slower per step, too slow
# for a table of 5 methods x 3 seeds in about an hour.
SMALL_OVERRIDES = dict(width=8, proj_hidden=512, proj_dim=512, batch_size=256, epochs=1, log_every=5,
                       checkpoint_every=1)


def small_config(**changes) -> Config:
    """The small scale's configuration: the paper's, with ``SMALL_OVERRIDES``."""
    return paper_config(**{**SMALL_OVERRIDES, **changes})


@dataclass(frozen=True)
class Scale:
    """How big a reproduction is: the base configuration, the datasets, the evaluation protocols."""

    name: str
    about: str  # one line for the tables
    config: Callable[[], Config]  # every run's configuration before its row's changes are made
    natural: Callable[[Config], tuple[str, ...]]  # datasets standing for the paper's natural images
    medical: tuple[str, ...]  # ... and for its MedMNIST sets
    fig4_grid: Callable[[Config], tuple[tuple[int, ...], tuple[int, ...]]]  # (batch sizes, projector sizes)
    knn: KNN = KNN()
    linear: LinearProbe = LinearProbe()  # the paper's: 100 epochs
    finetune: FineTune = FineTune()  # the paper's: 100 epochs

    def capped(self, epochs: int | None) -> "Scale":
        """This scale with the linear probe and fine-tuning cut to at most ``epochs`` (a smoke-test knob)."""
        if epochs is None:
            return self
        return replace(self, linear=replace(self.linear, epochs=min(self.linear.epochs, epochs)),
                       finetune=replace(self.finetune, epochs=min(self.finetune.epochs, epochs)))


def _around(config: Config) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A 3 x 3 grid around the scale's own batch size B and projector size D: (B/2, B, 2B) x (D/2, D, 2D)."""
    b, d = config.batch_size, config.proj_dim
    return (b // 2, b, 2 * b), (d // 2, d, 2 * d)


def _below(config: Config) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A 3 x 3 grid up to the scale's own sizes: (B/4, B/2, B) x (D/4, D/2, D); a CPU cannot afford more."""
    b, d = config.batch_size, config.proj_dim
    return (b // 4, b // 2, b), (d // 4, d // 2, d)


def _paper_grid(config: Config) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return (32, 64, 128, 256, 512), (128, 256, 512, 1024, 2048)  # section IV-C, Fig. 4


SCALES: dict[str, Scale] = {
    "quick": Scale("quick", "quick mode (trimix.config.quick_config) on the built-in dataset, a CPU in minutes",
                   quick_config, lambda c: (c.dataset,), (STAND_IN,), _around, finetune=FineTune(epochs=5)),
    "small": Scale("small", "real data on a CPU: ResNet-18 of width {width}, projector 3 x {proj_dim}, batch "
                   "{batch_size}, epochs {epochs}".format(**SMALL_OVERRIDES),
                   small_config, lambda c: ("cifar10",), MEDICAL, _below, finetune=FineTune(epochs=5)),
    "paper": Scale("paper", "the paper's configuration (section IV-A): ResNet-18, projector 3 x 1024, "
                   "batch 256, 200 epochs", paper_config, lambda c: NATURAL, MEDICAL, _paper_grid),
}


def get_scale(name: str) -> Scale:
    if name not in SCALES:
        raise ValueError(f"unknown scale {name!r}; choose one of: {', '.join(SCALES)}")
    return SCALES[name]


def paper_dataset(name: str) -> str | None:
    """The paper's dataset that ``name`` is (or stands for), for its numbers beside ours; None if none.

    A paper name is itself. ``folder:PATH`` is the paper dataset whose name begins PATH's last folder
    (``folder:data/cifar10-jpeg`` -> cifar10; the longest such name wins, so cifar100-x is cifar100).
    """
    key = name.lower()
    if key in DATASET_NAMES:
        return key
    if key.startswith("folder:"):
        folder = Path(name[len("folder:"):]).name.lower()
        matches = [d for d in DATASET_NAMES if folder.startswith(d)]
        return max(matches, key=len) if matches else None
    return None


def dataset_label(name: str) -> str:
    """How a dataset is named in a table: the paper's spelling, the folder, or the stand-in's warning."""
    if name == STAND_IN:
        return "stand-in (shapes, NOT medical)"
    paper = paper_dataset(name)
    if paper is None:
        return name
    return DATASET_NAMES[paper] if paper == name.lower() else f"{DATASET_NAMES[paper]} ({name})"


class DataCache:
    """Each split loaded once per reproduction: ``cache(name, split)`` -> ImageData.

    ``max_images`` keeps a stratified subset of every split (``trimix.imagedata.subset``), or of the splits a
    dict names (``{"train": 2000, "test": 500}``): a knob for tests and quick tries; the results are then no
    longer the scale's.
    """

    def __init__(self, root: str = "data", download: bool = False, max_images: int | dict[str, int] | None = None):
        self.root, self.download, self.max_images = root, download, max_images
        self._loaded: dict[tuple[str, str], ImageData] = {}

    def __call__(self, name: str, split: str) -> ImageData:
        if (name, split) not in self._loaded:
            if name == STAND_IN:
                data = shapes_stand_in(split)
            else:
                data = load_dataset(name, split, root=self.root, download=self.download)
            limit = self.max_images.get(split) if isinstance(self.max_images, dict) else self.max_images
            self._loaded[name, split] = subset(data, limit)
        return self._loaded[name, split]
