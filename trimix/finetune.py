"""The evaluation protocols that train the network (section IV-B): semi-supervised fine-tuning (Tables II, IV)
and transfer to another domain (Table V). Their settings, and the reasons for them, are ``FineTune`` and
``Transfer`` in ``trimix.protocols``; the defaults of the functions here are read from there.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from trimix.augment import prepare
from trimix.device import autocast, choose_precision, optimizer_step
from trimix.evaluate import (
    check_labels,
    encoder_and_device,
    extract_features,
    linear_probe,
    make_optimizer,
    model_inputs,
    resize_images,
    seeded_linear,
)
from trimix.imagedata import ImageData, stratified_subset
from trimix.protocols import FineTune, LinearProbe


def _crop_flip(x: Tensor, generator: torch.Generator) -> Tensor:
    """The standard CIFAR fine-tuning augmentation, per sample: zero-pad by H/8, random crop, random
    horizontal flip. uint8 (B, C, H, W) -> same, on the same device, with one gather."""
    b, c, h, w = x.shape
    pad = max(1, h // 8)  # 4 px for 32x32, as torchvision's RandomCrop(32, padding=4)
    x = F.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (b, 1), generator=generator, device=x.device)
    ox = torch.randint(0, 2 * pad + 1, (b, 1), generator=generator, device=x.device)
    flip = torch.rand(b, 1, generator=generator, device=x.device) < 0.5
    ar_h, ar_w = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    rows, cols = oy + ar_h, ox + torch.where(flip, w - 1 - ar_w, ar_w)  # (B, H), (B, W); flip = reversed cols
    batch, chan = torch.arange(b, device=x.device), torch.arange(c, device=x.device)
    return x[batch[:, None, None, None], chan[None, :, None, None], rows[:, None, :, None], cols[:, None, None, :]]


@torch.no_grad()
def _accuracy(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int, device: torch.device,
              image_size: int | None = None) -> float:
    """Top-1 % of ``model`` (eval mode) over images (N, 3, H, W); one host sync at the end."""
    correct = torch.zeros((), dtype=torch.long, device=device)
    for i in range(0, len(images), batch_size):
        with autocast(device, choose_precision(device)):
            logits = model(model_inputs(images[i:i + batch_size], device, image_size))
        correct += (logits.argmax(1) == labels[i:i + batch_size].to(device)).sum()
    return 100.0 * correct.item() / max(1, len(images))


def finetune(backbone: nn.Module, train: ImageData, test: ImageData, fraction: float = 0.01,
             epochs: int = FineTune.epochs, lr: float = FineTune.lr, weight_decay: float = FineTune.weight_decay,
             momentum: float = FineTune.momentum, batch_size: int = FineTune.batch_size, seed: int = FineTune.seed,
             device: str | torch.device | None = None, augment: bool = FineTune.augment,
             optimizer: str = FineTune.optimizer, num_classes: int | None = None,
             image_size: int | None = None, progress: bool = False) -> dict:
    """Semi-supervised evaluation (section IV-B, Tables II and IV): fine-tune end to end on few labels.

    A copy of the pretrained backbone plus a new linear head is trained with cross-entropy on a
    stratified ``fraction`` of ``train`` (1%, 10% or 100% in the paper) with the paper's recipe,
    then scored on all of ``test``. The caller's backbone is never modified (a deepcopy is trained).
    With ``augment`` the labelled images get the usual light fine-tuning augmentation, pad-and-crop
    plus horizontal flip (``_crop_flip``), not the strong SSL views: the paper does not name one.
    ``image_size`` resizes train and test images first (fine-tuned transfer, see ``transfer``).

    Returns: {"accuracy": test %, "train_accuracy": % on the labelled subset, "losses": per epoch,
    "num_labelled", "fraction", "model": the fine-tuned nn.Sequential(backbone, head)}.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    check_labels(test.labels, "test.labels")
    source, device = encoder_and_device(backbone, device)
    net = copy.deepcopy(source).to(device)
    with torch.no_grad():  # feature dimension from one forward in eval mode (no BN statistics change)
        feature_dim = net.eval()(model_inputs(train.images[:2], device, image_size)).shape[1]
    if num_classes is None:
        num_classes = getattr(train, "num_classes", None) or int(train.labels.max()) + 1
    model = nn.Sequential(net, seeded_linear(feature_dim, num_classes, seed)).to(device).train()
    idx = stratified_subset(train.labels, fraction, seed)
    images = resize_images(train.images[idx].to(device), image_size)  # the labelled subset lives on the device
    labels = train.labels[idx].to(device)
    opt = make_optimizer(optimizer, model.parameters(), lr, momentum, weight_decay)
    precision = choose_precision(device)  # as pretraining: bf16 or fp16 (with a scaler) on a GPU, fp32 on a CPU
    scaler = torch.amp.GradScaler(device.type) if precision.needs_scaler else None
    gen = torch.Generator().manual_seed(seed)
    aug_gen = torch.Generator(device=device).manual_seed(seed)
    n, losses = len(idx), []
    for _ in tqdm(range(epochs), disable=not progress, desc=f"fine-tune {fraction:.0%}"):
        perm, total = torch.randperm(n, generator=gen).to(device), torch.zeros((), device=device)
        for i in range(0, n, batch_size):
            b = perm[i:i + batch_size]
            x = _crop_flip(images[b], aug_gen) if augment else images[b]
            with autocast(device, precision):
                loss = F.cross_entropy(model(prepare(x)), labels[b])
            optimizer_step(loss, opt, scaler)
            total += loss.detach() * len(b)
        losses.append(total / n)
    model.eval()
    return {"accuracy": _accuracy(model, test.images, test.labels, batch_size, device, image_size),
            "train_accuracy": _accuracy(model, images, labels, batch_size, device),
            "losses": torch.stack(losses).tolist(), "num_labelled": n, "fraction": fraction, "model": model}


def transfer(backbone: nn.Module, source_image_size: int, target_train: ImageData, target_test: ImageData,
             epochs: int = LinearProbe.epochs, lr: float = LinearProbe.lr,
             weight_decay: float = LinearProbe.weight_decay, momentum: float = LinearProbe.momentum,
             batch_size: int = LinearProbe.batch_size, seed: int = LinearProbe.seed,
             device: str | torch.device | None = None, optimizer: str = LinearProbe.optimizer,
             standardize: bool = LinearProbe.standardize, num_classes: int | None = None,
             progress: bool = False) -> dict:
    """Transfer (section IV-B, Table V): an encoder pretrained on one dataset (e.g. CIFAR-10), frozen,
    with a linear probe trained on another (e.g. a MedMNIST set).

    Target images are resized to ``source_image_size``, the size the encoder was trained on, so that
    its stem (CIFAR or ImageNet style) sees what it expects. The paper's text also speaks of
    fine-tuning here; this follows its first sentence ("linear classifiers on top of fixed
    representations"). The fine-tuned variant is ``finetune(backbone, target_train, target_test,
    fraction=1.0, image_size=source_image_size)``. ``device`` moves the backbone (``extract_features``).
    Returns ``linear_probe``'s dict plus "image_size".
    """
    if source_image_size < 1:
        raise ValueError(f"source_image_size must be a positive number of pixels, got {source_image_size}")
    train_x, train_y = extract_features(backbone, target_train, device=device, image_size=source_image_size,
                                        progress=progress)
    test_x, test_y = extract_features(backbone, target_test, device=device, image_size=source_image_size,
                                      progress=progress)
    if num_classes is None:
        num_classes = getattr(target_train, "num_classes", None)
    result = linear_probe(train_x, train_y, test_x, test_y, epochs, lr, weight_decay, momentum, batch_size,
                          seed, device or encoder_and_device(backbone, None)[1], optimizer, standardize,
                          num_classes, progress)
    return {**result, "image_size": source_image_size}
