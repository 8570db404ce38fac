"""The α×ρ variant registry: validation, canonical names and the published ImageNet figures.

A variant is fully described by its width multiplier α and input resolution ρ. The 16 published
variants (α ∈ {1.0, 0.75, 0.5, 0.25} × ρ ∈ {224, 192, 160, 128}) carry the TF-slim ImageNet accuracy
(the only per-variant source, see ``shared/reference/paper_tables.md`` §2a); any other α in (0, 1] and
ρ that is a positive multiple of 32 is a valid custom variant without published accuracy.

This module imports nothing heavy so the CLI can list variants instantly.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from toolkit.errors import UsageError

__all__ = [
    "BASE_CHANNELS",
    "PUBLISHED_ALPHAS",
    "PUBLISHED_RESOLUTIONS",
    "InvalidVariantError",
    "PublishedAccuracy",
    "Variant",
    "channels",
    "get_variant",
    "list_variants",
    "parse_name",
    "published_variants",
    "validate_alpha",
    "validate_resolution",
]

PUBLISHED_ALPHAS: tuple[float, ...] = (1.0, 0.75, 0.5, 0.25)
PUBLISHED_RESOLUTIONS: tuple[int, ...] = (224, 192, 160, 128)

# Output channels of conv1 and the 13 pointwise layers at α = 1 (paper Table 1).
BASE_CHANNELS: tuple[int, ...] = (32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)

# Five stride-2 layers (conv1 + four depthwise) divide ρ by 32 before the global pool.
RESOLUTION_STEP = 32


class InvalidVariantError(UsageError):
    """α or ρ outside what MobileNet V1 can be built with; the message is one line for the CLI."""


def validate_alpha(alpha: float) -> float:
    """Return α as a float or raise: it must lie in (0, 1] and leave conv1 at least one channel."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise InvalidVariantError(f"alpha must be a number in (0, 1], got {alpha!r}") from None
    if not (0.0 < a <= 1.0):
        raise InvalidVariantError(f"alpha must be in (0, 1], got {a:g}")
    if int(BASE_CHANNELS[0] * a) < 1:
        raise InvalidVariantError(f"alpha {a:g} leaves conv1 with no channels; use alpha >= {1 / 32:g}")
    return a


def validate_resolution(resolution: int) -> int:
    """Return ρ as an int or raise: a positive multiple of 32 keeps every stride-2 input even."""
    try:
        r = int(resolution)
    except (TypeError, ValueError):
        raise InvalidVariantError(f"resolution must be a positive multiple of 32, got {resolution!r}") from None
    if r != resolution or r < RESOLUTION_STEP or r % RESOLUTION_STEP:
        raise InvalidVariantError(
            f"resolution must be a positive multiple of 32 (e.g. 128, 160, 224), got {resolution}"
        )
    return r


def channels(alpha: float) -> tuple[int, ...]:
    """Channel widths at α, rounded as the published Keras weights are: ``int(c * α)``."""
    a = validate_alpha(alpha)
    return tuple(int(c * a) for c in BASE_CHANNELS)


@dataclass(frozen=True)
class PublishedAccuracy:
    """ImageNet single-crop accuracy in percent (TF-slim 2018 float checkpoints, 1001 classes)."""

    top1: float
    top5: float
    source: str = "TF-slim mobilenet_v1.md (2018_08_02), float"


# (α, ρ) → (top-1, top-5), paper_tables.md §2a "Float" column.
_PUBLISHED: dict[tuple[float, int], tuple[float, float]] = {
    (1.0, 224): (70.9, 89.9), (1.0, 192): (70.0, 89.2), (1.0, 160): (68.0, 87.7), (1.0, 128): (65.2, 85.8),
    (0.75, 224): (68.4, 88.2), (0.75, 192): (67.2, 87.3), (0.75, 160): (65.3, 86.0), (0.75, 128): (62.1, 83.9),
    (0.5, 224): (63.3, 84.9), (0.5, 192): (61.7, 83.6), (0.5, 160): (59.1, 81.9), (0.5, 128): (56.3, 79.4),
    (0.25, 224): (49.8, 74.2), (0.25, 192): (47.7, 72.3), (0.25, 160): (45.5, 70.3), (0.25, 128): (41.5, 66.3),
}  # fmt: skip


@dataclass(frozen=True)
class Variant:
    """One MobileNet V1 variant; validated on construction so every instance is buildable."""

    alpha: float
    resolution: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "alpha", validate_alpha(self.alpha))
        object.__setattr__(self, "resolution", validate_resolution(self.resolution))

    @property
    def name(self) -> str:
        """Canonical name, e.g. ``mobilenet_v1-a0.50-r160``; artifacts and results key on it."""
        # Two decimals is the naming contract; an α with more digits keeps them so names stay unique.
        a = f"{self.alpha:.2f}" if round(self.alpha, 2) == self.alpha else f"{self.alpha:.6g}"
        return f"mobilenet_v1-a{a}-r{self.resolution}"

    @property
    def published(self) -> bool:
        return (self.alpha, self.resolution) in _PUBLISHED

    @property
    def accuracy(self) -> PublishedAccuracy | None:
        acc = _PUBLISHED.get((self.alpha, self.resolution))
        return PublishedAccuracy(*acc) if acc else None

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """NCHW shape of one image."""
        return (1, 3, self.resolution, self.resolution)

    @property
    def channels(self) -> tuple[int, ...]:
        return channels(self.alpha)

    def __str__(self) -> str:
        return self.name


_NAME_RE = re.compile(r"^mobilenet_v1-a(?P<alpha>\d+(?:\.\d+)?)-r(?P<res>\d+)$")


def parse_name(name: str) -> Variant:
    """Inverse of :attr:`Variant.name`."""
    m = _NAME_RE.match(name.strip())
    if not m:
        raise InvalidVariantError(f"not a variant name: {name!r} (expected e.g. mobilenet_v1-a0.50-r160)")
    return Variant(float(m["alpha"]), int(m["res"]))


def get_variant(alpha: float = 1.0, resolution: int = 224) -> Variant:
    return Variant(alpha, resolution)


def published_variants() -> list[Variant]:
    """The 16 published variants, widest and largest first (the paper's ordering)."""
    return [Variant(a, r) for a in PUBLISHED_ALPHAS for r in PUBLISHED_RESOLUTIONS]


def list_variants(pattern: str = "*") -> list[Variant]:
    """Published variants whose canonical name matches an fnmatch pattern (timm's ``list_models``)."""
    return [v for v in published_variants() if fnmatch.fnmatch(v.name, pattern)]
