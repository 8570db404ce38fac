"""The cost model against the paper's tables, torch's FLOP counter and the parameter conventions."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from toolkit.cost import count, separable_layer_cost, standard_conv_cost
from toolkit.models.mobilenet_v1 import MobileNetV1
from toolkit.variants import published_variants


def printed(value: float, printed_value: float, digits: int = 0) -> bool:
    """The paper rounds some figures and truncates others: accept either at the printed precision."""
    q = 10**digits
    return printed_value in (math.floor(value * q) / q, round(value * q) / q, math.ceil(value * q) / q)


# (alpha, res, M mult-adds, M params) printed in Tables 4-7 and 9 of the paper.
PAPER_ROWS = [
    (1.0, 224, 569, 4.2), (0.75, 224, 325, 2.6), (0.5, 224, 149, 1.3), (0.25, 224, 41, 0.5),
    (1.0, 192, 418, 4.2), (1.0, 160, 290, 4.2), (1.0, 128, 186, 4.2), (0.5, 160, 76, 1.32),
]  # fmt: skip


@pytest.mark.parametrize(("alpha", "res", "macs", "params"), PAPER_ROWS)
def test_paper_tables_4_to_9(alpha, res, macs, params):
    c = count(alpha, res)
    assert printed(c.macs / 1e6, macs)
    digits = 2 if params == 1.32 else 1
    assert printed(c.params_paper / 1e6, params, digits)


def test_table4_and_5_ablations():
    full = count(1.0, 224, body="full")
    # Table 4 prints 4866 M mult-adds for Conv MobileNet: the body without the 1.02 M of the classifier.
    assert printed((full.macs - full.layers[-1].macs) / 1e6, 4866)
    assert printed(full.params_paper / 1e6, 29.3, 1)
    shallow = count(1.0, 224, body="shallow")
    assert len(shallow.layers) == len(count().layers) - 10
    assert printed(shallow.macs / 1e6, 307) and printed(shallow.params_paper / 1e6, 2.9, 1)
    with pytest.raises(ValueError, match="body must be one of"):
        count(body="deep")


def test_table10_stanford_dogs_head():
    """120 dog classes: the parameter counts of Table 10 (its mult-adds repeat the 1000-class figures)."""
    for alpha, res, macs, params in [(1.0, 224, 569, 3.3), (0.75, 224, 325, 1.9), (1.0, 192, 418, 3.3),
                                     (0.75, 192, 239, 1.9)]:  # fmt: skip
        assert printed(count(alpha, res, 120).params_paper / 1e6, params, 1)
        assert printed(count(alpha, res).macs / 1e6, macs)


# Recomputed grid from paper_tables.md §1 (rounded to the nearest million).
GRID = {1.0: (569, 418, 291, 186), 0.75: (325, 239, 166, 107), 0.5: (149, 110, 77, 49), 0.25: (41, 30, 21, 14)}


def test_sixteen_variant_grid_and_slim_params():
    for v in published_variants():
        macs = count(v.alpha, v.resolution).macs / 1e6
        assert printed(macs, GRID[v.alpha][(224, 192, 160, 128).index(v.resolution)])
    # TF-slim's M params: 1001-class logits weights plus BatchNorm β, mean and variance (slim BN has no γ).
    slim = {1.0: 4.24, 0.75: 2.59, 0.5: 1.34, 0.25: 0.47}
    for alpha, p in slim.items():
        c = count(alpha, 224, num_classes=1001)
        bn = sum(layer.bn_channels for layer in c.layers)
        assert round((c.params_paper - 1001 + 3 * bn) / 1e6, 2) == p


def test_table2_per_layer_type():
    shares = count(1.0, 224).by_type_share()
    expected = {"Conv 1x1": (94.86, 74.59), "Conv DW 3x3": (3.06, 1.06), "Fully Connected": (0.18, 24.33)}
    for name, (m, p) in expected.items():
        assert round(100 * shares[name][0], 2) == m and round(100 * shares[name][1], 2) == p
    # The paper prints 1.19% for the first layer: a digit swap, since the four rows must sum to 100%.
    assert round(100 * shares["Conv 3x3"][0], 2) == 1.91
    assert round(100 * shares["Conv 3x3"][1], 2) == 0.02


def test_table3_one_internal_layer():
    m, p = standard_conv_cost(3, 512, 512, 14)
    assert (round(m / 1e6), round(p / 1e6, 2)) == (462, 2.36)
    rows = [(1.0, 1.0, 52.3, 0.27), (0.75, 1.0, 29.6, 0.15), (0.75, 0.714, 15.1, 0.15)]
    for alpha, rho, macs, params in rows:
        m, p = separable_layer_cost(3, 512, 512, 14, alpha, rho)
        assert (round(m / 1e6, 1), round(p / 1e6, 2)) == (macs, params)


@pytest.mark.parametrize(("alpha", "keras"), [(1.0, 4_253_864), (0.75, 2_601_976), (0.5, 1_342_536), (0.25, 475_544)])
def test_parameter_conventions(alpha, keras):
    c = count(alpha, 224)
    assert c.params_keras == keras
    model = MobileNetV1(alpha)
    assert c.params_trainable == sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for n, b in model.named_buffers() if "running" in n)
    assert c.params_keras == c.params_trainable + buffers


def _torch_flops(alpha: float, res: int, classes: int = 1000) -> int:
    model = MobileNetV1(alpha, classes, resolution=res).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, res, res))
    return counter.get_total_flops()


@pytest.mark.parametrize("variant", published_variants()[::5], ids=str)
def test_flop_counter_agrees(variant):
    assert _torch_flops(variant.alpha, variant.resolution) == count(variant.alpha, variant.resolution).flops


@settings(max_examples=15, deadline=None)
@given(
    alpha=st.floats(min_value=1 / 32, max_value=1.0, allow_nan=False),
    res=st.integers(min_value=1, max_value=8).map(lambda k: 32 * k),
    classes=st.integers(min_value=1, max_value=50),
)
def test_random_variants_agree_with_torch(alpha, res, classes):
    c = count(alpha, res, classes)
    assert _torch_flops(alpha, res, classes) == c.flops
    model = MobileNetV1(alpha, classes, resolution=res)
    assert sum(p.numel() for p in model.parameters()) == c.params_trainable
    assert c.layers[-2].in_shape[:2] == (res // 32, res // 32)
