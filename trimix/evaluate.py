"""The frozen-feature protocols of the paper (section IV-B): features, weighted kNN, linear probe.

All of them start from backbone features y (the 512-d ResNet-18 output), never from the projector. Their
settings and the reasons for them are in ``trimix.protocols`` (``KNN``, ``LinearProbe``); the defaults of
the functions here are read from there. The protocols that train the network (fine-tuning, transfer) are in
``trimix.finetune``, which uses the public helpers below. Everything runs on the device of its inputs (or
``device=``), and loops add up correct counts and losses on that device, reading them back once at the end.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from trimix.augment import prepare
from trimix.imagedata import ImageData
from trimix.device import autocast, choose_precision
from trimix.protocols import KNN, LinearProbe


def encoder_and_device(model: nn.Module, device: str | torch.device | None) -> tuple[nn.Module, torch.device]:
    """The backbone of an SSLNet (or the module itself) and the device to run on (default: the model's)."""
    net = model.backbone if hasattr(model, "backbone") else model
    if device is None:
        param = next(net.parameters(), None)
        return net, param.device if param is not None else torch.device("cpu")
    return net, torch.device(device)


def resize_images(x: Tensor, image_size: int | None) -> Tensor:
    """uint8 (B, 3, H, W) -> uint8 (B, 3, S, S), S = image_size (None or S = H = W: unchanged)."""
    if image_size is None or tuple(x.shape[-2:]) == (image_size, image_size):
        return x
    # antialiased bilinear, as an image library resizes; back to uint8 so that prepare() sees the same
    # kind of input as for native-size images
    x = F.interpolate(x.float(), size=(image_size, image_size), mode="bilinear", align_corners=False,
                      antialias=True)
    return x.round_().clamp_(0, 255).to(torch.uint8)


def model_inputs(images: Tensor, device: torch.device, image_size: int | None) -> Tensor:
    """uint8 (B, 3, H, W) on the host -> normalised float (B, 3, S, S) on ``device``, S = image_size or H."""
    return prepare(resize_images(images.to(device, non_blocking=True), image_size))


def check_labels(labels: Tensor, name: str) -> None:
    """Refuse unlabelled samples (label -1, e.g. STL-10's unlabelled split): they have no class to score."""
    if len(labels) and int(labels.min()) < 0:
        raise ValueError(f"{name} contains negative labels (-1 = unlabelled); keep only labelled samples")


@torch.no_grad()
def extract_features(model: nn.Module, data: ImageData, batch_size: int = 512,
                     device: str | torch.device | None = None, image_size: int | None = None,
                     progress: bool = False) -> tuple[Tensor, Tensor]:
    """Frozen backbone features of a whole dataset, the input of every protocol in section IV-B.

    Args:
        model: a backbone, or an SSLNet (its ``.backbone`` is used). Run in eval mode (BatchNorm uses
            its running statistics); its previous mode is restored afterwards. ``device`` moves it.
        data: anything with ``.images`` uint8 (N, 3, H, W) and ``.labels`` (N,), e.g. ``ImageData``.
        image_size: resize images to this side first (transfer, Table V); None keeps them as they are.
    Returns:
        (features float32 (N, F) on the CPU, labels int64 (N,)).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    net, device = encoder_and_device(model, device)
    net.to(device)  # a no-op unless ``device`` names another one
    was_training = net.training
    net.eval()
    try:
        with autocast(device, choose_precision(device)):  # as pretraining: half precision on a GPU
            feats = [net(model_inputs(data.images[i:i + batch_size], device, image_size)).float()
                     for i in tqdm(range(0, len(data.images), batch_size), disable=not progress, desc="features")]
    finally:
        net.train(was_training)
    return torch.cat(feats).cpu(), data.labels.clone()  # one device -> host copy


def knn_predict(train_features: Tensor, train_labels: Tensor, test_features: Tensor, num_classes: int,
                k: int = KNN.k, temperature: float = KNN.temperature, chunk_size: int = 1024) -> Tensor:
    """Weighted kNN classifier (InstDisc, Wu et al. 2018; solo-learn), used for the kNN columns of Tables I, III.

    Each test sample takes its k most cosine-similar training samples; neighbour j votes for its label
    with weight exp(s_j / T). The class with the largest summed weight wins; k and T default to
    ``protocols.KNN``'s. Test samples go ``chunk_size`` at a time, so only a
    (chunk_size, N_train) similarity matrix ever exists. k larger than N_train is clipped to N_train.

    Shapes: train_features (N, F), train_labels (N,), test_features (M, F) -> predictions (M,) int64,
    on the device of ``train_features``.
    """
    if k < 1 or temperature <= 0 or chunk_size < 1:
        raise ValueError(f"need k >= 1, temperature > 0, chunk_size >= 1; got {k}, {temperature}, {chunk_size}")
    check_labels(train_labels, "train_labels")
    device = train_features.device
    train = F.normalize(train_features.float(), dim=1)
    labels = train_labels.to(device)
    k = min(k, len(train))
    preds = []
    for i in range(0, len(test_features), chunk_size):
        test = F.normalize(test_features[i:i + chunk_size].to(device).float(), dim=1)
        sim, idx = (test @ train.T).topk(k, dim=1)                 # (B, k) cosine similarities
        votes = torch.zeros(len(test), num_classes, device=device)
        votes.scatter_add_(1, labels[idx], (sim / temperature).exp())  # (B, C) weighted votes
        preds.append(votes.argmax(1))
    return torch.cat(preds)


def knn_accuracy(train_features: Tensor, train_labels: Tensor, test_features: Tensor, test_labels: Tensor,
                 k: int = KNN.k, temperature: float = KNN.temperature, num_classes: int | None = None,
                 chunk_size: int = 1024) -> float:
    """Top-1 accuracy (%) of ``knn_predict`` (Tables I, III). num_classes defaults to max label + 1."""
    if num_classes is None:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    pred = knn_predict(train_features, train_labels, test_features, num_classes, k, temperature, chunk_size)
    return 100.0 * (pred.cpu() == test_labels.cpu()).float().mean().item()


def seeded_linear(in_dim: int, out_dim: int, seed: int) -> nn.Linear:
    """nn.Linear with PyTorch's default init drawn from ``seed``, leaving the global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Linear(in_dim, out_dim)


def make_optimizer(name: str, params, lr: float, momentum: float, weight_decay: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(momentum, 0.999), weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'sgd' or 'adam', got {name!r}")


def linear_probe(train_features: Tensor, train_labels: Tensor, test_features: Tensor, test_labels: Tensor,
                 epochs: int = LinearProbe.epochs, lr: float = LinearProbe.lr,
                 weight_decay: float = LinearProbe.weight_decay, momentum: float = LinearProbe.momentum,
                 batch_size: int = LinearProbe.batch_size, seed: int = LinearProbe.seed,
                 device: str | torch.device | None = None, optimizer: str = LinearProbe.optimizer,
                 standardize: bool = LinearProbe.standardize, num_classes: int | None = None,
                 progress: bool = False) -> dict:
    """Linear evaluation on frozen, precomputed features (section IV-B, Tables I, III, VI, VII).

    "A fully-connected layer followed by a softmax layer": one nn.Linear trained with cross-entropy, by
    ``protocols.LinearProbe``'s recipe (its defaults are this function's). With ``standardize`` the
    features are first scaled to zero mean and unit variance per dimension with training-set statistics;
    the returned ``classifier`` has that folded in, so it is a linear classifier of the raw features.

    Shapes: train_features (N, F), train_labels (N,), test_features (M, F), test_labels (M,).
    Returns: {"accuracy": test top-1 %, "train_accuracy": %, "losses": mean loss per epoch,
    "test_predictions": (M,) CPU, "classifier": nn.Linear on raw features, "optimizer", "standardize"}.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    check_labels(train_labels, "train_labels")
    check_labels(test_labels, "test_labels")
    device = torch.device(device) if device is not None else train_features.device
    x_train, y_train = train_features.to(device).float(), train_labels.to(device)
    x_test, y_test = test_features.to(device).float(), test_labels.to(device)
    if num_classes is None:
        num_classes = int(max(y_train.max(), y_test.max())) + 1
    mean, std = torch.zeros(x_train.shape[1], device=device), torch.ones(x_train.shape[1], device=device)
    if standardize:
        mean, std = x_train.mean(0), x_train.std(0).clamp_min(1e-6)  # clamp: constant (dead) dimensions
    z_train, z_test = (x_train - mean) / std, (x_test - mean) / std
    head = seeded_linear(x_train.shape[1], num_classes, seed).to(device)
    opt = make_optimizer(optimizer, head.parameters(), lr, momentum, weight_decay)
    gen = torch.Generator().manual_seed(seed)  # CPU generator: same shuffles on every device
    n, losses = len(z_train), []
    for _ in tqdm(range(epochs), disable=not progress, desc="linear probe"):
        perm, total = torch.randperm(n, generator=gen).to(device), torch.zeros((), device=device)
        for i in range(0, n, batch_size):
            b = perm[i:i + batch_size]
            loss = F.cross_entropy(head(z_train[b]), y_train[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(b)
        losses.append(total / n)
    with torch.no_grad():
        pred_test, pred_train = head(z_test).argmax(1), head(z_train).argmax(1)
        classifier = nn.Linear(x_train.shape[1], num_classes).to(device)  # standardisation folded in
        classifier.weight.copy_(head.weight / std)
        classifier.bias.copy_(head.bias - classifier.weight @ mean)
    return {"accuracy": 100.0 * (pred_test == y_test).float().mean().item(),
            "train_accuracy": 100.0 * (pred_train == y_train).float().mean().item(),
            "losses": torch.stack(losses).tolist(), "test_predictions": pred_test.cpu(),
            "classifier": classifier, "optimizer": optimizer, "standardize": standardize}


class RawPixels(nn.Module):
    """A yardstick, not a network: the normalised pixels, flattened and centred on the training set's mean
    image. Scored like an encoder, it says how much of a dataset plain pixel matching already solves.
    Centring matters for cosine kNN: without it, what all images share (a plain ground, say) dominates
    every similarity and the baseline looks weaker than it is.

    Shapes: built from uint8 train_images (N, 3, H, W); forward (B, 3, H, W) normalised -> (B, 3 * H * W).
    """

    def __init__(self, train_images: Tensor, batch_size: int = 1024):
        super().__init__()
        total = sum(prepare(train_images[i:i + batch_size]).flatten(1).double().sum(0)
                    for i in range(0, len(train_images), batch_size))
        self.register_buffer("mean", (total / len(train_images)).float())

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1) - self.mean


FROZEN_PROTOCOLS = ("knn", "linear")  # the frozen-feature protocols of Tables I, III, VI, VII


def score_encoder(backbone: nn.Module, train: ImageData, test: ImageData, protocols=FROZEN_PROTOCOLS,
                  knn: KNN = KNN(), linear: LinearProbe = LinearProbe(), device: str | torch.device | None = None,
                  progress: bool = False) -> dict[str, float]:
    """Score a frozen encoder: features of ``train`` and ``test`` extracted once, then each protocol.

    "knn": ``knn_accuracy`` with ``train`` as the memory bank, by ``knn``; "linear": ``linear_probe`` by
    ``linear``. ``backbone`` may be an SSLNet (its backbone is scored); it runs on ``device`` (default: its
    own). Returns {protocol: test top-1 %} for each protocol asked for ({} for none, extracting nothing).
    """
    unknown = set(protocols) - set(FROZEN_PROTOCOLS)
    if unknown:
        raise ValueError(f"unknown protocol(s) {sorted(unknown)}; score_encoder knows {', '.join(FROZEN_PROTOCOLS)}")
    if not protocols:
        return {}
    device = encoder_and_device(backbone, device)[1]
    f_train, y_train = extract_features(backbone, train, device=device, progress=progress)
    f_test, y_test = extract_features(backbone, test, device=device, progress=progress)
    f_train, f_test = f_train.to(device), f_test.to(device)
    scores = {}
    if "knn" in protocols:
        scores["knn"] = knn_accuracy(f_train, y_train, f_test, y_test, knn.k, knn.temperature, train.num_classes)
    if "linear" in protocols:
        scores["linear"] = linear_probe(f_train, y_train, f_test, y_test, **dataclasses.asdict(linear), device=device,
                                        num_classes=train.num_classes, progress=progress)["accuracy"]
    return scores
