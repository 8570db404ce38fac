"""MobileNet V1 deployment toolkit.

Heavy modules load on first use (``toolkit.mobilenet_v1`` imports torch), so ``import toolkit`` and
``toolkit --help`` stay instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.1"
__all__ = ["Variant", "__version__", "count", "mobilenet_v1"]

if TYPE_CHECKING:
    from toolkit.builder import mobilenet_v1
    from toolkit.cost import count
    from toolkit.variants import Variant

_LAZY = {"mobilenet_v1": "toolkit.builder", "count": "toolkit.cost", "Variant": "toolkit.variants"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
