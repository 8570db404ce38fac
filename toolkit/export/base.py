"""The export-backend contract and the target registry.

Each target module (``executorch.py``, ``coreml.py``, ``tflite.py``, ``onnx.py``) defines one
:class:`Exporter`. The shared pipeline (naming, temp-then-rename, cache, manifest, verification)
lives apart from them, so a backend only turns a torch model into a file and opens that file.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch

from quantization.config import OPTION_KEYS as QUANT_OPTION_KEYS
from toolkit.errors import UsageError
from toolkit.runtimes.base import Runner
from toolkit.runtimes.io import LAYOUTS, validate_io

__all__ = [
    "PRECISIONS",
    "QUANT_OPTION_KEYS",
    "TARGETS",
    "ExportConfig",
    "Exporter",
    "UnsupportedIOError",
    "UnsupportedLayoutError",
    "check_io",
    "check_layout",
    "get_exporter",
    "validate_precision",
    "validate_target",
]

# target → module that defines `EXPORTER`; imported only when used (each pulls a heavy optional runtime).
TARGETS: dict[str, str] = {
    "executorch": "toolkit.export.executorch",
    "coreml": "toolkit.export.coreml",
    "tflite": "toolkit.export.tflite",
    "onnx": "toolkit.export.onnx",
}
PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class ExportConfig:
    """Options for one export. ``precision=None`` means the target's natural precision."""

    target: str
    precision: str | None = None
    output_dir: Path = Path("artifacts")
    layout: str | None = None  # input layout (nhwc: camera pixels, nchw, image); None = the target's own (check_layout)
    dynamic_batch: bool = False  # ONNX only
    minimum_deployment_target: str = "iOS16"  # Core ML only
    verify: bool = True
    force: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # backend-specific, validated by the backend
    threads: int = 0  # host-runtime threads for verification; 0 = the runtime's default
    io: str = "float"  # float32 at the edges, or "native": the compute dtype (see toolkit.runtimes.io)

    def __post_init__(self) -> None:
        validate_target(self.target)
        validate_io(self.io)
        if self.precision is not None:
            validate_precision(self.precision)
        if self.layout is not None and self.layout not in LAYOUTS:
            raise UsageError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        if self.threads < 0:
            raise UsageError(f"threads must be >= 0 (0 = runtime default), got {self.threads}")


@runtime_checkable
class Exporter(Protocol):
    """One export target.

    ``layouts`` are the input layouts the target can take, its default first; the pipeline hands
    ``export`` a config whose ``layout`` is one of them (:func:`check_layout`). ``export`` returns
    manifest extras. The pipeline lifts these reserved keys out of them:
    ``input_layout`` ("nchw" default, or "nhwc"), ``input_shape`` (list; default the NCHW example shape
    permuted to the layout), ``input_dtype`` ("float32"), ``delegate`` (e.g. "xnnpack"; default None),
    ``runtime_version``; everything else lands under ``manifest["backend"]`` (op counts, opset, ...).

    Optional hooks, looked up with ``getattr`` by the pipeline (see toolkit/export/pipeline.py):

    - ``tool_versions() -> dict[str, str]``: package versions that change the artifact (cache key +
      manifest), e.g. ``{"coremltools": "9.0"}``. torch and toolkit versions are always added.
    - ``cache_options(cfg) -> dict``: the config fields this target reads (default: all of them), so
      e.g. an ONNX export is not redone because ``--layout`` changed.
    - ``native_io: tuple[str, ...]``: the artifact-name components (precision or int8 scheme) that can keep
      their compute dtype at the edges with ``io="native"``; ``io_contract: str`` says, for the refusal
      message, what every other artifact of the target takes and gives. See :func:`check_io`.
    - ``verify_without_runtime(path, model, precision) -> dict``: where ``open`` raises
      RuntimeUnavailableError (Core ML on Linux), check the artifact statically (spec inputs, outputs,
      labels, precision, op types); return JSON-able findings (recorded as ``parity["spec_check"]``) and
      raise ToolkitError on a failed check.
    """

    target: str  # key in TARGETS, also the artifact-name component
    extension: str  # ".pte", ".mlpackage", ".tflite", ".onnx"
    precisions: tuple[str, ...]  # supported precisions
    natural_precision: str  # default when the user gives none
    runtime: str  # runtime name in the result schema
    layouts: tuple[str, ...]  # input layouts it can take, its default first ("image": a platform image type)

    def export(
        self, model: torch.nn.Module, example: torch.Tensor, cfg: ExportConfig, out_path: Path, precision: str
    ) -> dict[str, Any]:
        """Write the artifact at ``out_path`` (a temp path the pipeline renames); return manifest extras."""
        ...

    def open(self, path: Path, threads: int = 0) -> Runner:
        """Load the artifact in this target's host runtime (RuntimeUnavailableError where there is none)."""
        ...


def validate_target(target: str) -> str:
    if target not in TARGETS:
        raise UsageError(f"unknown target {target!r}; choose one of: {', '.join(TARGETS)}, all")
    return target


def validate_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}; choose one of: {', '.join(PRECISIONS)}")
    return precision


class UnsupportedIOError(UsageError):
    """``io="native"`` asked of an artifact whose edges have no other dtype than the float contract's."""


def check_io(exporter: Exporter, name: str, io: str) -> str:
    """``io`` if ``exporter`` can write artifact kind ``name`` (precision or int8 scheme) with it.

    Float I/O exists everywhere; native I/O only where the graph computes in another dtype and the
    exporter lists the kind in ``native_io``. One line otherwise, saying what the target gives instead.
    """
    validate_io(io)
    native = tuple(getattr(exporter, "native_io", ()))
    if io == "float" or name in native:
        return io
    contract = getattr(exporter, "io_contract", "float32 in, float32 out")
    where = f"; it exists for {exporter.target} {', '.join(native)}" if native else ""
    raise UnsupportedIOError(f"{exporter.target} {name} has no --io native ({contract}){where}")


class UnsupportedLayoutError(UsageError):
    """``--layout`` asked of a target whose artifacts cannot take that input layout."""


def check_layout(exporter: Exporter, layout: str | None) -> str:
    """The input layout ``exporter`` writes for ``layout`` (None = its default); one line when it cannot.

    Only ExecuTorch and TFLite choose: Core ML takes a platform image (the model normalizes the pixels) and
    ONNX Runtime's CPU kernels take NCHW, so asking either for another layout is a mistake worth a line.
    """
    layouts = tuple(exporter.layouts)
    if layout is None or layout in layouts:
        return layout or layouts[0]
    takes = " or ".join(layouts)
    raise UnsupportedLayoutError(f"{exporter.target} artifacts take {takes} input, not {layout}; --layout {layout} "
                                 "is for executorch or tflite")  # fmt: skip


def get_exporter(target: str) -> Exporter:
    """The backend for ``target``; a missing optional runtime raises MissingDependencyError."""
    module = importlib.import_module(TARGETS[validate_target(target)])
    return module.EXPORTER
