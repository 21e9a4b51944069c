"""ResNet-152 (He et al., ImageNet) in plain torch, with torchvision's state_dict layout.

Bottleneck blocks (1x1, 3x3 with the stride, 1x1 expanding 4x), blocks per layer 3/8/36/3; block 0
of every layer has a ``downsample`` (1x1 conv + BN). The "R-152" features (docs/data_formats.md) are the
2048-d global average of the last stage, before ``fc``. The bottleneck and stage builders are
shared with the 3D ResNeXt (``dims=3``, grouped middle conv).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

RESNET152_BLOCKS = (3, 8, 36, 3)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided, optionally grouped), 1x1 expand, plus a projection shortcut
    (``downsample``) where the shape changes; 2D or 3D."""

    def __init__(self, in_channels: int, width: int, out_channels: int, stride: int, groups: int = 1,
                 dims: int = 2) -> None:
        super().__init__()
        conv, norm = (nn.Conv2d, nn.BatchNorm2d) if dims == 2 else (nn.Conv3d, nn.BatchNorm3d)
        self.conv1 = conv(in_channels, width, 1, bias=False)
        self.bn1 = norm(width)
        self.conv2 = conv(width, width, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = norm(width)
        self.conv3 = conv(width, out_channels, 1, bias=False)
        self.bn3 = norm(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(conv(in_channels, out_channels, 1, stride=stride, bias=False),
                                            norm(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


def bottleneck_stage(in_channels: int, width: int, out_channels: int, blocks: int, stride: int,
                     groups: int = 1, dims: int = 2) -> nn.Sequential:
    """``blocks`` bottlenecks; only the first one strides (and so carries the ``downsample``)."""
    return nn.Sequential(*[
        Bottleneck(in_channels if block == 0 else out_channels, width, out_channels,
                   stride if block == 0 else 1, groups, dims)
        for block in range(blocks)
    ])


class ResNet2D(nn.Module):
    """A bottleneck ResNet; the defaults build ResNet-152. ``base_width`` (64) scales every stage,
    so tests can build a tiny network with the same key names."""

    expansion = 4

    def __init__(self, blocks_per_layer: Sequence[int] = RESNET152_BLOCKS, base_width: int = 64,
                 num_classes: int = 1000) -> None:
        super().__init__()
        if len(blocks_per_layer) != 4:
            raise ValueError(f"blocks_per_layer must have 4 entries, got {list(blocks_per_layer)}")
        self.conv1 = nn.Conv2d(3, base_width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(base_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_channels = base_width
        for index, blocks in enumerate(blocks_per_layer):
            width = base_width * 2 ** index
            stage = bottleneck_stage(in_channels, width, width * self.expansion, blocks, 1 if index == 0 else 2)
            setattr(self, f"layer{index + 1}", stage)
            in_channels = width * self.expansion
        self.feature_dim = in_channels
        self.fc = nn.Linear(in_channels, num_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> (B, feature_dim) global-average-pooled last stage."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet class logits."""
        return self.fc(self.features(images))
