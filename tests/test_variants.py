from __future__ import annotations

import pytest

from toolkit.errors import UsageError
from toolkit.variants import (
    InvalidVariantError,
    Variant,
    channels,
    list_variants,
    parse_name,
    published_variants,
)


def test_sixteen_published_variants_with_accuracy():
    vs = published_variants()
    assert len(vs) == 16 == len({v.name for v in vs})
    assert all(v.published and v.accuracy is not None for v in vs)
    assert Variant(1.0, 224).accuracy.top1 == 70.9
    assert Variant(0.25, 128).accuracy.top5 == 66.3


def test_canonical_names_round_trip():
    assert Variant(0.5, 160).name == "mobilenet_v1-a0.50-r160"
    assert Variant(1, 224).name == "mobilenet_v1-a1.00-r224"
    assert Variant(0.333, 96).name == "mobilenet_v1-a0.333-r96"  # extra digits kept: names stay unique
    for v in [*published_variants(), Variant(0.6, 64), Variant(0.333, 96)]:
        assert parse_name(v.name) == v
    assert next(v.name for v in list_variants("*-a0.25-*")) == "mobilenet_v1-a0.25-r224"


def test_custom_variant_has_no_published_accuracy():
    v = Variant(0.6, 288)
    assert not v.published and v.accuracy is None
    assert v.input_shape == (1, 3, 288, 288)


def test_channel_rounding_matches_keras_int_truncation():
    assert channels(1.0)[0] == 32 and channels(1.0)[-1] == 1024
    assert channels(0.75) == tuple(int(c * 0.75) for c in channels(1.0))
    assert channels(0.3)[0] == 9  # int(9.6): Keras truncates, it does not round


@pytest.mark.parametrize("alpha", [0, -0.5, 1.01, 2, float("nan"), "x", 0.01])
def test_bad_alpha(alpha):
    with pytest.raises(InvalidVariantError):
        Variant(alpha, 224)


@pytest.mark.parametrize("res", [0, -32, 16, 100, 225, 224.5, "big"])
def test_bad_resolution(res):
    with pytest.raises(UsageError, match="multiple of 32"):
        Variant(1.0, res)


def test_bad_name():
    with pytest.raises(UsageError):
        parse_name("resnet50")
