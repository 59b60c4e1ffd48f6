"""The baselines' objectives (SimCLR, BYOL, VICReg) against independent loop computations, and properties."""
import math

import pytest
import torch

from trimix import byol_loss, simclr_loss, vicreg_loss
from trimix.baseline_losses import vicreg_covariance, vicreg_variance

SEEDS = [0, 1, 2]
SHAPES = [(2, 3), (5, 8), (16, 32)]  # (B, D): the smallest batch, an odd one, a wider one


def pair(seed, b, d):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(b, d, generator=g) * 2 + 0.5
    return z1, z1 + torch.randn(b, d, generator=g)


def close(a, b, tol=1e-4):
    # float32 kit against float64 loops on the same inputs: these losses sum at most a few thousand O(1)
    # terms, so the kit is off by ~1e-6 relative (3e-6 at most measured, SimCLR's log-sum-exp at T = 0.2,
    # the same under every ATEN_CPU_CAPABILITY and MKL code path); 1e-4 leaves 30x for other kernels.
    torch.testing.assert_close(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64),
                               rtol=tol, atol=tol)


# ---- independent references: plain Python loops in float64, straight from each paper ----
def cosine(u, v):
    u, v = u.tolist(), v.tolist()
    dot = sum(a * b for a, b in zip(u, v))
    return dot / math.sqrt(sum(a * a for a in u) * sum(b * b for b in v))


def ref_nt_xent(z1, z2, t):
    """SimCLR eq 1 anchor by anchor: -log(exp(sim(i, pos) / t) / sum_{k != i} exp(sim(i, k) / t))."""
    z = list(z1.double()) + list(z2.double())
    n, b = len(z), len(z1)
    total = 0.0
    for i in range(n):
        positive = (i + b) % n
        denominator = sum(math.exp(cosine(z[i], z[k]) / t) for k in range(n) if k != i)
        total += -math.log(math.exp(cosine(z[i], z[positive]) / t) / denominator)
    return total / n


def ref_byol(p1, p2, t1, t2):
    """BYOL's ||p/|p| - t/|t| ||^2 per sample, both directions, each averaged over the batch."""
    def direction(p, t):
        return sum(sum((a / p_i.norm().item() - c / t_i.norm().item()) ** 2 for a, c in zip(p_i.tolist(), t_i.tolist()))
                   for p_i, t_i in zip(p.double(), t.double())) / len(p)
    return direction(p1, t2) + direction(p2, t1)


def ref_vicreg(z1, z2, sim, std, cov):
    """VICReg feature by feature, as in the authors' code (the variance term halved)."""
    def variance(z):
        b, d = z.shape
        hinge = 0.0
        for j in range(d):
            col = z[:, j].tolist()
            mean = sum(col) / b
            var = sum((x - mean) ** 2 for x in col) / (b - 1)
            hinge += max(0.0, 1 - math.sqrt(var + 1e-4))
        return hinge / d

    def covariance(z):
        b, d = z.shape
        cols = [z[:, j].tolist() for j in range(d)]
        means = [sum(c) / b for c in cols]
        total = 0.0
        for i in range(d):
            for j in range(d):
                if i != j:
                    c_ij = sum((cols[i][n] - means[i]) * (cols[j][n] - means[j]) for n in range(b)) / (b - 1)
                    total += c_ij ** 2
        return total / d

    b, d = z1.shape
    mse = sum((a - c) ** 2 for a, c in zip(z1.flatten().tolist(), z2.flatten().tolist())) / (b * d)
    return (sim * mse + std * (variance(z1.double()) + variance(z2.double())) / 2
            + cov * (covariance(z1.double()) + covariance(z2.double())))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("b, d", SHAPES)
def test_simclr_matches_the_anchor_loop(seed, b, d):
    z1, z2 = pair(seed, b, d)
    for t in (0.2, 0.5, 1.0):
        close(simclr_loss(z1, z2, temperature=t), ref_nt_xent(z1, z2, t))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("b, d", SHAPES)
def test_byol_matches_the_sample_loop(seed, b, d):
    p1, p2 = pair(seed, b, d)
    t1, t2 = pair(seed + 10, b, d)
    close(byol_loss(p1, p2, t1, t2), ref_byol(p1, p2, t1, t2))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("b, d", SHAPES)
def test_vicreg_matches_the_feature_loop(seed, b, d):
    z1, z2 = pair(seed, b, d)
    z1 = z1 * 0.3  # some features below std 1, so the hinge is active in one view and not the other
    close(vicreg_loss(z1, z2), ref_vicreg(z1, z2, 25.0, 25.0, 1.0))  # 2e-7 relative measured: no looser
    close(vicreg_loss(z1, z2, 1.0, 2.0, 3.0), ref_vicreg(z1, z2, 1.0, 2.0, 3.0))  # tolerance than the others


def test_hand_worked_values():
    # SimCLR, two identical views of two orthogonal embeddings: each anchor has cos 1 to its positive and
    # cos 0 to its two negatives (the other sample in both views), so l = -log(e^5 / (e^5 + 2)) at T = 0.2
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    close(simclr_loss(z, z, temperature=0.2), -math.log(math.exp(5) / (math.exp(5) + 2)))
    # BYOL, predictions opposite to the targets: cos = -1, so 2 - 2 * (-1) = 4 in each direction
    close(byol_loss(z, z, -z, -z), 8.0)
    # VICReg, both views [[1, 0], [0, 1]]: mse 0; each feature has variance 0.5, so v = 1 - sqrt(0.5001);
    # the covariance off the diagonal is -0.5, so c = 2 * 0.5^2 / D = 0.25 per view
    v = 1 - math.sqrt(0.5 + 1e-4)
    close(vicreg_loss(z, z), 25 * (v + v) / 2 + 1 * (0.25 + 0.25))


# ---- invariances and properties ----
def test_simclr_and_byol_ignore_the_length_of_each_embedding():
    z1, z2 = pair(4, 8, 16)
    g = torch.Generator().manual_seed(0)
    s1, s2 = torch.rand(8, 1, generator=g) * 10 + 0.1, torch.rand(8, 1, generator=g) * 10 + 0.1  # per-sample
    close(simclr_loss(z1 * s1, z2 * s2), simclr_loss(z1, z2))
    close(simclr_loss(z1 * 7.0, z2), simclr_loss(z1, z2))
    t1, t2 = pair(5, 8, 16)
    base = byol_loss(z1, z2, t1, t2)
    close(byol_loss(z1 * s1, z2 * s2, t1 * s2, t2 * s1), base)
    close(byol_loss(z1, z2, t1 * 0.01, t2 * 100.0), base)


def test_vicreg_variance_term_is_zero_when_every_std_is_at_least_one():
    def with_stds_1_to_5(seed):
        z = torch.randn(32, 8, generator=torch.Generator().manual_seed(seed))
        return (z - z.mean(0)) / z.std(0) * torch.linspace(1.0, 5.0, 8)

    z1, z2 = with_stds_1_to_5(1), with_stds_1_to_5(2)
    assert vicreg_variance(z1).item() == 0.0 and vicreg_variance(z2).item() == 0.0
    close(vicreg_loss(z1, z2, std_coeff=25.0), vicreg_loss(z1, z2, std_coeff=0.0))
    assert vicreg_variance(z1 * 0.5).item() > 0  # std 0.5 and 1 on the first features: the hinge bites


def test_vicreg_collapse_costs_the_full_variance_term_and_decorrelated_features_no_covariance():
    collapsed = torch.ones(16, 4)  # every sample the same embedding
    close(vicreg_variance(collapsed), 1 - math.sqrt(1e-4))
    close(vicreg_loss(collapsed, collapsed), 25 * (1 - math.sqrt(1e-4)))
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(3))
    q = torch.linalg.qr(x - x.mean(0))[0]  # orthonormal columns, centred like x's: no covariance off the diagonal
    # float32 QR leaves off-diagonal covariances of a few eps32 (~1e-7); squared and summed / D: ~1e-14.
    # 1e-10 still fails covariances of 2e-5 per entry; counting the diagonal would give 4e-3.
    assert vicreg_covariance(q).item() == pytest.approx(0.0, abs=1e-10)


def test_byol_gives_no_gradient_to_the_targets():
    p1, p2 = (z.requires_grad_(True) for z in pair(0, 6, 4))
    t1, t2 = (z.requires_grad_(True) for z in pair(1, 6, 4))
    byol_loss(p1, p2, t1, t2).backward()
    assert p1.grad is not None and p2.grad is not None
    assert t1.grad is None and t2.grad is None


@pytest.mark.parametrize("loss", ["simclr", "byol", "vicreg"])
def test_losses_are_float32_under_autocast_and_for_half_inputs(loss):
    call = {"simclr": lambda a, b: simclr_loss(a, b), "byol": lambda a, b: byol_loss(a, b, b, a),
            "vicreg": lambda a, b: vicreg_loss(a, b)}[loss]
    z1, z2 = pair(0, 8, 32)
    plain = call(z1, z2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = call(z1, z2)
    assert under.dtype == torch.float32
    torch.testing.assert_close(under, plain)  # float32's own tolerance: same kernels, autocast must change nothing
    half = call(z1.bfloat16(), z2.bfloat16())
    assert half.dtype == torch.float32 and torch.isfinite(half)


# ---- bad input ----
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: simclr_loss(torch.randn(1, 4), torch.randn(1, 4)), "batch size 1"),
        (lambda: simclr_loss(torch.randn(4, 3), torch.randn(4, 5)), "same shape"),
        (lambda: simclr_loss(torch.randn(4, 3, 2), torch.randn(4, 3, 2)), "2-D"),
        (lambda: simclr_loss(torch.randn(4, 3), torch.randn(4, 3), temperature=0.0), "temperature"),
        (lambda: byol_loss(torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3), torch.randn(5, 3)), "same shape"),
        (lambda: byol_loss(torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 2), torch.randn(4, 2)), "same shape"),
        (lambda: byol_loss(torch.randn(4), torch.randn(4), torch.randn(4), torch.randn(4)), "2-D"),
        (lambda: vicreg_loss(torch.randn(1, 4), torch.randn(1, 4)), "batch size 1"),
        (lambda: vicreg_loss(torch.randn(4, 3), torch.randn(3, 3)), "same shape"),
        (lambda: vicreg_loss([[1.0, 2.0]], [[1.0, 2.0]]), "torch.Tensor"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(call, match):
    with pytest.raises(ValueError, match=match):
        call()
