"""Tests of trimix.data: every loader offline, on small files written here in each library's own format."""
from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from trimix.data import (
    BUILTIN,
    DATASETS,
    DatasetCorruptError,
    DatasetNotFoundError,
    ImageData,
    load_dataset,
    make_shapes,
)

CIFAR_JPEG = Path(__file__).resolve().parents[2] / "shared/data/cifar10-jpeg.tar.gz"
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
MEDMNIST = ["pathmnist", "dermamnist", "octmnist", "bloodmnist"]


def save_image(path: Path, size: tuple[int, int] = (8, 8), value: int = 0, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    channels = {"RGB": (3,), "L": ()}[mode]
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], *channels), dtype=np.uint8), mode).save(path)


# ---- the built-in dataset ----

def test_shapes_is_deterministic_and_seeded():
    a, b, c = make_shapes(300, seed=5), make_shapes(300, seed=5), make_shapes(300, seed=6)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)


def test_shapes_types_and_balance():
    data = make_shapes(1000)
    assert data.images.shape == (1000, 3, 32, 32) and data.images.dtype == torch.uint8
    assert data.labels.dtype == torch.int64 and data.num_classes == 10 and data.image_size == 32
    assert torch.bincount(data.labels).tolist() == [100] * 10
    counts = torch.bincount(make_shapes(25).labels, minlength=10)
    assert counts.sum() == 25 and counts.max() - counts.min() <= 1
    image, label = data[3]
    assert image.shape == (3, 32, 32) and isinstance(label, int)
    assert make_shapes(10, image_size=64).images.shape == (10, 3, 64, 64)
    assert data.images.float().std() > 40  # not blank: shapes on a ground


def test_shapes_share_nothing_but_the_class():
    """Issue 9: what every image has of its own besides the class (its grey levels, say) the two views share
    and the network learns as a shortcut. Here the ground and shape levels are the same in every image, and
    every cell of the 3 x 3 grid holds a copy of the shape, so that even a small crop sees the class."""
    data = make_shapes(200, seed=1)
    pixels = data.images.float().mean(1)  # (n, 32, 32), grey
    ground = pixels.flatten(1).median(1).values
    assert (ground - 0.2 * 255).abs().max() < 8  # one ground level, up to noise
    cells = pixels.unfold(1, 10, 11).unfold(2, 10, 11)  # (n, 3, 3, 10, 10): the cells, a pixel apart
    covered = (cells > 0.5 * 255).flatten(3).any(-1)  # a shape pixel in each cell
    assert covered.float().mean() > 0.95


def test_raw_pixels_are_near_chance_on_shapes():
    """The class is hard to read from where pixels are bright: kNN on centred raw pixels stays far below
    a trained encoder (about 30 % here; chance 10 %), so the encoder's lead is learning, not an easy dataset."""
    from trimix.augment import prepare
    from trimix.evaluate import RawPixels, knn_accuracy

    train, test = make_shapes(2000, seed=3), make_shapes(500, seed=4)
    pixels = RawPixels(train.images)
    features = [pixels(prepare(d.images)) for d in (train, test)]
    accuracy = knn_accuracy(features[0], train.labels, features[1], test.labels, num_classes=10)
    assert 10 < accuracy < 40


def test_shapes_splits():
    train, test = load_dataset(BUILTIN, "train"), load_dataset(BUILTIN, "test")
    assert (len(train), len(test)) == (5000, 1000)
    assert (train.name, test.name) == ("shapes/train", "shapes/test")
    assert torch.bincount(test.labels).tolist() == [100] * 10
    assert not torch.equal(train.images[:1000], test.images)
    assert DATASETS[BUILTIN].num_classes == train.num_classes and train.classes[0] == "circle"


# ---- errors ----

def test_unknown_name_and_split():
    with pytest.raises(ValueError, match="cifar10.*folder:PATH"):
        load_dataset("imagenet")
    with pytest.raises(ValueError, match="train, test, unlabeled, train\\+unlabeled"):
        load_dataset("stl10", "val")
    with pytest.raises(ValueError, match="train, val, test"):
        load_dataset("pathmnist", "unlabeled")


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "stl10", "tinyimagenet", *MEDMNIST])
def test_missing_data_names_folder_and_fix(tmp_path, name):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset(name, "train", root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / name) in message and "download=True" in message and "--download" in message


def test_corrupt_cifar_names_the_files(tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "data_batch_1").write_bytes(b"not a pickle")
    with pytest.raises(DatasetCorruptError, match="data_batch_1"):
        load_dataset("cifar10", root=tmp_path)


def test_image_data_validates():
    with pytest.raises(ValueError, match="uint8"):
        ImageData(torch.zeros(2, 3, 4, 4), torch.zeros(2), ["a"], "x")
    with pytest.raises(ValueError, match="empty"):
        ImageData(torch.zeros(0, 3, 4, 4, dtype=torch.uint8), torch.zeros(0), ["a"], "x")
    with pytest.raises(ValueError, match="labels"):
        ImageData(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.tensor([0, 1]), ["a"], "x")


# ---- MedMNIST, through the real medmnist package ----

def write_medmnist(folder: Path, name: str, n: int = 6) -> dict[str, np.ndarray]:
    """A small npz in medmnist's exact format: {split}_images uint8 (N, 28, 28[, 3]), {split}_labels (N, 1)."""
    import medmnist

    info = medmnist.INFO[name]
    rng = np.random.default_rng(0)
    shape = (28, 28) if info["n_channels"] == 1 else (28, 28, 3)
    arrays = {}
    for split in ("train", "val", "test"):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, len(info["label"]), (n, 1)).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / f"{name}.npz", **arrays)
    return arrays


@pytest.mark.parametrize("name", MEDMNIST)
def test_medmnist(tmp_path, name):
    arrays = write_medmnist(tmp_path / name, name)
    for split in ("train", "val", "test"):
        data = load_dataset(name, split, root=tmp_path)
        assert data.images.shape == (6, 3, 28, 28) and data.images.dtype == torch.uint8
        assert data.labels.tolist() == arrays[f"{split}_labels"][:, 0].tolist()
        assert data.num_classes == DATASETS[name].num_classes and data.name == f"{name}/{split}"
    expected = arrays["test_images"]
    if name == "octmnist":  # grayscale served as 3 equal channels
        assert (data.images == torch.from_numpy(expected)[:, None]).all()
        assert data.classes[0] == "choroidal neovascularization"
    else:
        assert torch.equal(data.images, torch.from_numpy(expected).permute(0, 3, 1, 2))


def test_truncated_npz_names_the_file(tmp_path):
    write_medmnist(tmp_path / "bloodmnist", "bloodmnist", n=50)
    path = tmp_path / "bloodmnist" / "bloodmnist.npz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DatasetCorruptError, match="bloodmnist.npz"):
        load_dataset("bloodmnist", root=tmp_path)
    path.write_bytes(b"garbage")
    with pytest.raises(DatasetCorruptError, match="bloodmnist.npz"):
        load_dataset("bloodmnist", root=tmp_path)


# ---- folder:PATH ----

def test_folder(tmp_path):
    for i in range(3):
        save_image(tmp_path / "train" / "cat" / f"{i}.png", value=i)
        save_image(tmp_path / "train" / "dog" / f"{i}.png", value=10 + i)
    save_image(tmp_path / "train" / "dog" / "gray.png", mode="L")
    save_image(tmp_path / "train" / "dog" / "big.png", size=(20, 12))  # resized to the common 8x8
    (tmp_path / "train" / "dog" / "notes.txt").write_text("not an image, ignored")
    save_image(tmp_path / "test" / "dog" / "0.png", value=7)  # a test split may lack a class
    train = load_dataset(f"folder:{tmp_path}", "train")
    assert train.classes == ["cat", "dog"] and train.images.shape == (8, 3, 8, 8)
    assert train.labels.tolist() == [0, 0, 0, 1, 1, 1, 1, 1]
    cat0 = np.array(Image.open(tmp_path / "train" / "cat" / "0.png"))
    assert torch.equal(train[0][0], torch.from_numpy(cat0).permute(2, 0, 1))
    test = load_dataset(f"folder:{tmp_path}", "test")
    assert test.labels.tolist() == [1] and test.classes == ["cat", "dog"] and test.name == f"folder:{tmp_path}/test"


def test_folder_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path / "train")):
        load_dataset(f"folder:{tmp_path}")
    (tmp_path / "train" / "cat").mkdir(parents=True)
    (tmp_path / "test").mkdir()
    with pytest.raises(DatasetNotFoundError, match="no images"):  # an empty tree is an error
        load_dataset(f"folder:{tmp_path}")
    save_image(tmp_path / "train" / "cat" / "ok.png")
    (tmp_path / "train" / "cat" / "bad.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DatasetCorruptError, match="bad.png"):
        load_dataset(f"folder:{tmp_path}")
    good = (tmp_path / "train" / "cat" / "ok.png").read_bytes()
    (tmp_path / "train" / "cat" / "bad.png").write_bytes(good[: len(good) // 2])  # truncated
    with pytest.raises(DatasetCorruptError, match="bad.png"):
        load_dataset(f"folder:{tmp_path}")
    with pytest.raises(ValueError, match="train, test"):
        load_dataset(f"folder:{tmp_path}", "val")


@pytest.mark.skipif(not CIFAR_JPEG.exists(), reason="../shared/data/cifar10-jpeg.tar.gz not present")
def test_folder_on_real_cifar10_jpegs(tmp_path):
    kept: dict[tuple[str, str], int] = {}
    with tarfile.open(CIFAR_JPEG, "r|gz") as tar:  # streaming: unpack the first 20 files per class and split
        for member in tar:
            parts = Path(member.name).parts  # cifar10-jpeg/<split>/<class>/<file>
            if member.isfile() and len(parts) == 4 and kept.get(parts[1:3], 0) < 20:
                kept[parts[1:3]] = kept.get(parts[1:3], 0) + 1
                (tmp_path / parts[1] / parts[2]).mkdir(parents=True, exist_ok=True)
                (tmp_path / parts[1] / parts[2] / parts[3]).write_bytes(tar.extractfile(member).read())
    for split in ("train", "test"):
        data = load_dataset(f"folder:{tmp_path}", split)
        assert data.classes == CIFAR_CLASSES and data.images.shape == (200, 3, 32, 32)
        assert torch.bincount(data.labels).tolist() == [20] * 10


# ---- Tiny ImageNet: the official layout, val re-sorted into class folders ----

def test_tinyimagenet_val_is_sorted_once(tmp_path):
    base = tmp_path / "tinyimagenet" / "tiny-imagenet-200"
    wnids = ["n02", "n01"]
    base.mkdir(parents=True)
    (base / "wnids.txt").write_text("\n".join(wnids) + "\n")
    (base / "words.txt").write_text("n01\tgoldfish, Carassius auratus\nn02\tcat\nn99\tunused\n")
    notes = []
    for k, wnid in enumerate(wnids):
        for i in range(2):
            save_image(base / "train" / wnid / "images" / f"{wnid}_{i}.JPEG")
            save_image(base / "val" / "images" / f"val_{k}{i}.JPEG")
            notes.append(f"val_{k}{i}.JPEG\t{wnid}\t0\t0\t7\t7")
        (base / "train" / wnid / f"{wnid}_boxes.txt").write_text("ignored")
    (base / "val" / "val_annotations.txt").write_text("\n".join(notes) + "\n")
    for _ in range(2):  # the second call finds the val set already sorted
        test = load_dataset("tinyimagenet", "test", root=tmp_path)
        assert test.classes == ["goldfish", "cat"] and test.labels.tolist() == [0, 0, 1, 1]
        assert not (base / "val" / "images").exists()
        assert sorted(p.name for p in (base / "val" / "n01" / "images").iterdir()) == ["val_10.JPEG", "val_11.JPEG"]
    train = load_dataset("tinyimagenet", "train", root=tmp_path)
    assert train.images.shape == (4, 3, 8, 8) and train.name == "tinyimagenet/train"
