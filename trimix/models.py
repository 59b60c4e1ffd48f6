"""Encoder, projector and the network TriMix trains (paper section IV-A).

The backbone is torchvision's ResNet-18. Small images (<= 64 px) get the usual CIFAR stem: a 3x3
convolution with stride 1 and no max-pool, so a 32x32 image is not shrunk to 8x8 before the first block.
``width`` scales every stage (64 is the real ResNet-18; quick mode and tests use a narrow one).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.models import resnet18
from torchvision.models.resnet import BasicBlock, ResNet

SMALL_IMAGE_MAX = 64  # images up to this size get the CIFAR stem


class _NarrowResNet18(ResNet):
    """torchvision's ResNet-18 with ``width`` channels in the first stage instead of 64.

    torchvision fixes the stage widths of BasicBlock ResNets at 64-128-256-512, so this repeats its
    constructor with a width and then uses its own ``_make_layer`` and ``BasicBlock`` for the stages.
    """

    def __init__(self, width: int):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = width, 1, 1, 64
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(BasicBlock, width, 2)
        self.layer2 = self._make_layer(BasicBlock, 2 * width, 2, stride=2)
        self.layer3 = self._make_layer(BasicBlock, 4 * width, 2, stride=2)
        self.layer4 = self._make_layer(BasicBlock, 8 * width, 2, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Identity()
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


def resnet18_backbone(image_size: int = 32, width: int = 64) -> tuple[nn.Module, int]:
    """A ResNet-18 without its classifier.

    Args:
        image_size: side of the input images; <= 64 gives the CIFAR stem.
        width: channels of the first stage (64 = the standard ResNet-18).
    Returns:
        (backbone, feature_dim): backbone maps (N, 3, H, W) to (N, 8 * width); feature_dim = 8 * width.
    """
    if width < 1:
        raise ValueError(f"width must be a positive number of channels, got {width}")
    net = resnet18(weights=None) if width == 64 else _NarrowResNet18(width)
    net.fc = nn.Identity()
    if image_size <= SMALL_IMAGE_MAX:
        net.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
        net.maxpool = nn.Identity()
    return net, 8 * width


def projector(in_dim: int, hidden_dim: int = 1024, out_dim: int = 1024, layers: int = 3) -> nn.Sequential:
    """The paper's projector: ``layers`` linear layers; BN + ReLU after each hidden one.

    Maps (N, in_dim) to (N, out_dim).
    """
    if layers < 1:
        raise ValueError(f"the projector needs at least 1 layer, got {layers}")
    blocks: list[nn.Module] = []
    dim = in_dim
    for _ in range(layers - 1):
        blocks += [nn.Linear(dim, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True)]
        dim = hidden_dim
    blocks.append(nn.Linear(dim, out_dim, bias=False))
    return nn.Sequential(*blocks)


class SSLNet(nn.Module):
    """``net = projector(backbone(x))``; forward returns both ``(y, z)``.

    y: (N, feature_dim) backbone features (what evaluation uses); z: (N, out_dim) embeddings (what the
    losses use).
    """

    def __init__(
        self,
        image_size: int = 32,
        width: int = 64,
        proj_hidden: int = 1024,
        proj_dim: int = 1024,
        proj_layers: int = 3,
    ):
        super().__init__()
        self.backbone, self.feature_dim = resnet18_backbone(image_size, width)
        self.projector = projector(self.feature_dim, proj_hidden, proj_dim, proj_layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = self.backbone(x)
        return y, self.projector(y)

    @torch.no_grad()
    def features(self, x: Tensor) -> Tensor:
        """Backbone features y for evaluation: (N, 3, H, W) -> (N, feature_dim)."""
        return self.backbone(x)
