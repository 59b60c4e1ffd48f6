"""The objective (paper eqs 1-11) against independent computations, hand-worked numbers and properties."""
import math

import pytest
import torch

from trimix import (
    barlow_twins_loss,
    cross_correlation,
    ground_truth_matrix,
    mix_batch,
    predicted_matrix,
    self_consistency_loss,
    similarity_matrix,
    trimix_loss,
    virtual_embedding_loss,
)

SEEDS = [0, 1, 2]
BATCHES = [4, 5, 8]  # even and odd
LAMBDAS = [0.0, 0.3, 1.0]


# ---- independent references, written with loops / einsum straight from the paper and Algorithm 1 ----
def ref_standardize_cols(z):
    """Loop over features: (z_b - mean) / unbiased std, in float64."""
    z = z.double()
    out = torch.empty_like(z)
    n = z.shape[0]
    for j in range(z.shape[1]):
        col = z[:, j]
        mean = sum(col.tolist()) / n
        var = sum((v - mean) ** 2 for v in col.tolist()) / (n - 1)
        out[:, j] = (col - mean) / math.sqrt(var)
    return out


def ref_standardize_rows(v):
    return ref_standardize_cols(v.T).T


def ref_barlow(z1, z2, alpha):
    s1, s2 = ref_standardize_cols(z1), ref_standardize_cols(z2)
    b, d = s1.shape
    c = torch.einsum("bi,bj->ij", s1, s2) / b
    inv = sum((1 - c[i, i]) ** 2 for i in range(d))
    rr = sum(c[i, j] ** 2 for i in range(d) for j in range(d) if i != j)
    return inv + alpha * rr


def ref_gt(b, lam):
    gt = torch.zeros(b, b, dtype=torch.float64)
    for m in range(b):
        gt[m, m] += lam
        gt[m, b - 1 - m] += 1 - lam
    return gt


def ref_predicted(z, z_vrt, tau):
    s = ref_standardize_cols(z)
    v = ref_standardize_rows(ref_standardize_cols(z_vrt))
    b, d = s.shape
    logits = torch.einsum("ma,na->mn", s, v) / d / tau
    e = torch.exp(logits - logits.max(dim=1, keepdim=True).values)
    return e / e.sum(dim=1, keepdim=True)


def ref_vrt(z, z_vrt, lam, tau):
    m, gt = ref_predicted(z, z_vrt, tau), ref_gt(z.shape[0], lam)
    return (m - gt).abs().sum() / m.numel()


def ref_con(z, z_vrt, lam):
    s = ref_standardize_cols(z)
    v = ref_standardize_rows(ref_standardize_cols(z_vrt))
    b = s.shape[0]
    total = 0.0
    for m in range(b):
        mixed = lam * s[m] + (1 - lam) * s[b - 1 - m]
        total += (mixed - v[m]).abs().sum()
    return total / s.numel()


def embeddings(seed, b, d=6):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(b, d, generator=g) * 3 + 1
    z2 = z1 + 0.5 * torch.randn(b, d, generator=g)
    z_vrt = torch.randn(b, d, generator=g) * 2 - 1
    return z1, z2, z_vrt


EPS32 = torch.finfo(torch.float32).eps  # 2^-23 ~ 1.2e-7: float32's relative rounding step


def close(a, b, tol=1e-4):
    # The kit computes in float32, the references in float64 from the same float32 inputs. The losses here
    # add at most a few hundred O(1) float32 terms, so the kit is off by ~1e-6 relative (4e-6 at most
    # measured, under every ATEN_CPU_CAPABILITY and MKL code path); 1e-4 leaves 25x for other kernels' summation
    # orders, while any slip in a formula (a biased std, a mean for a sum, a wrong pair) moves them by 1e-2 or more.
    torch.testing.assert_close(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64), rtol=tol, atol=tol)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("b", BATCHES)
@pytest.mark.parametrize("lam", LAMBDAS)
def test_every_equation_matches_independent_reference(seed, b, lam):
    z1, z2, z_vrt = embeddings(seed, b)
    close(barlow_twins_loss(z1, z2, alpha=5e-3), ref_barlow(z1, z2, 5e-3))
    close(ground_truth_matrix(b, lam), ref_gt(b, lam))
    close(predicted_matrix(z1, z_vrt, tau=2.0), ref_predicted(z1, z_vrt, 2.0))
    close(predicted_matrix(z1, z_vrt, tau=0.1), ref_predicted(z1, z_vrt, 0.1))
    close(virtual_embedding_loss(z1, z_vrt, lam, tau=2.0), ref_vrt(z1, z_vrt, lam, 2.0))
    close(self_consistency_loss(z1, z_vrt, lam), ref_con(z1, z_vrt, lam))
    total, parts = trimix_loss(z1, z2, z_vrt, lam, alpha=5e-3, beta=1000.0, gamma=200.0, tau=2.0)
    assert set(parts) == {"bt", "vrt", "con"}
    expected = ref_barlow(z1, z2, 5e-3) + 1000 * ref_vrt(z1, z_vrt, lam, 2.0) + 200 * ref_con(z1, z_vrt, lam)
    # The weights scale each part's error with the part, so the total keeps the parts' relative accuracy
    # (~1e-6; it is 1e2-1e3 in size, so its absolute error reaches 2e-4 and the absolute 1e-4 alone would not do).
    close(total, expected, tol=1e-4)


# ---- one tiny example worked by hand: B = 4, D = 2, lam = 0.3, tau = 2 ----
# (the hand values are written to 6 decimals, so they carry up to 5e-7 of rounding: within close's 1e-4)
Z1 = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
Z2 = torch.tensor([[1.0, 1.0], [1.0, 1.0], [-1.0, 1.0], [-1.0, -3.0]])
ZV = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]])


def test_hand_worked_barlow_twins():
    # Every column of Z1 has mean 0 and unbiased std 2/sqrt(3), so s(Z1) = Z1 * sqrt(3)/2; Z2's second
    # column [1, 1, 1, -3] has std 2. Then C = s1.T s2 / 4 = [[3/4, sqrt(3)/4], [0, sqrt(3)/4]].
    c = cross_correlation(Z1, Z2)
    close(c, [[0.75, math.sqrt(3) / 4], [0.0, math.sqrt(3) / 4]])
    # L_inv = (1 - 3/4)^2 + (1 - sqrt(3)/4)^2 = 0.0625 + 0.321475;  L_rr = 3/16
    close(barlow_twins_loss(Z1, Z2, alpha=5e-3), 0.0625 + (1 - math.sqrt(3) / 4) ** 2 + 5e-3 * 3 / 16)
    close(barlow_twins_loss(Z1, Z2, alpha=5e-3), 0.384912)


def test_hand_worked_virtual_and_consistency():
    # With D = 2 each standardised row of v is +-[1/sqrt2, -1/sqrt2]; here v's signs are [+, -, +, -].
    # The logits s(Z1) v.T / D / tau are +-0.306186 in rows 1 and 2 and 0 in rows 0 and 3, so
    # softmax gives 0.324242 / 0.175758 there and 0.25 elsewhere.
    hi, lo = 0.324242, 0.175758
    m = predicted_matrix(Z1, ZV, tau=2.0)
    close(m, [[0.25] * 4, [hi, lo, hi, lo], [lo, hi, lo, hi], [0.25] * 4])
    # GT(lam=0.3): row m has 0.3 at m and 0.7 at 3-m. Each row of |M - GT| sums to 1.0, so the mean is 4/16.
    close(virtual_embedding_loss(Z1, ZV, lam=0.3, tau=2.0), 0.25)
    # Z~ = 0.3 s(Z1) + 0.7 flip(s(Z1)) = 0.34641 * [[-1,-1], [-1,1], [1,-1], [1,1]];
    # |Z~ - v| row sums: 1.414214, 0.721394, 0.721394, 1.414214 -> mean over 8 entries 0.533902.
    close(self_consistency_loss(Z1, ZV, lam=0.3), 0.533902)
    total, parts = trimix_loss(Z1, Z2, ZV, lam=0.3)
    close(total, 0.384912 + 1000 * 0.25 + 200 * 0.533902, tol=1e-4)  # 357.2: the 6-decimal hand values, x1000


# ---- properties ----
@pytest.mark.parametrize("b", [2, 5, 8])
@pytest.mark.parametrize("lam", [0.0, 0.27, 0.5, 1.0])
def test_ground_truth_rows_sum_to_one_and_symmetric(b, lam):
    gt = ground_truth_matrix(b, lam)
    assert gt.shape == (b, b)
    close(gt.sum(dim=1), torch.ones(b))
    close(gt, gt.T)


def test_ground_truth_odd_batch_middle_row_pairs_with_itself():
    gt = ground_truth_matrix(5, 0.3)
    assert gt[2, 2].item() == pytest.approx(1.0)
    assert gt[0, 0].item() == pytest.approx(0.3) and gt[0, 4].item() == pytest.approx(0.7)


@pytest.mark.parametrize("tau", [0.05, 2.0, 50.0])
def test_predicted_rows_sum_to_one(tau):
    z1, _, z_vrt = embeddings(3, 7, d=16)
    m = predicted_matrix(z1, z_vrt, tau)
    assert m.shape == (7, 7) and (m >= 0).all()
    close(m.sum(dim=1), torch.ones(7))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("b", [5, 8])
@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0])
def test_virtual_loss_is_zero_when_m_finds_the_mixed_pairs(seed, b, lam):
    # Virtual embeddings that are exactly the mixed embeddings, with a cold softmax: each row of M puts its
    # mass on the samples row m was mixed from (both, equally, at lam = 0.5), which is GT. The same M scored
    # against another lambda's GT is off by exactly the difference of the two GTs.
    #
    # How close float32 gets: at tau = 1e-3 the logits s(z) v.T / D / tau are 600-1000 here. At lam = 0.5
    # row m has two tied logits (v's rows m and B-1-m are the same mix, bit for bit), but a matmul kernel
    # may sum the two dot products in different orders, so they can differ by a few float32 ulps of the
    # logit (an ulp of x is at most eps32 * |x|, 1.2e-4 at 1000). A softmax moves two tied entries by a
    # quarter of their difference: M is off GT by up to 4 ulps / 4 = eps32 * max |logit|. One ulp (1.5e-5)
    # is what MKL's non-AVX code path gives (an AMD EPYC, or MKL_CBWR=COMPATIBLE on any x86); 1e-6 held only
    # where both sums happen to round alike. A wrong pairing or flip is off by 0.5 or more. L_vrt, a mean
    # of |M - GT|, is at most its largest entry, so the same bound holds for the two losses.
    z = torch.randn(b, 64, generator=torch.Generator().manual_seed(seed))
    z_vrt = mix_batch(z, lam)
    tau = 1e-3
    tol = EPS32 * (similarity_matrix(z, z_vrt) / tau).abs().max().item()  # ~1.2e-4
    close(predicted_matrix(z, z_vrt, tau=tau), ref_gt(b, lam), tol=tol)
    assert virtual_embedding_loss(z, z_vrt, lam, tau=tau).item() == pytest.approx(0.0, abs=tol)
    expected = (ref_gt(b, lam) - ref_gt(b, 0.3)).abs().mean()
    close(virtual_embedding_loss(z, z_vrt, 0.3, tau=tau), expected, tol=tol)


def test_virtual_loss_near_two_over_b_for_uniform_m():
    # The numerical note of docs/design.md: with tau = 2 and the 1/D scaling M is nearly uniform (1/B), and a
    # uniform M is off GT by 2 * (1 - 2/B) per row (GT has mass 1 on 2 entries), so L_vrt ~ (2/B)(1 - 2/B).
    z1, _, z_vrt = embeddings(1, 32, d=64)
    assert virtual_embedding_loss(z1, z_vrt, 0.5, tau=2.0).item() == pytest.approx(2 / 32 * (1 - 2 / 32), rel=0.02)


def test_barlow_twins_invariant_to_positive_affine_rescaling():
    z1, z2, _ = embeddings(5, 9)
    g = torch.Generator().manual_seed(9)
    scale, shift = torch.rand(6, generator=g) * 5 + 0.1, torch.randn(6, generator=g) * 10
    base = barlow_twins_loss(z1, z2)
    close(barlow_twins_loss(z1 * scale + shift, z2), base)
    close(barlow_twins_loss(z1, z2 * scale - shift), base)


def test_perfectly_correlated_views_have_only_the_unbiased_std_gap():
    # Identical, decorrelated views: C = (B-1)/B * I, so L_BT = D / B^2 exactly (Algorithm 1 divides by B).
    # The columns are made orthonormal *after* centring (QR of centred data keeps them centred): centring
    # orthonormal columns afterwards correlates them again, which added 1e-4 to 5e-4 to L_BT (so the
    # tolerance was 1e-3). Now only the eps in s (1e-6 added to each column's variance of 16/15) adds
    # 4.4e-7, and float32 sums of 16 squares ~1e-7; a biased std or a mean instead of a sum moves L_BT by 100 %.
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    z = torch.linalg.qr(x - x.mean(0))[0] * 4
    close(barlow_twins_loss(z, z), 4 * (1 / 16) ** 2, tol=1e-5)


def test_constant_columns_give_finite_losses_and_gradients():
    z1, z2, z_vrt = embeddings(0, 6)
    z1[:, 0] = 3.0
    z_vrt[:, 1] = -2.0
    for z in (z1, z2, z_vrt):
        z.requires_grad_(True)
    total, parts = trimix_loss(z1, z2, z_vrt, 0.3)
    total.backward()
    assert torch.isfinite(total) and all(torch.isfinite(p) for p in parts.values())
    assert all(torch.isfinite(z.grad).all() for z in (z1, z2, z_vrt))


def test_losses_stay_float32_under_autocast():
    z1, z2, z_vrt = embeddings(0, 8, d=32)
    plain, plain_parts = trimix_loss(z1, z2, z_vrt, 0.5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        total, parts = trimix_loss(z1, z2, z_vrt, 0.5)
        m = predicted_matrix(z1, z_vrt)
    assert total.dtype == torch.float32 and m.dtype == torch.float32
    torch.testing.assert_close(total, plain)  # float32's own tolerance: same kernels; bf16 would be off by ~1e-2


def test_losses_compute_in_float32_for_half_inputs():
    z1, z2, z_vrt = (z.to(torch.bfloat16) for z in embeddings(0, 8))
    total, _ = trimix_loss(z1, z2, z_vrt, 0.5)
    assert total.dtype == torch.float32 and torch.isfinite(total)


# ---- bad input ----
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: barlow_twins_loss(torch.randn(1, 4), torch.randn(1, 4)), "batch size 1"),
        (lambda: barlow_twins_loss(torch.randn(4, 3), torch.randn(4, 5)), "same shape"),
        (lambda: barlow_twins_loss(torch.randn(4, 3, 2), torch.randn(4, 3, 2)), "2-D"),
        (lambda: virtual_embedding_loss(torch.randn(4, 3), torch.randn(4, 3), 1.5), "lam"),
        (lambda: virtual_embedding_loss(torch.randn(4, 3), torch.randn(4, 3), -0.1), "lam"),
        (lambda: virtual_embedding_loss(torch.randn(4, 3), torch.randn(4, 3), 0.5, tau=0.0), "tau"),
        (lambda: predicted_matrix(torch.randn(4, 3), torch.randn(4, 3), tau=-1.0), "tau"),
        (lambda: predicted_matrix(torch.randn(4, 3), torch.randn(5, 3)), "same shape"),
        (lambda: self_consistency_loss(torch.randn(4), torch.randn(4), 0.5), "2-D"),
        (lambda: self_consistency_loss(torch.randn(4, 3), torch.randn(4, 3), 2.0), "lam"),
        (lambda: trimix_loss(torch.randn(4, 3), torch.randn(4, 2), torch.randn(4, 3), 0.5), "same shape"),
        (lambda: ground_truth_matrix(1, 0.5), "batch_size"),
        (lambda: ground_truth_matrix(4, 1.01), "lam"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(call, match):
    with pytest.raises(ValueError, match=match):
        call()
