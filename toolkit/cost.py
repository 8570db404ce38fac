"""Analytic cost of MobileNet V1: mult-adds and parameters per layer, per layer type and in total.

Counting follows the paper (Howard et al. 2017, eqs. 2-7): a K×K convolution over an output map of
D_F×D_F costs D_F²·K²·M·N mult-adds (depthwise: D_F²·K²·M); the classifier costs in·out. BatchNorm,
ReLU and pooling are not counted, as in the paper. Parameters come in three conventions people quote,
and all three are exact here (see ``shared/reference/paper_tables.md``, "Parameter counting conventions"):

* ``paper``: conv, depthwise, pointwise and classifier weights plus the classifier bias (4,210,088 at α 1).
* ``trainable``: ``paper`` plus BatchNorm γ and β, what ``sum(p.numel())`` gives for the torch model.
* ``keras``: ``trainable`` plus BatchNorm moving mean and variance, Keras' ``count_params()``.

This module is pure Python so the CLI can print Table 1 without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.variants import Variant

__all__ = [
    "BLOCK_STRIDES",
    "LayerCost",
    "ModelCost",
    "count",
    "layer_costs",
    "separable_layer_cost",
    "standard_conv_cost",
]

# Stride of the depthwise conv in each of the 13 separable blocks. Table 1 prints "s2" for the last
# block, but its output stays 7×7: the published weights (and every implementation) use stride 1.
BLOCK_STRIDES: tuple[int, ...] = (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)

LAYER_TYPES = ("Conv 1x1", "Conv DW 3x3", "Conv 3x3", "Fully Connected")


@dataclass(frozen=True)
class LayerCost:
    """One row of the paper's Table 1 with its cost. Shapes are (H, W, C), as the paper prints them."""

    name: str  # Keras layer name, which the weight importer also uses
    type: str  # one of LAYER_TYPES, or "Avg Pool"
    stride: int
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    kernel: tuple[int, ...]  # paper's "Filter Shape" (K, K, C_in, C_out), (K, K, C dw) or (C_in, C_out)
    macs: int
    weights: int
    biases: int = 0
    bn_channels: int = 0  # channels of the BatchNorm that follows (γ, β, mean, var each)


@dataclass(frozen=True)
class ModelCost:
    """All layers of one variant plus the totals people quote."""

    variant: Variant
    num_classes: int
    layers: tuple[LayerCost, ...]

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def flops(self) -> int:
        """2 × mult-adds: what ``torch.utils.flop_counter`` reports."""
        return 2 * self.macs

    @property
    def params_paper(self) -> int:
        return sum(layer.weights + layer.biases for layer in self.layers)

    @property
    def params_trainable(self) -> int:
        return self.params_paper + 2 * sum(layer.bn_channels for layer in self.layers)

    @property
    def params_keras(self) -> int:
        return self.params_paper + 4 * sum(layer.bn_channels for layer in self.layers)

    def by_type(self) -> dict[str, tuple[int, int]]:
        """Layer type → (mult-adds, weights), the paper's Table 2 (which counts weights without biases)."""
        out = {t: (0, 0) for t in LAYER_TYPES}
        for layer in self.layers:
            if layer.type in out:
                m, w = out[layer.type]
                out[layer.type] = (m + layer.macs, w + layer.weights)
        return out

    def by_type_share(self) -> dict[str, tuple[float, float]]:
        """Layer type → (mult-add share, parameter share), fractions of the totals as in Table 2."""
        rows = self.by_type()
        total_m = sum(m for m, _ in rows.values())
        total_w = sum(w for _, w in rows.values())
        return {t: (m / total_m, w / total_w) for t, (m, w) in rows.items()}


def _out(size: int, stride: int) -> int:
    # TF "same" and the toolkit's padding both give ceil(size / stride).
    return -(-size // stride)


BODIES = ("separable", "full", "shallow")
# Blocks 7-11: the five 14×14×512 separable layers the paper's "Shallow MobileNet" (Table 5) removes.
_SHALLOW_DROPPED = frozenset(range(7, 12))


def layer_costs(
    alpha: float = 1.0, resolution: int = 224, num_classes: int = 1000, body: str = "separable"
) -> tuple[LayerCost, ...]:
    """Table 1 for any α/ρ, one :class:`LayerCost` per conv, the pool and the classifier.

    ``body`` selects the paper's ablations: ``"full"`` replaces each separable block by one full 3×3
    convolution ("Conv MobileNet", Table 4) and ``"shallow"`` drops blocks 7-11 (Table 5).
    """
    v = Variant(alpha, resolution)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if body not in BODIES:
        raise ValueError(f"body must be one of {', '.join(BODIES)}, got {body!r}")
    ch = v.channels
    rows: list[LayerCost] = []
    size = v.resolution
    out = _out(size, 2)
    rows.append(
        LayerCost("conv1", "Conv 3x3", 2, (size, size, 3), (out, out, ch[0]), (3, 3, 3, ch[0]),
                  macs=out * out * 27 * ch[0], weights=27 * ch[0], bn_channels=ch[0])
    )  # fmt: skip
    size, c_in = out, ch[0]
    for i, stride in enumerate(BLOCK_STRIDES, start=1):
        out = _out(size, stride)
        if body == "shallow" and i in _SHALLOW_DROPPED:
            continue
        if body == "full":
            c_out = ch[i]
            rows.append(
                LayerCost(f"conv_{i}", "Conv 3x3", stride, (size, size, c_in), (out, out, c_out), (3, 3, c_in, c_out),
                          macs=out * out * 9 * c_in * c_out, weights=9 * c_in * c_out, bn_channels=c_out)
            )  # fmt: skip
            size, c_in = out, c_out
            continue
        rows.append(
            LayerCost(f"conv_dw_{i}", "Conv DW 3x3", stride, (size, size, c_in), (out, out, c_in), (3, 3, c_in),
                      macs=out * out * 9 * c_in, weights=9 * c_in, bn_channels=c_in)
        )  # fmt: skip
        c_out = ch[i]
        rows.append(
            LayerCost(f"conv_pw_{i}", "Conv 1x1", 1, (out, out, c_in), (out, out, c_out), (1, 1, c_in, c_out),
                      macs=out * out * c_in * c_out, weights=c_in * c_out, bn_channels=c_out)
        )  # fmt: skip
        size, c_in = out, c_out
    rows.append(LayerCost("avg_pool", "Avg Pool", 1, (size, size, c_in), (1, 1, c_in), (size, size), 0, 0))
    rows.append(
        LayerCost("conv_preds", "Fully Connected", 1, (1, 1, c_in), (1, 1, num_classes), (c_in, num_classes),
                  macs=c_in * num_classes, weights=c_in * num_classes, biases=num_classes)
    )  # fmt: skip
    return tuple(rows)


def count(alpha: float = 1.0, resolution: int = 224, num_classes: int = 1000, body: str = "separable") -> ModelCost:
    """Cost of a whole variant; ``count(0.5, 160).macs`` is the paper's "Million Mult-Adds" × 10⁶."""
    return ModelCost(Variant(alpha, resolution), num_classes, layer_costs(alpha, resolution, num_classes, body))


def standard_conv_cost(kernel: int, m: int, n: int, feature: int) -> tuple[int, int]:
    """(mult-adds, params) of a full K×K convolution: paper eq. 2, ``D_K²·M·N·D_F²``."""
    return kernel * kernel * m * n * feature * feature, kernel * kernel * m * n


def separable_layer_cost(
    kernel: int, m: int, n: int, feature: int, alpha: float = 1.0, rho: float = 1.0
) -> tuple[int, int]:
    """(mult-adds, params) of one depthwise separable layer under α and ρ: paper eq. 7.

    ``D_K²·αM·ρD_F² + αM·αN·ρD_F²`` with ρ applied to the feature map side, as Table 3 does
    (ρ = 0.714 turns 14×14 into 10×10).
    """
    am, an, df = int(m * alpha), int(n * alpha), round(feature * rho)
    macs = kernel * kernel * am * df * df + am * an * df * df
    return macs, kernel * kernel * am + am * an
