"""MobileNet V1 exactly as the paper's Table 1 and the published Keras ImageNet weights define it.

Module names mirror the Keras layer names (``conv1``, ``blocks[i].dw`` ↔ ``conv_dw_{i+1}``,
``blocks[i].pw`` ↔ ``conv_pw_{i+1}``, ``classifier`` ↔ ``conv_preds``) so the weight importer is a
table lookup, and every export sees the same plain graph.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from toolkit.cost import BLOCK_STRIDES
from toolkit.variants import Variant, channels, validate_alpha

__all__ = ["ACTIVATIONS", "PADDINGS", "ConvBNAct", "DepthwiseSeparable", "MobileNetV1", "init_weights"]

Activation = Literal["relu6", "relu"]
Padding = Literal["tf", "symmetric"]
ACTIVATIONS: tuple[str, ...] = ("relu6", "relu")
PADDINGS: tuple[str, ...] = ("tf", "symmetric")

# Keras' BatchNormalization default; imported weights are only exact with the same epsilon.
BN_EPS = 1e-3


class ConvBNAct(nn.Module):
    """[pad] → 3×3 or 1×1 conv (no bias) → BatchNorm → ReLU6/ReLU.

    With ``padding="tf"`` a stride-2 3×3 conv pads (0, 1) on each spatial axis, as TensorFlow's
    "same" (conv1) and Keras' explicit ``ZeroPadding2D(((0, 1), (0, 1)))`` (depthwise) do for the even
    inputs every multiple-of-32 ρ gives. The pad is its own module so a runtime-specific export can
    fold it into the convolution; it holds no weights, so state dicts are the same in both modes.
    """

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, groups: int, activation: str, padding: str
    ) -> None:
        super().__init__()
        asymmetric = kernel == 3 and stride == 2 and padding == "tf"
        self.pad = nn.ZeroPad2d((0, 1, 0, 1)) if asymmetric else None
        conv_pad = 0 if asymmetric else kernel // 2
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, conv_pad, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=BN_EPS)
        self.act = nn.ReLU6(inplace=True) if activation == "relu6" else nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad is not None:
            x = self.pad(x)
        return self.act(self.bn(self.conv(x)))


class DepthwiseSeparable(nn.Module):
    """3×3 depthwise conv (one filter per channel) then 1×1 pointwise conv, each with BN and activation."""

    def __init__(self, c_in: int, c_out: int, stride: int, activation: str, padding: str) -> None:
        super().__init__()
        self.dw = ConvBNAct(c_in, c_in, 3, stride, c_in, activation, padding)
        self.pw = ConvBNAct(c_in, c_out, 1, 1, 1, activation, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


class MobileNetV1(nn.Module):
    """The network of Table 1 for any width multiplier α.

    Resolution is not an architecture argument (the network is fully convolutional up to the global
    pool); it is kept as ``self.resolution`` so exports and the cost model know the intended input.

    Args:
        alpha: width multiplier in (0, 1]; channels are ``int(c * alpha)`` like the Keras weights.
        num_classes: classifier outputs (1000 for ImageNet).
        resolution: intended input side, a positive multiple of 32.
        activation: ``"relu6"`` (published weights) or ``"relu"`` (the paper's text).
        padding: ``"tf"`` (asymmetric on stride-2 convs, published weights) or ``"symmetric"``.
        dropout: probability before the classifier (Keras uses 1e-3).
    """

    def __init__(
        self,
        alpha: float = 1.0,
        num_classes: int = 1000,
        *,
        resolution: int = 224,
        activation: Activation = "relu6",
        padding: Padding = "tf",
        dropout: float = 1e-3,
    ) -> None:
        super().__init__()
        self.variant = Variant(validate_alpha(alpha), resolution)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, got {padding!r}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.alpha, self.resolution, self.num_classes = self.variant.alpha, self.variant.resolution, num_classes
        self.activation, self.padding = activation, padding
        ch = channels(alpha)
        self.conv1 = ConvBNAct(3, ch[0], 3, 2, 1, activation, padding)  # ρ×ρ×3 → ρ/2×ρ/2×32α
        self.blocks = nn.Sequential(
            *(
                DepthwiseSeparable(ch[i], ch[i + 1], stride, activation, padding)
                for i, stride in enumerate(BLOCK_STRIDES)
            )
        )
        self.pool = nn.AdaptiveAvgPool2d(1)  # ρ/32 × ρ/32 × 1024α → 1024α
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(ch[-1], num_classes)
        init_weights(self)

    @property
    def num_features(self) -> int:
        return self.classifier.in_features

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled 1024α-dim embedding, before dropout and the classifier."""
        return torch.flatten(self.pool(self.blocks(self.conv1(x))), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (no softmax), shape (N, num_classes)."""
        return self.classifier(self.dropout(self.forward_features(x)))

    def reset_classifier(self, num_classes: int, generator: torch.Generator | None = None) -> None:
        """Replace the head for fine-tuning on new classes."""
        self.classifier = nn.Linear(self.num_features, num_classes)
        self.num_classes = num_classes
        _init_linear(self.classifier, generator)

    def extra_repr(self) -> str:
        return f"variant={self.variant.name}, activation={self.activation}, padding={self.padding}"


def _init_linear(layer: nn.Linear, generator: torch.Generator | None) -> None:
    # fan_in scaling gives logits of unit scale, so a random model's softmax is not flat.
    nn.init.normal_(layer.weight, 0.0, layer.in_features**-0.5, generator=generator)
    nn.init.zeros_(layer.bias)


@torch.no_grad()
def init_weights(model: nn.Module, seed: int | None = None) -> None:
    """He (fan_in) init for every conv, depthwise included, so activations survive 27 conv layers.

    PyTorch's default init (and He with fan_out, which undercounts a depthwise filter's fan-in by the
    channel count) shrinks the signal layer after layer until a random model's logits are ~1e-11.
    With fan_in each conv keeps the activation variance, and latency or quantization measurements on a
    random model see realistic activation ranges. BatchNorm starts as the identity.
    """
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu", generator=gen)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
            m.reset_running_stats()
        elif isinstance(m, nn.Linear):
            _init_linear(m, gen)
