"""Pin the public API: what users import must not vanish or grow by accident."""

from __future__ import annotations

import toolkit
import toolkit.cost
import toolkit.data
import toolkit.variants
import toolkit.weights


def test_top_level_api():
    assert set(toolkit.__all__) == {"Variant", "__version__", "count", "mobilenet_v1"}
    for name in toolkit.__all__:
        assert getattr(toolkit, name) is not None


def test_module_all_names_exist():
    for module in (toolkit.variants, toolkit.cost, toolkit.data, toolkit.weights):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_builder_signature_is_keyword_only_for_weights():
    import inspect

    params = inspect.signature(toolkit.mobilenet_v1).parameters
    assert list(params)[:2] == ["alpha", "resolution"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for n, p in params.items() if n not in ("alpha", "resolution"))
