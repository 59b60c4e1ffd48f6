"""Evaluation protocols (paper section IV-B): kNN, linear probe, stratified subsets, fine-tuning, transfer."""
import math
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trimix import SSLNet
from trimix.imagedata import ImageData
import trimix.evaluate as ev
from trimix.augment import prepare
from trimix.evaluate import extract_features, knn_accuracy, knn_predict, linear_probe, score_encoder
from trimix.finetune import _crop_flip, finetune, transfer
from trimix.imagedata import stratified_subset
from trimix.protocols import KNN, LinearProbe


def tiny_data(n=24, size=32, num_classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    return ImageData(images, torch.arange(n) % num_classes, [str(c) for c in range(num_classes)], "tiny")


def tiny_net(seed=0):
    torch.manual_seed(seed)
    return SSLNet(32, width=4, proj_hidden=16, proj_dim=16)


def blobs(n_per_class=100, num_classes=5, dim=16, spread=8.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = spread * torch.randn(num_classes, dim, generator=g)
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)
    return centres[labels] + torch.randn(len(labels), dim, generator=g), labels


# ---- kNN ----------------------------------------------------------------------------------------

def brute_force_knn(train, train_labels, test, num_classes, k, t):
    """One test sample at a time: cosine similarities, top k, exp(sim / T) votes."""
    preds = []
    for x in test:
        sims = [float(x @ y / (x.norm() * y.norm())) for y in train]
        order = sorted(range(len(sims)), key=lambda j: -sims[j])[:k]
        votes = [0.0] * num_classes
        for j in order:
            votes[int(train_labels[j])] += math.exp(sims[j] / t)
        preds.append(max(range(num_classes), key=lambda c: votes[c]))
    return torch.tensor(preds)


@pytest.mark.parametrize("k,t", [(1, 0.1), (5, 0.1), (20, 0.5), (60, 0.07)])
def test_knn_matches_brute_force(k, t):
    g = torch.Generator().manual_seed(k)
    train = torch.randn(60, 8, generator=g, dtype=torch.float64)
    test = torch.randn(23, 8, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 5, (60,), generator=g)
    pred = knn_predict(train, labels, test, num_classes=5, k=k, temperature=t, chunk_size=7)  # 4 chunks
    assert torch.equal(pred, brute_force_knn(train, labels, test, 5, k, t))


def test_knn_matches_sklearn():
    neighbors = pytest.importorskip("sklearn.neighbors")
    g = torch.Generator().manual_seed(0)
    train, test = torch.randn(80, 6, generator=g), torch.randn(30, 6, generator=g)
    labels = torch.randint(0, 4, (80,), generator=g)
    # exp(sim / T) weights = sklearn with a callable of the cosine distance d = 1 - sim
    ref = neighbors.KNeighborsClassifier(n_neighbors=9, metric="cosine", algorithm="brute",
                                         weights=lambda d: np.exp((1 - d) / 0.1)).fit(train.numpy(), labels.numpy())
    assert np.array_equal(knn_predict(train, labels, test, 4, k=9, temperature=0.1).numpy(), ref.predict(test.numpy()))
    # a huge T makes every weight ~1: a plain majority vote; 2 classes and odd k leave no ties to break
    labels2 = labels % 2
    ref = neighbors.KNeighborsClassifier(n_neighbors=7, metric="cosine", algorithm="brute")
    ref.fit(train.numpy(), labels2.numpy())
    assert np.array_equal(knn_predict(train, labels2, test, 2, k=7, temperature=1e6).numpy(), ref.predict(test.numpy()))


def test_knn_accuracy_on_separated_clusters_and_large_k():
    x, y = blobs(n_per_class=20, num_classes=3)
    assert knn_accuracy(x, y, x, y, k=5) == 100.0
    assert knn_accuracy(x, y, x, y, k=10_000) == knn_accuracy(x, y, x, y, k=len(x))  # k is clipped to the training set
    with pytest.raises(ValueError, match="temperature"):
        knn_predict(x, y, x, 3, temperature=0.0)
    with pytest.raises(ValueError, match="unlabelled"):
        knn_predict(x, torch.full_like(y, -1), x, 3)


# ---- linear probe -------------------------------------------------------------------------------

def test_linear_probe_separates_blobs_and_is_deterministic():
    x, y = blobs(seed=1)
    xt, yt = blobs(n_per_class=20, seed=1)  # same centres (same seed), new noise draws follow
    out = linear_probe(x, y, xt, yt, epochs=10, batch_size=32)  # 160 steps of SGD at the paper's lr 1e-3
    assert out["accuracy"] >= 99.0 and out["train_accuracy"] >= 99.0
    assert out["losses"][-1] < out["losses"][0] and len(out["losses"]) == 10
    assert out["test_predictions"].shape == yt.shape
    # the standardisation is folded into a plain linear layer on the raw features
    assert torch.equal(out["classifier"](xt).argmax(1), out["test_predictions"])
    again = linear_probe(x, y, xt, yt, epochs=10, batch_size=32)
    assert again["losses"] == out["losses"] and again["accuracy"] == out["accuracy"]


def test_linear_probe_options():
    x, y = blobs(n_per_class=30, num_classes=3)
    for opt in ("sgd", "adam"):
        for std in (True, False):
            out = linear_probe(x, y, x, y, epochs=3, optimizer=opt, standardize=std, num_classes=4)
            mine = 100.0 * (out["classifier"](x).argmax(1) == y).float().mean().item()  # independently
            assert out["classifier"].out_features == 4 and out["accuracy"] == pytest.approx(mine)
    with pytest.raises(ValueError, match="optimizer"):
        linear_probe(x, y, x, y, epochs=1, optimizer="lbfgs")
    with pytest.raises(ValueError, match="train_labels"):
        linear_probe(x, y - 1, x, y, epochs=1)


# ---- stratified subsets ---------------------------------------------------------------------------

def test_stratified_subset():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 5).flip(0)
    idx = stratified_subset(labels, 0.1, seed=0)
    assert torch.bincount(labels[idx]).tolist() == [5, 3, 1]  # round(10%), at least one per class
    assert len(set(idx.tolist())) == len(idx) and torch.equal(idx, idx.sort().values)
    assert torch.equal(idx, stratified_subset(labels, 0.1, seed=0))
    assert not torch.equal(idx, stratified_subset(labels, 0.1, seed=1))
    assert torch.equal(stratified_subset(labels, 1.0), torch.arange(len(labels)))
    assert torch.bincount(labels[stratified_subset(labels, 0.01)]).tolist() == [1, 1, 1]
    with_unlabelled = torch.cat([labels, torch.full((7,), -1)])  # -1 = unlabelled (STL-10)
    assert torch.equal(stratified_subset(with_unlabelled, 1.0), torch.arange(len(labels)))
    for bad in (0.0, -0.5, 1.5, float("nan"), "10%"):
        with pytest.raises(ValueError, match="fraction"):
            stratified_subset(labels, bad)


# ---- features, fine-tuning, transfer ------------------------------------------------------------

def test_extract_features():
    net, data = tiny_net(), tiny_data(n=10)
    net.train()
    feats, labels = extract_features(net, data, batch_size=4)
    assert feats.shape == (10, net.feature_dim) and feats.dtype == torch.float32 and feats.device.type == "cpu"
    assert torch.equal(labels, data.labels)
    assert net.training and net.backbone.training  # mode restored
    assert torch.equal(feats, extract_features(net, data, batch_size=4)[0])  # deterministic
    # eval-mode BatchNorm: a sample's features do not depend on the batch it is in (float32's default
    # tolerance: a convolution kernel may block a batch of 3 and one of 4 differently, an ulp or two)
    torch.testing.assert_close(feats, extract_features(net.backbone, data, batch_size=3)[0])
    net.eval()
    small = tiny_data(n=3, size=20)
    assert extract_features(net, small, image_size=32)[0].shape == (3, net.feature_dim)
    assert not net.training


def test_crop_flip_is_a_padded_crop_or_its_mirror():
    x = torch.randint(1, 256, (6, 3, 8, 8), dtype=torch.uint8)  # no zeros, so padding is visible
    out = _crop_flip(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = F.pad(x, (1, 1, 1, 1))  # 8 // 8 = 1 pixel of padding
    for i in range(len(x)):
        crops = [padded[i, :, r:r + 8, c:c + 8] for r in range(3) for c in range(3)]
        assert any(torch.equal(out[i], v) or torch.equal(out[i], v.flip(-1)) for v in crops)


def test_finetune_runs_and_leaves_the_backbone_alone():
    net, train, test = tiny_net(), tiny_data(n=16), tiny_data(n=8, seed=1)
    before = {k: v.clone() for k, v in net.backbone.state_dict().items()}
    out = finetune(net.backbone, train, test, fraction=0.5, epochs=2, batch_size=4, lr=0.01)
    assert out["num_labelled"] == 8 and out["fraction"] == 0.5 and len(out["losses"]) == 2
    with torch.no_grad():  # the reported accuracy is the returned model's, computed independently here
        mine = (out["model"].eval()(prepare(test.images)).argmax(1) == test.labels).float().mean().item()
    assert out["accuracy"] == pytest.approx(100.0 * mine)
    assert all(torch.equal(v, net.backbone.state_dict()[k]) for k, v in before.items())
    assert net.backbone.training  # not switched to eval either
    tuned = out["model"][0].state_dict()
    assert any(not torch.equal(v, tuned[k]) for k, v in before.items())  # the copy did train
    again = finetune(net, train, test, fraction=0.5, epochs=2, batch_size=4, lr=0.01)  # SSLNet is accepted
    assert again["losses"] == out["losses"] and again["accuracy"] == out["accuracy"]


def test_transfer_resizes_to_the_source_size():
    net = tiny_net()
    out = transfer(net, 32, tiny_data(n=12, size=16), tiny_data(n=8, size=16, seed=1), epochs=2, batch_size=4)
    target_test = tiny_data(n=8, size=16, seed=1)
    features, labels = extract_features(net, target_test, image_size=32)
    mine = 100.0 * (out["classifier"](features).argmax(1) == labels).float().mean().item()
    assert out["image_size"] == 32 and out["accuracy"] == pytest.approx(mine)
    assert out["classifier"].in_features == net.feature_dim and out["classifier"].out_features == 4
    tuned = finetune(net, tiny_data(n=8, size=16), tiny_data(n=4, size=16, seed=1), fraction=1.0, epochs=1,
                     batch_size=4, image_size=32)  # the fine-tuned variant of transfer
    assert tuned["num_labelled"] == 8 and tuned["model"][1].out_features == 4


# ---- scoring an encoder: features once, then the frozen-feature protocols ------------------------

def test_score_encoder_extracts_features_once_for_both_protocols(monkeypatch):
    net, train, test = tiny_net(), tiny_data(n=24), tiny_data(n=12, seed=1)
    calls = []
    real = ev.extract_features
    monkeypatch.setattr(ev, "extract_features", lambda *a, **k: calls.append(a[1].name) or real(*a, **k))
    scores = score_encoder(net, train, test, knn=KNN(k=5, temperature=0.2), linear=LinearProbe(epochs=3, seed=1))
    assert len(calls) == 2 and set(scores) == {"knn", "linear"}  # one pass over train, one over test
    (f_train, y_train), (f_test, y_test) = real(net, train), real(net, test)
    assert scores["knn"] == knn_accuracy(f_train, y_train, f_test, y_test, k=5, temperature=0.2, num_classes=4)
    linear = linear_probe(f_train, y_train, f_test, y_test, epochs=3, seed=1, num_classes=4)
    assert scores["linear"] == linear["accuracy"]
    assert score_encoder(net.backbone, train, test, ("knn",), KNN(k=5, temperature=0.2)) == {"knn": scores["knn"]}
    calls.clear()
    assert score_encoder(net, train, test, ()) == {} and not calls
    with pytest.raises(ValueError, match="protocol"):
        score_encoder(net, train, test, ("knn", "finetune"))


def test_raw_pixels_centre_on_the_training_mean_image():
    from trimix.evaluate import RawPixels

    images = torch.randint(0, 256, (300, 3, 8, 8), dtype=torch.uint8)
    baseline = RawPixels(images, batch_size=64)  # the mean added up in chunks, as for a large dataset
    features = baseline(prepare(images))
    assert features.shape == (300, 192)
    # pixels of |x| < 2.2 averaged in float32 over 300 images: ~1e-7 of rounding; 1e-5 fails an uncentred
    # (|mean| ~ 0.1) or chunk-weighted mean (64 of 300 images in the last chunk: ~1e-2)
    torch.testing.assert_close(features.mean(0), torch.zeros(192), atol=1e-5, rtol=0)
    torch.testing.assert_close(features[:5], prepare(images[:5]).flatten(1) - prepare(images).flatten(1).mean(0))
