"""The paper's two-view recipe (section IV-A), made two ways that give the same distribution of views.

    RandomResizedCrop(native size, scale=(0.08, 1)) -> RandomHorizontalFlip(0.5)
    -> RandomApply(ColorJitter(0.4, 0.4, 0.2, 0.1), p=0.8) -> RandomGrayscale(0.2) -> Normalize(MEAN, STD)

* Per sample (`view_transform`, `TwoViewDataset`): torchvision's transforms, one image at a time in
  DataLoader workers. The reference, seeded by ``torch.manual_seed`` and DataLoader worker seeding.
* Batched (`augment_batch`, `two_views`): one call draws independent parameters for every image of a
  (B, 3, H, W) batch and applies them with a few tensor ops on the batch's device, without host syncs,
  so a GPU can keep the dataset on the device as uint8 (docs/design.md, "Training, devices").

Shapes: B = batch, H x W = image size. Images are uint8 in [0, 255] or float in [0, 1] until normalised.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.transforms import v2
from torchvision.transforms.v2.functional import pil_to_tensor

# Per-channel statistics of CIFAR-10's training set; used for every dataset so checkpoints are comparable.
MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
STD: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)

SCALE = (0.08, 1.0)  # crop area as a fraction of the image
RATIO = (3 / 4, 4 / 3)  # crop aspect ratio w / h, sampled log-uniformly
FLIP_P, JITTER_P, GRAY_P = 0.5, 0.8, 0.2
JITTER = (0.4, 0.4, 0.2, 0.1)  # ColorJitter(brightness, contrast, saturation, hue)
# The factor ranges ColorJitter derives from JITTER: 1 -/+ s for the first three, -/+ h for the hue,
# i.e. brightness and contrast U(0.6, 1.4), saturation U(0.8, 1.2), hue shift U(-0.1, 0.1).
FACTOR_RANGES = [(1 - s, 1 + s) for s in JITTER[:3]] + [(-JITTER[3], JITTER[3])]
LUMA = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale weights
BRIGHTNESS, CONTRAST, SATURATION, HUE = range(4)  # the op ids used in ViewParams.order


def _const(values: Sequence[float], like: Tensor, shape: tuple[int, ...]) -> Tensor:
    """``values`` as a tensor of ``shape`` on ``like``'s device and dtype, made once per device and dtype."""
    return _device_const(tuple(values), like.device, like.dtype, shape)


@functools.lru_cache(maxsize=64)
def _device_const(values: tuple[float, ...], device: torch.device, dtype: torch.dtype,
                  shape: tuple[int, ...]) -> Tensor:
    # Cached: a host-to-device copy in every call would make the host wait for the GPU (a sync per view).
    # Made outside inference mode, so that a first call from evaluation code cannot poison the cache.
    with torch.inference_mode(False):
        return torch.tensor(values, dtype=dtype).view(shape).to(device)


def _check_images(x: Tensor, batched: bool) -> None:
    dims = (4,) if batched else (3, 4)
    if not isinstance(x, Tensor) or x.dim() not in dims or x.shape[-3] != 3:
        want = "(B, 3, H, W)" if batched else "(B, 3, H, W) or (3, H, W)"
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"expected RGB images shaped {want}, got {got}")


def to_float(x: Tensor) -> Tensor:
    """uint8 in [0, 255] -> float32 in [0, 1]; floating point input passes through unchanged."""
    if x.is_floating_point():
        return x
    if x.dtype != torch.uint8:
        raise TypeError(f"images must be uint8 or floating point, got {x.dtype}")
    return x.to(torch.float32).div_(255.0)


def normalize(x: Tensor) -> Tensor:
    """(B, 3, H, W) or (3, H, W) float in [0, 1] -> (x - MEAN) / STD per channel."""
    _check_images(x, batched=False)
    if not x.is_floating_point():
        raise TypeError(f"normalize expects float images in [0, 1] (use to_float or prepare), got {x.dtype}")
    return (x - _const(MEAN, x, (3, 1, 1))) / _const(STD, x, (3, 1, 1))


def denormalize(x: Tensor) -> Tensor:
    """Inverse of `normalize`, for showing images: (B, 3, H, W) or (3, H, W) -> float, ~[0, 1]."""
    _check_images(x, batched=False)
    return x * _const(STD, x, (3, 1, 1)) + _const(MEAN, x, (3, 1, 1))


def prepare(x: Tensor) -> Tensor:
    """Evaluation input: uint8 or float images, (B, 3, H, W) or (3, H, W) -> normalised float, no augmentation."""
    return normalize(to_float(x))


# ----------------------------------------------------------------------------- per-sample path

def view_transform(image_size: int | tuple[int, int]) -> v2.Compose:
    """The recipe as torchvision transforms: uint8 (3, H, W) tensor -> normalised float (3, S, S).

    The colour ops run on floats (as in the batched path), not on uint8 with its rounding at every step.
    """
    return v2.Compose([
        v2.RandomResizedCrop(image_size, scale=SCALE, ratio=RATIO, antialias=True),
        v2.RandomHorizontalFlip(FLIP_P),
        v2.ToDtype(torch.float32, scale=True),
        v2.RandomApply([v2.ColorJitter(*JITTER)], p=JITTER_P),
        v2.RandomGrayscale(GRAY_P),
        v2.Normalize(MEAN, STD),
    ])


class TwoViewDataset(Dataset):
    """Wraps a dataset of (uint8 (3, H, W) tensor or PIL image, label) into ((view1, view2), label).

    Without a ``transform`` each image gets `view_transform` at its own native size.
    """

    def __init__(self, dataset: Dataset, transform: Callable[[Tensor], Tensor] | None = None):
        self.dataset = dataset
        self.transform = transform
        self._native: dict[tuple[int, int], v2.Compose] = {}

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[tuple[Tensor, Tensor], int]:
        image, label = self.dataset[index]
        if not isinstance(image, Tensor):
            image = pil_to_tensor(image.convert("RGB"))
        _check_images(image, batched=False)
        transform = self.transform
        if transform is None:
            size = (image.shape[-2], image.shape[-1])
            transform = self._native.setdefault(size, view_transform(size))
        return (transform(image), transform(image)), label


# ----------------------------------------------------------------------------- batched path

@dataclass
class ViewParams:
    """Random parameters of one batched view: every field has B rows, on the batch's device."""
    top: Tensor  # (B,) long: crop box in pixels, as RandomResizedCrop's (top, left, height, width)
    left: Tensor
    height: Tensor
    width: Tensor
    flip: Tensor  # (B,) bool: horizontal flip
    jitter: Tensor  # (B,) bool: colour jitter applied (RandomApply p=0.8)
    order: Tensor  # (B, 4) long: each row a permutation of BRIGHTNESS, CONTRAST, SATURATION, HUE
    factors: Tensor  # (B, 4) float: brightness, contrast, saturation factors and hue shift
    gray: Tensor  # (B,) bool: converted to grayscale


def sample_crop_params(n: int, height: int, width: int, generator: torch.Generator | None = None,
                       device: torch.device | str | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """RandomResizedCrop.get_params for n images at once -> (top, left, h, w), each (n,) long.

    torchvision tries up to 10 (area, ratio) draws and keeps the first box that fits, else falls back to
    a centred crop. Here all 10 draws are made at once and the first fitting one is picked per image.
    """
    u = torch.rand(n, 10, 2, generator=generator, device=device)
    area = height * width * (SCALE[0] + (SCALE[1] - SCALE[0]) * u[..., 0])
    log_lo, log_hi = math.log(RATIO[0]), math.log(RATIO[1])
    ratio = torch.exp(log_lo + (log_hi - log_lo) * u[..., 1])
    w = torch.round(torch.sqrt(area * ratio))  # (n, 10); torch.round, like Python's, rounds half to even
    h = torch.round(torch.sqrt(area / ratio))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)  # argmax returns the first maximum
    found = fits.any(dim=1)
    # the fallback depends only on the image shape, so it is plain Python
    if width / height < RATIO[0]:
        fw, fh = width, int(round(width / RATIO[0]))
    elif width / height > RATIO[1]:
        fw, fh = int(round(height * RATIO[1])), height
    else:
        fw, fh = width, height
    w = torch.where(found, w.gather(1, first).squeeze(1), float(fw))
    h = torch.where(found, h.gather(1, first).squeeze(1), float(fh))
    pos = torch.rand(n, 2, generator=generator, device=device)  # uniform integer top/left, as torch.randint
    top = torch.where(found, torch.floor(pos[:, 0] * (height - h + 1)), float((height - fh) // 2))
    left = torch.where(found, torch.floor(pos[:, 1] * (width - w + 1)), float((width - fw) // 2))
    return top.long(), left.long(), h.long(), w.long()


def sample_params(n: int, height: int, width: int, generator: torch.Generator | None = None,
                  device: torch.device | str | None = None) -> ViewParams:
    """Independent random parameters of the whole recipe for n images of size height x width."""
    top, left, h, w = sample_crop_params(n, height, width, generator, device)
    u = torch.rand(n, 11, generator=generator, device=device)
    lo = _const([r[0] for r in FACTOR_RANGES], u, (1, 4))
    hi = _const([r[1] for r in FACTOR_RANGES], u, (1, 4))
    return ViewParams(
        top=top, left=left, height=h, width=w,
        flip=u[:, 0] < FLIP_P, jitter=u[:, 1] < JITTER_P, gray=u[:, 2] < GRAY_P,
        factors=lo + (hi - lo) * u[:, 3:7],
        order=u[:, 7:11].argsort(dim=1),  # sorting 4 uniform keys gives a uniform permutation, like randperm(4)
    )


def _crop_flip(x: Tensor, p: ViewParams) -> Tensor:
    """Crop, resize back to H x W and flip in one bilinear resampling: (B, 3, H, W) float -> same."""
    b, _, H, W = x.shape
    top, left, h, w = (t.to(x.dtype).unsqueeze(1) for t in (p.top, p.left, p.height, p.width))  # (B, 1)

    def source(start: Tensor, length: Tensor, size: int) -> Tensor:
        # torchvision resizes the cut-out box alone (align_corners=False): output pixel i samples box
        # position (i + 0.5) * length / size - 0.5, clamped into the box, so its edge pixels are repeated
        # rather than blended with the neighbours outside. Returned as grid_sample's [-1, 1] coordinates.
        i = torch.arange(size, device=x.device, dtype=x.dtype) + 0.5  # (size,)
        pos = start + torch.minimum((i * length / size - 0.5).clamp_(min=0), length - 1)  # (B, size)
        return (2 * pos + 1) / size - 1

    # x depends on the column only and y on the row only, so two (B, W) and (B, H) rows build the grid
    gx = source(left, w, W)
    gx = torch.where(p.flip.unsqueeze(1), gx.flip(1), gx)  # a flip mirrors the sample points
    gy = source(top, h, H)
    grid = torch.stack([gx.unsqueeze(1).expand(b, H, W), gy.unsqueeze(2).expand(b, H, W)], dim=3)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _gray(x: Tensor) -> Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luma, torchvision's weights."""
    r, g, b = x.unbind(dim=1)
    return r.mul(LUMA[0]).add_(g, alpha=LUMA[1]).add_(b, alpha=LUMA[2]).unsqueeze(1)


def _blend_step_(x: Tensor, op: Tensor, factor: Tensor) -> Tensor:
    """Brightness, contrast or saturation per image, in place: x (B, 3, H, W), op (B,) in 0..2, factor (B,).

    As torchvision, each is clamp(f * x + (1 - f) * ref) with ref = 0, the mean grey level, or the grey
    image; written as x + (1 - f) (ref - x), which leaves x exactly unchanged when f = 1.
    """
    gray = _gray(x)
    mean = gray.mean(dim=(1, 2, 3), keepdim=True)
    op = op.view(-1, 1, 1, 1)
    # 0/1 weights select exactly and, unlike torch.where over pixels, cost one fast op on a CPU
    ref = torch.addcmul(mean * (op == CONTRAST), gray, (op == SATURATION).to(x.dtype))
    return x.lerp_(ref, 1.0 - factor.view(-1, 1, 1, 1)).clamp_(0.0, 1.0)


def _adjust_hue(x: Tensor, shift: Tensor) -> Tensor:
    """Rotate the hue of each image by shift (B,) turns, as torchvision's RGB -> HSV -> RGB: (B, 3, H, W)."""
    r, g, b = x.unbind(dim=1)  # each (B, H, W)
    v = torch.maximum(torch.maximum(r, g), b)  # HSV value
    chroma = v - torch.minimum(torch.minimum(r, g), b)  # = value * saturation
    # Hue in sixths of a turn, PIL's cases with the first match winning: red is the max, else green, else
    # blue. The masks are disjoint, so multiplying by them and summing selects exactly.
    is_r = v == r
    is_g = (v == g) & ~is_r
    is_b = ~(is_r | is_g)
    h6 = (g - b) * is_r + (b - r + 2 * chroma) * is_g + (r - g + 4 * chroma) * is_b
    # grey pixels (chroma 0) get hue 0: any finite value would do, chroma erases it below
    h6 = h6 / (chroma + (chroma == 0)) + 6 * shift.view(-1, 1, 1)
    h6 = h6 - 6 * torch.floor(h6 / 6)  # into [0, 6) (faster than torch.remainder on a CPU)
    # HSV -> RGB: channel c is v - chroma * clamp(2 - d, 0, 1), d = circular distance of h6 from the hue
    # where c is weakest (3, 5, 1 for R, G, B); 2 - d = |a - 3| - 1 with a = |h6 - centre| in [0, 6).
    # The same piecewise-linear function as torchvision's six-case table, without branches.
    # (In place from here: every fresh (B, 3, H, W) buffer costs page faults on a CPU.)
    out = (h6.unsqueeze(1) - _const((3.0, 5.0, 1.0), x, (1, 3, 1, 1))).abs_()  # a, (B, 3, H, W)
    out.sub_(3.0).abs_().sub_(1.0).clamp_(0.0, 1.0)  # the weight
    return out.mul_(chroma.unsqueeze(1)).neg_().add_(v.unsqueeze(1))


def _color_jitter_(x: Tensor, p: ViewParams) -> Tensor:
    """ColorJitter with each image's own order of its four ops, for the images with p.jitter, in place
    where it can: (B, 3, H, W) in [0, 1] -> same.

    Hue is the costly op, so each image's order is shifted to put its hue at step 3 of 7: hue then runs
    once for the whole batch, and steps 0-2 and 4-6 hold the other ops before and after it (factor 1, a
    no-op, where an image has no op at a step).
    """
    hue_at = p.order.argsort(dim=1)[:, HUE]  # (B,) position of hue in each image's order
    for step in range(7):
        if step == 3:
            torch.where(p.jitter.view(-1, 1, 1, 1), _adjust_hue(x, p.factors[:, HUE]), x, out=x)
            continue
        pos = hue_at + (step - 3)  # (B,) which position of its own order each image runs now
        active = p.jitter & (pos >= 0) & (pos < 4)
        op = p.order.gather(1, pos.clamp(0, 3).unsqueeze(1)).squeeze(1)  # never HUE here
        factor = torch.where(active, p.factors.gather(1, op.unsqueeze(1)).squeeze(1), 1.0)
        x = _blend_step_(x, op, factor)
    return x


def apply_params(x: Tensor, p: ViewParams) -> Tensor:
    """Apply given parameters: (B, 3, H, W) uint8 or float -> normalised float (B, 3, H, W)."""
    _check_images(x, batched=True)
    x = _crop_flip(to_float(x), p)  # a new buffer, which the steps below change in place
    x = _color_jitter_(x, p)
    torch.where(p.gray.view(-1, 1, 1, 1), _gray(x), x, out=x)
    return x.sub_(_const(MEAN, x, (3, 1, 1))).div_(_const(STD, x, (3, 1, 1)))  # normalize, in place


def augment_batch(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One view of every image: (B, 3, H, W) uint8 or float in [0, 1], on any device -> normalised float
    (B, 3, H, W) on the same device. Every image gets its own crop, flip, jitter (order and factors) and
    grayscale draw. With a ``generator`` (on x's device) the result repeats exactly.
    """
    _check_images(x, batched=True)
    if x.shape[0] == 0:
        raise ValueError("augment_batch needs at least one image")
    if generator is not None and generator.device.type != x.device.type:
        raise ValueError(f"generator is on {generator.device} but the images are on {x.device}; "
                         f"make it with torch.Generator(device=x.device)")
    return apply_params(x, sample_params(x.shape[0], x.shape[2], x.shape[3], generator, x.device))


def two_views(x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """The two views of the paper: two independent `augment_batch` calls, each (B, 3, H, W)."""
    return augment_batch(x, generator), augment_batch(x, generator)
