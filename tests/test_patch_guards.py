"""Patches of a dependency's private internals run only on the releases they were written for.

Outside that range each refuses in one line naming how to go without it, before touching anything; the
torchao helper swap is scoped to the thread that asked for it. An out-of-range release is simulated by
reporting another installed version (``toolkit._deps.installed_version``), the one place the guards read it.
"""

from __future__ import annotations

import re
import threading

import pytest
import torch
from torch import nn

from toolkit import _deps
from toolkit._deps import HAS_EXECUTORCH, check_patch_range
from toolkit.errors import ToolkitError

needs_et = pytest.mark.skipif(not HAS_EXECUTORCH, reason="needs the executorch extra")


def _pretend(monkeypatch, dist: str, version: str) -> None:
    real = _deps.installed_version
    monkeypatch.setattr(_deps, "installed_version", lambda d: version if d == dist else real(d))


def test_the_range_is_half_open_and_the_refusal_is_one_line(monkeypatch):
    for version, ok in (("1.4.9", False), ("1.5.0", True), ("1.5.1+cpu", True), ("1.6.0rc1", False), ("2.0", False)):
        _pretend(monkeypatch, "somelib", version)
        if ok:
            assert check_patch_range("somelib", "1.5", "1.6", "the X patch", "pass --no-x") == version
            continue
        with pytest.raises(ToolkitError) as e:
            check_patch_range("somelib", "1.5", "1.6", "the X patch", "pass --no-x")
        text = str(e.value)
        assert "\n" not in text and "somelib>=1.5,<1.6" in text and f"installed: {version}" in text
        assert text.endswith("pass --no-x")
    _pretend(monkeypatch, "somelib", None)
    with pytest.raises(ToolkitError, match="installed: none"):
        check_patch_range("somelib", "1.5", "1.6", "the X patch", "pass --no-x")


@needs_et
def test_xnnpack_conv_patch_refuses_another_executorch_and_names_keep_pads(monkeypatch):
    from executorch.backends.xnnpack.operators import node_visitor

    from quantization.xnnpack_padding import asymmetric_pad_convs

    stock = node_visitor.get_param_tensor
    _pretend(monkeypatch, "executorch", "1.6.0")
    with pytest.raises(ToolkitError, match="--keep-pads") as e, asymmetric_pad_convs():
        pass
    assert "\n" not in str(e.value) and "executorch>=1.5,<1.6 (installed: 1.6.0)" in str(e.value)
    assert node_visitor.get_param_tensor is stock  # refused before patching anything


@needs_et
def test_only_a_pad_folded_graph_needs_the_patch(monkeypatch):
    """On another ExecuTorch, a graph without folded 4×4 convs still lowers (stock, unpatched); a folded one
    is refused, so `--keep-pads` (the published graph) is a real way around."""
    from toolkit.export.executorch import lower_program

    _pretend(monkeypatch, "executorch", "1.6.0")
    x = torch.zeros(1, 3, 8, 8)
    plain = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(3, 4, 3, stride=2)).eval()
    data, counts = lower_program(torch.export.export(plain, (x,)))
    assert data and counts["asymmetric_padded_convs"] == 0
    folded = nn.Sequential(nn.Conv2d(3, 4, 4, stride=2, padding=1)).eval()
    with pytest.raises(ToolkitError, match="--keep-pads"):
        lower_program(torch.export.export(folded, (x,)))


@needs_et
def test_qat_refuses_another_torchao_before_any_work(monkeypatch):
    from toolkit.training.qat import convert_qat, prepare_qat

    _pretend(monkeypatch, "torchao", "0.19.0")
    model = nn.Sequential(nn.Conv2d(3, 4, 3)).eval()
    refusal = re.escape("torchao>=0.18,<0.19 (installed: 0.19.0); quantize after training")
    for call in (lambda: prepare_qat(model, torch.zeros(2, 3, 8, 8)), lambda: convert_qat(None, None)):
        with pytest.raises(ToolkitError, match=refusal):
            call()


@needs_et
def test_torchao_helper_swap_is_scoped_to_its_thread_and_restored():
    import torch.nn.functional as F
    from torchao.quantization.pt2e import qat_utils

    from toolkit.training.qat import _conv2d_bn_patterns_only

    stock = qat_utils._fuse_conv_bn_qat_helper
    graph = torch.fx.symbolic_trace(nn.Sequential(nn.Conv2d(3, 4, 3)))
    marker = object()
    seen = {}

    def other_thread() -> None:  # the stock helper runs there: on these junk arguments it raises
        try:
            seen["other"] = qat_utils._fuse_conv_bn_qat_helper(marker, F.conv1d, None, None)
        except Exception as e:
            seen["other"] = type(e)

    with _conv2d_bn_patterns_only(graph):
        assert qat_utils._fuse_conv_bn_qat_helper is not stock
        assert qat_utils._fuse_conv_bn_qat_helper(marker, F.conv1d, None, None) is marker  # filtered here
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert seen["other"] is not marker and isinstance(seen["other"], type)
    assert qat_utils._fuse_conv_bn_qat_helper is stock
