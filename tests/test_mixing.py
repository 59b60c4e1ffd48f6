"""Mixing (paper eqs 5, 9) and the lambda sampler."""
import pytest
import torch

from trimix import flip, mix_batch, mixed_embeddings, sample_lambda
from trimix.standardize import EPS, batch_standardize, feature_standardize

# The comparisons with loops use assert_close's float32 default (1.3e-6 relative, 1e-5 absolute): the same
# float32 multiplications and additions in another order or vector width round by an ulp (1.2e-7) at most.

@pytest.mark.parametrize("b", [2, 5, 6])
@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0])
def test_mix_batch_matches_loop(b, lam):
    x = torch.randn(b, 3, 4, 4)
    out = mix_batch(x, lam)
    for m in range(b):
        torch.testing.assert_close(out[m], lam * x[m] + (1 - lam) * x[b - 1 - m])


def test_mix_batch_endpoints_and_odd_middle():
    x = torch.randn(5, 7)
    torch.testing.assert_close(mix_batch(x, 1.0), x)
    torch.testing.assert_close(mix_batch(x, 0.0), flip(x))
    torch.testing.assert_close(mix_batch(x, 0.3)[2], x[2])  # the middle sample mixes with itself


def test_mix_batch_half_is_symmetric_under_flip():
    x = torch.randn(6, 3)
    torch.testing.assert_close(mix_batch(x, 0.5), flip(mix_batch(x, 0.5)))


def test_mixed_embeddings_is_eq9_on_standardised_z():
    z = torch.randn(8, 5) * 4 + 2
    s = batch_standardize(z)
    torch.testing.assert_close(mixed_embeddings(z, 0.25), 0.25 * s + 0.75 * s.flip(0))


def test_standardisations_have_mean_zero_unbiased_std_one():
    z = torch.randn(10, 6, generator=torch.Generator().manual_seed(0)) * 3 + 5
    # Centring values near 5 in float32 leaves ~5 * 1.2e-7 per entry, so means of ~1e-6 (1e-5 is 10x that).
    # The eps inside the square root makes the std sqrt(var / (var + eps)) ~ 1 - eps / (2 var), 1e-6 at most
    # for these variances (> 0.5), plus ~1e-6 of rounding: 1e-5. A biased std would give 0.95 (sqrt(9/10)).
    s = batch_standardize(z)
    assert z.var(0).min() > 0.5 and z.var(1).min() > 0.5 and EPS == 1e-6
    torch.testing.assert_close(s.mean(0), torch.zeros(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(s.std(0), torch.ones(6), atol=1e-5, rtol=0)
    r = feature_standardize(z)
    torch.testing.assert_close(r.mean(1), torch.zeros(10), atol=1e-5, rtol=0)
    torch.testing.assert_close(r.std(1), torch.ones(10), atol=1e-5, rtol=0)


def test_sample_lambda_is_uniform_and_seeded():
    g = torch.Generator().manual_seed(0)
    draws = torch.tensor([sample_lambda(g) for _ in range(4000)])
    assert 0.0 <= draws.min() and draws.max() <= 1.0
    assert draws.mean().item() == pytest.approx(0.5, abs=0.02)
    assert draws.var().item() == pytest.approx(1 / 12, abs=0.006)
    # deciles of U(0, 1)
    for q in (0.1, 0.5, 0.9):
        assert torch.quantile(draws, q).item() == pytest.approx(q, abs=0.03)
    a = [sample_lambda(torch.Generator().manual_seed(7)) for _ in range(2)]
    assert a[0] == a[1] and isinstance(a[0], float)


@pytest.mark.parametrize("lam", [-0.01, 1.5])
def test_mix_batch_refuses_lambda_outside_unit_interval(lam):
    with pytest.raises(ValueError, match="lam"):
        mix_batch(torch.randn(4, 2), lam)


def test_mix_batch_refuses_single_sample():
    with pytest.raises(ValueError, match="at least 2"):
        mix_batch(torch.randn(1, 3), 0.5)
