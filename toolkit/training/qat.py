"""Quantization-aware training: ``toolkit train --qat`` fine-tunes a trained float model with fake-quant,
then exports its int8 ``.pte``. For when post-training int8 loses too much.

The graph (PT2E QAT for the XNNPACK int8 scheme)::

    gm = prepare_qat(model, batch)              # pad-free train-mode graph, fake-quant on weights + activations
    ... a few epochs of the usual loop on gm (set_training(gm, True/False) around validation) ...
    state = float_state_dict(gm, model)         # the fine-tuned float weights, loadable into ``model``
    program = convert_qat(gm, example)          # int8 ExportedProgram → the ExecuTorch exporter (qat_program)

It is the pad-free rewrite (:func:`quantization.rewrites.fold_tf_padding`) that PTQ quantizes for ExecuTorch.
Its 4×4 kernels hold the published 3×3 in the bottom-right corner; :func:`prepare_qat` masks the gradient of
the other seven taps, so they stay exactly zero under every optimizer this toolkit uses (zero gradient, zero
weight → zero decay, zero momentum) and the trained weights fold back into the published architecture
(:func:`float_state_dict`). torchao's QAT rewrite hard-codes BatchNorm's eps; the correction for it is
written for :data:`TORCHAO_RANGE` and refuses any other release.

The run (:func:`train_qat`) starts from a float checkpoint whose classes are the data's, trains the graph for
a few epochs with :mod:`toolkit.train`'s own step loop and validation (same data pipeline, augmentation,
learning-rate schedule, progress bar), and writes

1. the fine-tuned float weights as an ordinary checkpoint (``cfg.train.output``, loadable anywhere a
   trained checkpoint is: the pad-free kernels fold back into the published 3×3 ones), and
2. the converted int8 program through :func:`toolkit.export.export` (``options["qat_program"]``):
   ``mobilenet_v1-a..-r..-executorch-int8-qat.pte`` verified against that float checkpoint (parity gate,
   temp-then-rename) with a manifest whose ``quantization`` record says ``qat: true`` and holds the
   agreement and labeled top-1 on the validation split.

QAT runs are short (default 2 epochs at a tenth of the fine-tuning learning rate) and not resumable.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from toolkit._deps import check_patch_range
from toolkit.errors import ToolkitError, UsageError
from toolkit.training.config import TrainConfig

__all__ = [
    "QAT_EPOCHS",
    "QAT_LR_SCALE",
    "TORCHAO_RANGE",
    "QATConfig",
    "QATResult",
    "check_torchao",
    "convert_qat",
    "float_state_dict",
    "prepare_qat",
    "set_training",
    "train_qat",
]

QAT_EPOCHS = 2  # the graph starts trained; QAT only adapts it to the int8 grid
QAT_LR_SCALE = 0.1  # × the fine-tuning default: big steps would undo the float training
QAT_TARGETS = ("executorch",)  # PT2E QAT with the XNNPACK quantizer lowers to ExecuTorch only
PARITY_IMAGES = 48  # validation images the export pipeline's parity gate runs on
# The torchao releases whose QAT rewrite (its hard-coded BatchNorm eps, its private conv-BN helpers) this
# module was written against; any other refuses in one line (check_torchao).
TORCHAO_RANGE = ("0.18", "0.19")
_TORCHAO_HELPERS = ("_fuse_conv_bn_qat_helper", "_fold_conv_bn_qat_helper")
_PATCH_LOCK = threading.RLock()  # one swap of torchao's helpers at a time (nesting in one thread is fine)
_PATCH_OWNER = threading.local()  # .active: this thread is inside _conv2d_bn_patterns_only


def check_torchao() -> None:
    """ToolkitError (one line) unless the installed torchao is one the QAT graph code was written for."""
    check_patch_range("torchao", *TORCHAO_RANGE, patch="QAT (BatchNorm eps fix, conv-BN pattern filter)",
                      avoid="quantize after training instead: toolkit export --precision int8")  # fmt: skip


# ---- the fake-quant graph -------------------------------------------------------------------------------


def _folded_masks(model: nn.Module, folded: nn.Module) -> dict[str, torch.Tensor]:
    """``{weight name: 0/1 mask}`` for each conv the pad-free rewrite turned from 3×3 into 4×4."""
    before = model.state_dict()
    masks = {}
    for name, w in folded.state_dict().items():
        was = before.get(name)
        if was is not None and w.dim() == 4 and w.shape[-2:] == (4, 4) and was.shape[-2:] == (3, 3):
            mask = torch.zeros_like(w)
            mask[:, :, 1:, 1:] = 1.0
            masks[name] = mask
    return masks


@contextlib.contextmanager
def _conv2d_bn_patterns_only(graph: torch.fx.GraphModule) -> Iterator[None]:
    """Let PT2E's QAT conv-BN fuse (prepare) and fold (convert) try only the conv2d patterns.

    Both passes trace their pattern set for conv1d, conv2d, conv_transpose1d and conv_transpose2d, each
    with ``torch.export`` (~0.4 s a pattern); patterns of an op the graph does not contain cannot match.
    Measured on the digits α 0.25 graph: convert 38.5 s → 12.7 s with a byte-identical ``.pte``. Any other
    conv op in ``graph``, or a torchao without these helpers, runs the library's passes unchanged.

    The swap of torchao's private helpers is scoped to this block, serialized by a lock, and filters only
    on the thread that entered it (another thread calling torchao meanwhile gets the stock behaviour); the
    caller has checked the torchao release (:data:`TORCHAO_RANGE`).
    """
    import torch.nn.functional as F

    convs = {str(n.target) for n in graph.graph.nodes if n.op == "call_function" and "conv" in str(n.target)}
    if any(not c.startswith("aten.conv2d") for c in convs):
        yield
        return
    with _PATCH_LOCK:
        try:
            from torchao.quantization.pt2e import qat_utils

            helpers = {name: getattr(qat_utils, name) for name in _TORCHAO_HELPERS}
        except (ImportError, AttributeError):
            helpers = {}

        def conv2d_only(helper: Any) -> Any:
            def only_conv2d(m: Any, conv_fn: Any, *args: Any, **kwargs: Any) -> Any:
                if getattr(_PATCH_OWNER, "active", False) and conv_fn is not F.conv2d:
                    return m  # this thread's graph has no such conv: its patterns cannot match
                return helper(m, conv_fn, *args, **kwargs)

            return only_conv2d

        was_active = getattr(_PATCH_OWNER, "active", False)
        try:
            for name, helper in helpers.items():
                setattr(qat_utils, name, conv2d_only(helper))
            _PATCH_OWNER.active = True
            yield
        finally:
            _PATCH_OWNER.active = was_active
            for name, helper in helpers.items():
                setattr(qat_utils, name, helper)


# torchao's QAT conv-BN patterns hard-code BatchNorm's eps ("TODO: allow setting eps"); MobileNet's is 1e-3.
_TORCHAO_BN_EPS = 1e-5
_BN_META = "toolkit_bn"  # GraphModule.meta key: {running_var buffer name: (momentum, eps)} of the float model


def _without_dropout(model: nn.Module) -> nn.Module:
    """Dropout (1e-3 in the paper's recipe) left out of the QAT graph: PT2E's train/eval rewrite resets any
    dropout to its pattern's p=0.5, and a few fine-tuning epochs do not need it."""
    for name, child in model.named_children():
        if isinstance(child, nn.Dropout):
            setattr(model, name, nn.Identity())
        else:
            _without_dropout(child)
    return model


def _restore_bn_literals(prepared: torch.fx.GraphModule, model: nn.Module) -> None:
    """Put the float model's BatchNorm eps and momentum back where PT2E's QAT rewrite put its own.

    The rewrite rebuilds every conv-BN with eps 1e-5: in the ``batch_norm`` op (normalization and the
    running statistics it updates) and in the ``sqrt(running_var + eps)`` that scales weights before their
    fake-quant. Both are keyed here by their running-variance buffer, so each BN gets its own module's value.
    """
    bns = {f"{name}.running_var": (m.momentum, m.eps) for name, m in model.named_modules()
           if isinstance(m, nn.modules.batchnorm._BatchNorm)}  # fmt: skip
    for node in prepared.graph.nodes:
        if node.op != "call_function":
            continue
        if node.target is torch.ops.aten.batch_norm.default and getattr(node.args[4], "target", None) in bns:
            momentum, eps = bns[node.args[4].target]
            node.args = (*node.args[:6], momentum, eps, *node.args[8:])
        elif (
            node.target is torch.ops.aten.add.Tensor
            and getattr(node.args[0], "target", None) in bns
            and (node.args[1] == _TORCHAO_BN_EPS)
        ):
            node.args = (node.args[0], bns[node.args[0].target][1])
    prepared.recompile()
    prepared.meta[_BN_META] = bns


def prepare_qat(
    model: nn.Module, example: torch.Tensor, per_channel: bool = True, fold_padding: bool = True
) -> torch.fx.GraphModule:
    """A trainable, pad-free graph of ``model`` with fake-quantize on weights and activations.

    BatchNorm stays live (PT2E simulates its folding into the conv) with the model's own eps and momentum.
    The batch axis is dynamic, so one graph trains and validates at any batch size ≥ 2; switch modes with
    :func:`set_training` (``gm.train()``/``gm.eval()`` do the same).

    Args:
        model: the trained float model (left untouched).
        example: an NCHW batch of the training shape (a batch of 1 is repeated: BatchNorm trains on ≥ 2).
        fold_padding: apply the exact pad-free rewrite first, as PTQ does for ExecuTorch.

    Raises ToolkitError (one line) when torch.export or the quantizer rejects the model, or when the
    installed torchao is not one this module's BatchNorm handling was written for.
    """
    import types

    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    from quantization.rewrites import fold_tf_padding

    check_torchao()
    graph_model = _without_dropout(fold_tf_padding(model) if fold_padding else copy.deepcopy(model))
    masks = _folded_masks(model, graph_model)
    example = example if example.shape[0] >= 2 else example.repeat(2, 1, 1, 1)
    quantizer = XNNPACKQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=per_channel, is_qat=True)
    )
    batch = torch.export.Dim("batch", min=2)
    try:
        graph = torch.export.export(
            graph_model.train(), (example,), dynamic_shapes=({0: batch},), strict=False
        ).module()
        with _conv2d_bn_patterns_only(graph):
            prepared = prepare_qat_pt2e(graph, quantizer)
    except (RuntimeError, ValueError, TypeError, AssertionError, NotImplementedError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ToolkitError(f"QAT preparation failed: {first}") from e
    _restore_bn_literals(prepared, graph_model)
    params = dict(prepared.named_parameters())
    for name, mask in masks.items():
        params[name].register_hook(lambda grad, m=mask: grad * m)
    # PT2E installs train()/eval() that raise on an exported graph; these switch it as set_training does
    prepared.train = types.MethodType(lambda self, mode=True: set_training(self, mode) or self, prepared)
    prepared.eval = types.MethodType(lambda self: set_training(self, False) or self, prepared)
    return prepared


def set_training(prepared: torch.fx.GraphModule, training: bool) -> None:
    """Train mode: batch-statistics BatchNorm and observers tracking activation ranges; eval mode: running
    statistics and frozen observers, so validation images never move the int8 ranges.

    An exported graph ignores ``Module.train``; its BatchNorm mode is the ``training`` argument of each
    ``batch_norm`` op, set here directly (torchao's ``move_exported_model_to_train/eval`` re-trace patterns
    for ~3 s a call and reset every BN's eps to 1e-5).
    """
    from torchao.quantization.pt2e import disable_observer, enable_observer

    for node in prepared.graph.nodes:
        if node.op == "call_function" and node.target is torch.ops.aten.batch_norm.default:
            node.args = (*node.args[:5], training, *node.args[6:])
    prepared.recompile()
    prepared.apply(enable_observer if training else disable_observer)


def float_state_dict(prepared: torch.fx.GraphModule, model: nn.Module) -> dict[str, torch.Tensor]:
    """The fine-tuned float weights and BatchNorm statistics of ``prepared`` under ``model``'s names.

    Folded 4×4 kernels go back to the published 3×3 (their masked taps are still exactly zero), so the
    result loads into ``model``'s architecture and saves as an ordinary checkpoint.
    """
    trained = prepared.state_dict()
    out = {}
    for name, ref in model.state_dict().items():
        if name not in trained:
            raise ToolkitError(f"the QAT graph has no tensor {name!r}; was it prepared from this model?")
        t = trained[name].detach().clone()
        if t.shape != ref.shape:
            if t.dim() != 4 or tuple(t.shape[-2:]) != (4, 4) or tuple(ref.shape[-2:]) != (3, 3):
                raise ToolkitError(f"{name}: QAT shape {tuple(t.shape)} does not fold back to {tuple(ref.shape)}")
            if t[:, :, 0, :].abs().max() > 0 or t[:, :, :, 0].abs().max() > 0:
                raise ToolkitError(f"{name}: the pad-free kernel's zero taps were trained; cannot fold back")
            t = t[:, :, 1:, 1:].contiguous()
        out[name] = t.to(ref.dtype)
    return out


def convert_qat(prepared: torch.fx.GraphModule, example: torch.Tensor) -> torch.export.ExportedProgram:
    """The int8 program of a QAT-trained graph (BatchNorm folded, observers frozen), ready to lower.

    ``prepared`` is consumed: take :func:`float_state_dict` first.
    """
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    check_torchao()
    set_training(prepared, False)
    # convert folds each BN into its conv with torchao's eps 1e-5 (tests/test_quant_qat.py pins this): shift
    # running_var so the fold computes sqrt(var + the model's eps), as the fake-quant graph trained with
    buffers = dict(prepared.named_buffers())
    with torch.no_grad():
        for name, (_, eps) in prepared.meta.get(_BN_META, {}).items():
            buffers[name].add_(eps - _TORCHAO_BN_EPS)
    try:
        with torch.no_grad(), _conv2d_bn_patterns_only(prepared):
            converted = convert_pt2e(prepared)
        return torch.export.export(converted, (example,), strict=False)
    except (RuntimeError, ValueError, TypeError, AssertionError, NotImplementedError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ToolkitError(f"QAT conversion to int8 failed: {first}") from e


# ---- the run ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QATConfig:
    """A QAT run: the training knobs (``train``) plus where the int8 artifact goes.

    ``export_dir=None`` writes only the fine-tuned checkpoint. A ``train.lr`` of None means
    :data:`QAT_LR_SCALE` × the fine-tuning default.
    """

    train: TrainConfig
    target: str = "executorch"
    export_dir: Path | None = Path("artifacts")
    verify: bool = True

    def __post_init__(self) -> None:
        from toolkit.export.base import validate_target

        t = self.train
        if validate_target(self.target) not in QAT_TARGETS:
            raise UsageError(
                f"--qat exports to {', '.join(QAT_TARGETS)} only (PT2E QAT for XNNPACK int8); for {self.target} "
                f"int8 use: toolkit export --target {self.target} --precision int8"
            )
        if t.weights in ("random", "imagenet") or Path(t.weights).suffix.lower() in (".h5", ".hdf5", ".keras"):
            raise UsageError(
                "--qat fine-tunes a trained float model of the data's classes: pass --weights CKPT.safetensors "
                "(train one first with toolkit train)"
            )
        if t.resume:
            raise UsageError("--qat runs are short and not resumable; drop --resume")
        if t.freeze_backbone_epochs:
            raise UsageError("--freeze-backbone-epochs does not apply to --qat (every layer is quantized)")
        if t.reset_head:
            raise UsageError("--reset-head does not apply to --qat: it starts from a trained head")
        if self.export_dir is not None:
            object.__setattr__(self, "export_dir", Path(self.export_dir))

    @property
    def run(self) -> TrainConfig:
        """The training config as QAT runs it: its low default learning rate filled in."""
        t = self.train
        return t if t.lr is not None else dataclasses.replace(t, lr=t.base_lr * QAT_LR_SCALE)


@dataclass
class QATResult:
    checkpoint: Path
    artifact: Any  # toolkit.export.ExportResult, or None without export_dir
    parent_top1: float  # the float model QAT started from, on the validation split
    float_top1: float  # the fine-tuned float weights (what the checkpoint holds)
    history: list[dict[str, Any]] = field(default_factory=list)  # per epoch; top1 is the fake-quant graph's
    stopped: str = "completed"  # or "max-time"
    seconds: float = 0.0


class _QATModel(nn.Module):
    """The fake-quant graph dressed as the float model, so :mod:`toolkit.train`'s step loop and validation run
    it unchanged: ``train()``/``eval()`` switch the graph's BatchNorm and its range observers."""

    def __init__(self, graph: torch.fx.GraphModule, parent: nn.Module) -> None:
        super().__init__()
        self.graph = graph
        for name in ("variant", "alpha", "resolution", "num_classes", "preprocessing", "class_names"):
            setattr(self, name, getattr(parent, name))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.graph(x)

    def train(self, mode: bool = True) -> _QATModel:
        self.training = mode  # not recursive: the exported graph switches through set_training only
        set_training(self.graph, mode)
        return self


def _load_parent(cfg: TrainConfig, classes: tuple[str, ...]) -> nn.Module:
    """The float model QAT starts from; UsageError unless its classes are the data's."""
    from toolkit import mobilenet_v1

    parent = mobilenet_v1(cfg.alpha, cfg.resolution, weights=cfg.weights)
    if tuple(parent.class_names) != tuple(classes):
        raise UsageError(f"{Path(cfg.weights).name} has classes ({', '.join(parent.class_names[:4])}, ...) but "
                         f"{cfg.data} has ({', '.join(classes[:4])}, ...); --qat needs a model trained on these "
                         "classes")  # fmt: skip
    return parent


def _optimizer(model: _QATModel, parent: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The recipe's optimizer, weight decay on the same tensors as for the float model (matched by name)."""
    from toolkit.training.recipe import param_groups

    decayed = {id(p) for p in param_groups(parent, cfg.weight_decay)[0]["params"]}
    names = {n for n, p in parent.named_parameters() if id(p) in decayed}
    params = dict(model.graph.named_parameters())
    groups = [{"params": [p for n, p in params.items() if n in names], "weight_decay": cfg.weight_decay},
              {"params": [p for n, p in params.items() if n not in names], "weight_decay": 0.0}]  # fmt: skip
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=cfg.base_lr, alpha=cfg.rmsprop_decay, eps=cfg.eps, momentum=cfg.momentum)
    return torch.optim.SGD(groups, lr=cfg.base_lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)


def _epochs(model, teacher, optimizer, cfg, split, train_ds, val_ds, console, t0) -> tuple[list[dict], str]:
    """``cfg.epochs`` epochs of :mod:`toolkit.train`'s step loop, each followed by its validation."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from toolkit.train import TrainingInterruptedError, _run_epoch, _StopFlag, _validate

    steps = len(train_ds) // cfg.batch_size
    prog: dict[str, Any] = {"epoch": 0, "step": 0, "global_step": 0}
    history: list[dict[str, Any]] = []
    stats = TextColumn("loss {task.fields[loss]:.3f}  {task.fields[ips]:.0f} img/s")
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), stats,
               TimeRemainingColumn()]  # fmt: skip
    with _StopFlag() as stop, Progress(*columns, console=console, disable=not cfg.progress, transient=True) as bar:
        task = bar.add_task("qat", total=steps * cfg.epochs, loss=float("nan"), ips=0.0)
        while prog["epoch"] < cfg.epochs and stop.reason is None:
            epoch = prog["epoch"]
            bar.update(task, description=f"QAT epoch {epoch + 1}/{cfg.epochs}")
            losses, _, ips = _run_epoch(model, teacher, optimizer, cfg, train_ds, prog, steps, steps * cfg.epochs,
                                        stop, lambda **kw: bar.update(task, **kw), t0)  # fmt: skip
            if stop.reason == "interrupt":
                break
            finished = prog["step"] >= steps
            history.append({**_validate(model, val_ds, cfg, split, epoch, losses, finished), "train_images_per_s": ips})
            console.print(f"QAT epoch {epoch + 1}: loss {history[-1]['loss']:.4f}  val top-1 (fake-quant int8) "
                          f"{history[-1]['top1']:.2%}", highlight=False)  # fmt: skip
            prog["epoch"], prog["step"] = epoch + 1, 0
    if stop.reason == "interrupt":
        raise TrainingInterruptedError("nothing was written (a QAT run is short: run it again)")
    return history, stop.reason or "completed"


def _val_arrays(val_ds: Any, indices: Any) -> tuple[np.ndarray, np.ndarray]:
    items = [val_ds[int(i)] for i in indices]
    items = [it for it in items if it is not None]
    return np.stack([x.numpy() for x, _ in items]), np.array([y for _, y in items], np.int64)


def _export(cfg: QATConfig, gm: torch.fx.GraphModule, split: Any, val_ds: Any) -> Any:
    """Convert the trained graph to int8 and write it through the export pipeline, verified."""
    from toolkit import mobilenet_v1
    from toolkit.export import ExportConfig, export

    t = cfg.train
    fine = mobilenet_v1(t.alpha, t.resolution, weights=t.output)  # the artifact's float parent, as saved
    program = convert_qat(gm, torch.zeros(1, 3, t.resolution, t.resolution))
    # labeled top-1 on the validation split: the folder itself when the data has one, else its images
    eval_data = Path(t.data) / "val" if split.layout == "train/val" else _val_arrays(val_ds, range(len(val_ds)))
    parity, _ = _val_arrays(val_ds, np.linspace(0, len(val_ds) - 1, min(PARITY_IMAGES, len(val_ds))).round())
    options = {"qat_program": program, "eval_data": eval_data}
    ecfg = ExportConfig(target=cfg.target, precision="int8", output_dir=cfg.export_dir, options=options,
                        verify=cfg.verify, threads=t.threads or 0)  # fmt: skip
    return export(fine, ecfg, images=parity, progress=t.progress)


def _save(fine: nn.Module, parent: nn.Module, t: TrainConfig, metrics: dict[str, Any]) -> None:
    """The fine-tuned float checkpoint; its metadata names the float parent and says it came from QAT.

    ``metrics["top1"]`` is the float checkpoint's own (what ``toolkit eval`` reports), ``qat_top1`` the
    fake-quant graph's, ``parent_top1`` the starting model's, all on the validation split.
    """
    from toolkit.weights import CheckpointMeta, save_checkpoint

    extra = {"training": {**t.to_dict(), "qat": True}, "metrics": metrics, "parent_weights": str(t.weights),
             "parent_sha256": parent.weight_source.sha256}  # fmt: skip
    meta = CheckpointMeta(alpha=t.alpha, resolution=t.resolution, num_classes=fine.num_classes,
                          class_names=tuple(fine.class_names), preprocessing=fine.preprocessing,
                          activation=fine.activation, padding=fine.padding, extra=extra)  # fmt: skip
    save_checkpoint(fine.state_dict(), meta, t.output)


def train_qat(cfg: QATConfig, console: Any = None) -> QATResult:
    """Fine-tune ``cfg.train.weights`` with fake-quant, save the checkpoint, export the int8 artifact.

    Raises UsageError for bad input (before any training), ToolkitError when the graph fails to quantize
    or the artifact fails its parity gate, TrainingInterruptedError on Ctrl-C (nothing written).
    """
    from rich.console import Console

    from toolkit.evaluate import evaluate
    from toolkit.imagefolder import Augment, ImageDataset
    from toolkit.train import load_teacher, start_run

    console = console or Console(stderr=True)
    t0 = time.monotonic()
    t = cfg.run
    split = start_run(t)
    parent = _load_parent(t, split.classes)
    teacher = load_teacher(t, len(split.classes))
    augment = Augment(min_area=t.min_crop_area, hflip=t.hflip)
    train_ds = ImageDataset(split.train, t.resolution, parent.preprocessing, augment)
    val_ds = ImageDataset(split.val, t.resolution, parent.preprocessing)
    eval_kw = {"batch_size": max(t.batch_size, 64), "class_names": split.classes, "workers": min(t.num_workers, 2)}
    parent_top1 = evaluate(parent, val_ds, **eval_kw).top1
    line = f"{parent.variant.name}: QAT from {Path(t.weights).name} (fp32 val top-1 {parent_top1:.2%}); "
    console.print(line + f"{len(split.train)} train / {len(split.val)} val images, lr {t.base_lr:g}", highlight=False)
    gm = prepare_qat(parent, torch.zeros(t.batch_size, 3, t.resolution, t.resolution))
    model = _QATModel(gm, parent)
    history, stopped = _epochs(model, teacher, _optimizer(model, parent, t), t, split, train_ds, val_ds, console, t0)
    fine = copy.deepcopy(parent)
    fine.load_state_dict(float_state_dict(gm, parent))
    float_top1 = evaluate(fine, val_ds, **eval_kw).top1
    last = history[-1] if history else {}
    _save(fine, parent, t, {**last, "top1": float_top1, "qat_top1": last.get("top1"), "parent_top1": parent_top1})
    artifact = _export(cfg, gm, split, val_ds) if cfg.export_dir is not None else None
    return QATResult(t.output, artifact, parent_top1, float_top1, history, stopped, time.monotonic() - t0)
