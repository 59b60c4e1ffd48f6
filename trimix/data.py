"""Datasets: the paper's eight by name, any ImageFolder tree, and a built-in offline one.

Every loader returns an ``ImageData``: a whole split held in memory as uint8 (N, 3, H, W), so training
can move it to the GPU once and augment it there (docs/design.md, "Data").

    load_dataset("cifar10", "train", download=True)   # files go to data/cifar10/
    load_dataset("folder:/my/images", "test")          # /my/images/{train,test}/<class>/<image>
    load_dataset("shapes")                             # built-in: generated, no download

Each named dataset lives in its own folder ``root/<name>`` (``data/cifar10``, ``data/pathmnist``, ...).
"""
from __future__ import annotations

import os
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from trimix.imagedata import ImageData
from trimix.shapes import BUILTIN, make_shapes


class DatasetNotFoundError(FileNotFoundError):
    """The data is not on disk. The message names the folder searched and how to get the data."""


class DatasetCorruptError(OSError):
    """A file of the dataset exists but cannot be read (truncated download, bad image). Names the file."""


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    image_size: int
    num_classes: int
    kind: str  # "natural" | "medical" | "builtin" | "folder"
    pretrain_images: int  # images of the split self-supervised pretraining reads (``pretrain_split``)
    splits: tuple[str, ...] = ("train", "test")
    pretrain_split: str = "train"


_MED = ("train", "val", "test")
DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in [
        DatasetInfo("cifar10", 32, 10, "natural", 50_000),
        DatasetInfo("cifar100", 32, 100, "natural", 50_000),
        # STL-10 is made for self-supervision: 5,000 labelled training images and 100,000 unlabelled ones from
        # a wider distribution, pretrained on together as SSL work on STL-10 does; the labelled 5,000 alone
        # are the memory bank and the probe's training set.
        DatasetInfo("stl10", 96, 10, "natural", 105_000, ("train", "test", "unlabeled", "train+unlabeled"),
                    "train+unlabeled"),
        DatasetInfo("tinyimagenet", 64, 200, "natural", 100_000),
        DatasetInfo("pathmnist", 28, 9, "medical", 89_996, _MED),
        DatasetInfo("dermamnist", 28, 7, "medical", 7_007, _MED),
        DatasetInfo("octmnist", 28, 4, "medical", 97_477, _MED),
        DatasetInfo("bloodmnist", 28, 8, "medical", 11_959, _MED),
        DatasetInfo(BUILTIN, 32, 10, "builtin", 5_000),
    ]
}
SHAPES_TRAIN, SHAPES_TEST = (DATASETS[BUILTIN].pretrain_images, 0), (1000, 1)  # (images, seed) of the built-in splits


def pretrain_split(name: str) -> str:
    """The split self-supervised pretraining on ``name`` reads: "train", or STL-10's "train+unlabeled"."""
    info = DATASETS.get(name.lower())
    return info.pretrain_split if info is not None else "train"


def load_dataset(name: str, split: str = "train", root: str | Path = "data", download: bool = False) -> ImageData:
    """Load one split of a dataset into memory.

    name: a key of ``DATASETS`` or ``"folder:PATH"``. split: see ``DATASETS[name].splits`` ("train" and
    "test" everywhere). root: each named dataset lives in ``root/<name>``. download: fetch when missing.
    """
    if name.startswith("folder:"):
        if split not in ("train", "test"):
            raise ValueError(f"a folder: dataset has no split {split!r}; valid splits: train, test")
        return _load_folder(Path(name[len("folder:"):]).expanduser(), split, f"{name}/{split}")
    key = name.lower()
    if key not in DATASETS:
        raise ValueError(
            f"unknown dataset {name!r}; known names: {', '.join(DATASETS)}, or 'folder:PATH' for your own images "
            "(PATH/train/<class>/<image> and PATH/test/<class>/<image>)")
    info = DATASETS[key]
    if split not in info.splits:
        raise ValueError(f"{key} has no split {split!r}; valid splits: {', '.join(info.splits)}")
    if key == BUILTIN:
        data = make_shapes(*(SHAPES_TRAIN if split == "train" else SHAPES_TEST))
    elif info.kind == "medical":
        data = _load_medmnist(key, split, Path(root), download)
    elif key == "tinyimagenet":
        data = _load_tinyimagenet(split, Path(root), download)
    else:
        data = _load_torchvision(key, split, Path(root), download)
    data.name = f"{key}/{split}"
    return data


def _not_found(key: str, root: Path, looked_for: Path) -> DatasetNotFoundError:
    at = "" if root == Path("data") else f", root={str(root)!r}"
    return DatasetNotFoundError(
        f"{key} not found: there is no {looked_for}. Download it with load_dataset({key!r}{at}, download=True), "
        "or add the flag --download on the command line.")


# ---- CIFAR-10/100 and STL-10: torchvision's classes ----

def _load_torchvision(key: str, split: str, root: Path, download: bool) -> ImageData:
    from torchvision.datasets import CIFAR10, CIFAR100, STL10
    from torchvision.datasets.utils import check_integrity

    cls = {"cifar10": CIFAR10, "cifar100": CIFAR100, "stl10": STL10}[key]
    folder = root / key / cls.base_folder
    if not download and not folder.is_dir():
        raise _not_found(key, root, folder)
    kwargs = {"split": split} if key == "stl10" else {"train": split == "train"}
    try:
        ds = cls(str(root / key), download=download, **kwargs)
    except RuntimeError as e:  # torchvision: "Dataset not found or corrupted" after its MD5 check
        bad = [f for f, md5 in cls.train_list + cls.test_list if not check_integrity(str(folder / f), md5)]
        raise DatasetCorruptError(
            f"{key}: {', '.join(str(folder / f) for f in bad) or folder} missing or corrupt (MD5 check failed). "
            f"Delete {folder} and run load_dataset({key!r}, download=True).") from e
    images = torch.from_numpy(ds.data)
    if key != "stl10":  # CIFAR stores (N, H, W, 3); STL-10 already (N, 3, H, W)
        images = images.permute(0, 3, 1, 2).contiguous()
    labels = torch.as_tensor(np.asarray(ds.targets if key != "stl10" else ds.labels), dtype=torch.int64)
    return ImageData(images, labels, ds.classes, key)


# ---- MedMNIST: the medmnist package, 28 px ----

def _load_medmnist(key: str, split: str, root: Path, download: bool) -> ImageData:
    import medmnist

    info, folder = medmnist.INFO[key], root / key
    path = folder / f"{key}.npz"
    if not download and not path.is_file():
        raise _not_found(key, root, path)
    folder.mkdir(parents=True, exist_ok=True)  # medmnist refuses a root that does not exist
    try:
        ds = getattr(medmnist, info["python_class"])(split=split, root=str(folder), download=download)
        imgs, labels = np.asarray(ds.imgs), np.asarray(ds.labels).reshape(-1)
        if imgs.dtype != np.uint8 or imgs.ndim not in (3, 4) or len(imgs) != len(labels) or len(imgs) == 0:
            raise ValueError(f"unexpected arrays: images {imgs.dtype} {imgs.shape}, labels {labels.shape}")
    except (zipfile.BadZipFile, EOFError, KeyError, ValueError, OSError) as e:
        raise DatasetCorruptError(
            f"cannot read {split} split of {path} ({type(e).__name__}: {e}). The file is truncated or corrupt: "
            f"delete it and run load_dataset({key!r}, download=True).") from e
    images = torch.from_numpy(imgs)
    # (N, 28, 28) grayscale -> 3 equal channels; (N, 28, 28, 3) -> (N, 3, 28, 28)
    images = images[:, None].expand(-1, 3, -1, -1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    classes = [info["label"][str(i)] for i in range(len(info["label"]))]
    return ImageData(images.contiguous(), torch.from_numpy(labels.astype(np.int64)), classes, key)


# ---- Tiny ImageNet: the official zip; its val set (labelled) is our "test" ----

TINY_URL, TINY_MD5 = "http://cs231n.stanford.edu/tiny-imagenet-200.zip", "90528d7ca1a48142e341f4ef8d21d0de"


def _load_tinyimagenet(split: str, root: Path, download: bool) -> ImageData:
    base = root / "tinyimagenet" / "tiny-imagenet-200"
    if not (base / "wnids.txt").is_file():
        if not download:
            raise _not_found("tinyimagenet", root, base / "wnids.txt")
        from torchvision.datasets.utils import download_and_extract_archive

        download_and_extract_archive(TINY_URL, str(base.parent), md5=TINY_MD5, remove_finished=True)
    _sort_tinyimagenet_val(base)
    wnids = sorted((base / "wnids.txt").read_text().split())
    words = base / "words.txt"  # wnid <tab> "goldfish, Carassius auratus"
    lines = words.read_text().splitlines() if words.is_file() else []
    names = dict(line.split("\t", 1) for line in lines if "\t" in line)
    classes = [names[w].split(",")[0].strip() if w in names else w for w in wnids]
    return _read_image_tree(base / ("train" if split == "train" else "val"), wnids, classes, "tinyimagenet")


def _sort_tinyimagenet_val(base: Path) -> None:
    """Move val/images/X.JPEG to val/<wnid>/images/X.JPEG (the train layout), once, via val_annotations.txt."""
    val, flat = base / "val", base / "val" / "images"
    if not flat.is_dir():
        return  # already sorted
    notes = val / "val_annotations.txt"
    if not notes.is_file():
        raise DatasetCorruptError(f"{notes} is missing, so the Tiny ImageNet val images cannot be labelled; "
                                  "delete the folder and download again")
    for line in notes.read_text().splitlines():
        if line.strip():
            file, wnid = line.split("\t")[:2]
            if (flat / file).exists():  # files already moved by an interrupted earlier run are skipped
                (val / wnid / "images").mkdir(parents=True, exist_ok=True)
                (flat / file).rename(val / wnid / "images" / file)
    left = sorted(p.name for p in flat.iterdir())
    if left:
        raise DatasetCorruptError(f"{flat}: {len(left)} file(s) not in {notes}, e.g. {left[0]}")
    flat.rmdir()


# ---- folder:PATH and image trees ----

def _load_folder(path: Path, split: str, name: str) -> ImageData:
    layout = "PATH/train/<class>/<image> and PATH/test/<class>/<image>"
    if not (path / "train").is_dir() or not (path / split).is_dir():
        raise DatasetNotFoundError(f"{name}: no folder {path / split} (and/or {path / 'train'}); expected {layout}")
    classes = sorted(d.name for d in os.scandir(path / "train") if d.is_dir())
    extra = sorted(set(d.name for d in os.scandir(path / split) if d.is_dir()) - set(classes))
    if not classes or extra:
        raise DatasetNotFoundError(f"{name}: {path / 'train'} has no class folders" if not classes else
                                   f"{name}: class folder(s) {extra} in {path / split} are not in {path / 'train'}")
    return _read_image_tree(path / split, classes, classes, name)


def _read_image_tree(folder: Path, dirs: list[str], classes: list[str], name: str) -> ImageData:
    """Decode folder/<dirs[i]>/**/<image> with label i.

    Images of another size than the most common one are resized to it (bicubic, aspect ratio not kept),
    so that they stack into one (N, 3, H, W) tensor. Each split is sized on its own.
    """
    from torchvision.datasets.folder import IMG_EXTENSIONS

    paths, labels = [], []
    for label, d in enumerate(dirs):  # like ImageFolder: recursive, sorted, chosen by file extension
        for top, _, files in sorted(os.walk(folder / d)):
            found = [os.path.join(top, f) for f in sorted(files) if f.lower().endswith(IMG_EXTENSIONS)]
            paths += found
            labels += [label] * len(found)
    if not paths:  # never an empty dataset
        raise DatasetNotFoundError(f"{name}: no images ({', '.join(IMG_EXTENSIONS)}) in the class folders of {folder}")
    arrays = [_read_rgb(p) for p in paths]  # ~7 s for 50k small JPEGs; a thread pool was slower (the GIL)
    h, w = Counter(a.shape[:2] for a in arrays).most_common(1)[0][0]
    images = torch.empty((len(arrays), 3, h, w), dtype=torch.uint8)
    for i, a in enumerate(arrays):
        if a.shape[:2] != (h, w):
            a = np.array(Image.fromarray(a).resize((w, h), Image.BICUBIC))
        images[i] = torch.from_numpy(a).permute(2, 0, 1)
    return ImageData(images, torch.tensor(labels), classes, name)


def _read_rgb(path: str) -> np.ndarray:
    """(H, W, 3) uint8; grayscale, palette and RGBA images are converted."""
    try:
        with Image.open(path) as im:
            return np.array(im.convert("RGB"))  # a writable copy, for torch.from_numpy
    except (OSError, ValueError, SyntaxError) as e:  # PIL: unreadable, truncated, bad header
        raise DatasetCorruptError(f"cannot read image {path}: {e}. Delete or replace the file.") from e
