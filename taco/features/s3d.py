"""S3D-G (Xie et al.) as released by MIL-NCE (Miech et al.) in ``s3d_howto100m.pth``, in plain torch.

The release's layout (docs/data_formats.md): a space-to-depth stem ``conv1`` (a (2, 4, 4) conv over 24 =
8 x 3 channels), ``conv_2b``, separable ``conv_2c``, a ``gating`` block, inception blocks
``mixed_{3b..5c}`` with branches ``conv_b0, conv_b1_a, conv_b1_b, conv_b2_a, conv_b2_b, conv_b3_b``
and self-gating ``gating_b{0..3}``, then ``fc`` (1024 -> 512). Separable 3x3x3 convs are a spatial
(1, 3, 3) ``conv1``/``bn1`` followed by a temporal (3, 1, 1) ``conv2``/``bn2``. Max-pools pad as
TensorFlow's SAME, the way the release does (a fixed ``kernel - stride`` split before/after, ceil
mode). The release's ``text_module.*`` keys (the word-embedding text branch) are not built here:
``IGNORED_WEIGHT_PREFIXES`` lists them for the weight loader. The "S3D-HM" features are the
1024-d global average of ``mixed_5c``.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

# Output channels of (branch 0, branch 1 reduce, branch 1, branch 2 reduce, branch 2, branch 3);
# a block's input is the previous block's output (192 from the stem for mixed_3b).
INCEPTION_CHANNELS = {
    "mixed_3b": (64, 96, 128, 16, 32, 32),
    "mixed_3c": (128, 128, 192, 32, 96, 64),
    "mixed_4b": (192, 96, 208, 16, 48, 64),
    "mixed_4c": (160, 112, 224, 24, 64, 64),
    "mixed_4d": (128, 128, 256, 24, 64, 64),
    "mixed_4e": (112, 144, 288, 32, 64, 64),
    "mixed_4f": (256, 160, 320, 32, 128, 128),
    "mixed_5b": (256, 160, 320, 32, 128, 128),
    "mixed_5c": (384, 192, 384, 48, 128, 128),
}
# Max-pools (kernel, stride) applied before the named block.
POOL_BEFORE = {
    "conv_2b": ((1, 3, 3), (1, 2, 2)),
    "mixed_3b": ((1, 3, 3), (1, 2, 2)),
    "mixed_4b": ((3, 3, 3), (2, 2, 2)),
    "mixed_5b": ((2, 2, 2), (2, 2, 2)),
}


class Unit3D(nn.Module):
    """Conv + BN + ReLU; ``separable`` splits a (t, k, k) kernel into (1, k, k) then (t, 1, 1)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: Sequence[int],
                 padding: Sequence[int] = (0, 0, 0), separable: bool = False) -> None:
        super().__init__()
        t, h, w = kernel
        self.separable = separable
        spatial_kernel, spatial_padding = ((1, h, w), (0, padding[1], padding[2])) if separable else (kernel, padding)
        self.conv1 = nn.Conv3d(in_channels, out_channels, tuple(spatial_kernel), padding=tuple(spatial_padding),
                               bias=False)
        self.bn1 = nn.BatchNorm3d(out_channels)
        if separable:
            self.conv2 = nn.Conv3d(out_channels, out_channels, (t, 1, 1), padding=(padding[0], 0, 0), bias=False)
            self.bn2 = nn.BatchNorm3d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        if self.separable:
            x = F.relu(self.bn2(self.conv2(x)))
        return x


class SelfGating(nn.Module):
    """S3D-G feature gating: channels scaled by sigmoid(fc(spatio-temporal mean))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.fc(x.mean(dim=(2, 3, 4))))
        return x * weights[:, :, None, None, None]


class InceptionBlock(nn.Module):
    """Four gated branches: 1x1; 1x1 -> separable 3x3x3; 1x1 -> separable 3x3x3; 3x3x3 max-pool -> 1x1."""

    def __init__(self, in_channels: int, b0: int, b1_reduce: int, b1: int, b2_reduce: int, b2: int,
                 b3: int) -> None:
        super().__init__()
        self.conv_b0 = Unit3D(in_channels, b0, (1, 1, 1))
        self.conv_b1_a = Unit3D(in_channels, b1_reduce, (1, 1, 1))
        self.conv_b1_b = Unit3D(b1_reduce, b1, (3, 3, 3), padding=(1, 1, 1), separable=True)
        self.conv_b2_a = Unit3D(in_channels, b2_reduce, (1, 1, 1))
        self.conv_b2_b = Unit3D(b2_reduce, b2, (3, 3, 3), padding=(1, 1, 1), separable=True)
        self.conv_b3_b = Unit3D(in_channels, b3, (1, 1, 1))
        self.gating_b0, self.gating_b1 = SelfGating(b0), SelfGating(b1)
        self.gating_b2, self.gating_b3 = SelfGating(b2), SelfGating(b3)
        self.out_channels = b0 + b1 + b2 + b3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b0 = self.gating_b0(self.conv_b0(x))
        b1 = self.gating_b1(self.conv_b1_b(self.conv_b1_a(x)))
        b2 = self.gating_b2(self.conv_b2_b(self.conv_b2_a(x)))
        b3 = self.gating_b3(self.conv_b3_b(F.max_pool3d(x, 3, stride=1, padding=1)))
        return torch.cat((b0, b1, b2, b3), dim=1)


def same_max_pool3d(x: torch.Tensor, kernel: Sequence[int], stride: Sequence[int]) -> torch.Tensor:
    """Max-pool with TensorFlow-SAME-style zero padding as the MIL-NCE release computes it:
    ``kernel - stride`` split floor-before / rest-after on every axis, then ceil mode."""
    padding: list[int] = []
    for k, s in zip(reversed(kernel), reversed(stride)):  # F.pad wants the last axis first
        total = max(k - s, 0)
        padding += [total // 2, total - total // 2]
    return F.max_pool3d(F.pad(x, padding), kernel, stride, ceil_mode=True)


def space_to_depth(video: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) -> (B, 8C, T/2, H/2, W/2): every 2x2x2 neighbourhood stacked into channels,
    ordered (dt, dh, dw, c) as the release's stem expects."""
    b, c, t, h, w = video.shape
    if t % 2 or h % 2 or w % 2:
        raise ValueError(f"S3D needs even T, H, W, got {t}x{h}x{w}")
    x = video.reshape(b, c, t // 2, 2, h // 2, 2, w // 2, 2)
    return x.permute(0, 3, 5, 7, 1, 2, 4, 6).reshape(b, 8 * c, t // 2, h // 2, w // 2)


class S3D(nn.Module):
    """S3D-G with the space-to-depth stem; ``width_divisor`` > 1 divides every channel count (same
    key names) so tests can run a tiny network."""

    IGNORED_WEIGHT_PREFIXES = ("text_module.",)

    def __init__(self, embedding_dim: int = 512, width_divisor: int = 1) -> None:
        super().__init__()

        def width(channels: int) -> int:
            return max(1, channels // width_divisor)

        self.conv1 = Unit3D(24, width(64), (2, 4, 4), padding=(1, 2, 2))
        self.conv_2b = Unit3D(width(64), width(64), (1, 1, 1))
        self.conv_2c = Unit3D(width(64), width(192), (3, 3, 3), padding=(1, 1, 1), separable=True)
        self.gating = SelfGating(width(192))
        in_channels = width(192)
        for name, branches in INCEPTION_CHANNELS.items():
            block = InceptionBlock(in_channels, *(width(c) for c in branches))
            setattr(self, name, block)
            in_channels = block.out_channels
        self.feature_dim = in_channels
        self.fc = nn.Linear(in_channels, embedding_dim)

    def features(self, video: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) video in [0, 1], T, H, W even -> (B, feature_dim) global mean of ``mixed_5c``."""
        x = self.conv1(space_to_depth(video))[:, :, 1:, 1:, 1:]  # the stem's padding, trimmed to SAME
        for name in ("conv_2b", "conv_2c", "gating", *INCEPTION_CHANNELS):
            if name in POOL_BEFORE:
                x = same_max_pool3d(x, *POOL_BEFORE[name])
            x = getattr(self, name)(x)
        return x.mean(dim=(2, 3, 4))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """The video embedding of the joint text-video space (``fc`` over ``mixed_5c``)."""
        return self.fc(self.features(video))
