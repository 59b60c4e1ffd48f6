"""Checks of the exercises on evaluation (notebooks 06-07): the weighted kNN vote of Tables I and III, and
the kit's image layout for MedMNIST's arrays (grayscale served as three channels)."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from trimix import evaluate
from trimix.checks._core import CheckFailed, randn, run_check, seeded, student_facing


def _votes(train: Tensor, labels: Tensor, test: Tensor, num_classes: int, k: int, weight) -> Tensor:
    """Predictions of a kNN vote with neighbour weights ``weight(similarity)`` (for the planted mistakes)."""
    sim, idx = (test @ train.T).topk(min(k, len(train)), dim=1)
    votes = torch.zeros(len(test), num_classes).scatter_add_(1, labels[idx], weight(sim))
    return votes.argmax(1)


def _unit(x: Tensor) -> Tensor:
    return F.normalize(x, dim=1)


def _least(train: Tensor, labels: Tensor, test: Tensor, c: int, k: int, t: float) -> Tensor:
    """The class with the fewest summed weights (an argmin for the argmax)."""
    sim, idx = (test @ train.T).topk(min(k, len(train)), dim=1)
    return torch.zeros(len(test), c).scatter_add_(1, labels[idx], (sim / t).exp()).argmin(1)


def _knn_cases() -> list[dict]:
    """Clustered features of very different lengths (the length must not matter, the direction must); the
    last case asks for more neighbours than there are training samples."""
    g = seeded(12)
    cases = []
    for n, m, f, c, k, t in [(60, 30, 8, 3, 5, 0.1), (300, 40, 16, 10, 200, 0.1), (80, 30, 6, 4, 20, 0.5),
                             (30, 12, 4, 4, 50, 0.1)]:
        centres = randn(g, c, f, scale=1.5)
        labels, test_labels = torch.randint(c, (n,), generator=g), torch.randint(c, (m,), generator=g)
        train = (centres[labels] + randn(g, n, f)) * torch.rand(n, 1, generator=g).mul(20).add(0.05)
        test = (centres[test_labels] + randn(g, m, f)) * torch.rand(m, 1, generator=g).mul(20).add(0.05)
        cases.append({"train_features": train, "train_labels": labels, "test_features": test, "num_classes": c,
                      "k": k, "temperature": t})
    return cases


@student_facing
def check_knn_predict(fn: Callable) -> None:
    """``my_knn_predict(train_features, train_labels, test_features, num_classes, k, temperature)``: (M,) classes."""

    def wrong(weight, normalise=_unit):
        return lambda tr, y, te, c, k, t: _votes(normalise(tr), y, normalise(te), c, k, lambda s: weight(s, t))

    def note(got, args: dict) -> str | None:
        if isinstance(got, Tensor) and got.is_floating_point():
            return "it returned floating-point classes: return the argmax's int64 indices"
        return None

    try:
        run_check("knn_predict", fn, _knn_cases(), evaluate.knn_predict, [
            ("the features are not normalised: cosine similarity is the dot product of unit vectors, so "
             "F.normalize both feature sets along dim 1 first", wrong(lambda s, t: (s / t).exp(), lambda x: x)),
            ("the features are normalised along dim 0 (each feature over the samples): normalise each sample, "
             "dim 1", wrong(lambda s, t: (s / t).exp(), lambda x: F.normalize(x, dim=0))),
            ("every neighbour gets one vote: weight each vote by exp(similarity / temperature)",
             wrong(lambda s, t: torch.ones_like(s))),
            ("the votes are weighted by the similarity itself: use exp(similarity / temperature)",
             wrong(lambda s, t: s)),
            ("the similarity is multiplied by the temperature: divide it, exp(similarity / temperature)",
             wrong(lambda s, t: (s * t).exp())),
            ("it ignores the temperature: exp(similarity / temperature)", wrong(lambda s, t: s.exp())),
            ("it predicts the class with the fewest votes: take the argmax of the summed weights",
             lambda tr, y, te, c, k, t: _least(_unit(tr), y, _unit(te), c, k, t)),
        ], expect="one predicted class per test sample, int64 (M,)",
            forbidden=[evaluate.knn_predict, evaluate.knn_accuracy], notes=note,
            hint="Normalise both sets, take the k most similar training samples (topk on the dot products), add "
                 "exp(sim / temperature) to each neighbour's class, predict the argmax.")
    except CheckFailed as failure:
        if "out of range" in str(failure):  # topk(k) with k > N
            raise CheckFailed(f"{failure}. k can be larger than the number of training samples: take "
                              "min(k, len(train_features)) neighbours") from None
        raise


def channels_first_rgb(images: Tensor) -> Tensor:
    """What ``trimix.data`` does with MedMNIST's arrays: uint8 (N, H, W) grayscale -> 3 equal channels,
    (N, H, W, 3) colour -> channels first; both (N, 3, H, W)."""
    return images[:, None].expand(-1, 3, -1, -1) if images.dim() == 3 else images.permute(0, 3, 1, 2)


@student_facing
def check_channels_first_rgb(fn: Callable) -> None:
    """``my_channels_first_rgb(images)``: MedMNIST's uint8 (N, H, W) or (N, H, W, 3) -> uint8 (N, 3, H, W)."""
    g = seeded(13)
    # H != W, so that swapping height and width shows
    cases = [{"images": torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)}
             for shape in [(4, 5, 7), (3, 5, 7, 3), (2, 28, 28), (5, 6, 4, 3)]]

    def layout_note(got, args: dict) -> str | None:
        x = args["images"]
        if not isinstance(got, Tensor):
            return None
        if got.dtype != torch.uint8:
            return (f"it returned {got.dtype}: keep the pixels uint8 0-255 (no .float(), no / 255); the kit "
                    "converts to float later, on the device (trimix.augment.prepare)")
        n, h, w = x.shape[:3]
        if tuple(got.shape) == (n, h, w, 3):
            return "it returned channels last (N, H, W, 3): the kit and torch's convolutions want (N, 3, H, W)"
        if tuple(got.shape) == (n, 1, h, w):
            return "it returned one channel: copy the gray image into 3 equal channels (expand or repeat)"
        if tuple(got.shape) == (n, 3, w, h):
            return "height and width are swapped: permute(0, 3, 1, 2) keeps H before W"
        return None

    run_check("channels_first_rgb", fn, cases, channels_first_rgb, [
        ("a colour array is reshaped, not permuted: reshape(N, 3, H, W) scrambles the pixels; "
         "permute(0, 3, 1, 2) moves the channel axis", lambda x: x.reshape(len(x), 3, *x.shape[1:3])
         if x.dim() == 4 else channels_first_rgb(x)),
        ("height and width are swapped: permute(0, 3, 1, 2) keeps H before W",
         lambda x: x.permute(0, 3, 2, 1) if x.dim() == 4 else channels_first_rgb(x)),
    ], expect="uint8 (N, 3, H, W)", notes=layout_note,
        hint="Grayscale (N, H, W): images[:, None].expand(-1, 3, -1, -1); colour (N, H, W, 3): "
             "images.permute(0, 3, 1, 2).")
