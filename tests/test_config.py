"""The paper's defaults and quick mode."""
import pytest

from trimix import auto_config, default_config, paper_config, quick_config


def test_paper_defaults():
    c = paper_config()
    assert (c.alpha, c.beta, c.gamma, c.tau) == (5e-3, 1000.0, 200.0, 2.0)
    assert (c.lr, c.weight_decay, c.batch_size, c.epochs) == (1e-3, 1e-6, 256, 200)
    assert (c.width, c.proj_hidden, c.proj_dim, c.proj_layers) == (64, 1024, 1024, 3)


def test_quick_mode_from_environment(monkeypatch):
    monkeypatch.setenv("TRIMIX_QUICK", "1")
    c = default_config()
    assert c.quick and c.dataset == "shapes" and c.width < 64
    assert c.beta == 1000.0  # quick mode keeps the objective's weights
    monkeypatch.setenv("TRIMIX_QUICK", "0")
    assert not default_config().quick


@pytest.mark.parametrize("gpu", [False, True])
def test_auto_config_is_quick_without_a_gpu(monkeypatch, gpu):
    import torch

    monkeypatch.delenv("TRIMIX_QUICK", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    assert auto_config().quick is not gpu
    monkeypatch.setenv("TRIMIX_QUICK", "1")
    assert auto_config().quick  # asked for: quick even on a GPU


def test_replace_refuses_unknown_fields():
    assert quick_config(epochs=1).epochs == 1
    with pytest.raises(ValueError, match="unknown config field"):
        paper_config(learning_rate=0.1)


def test_public_api_is_exported():
    import trimix

    names = ["sample_lambda", "mix_batch", "ground_truth_matrix", "predicted_matrix", "barlow_twins_loss",
             "virtual_embedding_loss", "self_consistency_loss", "trimix_loss", "SSLNet", "TriMix", "BarlowTwins",
             "load_dataset", "two_views", "pretrain", "extract_features", "knn_accuracy", "linear_probe"]
    missing = [n for n in names if not callable(getattr(trimix, n, None))]
    assert not missing, missing
