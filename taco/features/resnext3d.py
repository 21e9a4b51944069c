"""3D ResNeXt-101 (Hara et al., Kinetics-400; cardinality 32, shortcut type B) in plain torch.

Layout as the released weights (docs/data_formats.md): stem ``conv1`` 7x7x7 (temporal stride 1, spatial 2)
+ ``bn1`` + 3x3x3 max-pool (stride 2); four stages of bottlenecks whose grouped 3x3x3 conv is
``planes`` wide (128/256/512/1024 in ``cardinality`` groups) and whose output is 2x ``planes``;
block 0 of every stage has a type-B (projection) shortcut ``downsample``; ``fc`` (400, 2048).
The "I3D-X101" features are the 2048-d global average of the last stage for a 16-frame clip.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from taco.features.resnet2d import bottleneck_stage

RESNEXT101_BLOCKS = (3, 4, 23, 3)
RESNEXT101_PLANES = (128, 256, 512, 1024)


class ResNeXt3D(nn.Module):
    """A 3D ResNeXt; the defaults build ResNeXt-101 (32 groups). Smaller ``planes``/``stem_width``/
    ``cardinality`` give a tiny network with the same key names for tests."""

    expansion = 2

    def __init__(self, blocks_per_layer: Sequence[int] = RESNEXT101_BLOCKS,
                 planes: Sequence[int] = RESNEXT101_PLANES, stem_width: int = 64, cardinality: int = 32,
                 num_classes: int = 400) -> None:
        super().__init__()
        if len(blocks_per_layer) != 4 or len(planes) != 4:
            raise ValueError(f"blocks_per_layer and planes need 4 entries, got {list(blocks_per_layer)} "
                             f"and {list(planes)}")
        if any(width % cardinality for width in planes):
            raise ValueError(f"every entry of planes {list(planes)} must be divisible by cardinality {cardinality}")
        self.conv1 = nn.Conv3d(3, stem_width, 7, stride=(1, 2, 2), padding=3, bias=False)
        self.bn1 = nn.BatchNorm3d(stem_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(3, stride=2, padding=1)
        in_channels = stem_width
        for index, (blocks, width) in enumerate(zip(blocks_per_layer, planes)):
            stage = bottleneck_stage(in_channels, width, width * self.expansion, blocks, 1 if index == 0 else 2,
                                     groups=cardinality, dims=3)
            setattr(self, f"layer{index + 1}", stage)
            in_channels = width * self.expansion
        self.feature_dim = in_channels
        self.fc = nn.Linear(in_channels, num_classes)

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) normalised clips -> (B, feature_dim) global-average-pooled last stage."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(clips))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean(dim=(2, 3, 4))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """Kinetics-400 class logits."""
        return self.fc(self.features(clips))
