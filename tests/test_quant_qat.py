"""PT2E QAT: fine-tune the digits model a few steps with fake-quant, export to ExecuTorch, run it."""

from __future__ import annotations

import pytest
import torch

from tests.test_quant_common import digits_model, digits_split
from toolkit._deps import HAS_EXECUTORCH


@pytest.mark.slow
@pytest.mark.skipif(not HAS_EXECUTORCH, reason="executorch not installed")
def test_qat_fine_tune_then_export_keeps_accuracy(tmp_path):
    import torch.nn.functional as F

    from quantization.accuracy import compare_accuracy
    from quantization.qat import convert_qat, prepare_qat
    from quantization.rewrites import fold_tf_padding
    from quantization.xnnpack import lower_to_pte, run_pte

    model = digits_model()
    x_train, y_train, x_test, y_test = digits_split()
    example = torch.zeros(1, 3, 32, 32)
    gm = prepare_qat(fold_tf_padding(model), torch.from_numpy(x_train[:64]))  # export with the training batch
    opt = torch.optim.SGD(gm.parameters(), lr=1e-3, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):  # a short fine-tune: observers settle, weights adapt to the int8 grid
        idx = torch.randperm(len(x_train), generator=gen)[:64]
        loss = F.cross_entropy(gm(torch.from_numpy(x_train[idx.numpy()])), torch.from_numpy(y_train[idx.numpy()]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    program = convert_qat(gm, example)
    path = tmp_path / "qat.pte"
    path.write_bytes(lower_to_pte(program))
    with torch.no_grad():
        ref = model(torch.from_numpy(x_test)).numpy()
    acc = compare_accuracy(ref, run_pte(path, x_test), y_test)
    assert acc.top1_drop <= 0.01 + 1e-9 and acc.top1_agreement >= 0.97, acc.summary()
