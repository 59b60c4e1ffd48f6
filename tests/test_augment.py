"""The two-view recipe: the batched path against torchvision's per-sample path.

Exactness: with the same parameters, `apply_params` equals torchvision's functional ops image by image.
Distributions: the sampled parameters, and statistics recovered from augmented images, match
torchvision's with two-sample Kolmogorov-Smirnov tests (alpha = 1e-3, fixed seeds) and binomial rates
checked to 5 standard deviations. Sample sizes are chosen so that a wrong range or rule fails.
"""
import colorsys
import dataclasses
import math

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset
from torchvision import transforms as T
from torchvision.transforms.v2 import functional as TF

from trimix.augment import (
    FACTOR_RANGES, MEAN, STD, TwoViewDataset, apply_params, augment_batch, denormalize, normalize,
    prepare, sample_crop_params, sample_params, to_float, two_views, view_transform,
)

CUDA = torch.cuda.is_available()


@pytest.fixture(autouse=True)
def one_thread():
    # Small tensors: torch's intra-op threads only wait for each other (badly so on a shared CPU)
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def ks_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Two-sample Kolmogorov-Smirnov statistic sup |F_a - F_b| (exact with ties)."""
    a, b = a.double().sort().values, b.double().sort().values
    pts = torch.cat([a, b])
    fa = torch.searchsorted(a, pts, right=True) / len(a)
    fb = torch.searchsorted(b, pts, right=True) / len(b)
    return float((fa - fb).abs().max())


def assert_same_distribution(a: torch.Tensor, b: torch.Tensor, what: str, alpha: float = 1e-3) -> None:
    n, m = len(a), len(b)
    crit = math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt((n + m) / (n * m))
    d = ks_distance(a, b)
    assert d < crit, f"{what}: KS distance {d:.4f} >= {crit:.4f} (n={n}, m={m})"


def assert_rate(hits: torch.Tensor, p: float, what: str) -> None:
    n, rate = hits.numel(), hits.double().mean().item()
    tol = 5 * math.sqrt(p * (1 - p) / n)
    assert abs(rate - p) < tol, f"{what}: rate {rate:.4f}, expected {p} +- {tol:.4f} (n={n})"


def torchvision_crops(n: int, h: int, w: int) -> torch.Tensor:
    """(n, 4) rows (top, left, height, width) from torchvision's own RandomResizedCrop.get_params."""
    torch.manual_seed(0)
    img = torch.zeros(3, h, w)
    return torch.tensor([T.RandomResizedCrop.get_params(img, [0.08, 1.0], [3 / 4, 4 / 3]) for _ in range(n)])


# ----------------------------------------------------------------------------- sampled parameters

@pytest.mark.parametrize("h,w", [(32, 32), (8, 64)])  # 8x64: many of the 10 attempts fail, fallback used
def test_crop_params_match_torchvision(h, w):
    n = 20000
    ref = torchvision_crops(n, h, w).double()
    top, left, ch, cw = (t.double() for t in sample_crop_params(n, h, w, torch.Generator().manual_seed(1)))
    assert ((ch >= 1) & (ch <= h) & (cw >= 1) & (cw <= w)).all()
    assert ((top >= 0) & (top + ch <= h) & (left >= 0) & (left + cw <= w)).all()
    assert_same_distribution(ch * cw / (h * w), ref[:, 2] * ref[:, 3] / (h * w), "area fraction")
    assert_same_distribution(cw / ch, ref[:, 3] / ref[:, 2], "aspect ratio")
    assert_same_distribution(cw, ref[:, 3], "crop width")
    assert_same_distribution(top / (h - ch + 1), ref[:, 0] / (h - ref[:, 2] + 1), "relative top")
    assert_same_distribution(left / (w - cw + 1), ref[:, 1] / (w - ref[:, 3] + 1), "relative left")
    if (h, w) == (8, 64):  # the centred fallback box (8 x 11) must be as frequent as in torchvision
        fallback = lambda t, x0, hh, ww: (hh == 8) & (ww == 11) & (x0 == 26)  # noqa: E731
        p = fallback(*ref.unbind(1)).double().mean().item()
        assert p > 0.05
        assert_rate(fallback(top, left, ch, cw), p, "fallback")


def test_jitter_params_match_torchvision():
    n = 20000
    cj = T.ColorJitter(0.4, 0.4, 0.2, 0.1)
    ranges = [v for r in (cj.brightness, cj.contrast, cj.saturation, cj.hue) for v in r]
    assert ranges == pytest.approx([v for r in FACTOR_RANGES for v in r])  # (0.6, 1.4) (0.6, 1.4) (0.8, 1.2) ...
    torch.manual_seed(0)
    ref = [T.ColorJitter.get_params(cj.brightness, cj.contrast, cj.saturation, cj.hue) for _ in range(n)]
    ref_factors = torch.tensor([r[1:] for r in ref])
    p = sample_params(n, 32, 32, torch.Generator().manual_seed(2))
    for k, name in enumerate(["brightness", "contrast", "saturation", "hue"]):
        assert_same_distribution(p.factors[:, k], ref_factors[:, k], f"{name} factor")
    # each image's op order is a uniformly random permutation: chi-square over the 24 orders
    assert (p.order.sort(dim=1).values == torch.arange(4)).all()
    code = (p.order * torch.tensor([64, 16, 4, 1])).sum(1)
    counts = torch.bincount(code, minlength=256)[code.unique()].double()
    assert len(counts) == 24
    chi2 = ((counts - n / 24) ** 2 / (n / 24)).sum().item()
    assert chi2 < 49.7, f"op order is not uniform over the 24 permutations: chi2 = {chi2:.1f} (23 dof)"
    assert_rate(p.flip, 0.5, "flip")
    assert_rate(p.jitter, 0.8, "jitter applied")
    assert_rate(p.gray, 0.2, "grayscale")


# ----------------------------------------------------------------------------- exact application

def torchvision_view(img: torch.Tensor, p, i: int) -> torch.Tensor:
    """Image i's view made by torchvision's functional ops with the batched path's parameters."""
    y = TF.resized_crop(img, int(p.top[i]), int(p.left[i]), int(p.height[i]), int(p.width[i]),
                        list(img.shape[-2:]), antialias=True)
    if p.flip[i]:
        y = TF.horizontal_flip(y)
    if p.jitter[i]:
        ops = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]
        for op in p.order[i].tolist():
            y = ops[op](y, float(p.factors[i, op]))
    if p.gray[i]:
        y = TF.rgb_to_grayscale(y, num_output_channels=3)
    return TF.normalize(y, MEAN, STD)


@pytest.mark.parametrize("h,w", [(32, 32), (20, 28)])
def test_batched_equals_torchvision_functional(h, w):
    torch.manual_seed(0)
    x = torch.rand(96, 3, h, w)
    x[:8] = x[:8, :1]  # some grey images: hue is undefined there
    p = sample_params(96, h, w, torch.Generator().manual_seed(3))
    out = apply_params(x, p)
    ref = torch.stack([torchvision_view(x[i], p, i) for i in range(96)])
    # Two float32 implementations of crop-resize and the HSV round trip: they differ by ~1e-5 (2.3e-5 at most
    # measured, under every ATEN_CPU_CAPABILITY and MKL code path). 1e-4 in normalised units (2.5e-5 in
    # [0, 1]) is 4x that; a wrong parameter or op order moves pixels by 1e-2 or more.
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=0)


def test_augment_batch_uses_sample_params_draws():
    x = torch.randint(0, 256, (16, 3, 24, 24), dtype=torch.uint8)
    out = augment_batch(x, torch.Generator().manual_seed(4))
    p = sample_params(16, 24, 24, torch.Generator().manual_seed(4))
    torch.testing.assert_close(out, apply_params(x, p), atol=0, rtol=0)


# ----------------------------------------------------------------------------- end to end

def constant(rgb, n: int, size: int = 8) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1).expand(n, 3, size, size).contiguous()


def test_brightness_and_jitter_rate_recovered_on_grey_images():
    # On a grey image contrast, saturation, hue and grayscale change (almost) nothing: out = 0.5 * brightness.
    # Almost: torchvision's luma weights sum to 0.9999, so grey levels move by 1e-4 relative.
    n = 20000
    out = denormalize(augment_batch(constant([0.5] * 3, n), torch.Generator().manual_seed(5)))
    factor = out.mean(dim=(1, 2, 3)) / 0.5
    changed = (factor - 1).abs() > 1e-3
    assert_rate(changed, 0.8, "jitter applied")
    torch.manual_seed(0)
    ref = torch.empty(4000).uniform_(*T.ColorJitter(brightness=0.4).brightness)
    assert_same_distribution(factor[changed], ref, "recovered brightness")


def test_saturation_recovered_on_constant_colour_images():
    # Only the saturation op left on (module-level helpers): chroma scales by exactly the factor
    n, rgb = 20000, (0.6, 0.45, 0.3)
    p = sample_params(n, 8, 8, torch.Generator().manual_seed(6))
    p.factors[:, [0, 1]], p.factors[:, 3] = 1.0, 0.0
    p = dataclasses.replace(p, gray=torch.zeros_like(p.gray))
    out = denormalize(apply_params(constant(rgb, n), p)).mean(dim=(2, 3))
    factor = (out.amax(1) - out.amin(1)) / (max(rgb) - min(rgb))
    changed = (factor - 1).abs() > 1e-4
    assert_rate(changed, 0.8, "jitter applied")
    torch.manual_seed(0)
    ref = torch.empty(4000).uniform_(*T.ColorJitter(saturation=0.2).saturation)
    assert_same_distribution(factor[changed], ref, "recovered saturation")


def test_flip_and_grayscale_rates_end_to_end():
    n = 8000
    ramp = torch.linspace(0.1, 0.6, 16).expand(n, 3, 16, 16).contiguous()  # grey, brighter to the right
    out = augment_batch(ramp, torch.Generator().manual_seed(7))
    # brightness and contrast (factors > 0) keep the ramp's direction; colour ops are no-ops on grey
    assert_rate(out[..., -1].mean((1, 2)) < out[..., 0].mean((1, 2)), 0.5, "flip")
    out = denormalize(augment_batch(constant((0.6, 0.45, 0.3), n), torch.Generator().manual_seed(8)))
    assert_rate((out.amax(1) - out.amin(1)).amax((1, 2)) < 1e-5, 0.2, "grayscale")


def hsv_stats(views: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) normalised views of a constant image -> (N, 3) HSV of their mean colour (colorsys)."""
    rgb = denormalize(views).mean(dim=(2, 3)).clamp(0, 1).tolist()
    # rounded, so that the untouched images (an atom of 16%) land on one value in both paths despite
    # float round-off; KS is not robust to an atom split by 1e-7
    return torch.tensor([colorsys.rgb_to_hsv(*c) for c in rgb]).mul(1e4).round().div(1e4)


def test_batched_distribution_matches_per_sample_path():
    # The same constant-colour image through both paths: crop and flip do nothing, so the colours carry
    # all four jitter ops, their order, the apply probability and grayscale.
    n, rgb = 3000, (150, 100, 60)
    img = torch.tensor(rgb, dtype=torch.uint8).view(3, 1, 1).expand(3, 16, 16).contiguous()
    torch.manual_seed(0)
    transform = view_transform(16)
    per_sample = hsv_stats(torch.stack([transform(img) for _ in range(n)]))
    batched = hsv_stats(augment_batch(img.expand(n, 3, 16, 16), torch.Generator().manual_seed(9)))
    orig = torch.tensor(colorsys.rgb_to_hsv(*(c / 255 for c in rgb)))
    for name, s in [("per-sample", per_sample), ("batched", batched)]:
        assert_rate(s[:, 1] < 1e-5, 0.2, f"{name} grayscale")
        assert_rate((s - orig).abs().amax(1) < 1e-4, 0.2 * 0.8, f"{name} untouched")
    for k, name in enumerate(["hue", "saturation", "value"]):
        assert_same_distribution(batched[:, k], per_sample[:, k], f"HSV {name}, batched vs per-sample")


# ----------------------------------------------------------------------------- API behaviour

def test_images_of_one_batch_get_their_own_parameters():
    x = torch.rand(1, 3, 32, 32).expand(64, 3, 32, 32)
    out = augment_batch(x, torch.Generator().manual_seed(10)).flatten(1)
    assert torch.cdist(out, out).add(torch.eye(64) * 1e9).min() > 1e-3  # no two views alike
    v1, v2 = two_views(x[:8], torch.Generator().manual_seed(10))
    assert not torch.allclose(v1, v2)


def test_seeds_repeat_and_differ():
    x = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    a = two_views(x, torch.Generator().manual_seed(11))
    b = two_views(x, torch.Generator().manual_seed(11))
    c = two_views(x, torch.Generator().manual_seed(12))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.allclose(a[0], c[0])


def test_uint8_and_float_inputs_agree_and_output_is_normalised_float():
    x = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    a = augment_batch(x, torch.Generator().manual_seed(13))
    b = augment_batch(x.float() / 255, torch.Generator().manual_seed(13))
    assert a.shape == (8, 3, 32, 32) and a.dtype == torch.float32 and a.device == x.device
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)  # same ops after the conversion (0 measured); ~4 ulps
    assert -2.1 < a.min() and a.max() < 2.2  # within (0 - MEAN) / STD .. (1 - MEAN) / STD


def test_normalisation_round_trip_and_prepare():
    x = torch.rand(4, 3, 5, 6)
    torch.testing.assert_close(denormalize(normalize(x)), x)
    torch.testing.assert_close(normalize(x)[:, 0], (x[:, 0] - MEAN[0]) / STD[0])
    torch.testing.assert_close(normalize(x[0]), normalize(x)[0])
    u8 = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    torch.testing.assert_close(prepare(u8), normalize(u8.float() / 255))
    assert to_float(x) is x


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        augment_batch(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        augment_batch(torch.rand(2, 1, 32, 32))
    with pytest.raises(TypeError, match="uint8 or floating"):
        augment_batch(torch.zeros(2, 3, 8, 8, dtype=torch.int32))
    with pytest.raises(ValueError):
        normalize(torch.rand(2, 4, 8, 8))
    with pytest.raises(TypeError, match="to_float"):
        normalize(torch.zeros(3, 8, 8, dtype=torch.uint8))


def test_per_sample_path_and_two_view_dataset():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 24, 24), dtype=torch.uint8)
    view = view_transform(24)(images[0])
    assert view.shape == (3, 24, 24) and view.dtype == torch.float32
    assert -2.1 < view.min() and view.max() < 2.2
    grey = torch.full((3, 24, 24), 128, dtype=torch.uint8)  # no op moves a mid grey far: normalised ~0
    torch.testing.assert_close(denormalize(view_transform(24)(grey)).mean(), torch.tensor(128 / 255), atol=0.25, rtol=0)
    ds = TwoViewDataset(TensorDataset(images, torch.arange(6)))
    (v1, v2), label = ds[3]
    assert v1.shape == v2.shape == (3, 24, 24) and int(label) == 3 and not torch.equal(v1, v2)
    (b1, b2), labels = next(iter(DataLoader(ds, batch_size=4)))
    assert b1.shape == b2.shape == (4, 3, 24, 24) and labels.tolist() == [0, 1, 2, 3]
    pil = [(Image.fromarray(images[i].permute(1, 2, 0).numpy()), i) for i in range(2)]
    (p1, _), _ = TwoViewDataset(pil)[1]
    assert p1.shape == (3, 24, 24)


@pytest.mark.skipif(not CUDA, reason="needs a GPU")
def test_cuda_batch_stays_on_device_without_host_syncs():
    x = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8, device="cuda")
    gen = torch.Generator(device="cuda").manual_seed(0)
    two_views(x, gen)  # warm-up outside the check (first calls may initialise things)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        v1, v2 = two_views(x, gen)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert v1.device == x.device and v1.shape == (64, 3, 32, 32)
    p = sample_params(64, 32, 32, torch.Generator(device="cuda").manual_seed(1), device="cuda")
    cpu = apply_params(x.cpu(), dataclasses.replace(p, **{f.name: getattr(p, f.name).cpu()
                                                           for f in dataclasses.fields(p)}))
    torch.testing.assert_close(apply_params(x, p).cpu(), cpu, atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="generator"):
        augment_batch(x, torch.Generator())
