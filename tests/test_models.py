"""Backbone, projector and SSLNet (paper section IV-A)."""
import pytest
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

from trimix import SSLNet, projector, resnet18_backbone


def test_full_width_is_torchvisions_resnet18_with_cifar_stem():
    net, dim = resnet18_backbone(image_size=32, width=64)
    assert isinstance(net, ResNet) and dim == 512
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1)
    assert isinstance(net.maxpool, nn.Identity) and isinstance(net.fc, nn.Identity)
    # the standard ResNet-18 has 11.2M parameters without fc; the 3x3 stem saves 7*7*3*64 - 3*3*3*64
    n = sum(p.numel() for p in net.parameters())
    assert n == 11_176_512 - (7 * 7 - 3 * 3) * 3 * 64


def test_large_images_keep_the_standard_stem():
    net, _ = resnet18_backbone(image_size=96, width=64)
    assert net.conv1.kernel_size == (7, 7) and net.conv1.stride == (2, 2)
    assert isinstance(net.maxpool, nn.MaxPool2d)


@pytest.mark.parametrize("size", [28, 32, 64, 96])
def test_narrow_backbone_shapes(size):
    net, dim = resnet18_backbone(image_size=size, width=8)
    assert dim == 64 and isinstance(net, ResNet)
    assert sum(isinstance(m, BasicBlock) for m in net.modules()) == 8  # ResNet-18: 4 stages x 2 blocks
    assert net(torch.randn(2, 3, size, size)).shape == (2, 64)


def test_projector_structure():
    p = projector(512, 1024, 1024, layers=3)
    kinds = [type(m) for m in p]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert p(torch.randn(4, 512)).shape == (4, 1024)


def test_sslnet_returns_features_and_embeddings():
    net = SSLNet(32, width=4, proj_hidden=32, proj_dim=16)
    y, z = net(torch.randn(3, 3, 32, 32))
    assert y.shape == (3, 32) and z.shape == (3, 16)
    assert net.features(torch.randn(3, 3, 32, 32)).shape == (3, 32)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="width"):
        resnet18_backbone(32, width=0)
    with pytest.raises(ValueError, match="layer"):
        projector(8, layers=0)
