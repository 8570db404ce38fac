"""ExecuTorch target: ``torch.export`` → ``to_edge_transform_and_lower(XnnpackPartitioner())`` → ``.pte``.

Every MobileNet op must land in the XNNPACK delegate: an op left to the portable kernels runs 10-50×
slower on a phone, so a partial delegation is an export failure, not a warning. The one exception is the
fp16 program's float32 I/O: XNNPACK takes no dtype-changing ``_to_dim_order_copy``, so the cast of the
graph input to half and of the graph output back to float run as two portable ops at the edges
(:func:`boundary_casts`); anything else outside the delegate still fails the export.

The input is channels-last by default (``layout="nhwc"``): the program's input tensor has dim order
(0, 2, 3, 1), so its sizes stay (1, 3, H, W) while its bytes are the camera's interleaved RGB, and
XNNPACK, which computes in NHWC, needs no transpose in front. How: the model is exported with a
channels-last example (its weights stay contiguous: the XNNPACK layout pass requires that), and the
global pool is written as the ``mean`` it decomposes to anyway (:class:`GlobalMean`), since the
decomposition of ``AdaptiveAvgPool2d`` restrides a channels-last result with an ``as_strided`` copy that
XNNPACK does not take. ``layout="nchw"`` exports the contiguous program as before. The published (0, 1)
pads are folded into the stride-2 convs for every precision (:mod:`quantization.xnnpack_padding`).
"""

from __future__ import annotations

import contextlib
import copy
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from toolkit._deps import require
from toolkit.console import stage
from toolkit.errors import ToolkitError
from toolkit.export.base import QUANT_OPTION_KEYS, ExportConfig
from toolkit.runtimes.base import Runner

require("executorch")

__all__ = [
    "EXPORTER",
    "ExecuTorchExporter",
    "GlobalMean",
    "HalfInside",
    "boundary_casts",
    "count_delegation",
    "global_pool_as_mean",
    "lower_program",
    "lower_to_xnnpack",
    "xnnpack_graph",
]

_SKIP = {"getitem", "executorch_call_delegate"}  # plumbing, not model ops


def _op_name(node: torch.fx.Node) -> str:
    target = node.target
    return getattr(target, "__name__", None) or str(target).split(":")[0].rsplit(".", 1)[-1]


def _graph_ops(gm: torch.fx.GraphModule) -> list[str]:
    names = []
    for node in gm.graph.nodes:
        if node.op == "call_function" and _op_name(node) not in _SKIP:
            names.append(str(getattr(node.target, "__name__", node.target)))
    return names


def _dtype(node: Any) -> str:
    return str(node.meta["val"].dtype).removeprefix("torch.")


def boundary_casts(program: torch.export.ExportedProgram) -> dict[str, Any]:
    """The dtype casts sitting exactly on the graph's edges: ``{"input"|"output": (node, "float32->float16")}``.

    An input cast reads a user input placeholder directly; an output cast is returned directly and used
    by nothing else. Each must change the dtype and keep its source's dim order (what ``x.half()`` and
    ``.float()`` lower to, for a contiguous or a channels-last input); any other cast is not a boundary cast.
    """
    gm = program.graph_module
    user_inputs = set(program.graph_signature.user_inputs)
    (output,) = (n for n in gm.graph.nodes if n.op == "output")
    returned = set(output.all_input_nodes)
    found: dict[str, Any] = {}
    for node in gm.graph.nodes:
        if node.op != "call_function" or "_to_dim_order_copy" not in _op_name(node):
            continue
        src = node.args[0]
        same_order = list(node.kwargs.get("dim_order") or []) == list(src.meta["val"].dim_order())
        if set(node.kwargs) - {"dtype", "dim_order"} or not same_order or _dtype(src) == _dtype(node):
            continue
        change = f"{_dtype(src)}->{_dtype(node)}"
        if src.op == "placeholder" and src.name in user_inputs and "input" not in found:
            found["input"] = (node, change)
        elif node in returned and list(node.users) == [output] and "output" not in found:
            found["output"] = (node, change)
    return found


def count_delegation(edge: Any) -> dict[str, Any]:
    """Delegated vs total operator counts of a lowered EdgeProgramManager, with the ops left outside.

    Boundary casts (:func:`boundary_casts`) are counted in ``total_ops`` and listed under ``boundary_casts``,
    not under ``non_delegated``: the exporter decides whether its program may have them.
    """
    program = edge.exported_program()
    gm = program.graph_module
    delegated: Counter[str] = Counter()
    for _, sub in gm.named_children():
        original = getattr(sub, "original_module", None)  # LoweredBackendModule → its ExportedProgram
        if original is not None:
            delegated.update(_graph_ops(original.graph_module))
    casts = boundary_casts(program)
    outside = Counter(_graph_ops(gm))
    for node, _ in casts.values():
        name = str(getattr(node.target, "__name__", node.target))
        outside[name] -= 1
    outside = +outside  # drop the zero counts
    n_delegates = sum(
        1 for n in gm.graph.nodes if n.op == "call_function" and _op_name(n) == "executorch_call_delegate"
    )
    return {
        "delegated_ops": sum(delegated.values()),
        "total_ops": sum(delegated.values()) + sum(outside.values()) + len(casts),
        "delegate_calls": n_delegates,
        "non_delegated": dict(outside),
        "boundary_casts": {side: change for side, (_, change) in sorted(casts.items())},
        "delegated_by_type": dict(sorted(delegated.items())),
    }


def lower_to_xnnpack(model: torch.nn.Module, example: torch.Tensor) -> tuple[bytes, dict[str, Any]]:
    """The plain ExecuTorch reference path (also the benchmark baseline): bytes of the .pte and op counts."""
    stage("tracing")
    return lower_program(torch.export.export(model, (example,)))


def lower_program(exported: torch.export.ExportedProgram) -> tuple[bytes, dict[str, Any]]:
    """``to_edge_transform_and_lower`` with the XNNPACK partitioner: (.pte bytes, delegation counts).

    Pad-folded 4×4 convs reach XNNPACK as the published 3×3 with (0, 1) padding (exact; see
    :mod:`quantization.xnnpack_padding`); ``asymmetric_padded_convs`` counts them. A graph without such
    convs is lowered without that patch. Layout copies that move no bytes (the pooled features before the
    classifier) become no operator at all (:mod:`toolkit.export.xnnpack_layout`; ``elided_layout_copies``).
    """
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from quantization.xnnpack_padding import asymmetric_pad_convs
    from toolkit.export.xnnpack_layout import elide_identity_layout_copies

    rewritten, elided = [0], [0]
    stage("lowering")
    patch = asymmetric_pad_convs(rewritten) if _has_4x4_stride2_convs(exported) else contextlib.nullcontext()
    with patch, elide_identity_layout_copies(elided):  # XNNPACK serializes inside to_edge_transform_and_lower
        edge = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()])
    counts = count_delegation(edge) | {"asymmetric_padded_convs": rewritten[0], "elided_layout_copies": elided[0]}
    stage("serializing")
    return edge.to_executorch().buffer, counts


def _has_4x4_stride2_convs(exported: torch.export.ExportedProgram) -> bool:
    """Whether the graph has the pad-free rewrite's 4×4 stride-2 convs (the only ones the XNNPACK patch touches)."""
    for node in exported.graph_module.graph.nodes:
        if node.op != "call_function" or "conv" not in _op_name(node) or len(node.args) < 4:
            continue
        weight = node.args[1].meta.get("val") if isinstance(node.args[1], torch.fx.Node) else None
        stride = list(node.args[3]) if isinstance(node.args[3], (list, tuple)) else [node.args[3]]
        if weight is not None and tuple(weight.shape[-2:]) == (4, 4) and set(stride) == {2}:
            return True
    return False


def _fold_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """Fold conv+BatchNorm in fp32 before an fp16 cast: XNNPACK's lowering would fold after it, in fp16,
    which measured 1.2-1.65x the error of PyTorch's own fp16 run (docs/export.md)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for m in model.modules():
        conv, bn = getattr(m, "conv", None), getattr(m, "bn", None)
        if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
            m.conv, m.bn = fuse_conv_bn_eval(conv, bn), torch.nn.Identity()
    return model


class HalfInside(torch.nn.Module):
    """A half-precision model behind float32 edges: cast in, run in fp16, cast the scores back."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.half()).float()


class GlobalMean(torch.nn.Module):
    """``AdaptiveAvgPool2d(1)`` written as the ``mean`` over H and W it decomposes to (the same edge op).

    On a channels-last graph the pool's decomposition adds an ``as_strided`` copy to restride its (N, C, 1, 1)
    result, which XNNPACK does not take; the mean has no such copy, and computes the same values.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((-1, -2), keepdim=True)


def global_pool_as_mean(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """``gm`` (in place) with each global ``adaptive_avg_pool2d`` as the ``mean`` over H and W: what
    :class:`GlobalMean` does for a module, for an already traced graph (a QAT program). Its q/dq neighbours
    stay, so XNNPACK takes it as the quantized mean the PTQ path produces."""
    for node in gm.graph.nodes:
        pool = node.op == "call_function" and node.target == torch.ops.aten.adaptive_avg_pool2d.default
        if pool and tuple(node.args[1]) in ((1, 1), (1,)):
            node.target, node.args, node.kwargs = torch.ops.aten.mean.dim, (node.args[0], [-1, -2], True), {}
    gm.graph.lint()
    gm.recompile()
    return gm


def xnnpack_graph(model: torch.nn.Module, *, fold_padding: bool) -> torch.nn.Module:
    """A copy of ``model`` as the XNNPACK export traces it: global pool as :class:`GlobalMean` and, with
    ``fold_padding``, the published (0, 1) pads folded into the stride-2 convs (exact; the lowering serves
    each folded conv to XNNPACK as the 3×3 with asymmetric padding, :mod:`quantization.xnnpack_padding`)."""
    from quantization.rewrites import fold_tf_padding

    out = fold_tf_padding(model) if fold_padding else copy.deepcopy(model)
    pool = getattr(out, "pool", None)
    if isinstance(pool, torch.nn.AdaptiveAvgPool2d) and pool.output_size in (1, (1, 1)):
        out.pool = GlobalMean()
    return out.eval()  # the folded convs are new modules, in training mode


class ExecuTorchExporter:
    """``.pte`` for the XNNPACK delegate.

    fp16 takes float32 and returns float32 (two boundary casts outside the delegate), or with
    ``io="native"`` float16 at both edges and nothing outside; int8 is PT2E static (or dynamic) int8 from
    :mod:`quantization`, with float I/O quantized inside the delegate. Every precision is pad-free unless
    ``options["fold_padding"]`` is False (``--keep-pads``), and channels-last at the input unless
    ``layout="nchw"``.
    """

    target = "executorch"
    extension = ".pte"
    precisions = ("fp32", "fp16", "int8")
    natural_precision = "fp32"
    runtime = "executorch"
    layouts = ("nhwc", "nchw")  # channels-last input (dim order 0,2,3,1), or the contiguous NCHW program
    float_options = ("fold_padding",)  # pad folding applies to every precision here, not only int8
    native_io = ("fp16",)  # fp16 can keep float16 at the edges; int8 quantizes inside the delegate
    io_contract = "it takes float32 and returns float32 scores; int8 quantizes inside the XNNPACK delegate"

    def tool_versions(self) -> dict[str, str]:
        from toolkit.export.manifest import package_version

        return {"executorch": package_version("executorch") or "unknown"}

    def cache_options(self, cfg: ExportConfig) -> dict[str, Any]:
        # dynamic batch and deployment target do not apply; the pipeline keys int8's options itself
        own = {k: v for k, v in cfg.options.items() if k not in QUANT_OPTION_KEYS and k != "qat_program"}
        return {**own, "layout": cfg.layout, "fold_padding": cfg.options.get("fold_padding")}

    def export(
        self, model: torch.nn.Module, example: torch.Tensor, cfg: ExportConfig, out_path: Path, precision: str
    ) -> dict[str, Any]:
        quant = None
        if cfg.layout == "nhwc":
            example = example.contiguous(memory_format=torch.channels_last)
        if precision == "int8":
            from quantization import hooks

            program = cfg.options.get("qat_program")  # already int8 (toolkit train --qat): lower it as is
            if program is None:
                stage("quantizing")
                cal, qcfg = hooks.prepare(model, self.target, cfg.options)
                program = hooks.xnnpack_program(xnnpack_graph(model, fold_padding=False), example, cal, qcfg)
            else:
                cal, qcfg = None, hooks.config(self.target, cfg.options)
                if cfg.layout == "nhwc":  # trained on NCHW batches: the same graph, traced channels-last
                    program = torch.export.export(global_pool_as_mean(program.module()), (example,), strict=False)
            buffer, counts = lower_program(program)
            quant = hooks.record(qcfg, cal) | ({"qat": True} if "qat_program" in cfg.options else {})
        else:
            fold = cfg.options.get("fold_padding") is not False
            model = xnnpack_graph(model, fold_padding=fold)
            if precision == "fp16":
                model = _fold_batchnorm(model).half()
                model, example = (model, example.half()) if cfg.io == "native" else (HalfInside(model), example)
            buffer, counts = lower_to_xnnpack(model, example)
            counts["pad_folding"] = fold
        casts = {"input": "float32->float16", "output": "float16->float32"}
        _check_delegation(counts, casts if precision == "fp16" and cfg.io == "float" else {})
        out_path.write_bytes(buffer)
        dtype = "float16" if precision == "fp16" and cfg.io == "native" else "float32"
        extras = {"delegate": "xnnpack", "input_dtype": dtype, "output_dtype": dtype, "input_layout": cfg.layout,
                  **counts, "runtime_version": self.tool_versions()["executorch"]}  # fmt: skip
        if quant is not None:
            extras["quantization"] = quant
        return extras

    def open(self, path: Path, threads: int = 0) -> Runner:
        from toolkit.runtimes.executorch import open_runner

        return open_runner(path, threads=threads)


def _check_delegation(counts: dict[str, Any], allowed_casts: dict[str, str]) -> None:
    """ToolkitError unless XNNPACK took every op but exactly the boundary casts this program may have."""
    left = counts["non_delegated"]
    if left or counts["delegate_calls"] == 0:
        raise ToolkitError(
            f"XNNPACK did not take every op: {counts['delegated_ops']}/{counts['total_ops']} delegated, "
            f"left to portable kernels: {', '.join(f'{k}×{v}' for k, v in left.items())}"
        )
    if counts["boundary_casts"] != allowed_casts:
        raise ToolkitError(f"casts outside XNNPACK {counts['boundary_casts']}, expected {allowed_casts or 'none'}")


EXPORTER = ExecuTorchExporter()
