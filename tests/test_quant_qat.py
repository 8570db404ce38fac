"""PT2E QAT (toolkit.training.qat) on the digits model: a graph that trains like the float model, folds back
into it, and converts to the same int8 arithmetic it simulated.

``toolkit train --qat`` end to end is tests/test_train_qat.py.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from tests.test_quant_common import digits_model, digits_split
from toolkit._deps import HAS_EXECUTORCH

pytestmark = pytest.mark.skipif(not HAS_EXECUTORCH, reason="needs the executorch extra")


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(F.cosine_similarity(a.flatten(), b.flatten(), dim=0))


def test_prepared_graph_trains_like_the_float_model():
    """Regression for two torchao behaviours the library undoes: its QAT conv-BN rewrite sets every BatchNorm
    eps to 1e-5 (MobileNet's is 1e-3), and its train/eval switch sets dropout to p=0.5 (measured before the
    fix: train-mode loss 1.26 against the float model's 0.11 on the same digits)."""
    from toolkit.training.qat import float_state_dict, prepare_qat, set_training

    model = digits_model()
    x_train, y_train, x_test, _ = (torch.from_numpy(a) for a in digits_split())
    x, y = x_train[:128], y_train[:128]
    gm = prepare_qat(model, x[:32])

    bns = [n for n in gm.graph.nodes if n.target is torch.ops.aten.batch_norm.default]
    assert len(bns) == 27 and {(n.args[6], n.args[7]) for n in bns} == {(0.1, 1e-3)}
    # nothing trained yet: the pad-free 4×4 kernels fold back to exactly the published weights
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in float_state_dict(gm, model).items())

    float_train = copy.deepcopy(model).train()
    with torch.no_grad():
        ref_loss = F.cross_entropy(float_train(x), y).item()
        set_training(gm, True)
        qat_loss = F.cross_entropy(gm(x), y).item()
    assert qat_loss < ref_loss + 0.05, (qat_loss, ref_loss)  # fake-quant costs little on a trained model

    gm.eval()  # eval mode freezes the observers: held-out images never move an int8 range
    observed = {k: v.clone() for k, v in gm.state_dict().items() if k.endswith(("min_val", "max_val"))}
    with torch.no_grad():
        gm(x_test[:64])
    assert all(torch.equal(v, gm.state_dict()[k]) for k, v in observed.items())

    gm.train()
    opt = torch.optim.RMSprop(gm.parameters(), lr=1e-4, momentum=0.9, weight_decay=4e-5)
    for i in range(3):
        loss = F.cross_entropy(gm(x[i * 32 : (i + 1) * 32]), y[i * 32 : (i + 1) * 32])
        opt.zero_grad()
        loss.backward()
        opt.step()
    # the padding taps got no gradient, so the trained kernels still fold back (else float_state_dict raises)
    trained = float_state_dict(gm, model)
    assert not torch.equal(trained["conv1.conv.weight"], model.state_dict()["conv1.conv.weight"])


@pytest.mark.slow
def test_convert_folds_batchnorm_with_the_models_eps():
    """torchao folds BN into the conv with its own eps 1e-5; convert_qat shifts running_var so the fold uses the
    model's 1e-3. Visible only where running variances are small, so a third of the channels are made so."""
    from toolkit.training import qat

    model = digits_model()
    x_train, _, x_test, _ = (torch.from_numpy(a) for a in digits_split())
    gm = qat.prepare_qat(model, x_train[:32])
    gm.train()
    with torch.no_grad():
        gm(x_train[:64])  # observe ranges
    gm.eval()
    buffers = dict(gm.named_buffers())
    with torch.no_grad():
        for name in gm.meta[qat._BN_META]:
            buffers[name][::3] = 1e-5
        simulated = gm(x_test[:16])
    program = qat.convert_qat(gm, torch.zeros(1, 3, 32, 32))
    with torch.no_grad():
        converted = torch.cat([program.module()(x_test[i : i + 1]) for i in range(16)])
    # measured: 0.9997 with the shift, 0.870 without (the fold then divides by sqrt(var + 1e-5))
    assert _cosine(converted, simulated) > 0.998


@pytest.mark.slow
def test_qat_fine_tune_then_export_keeps_accuracy(tmp_path):
    from quantization.accuracy import compare_accuracy
    from tests.test_quant_common import pte_logits
    from toolkit.export.executorch import lower_program
    from toolkit.training.qat import convert_qat, prepare_qat

    model = digits_model()
    x_train, y_train, x_test, y_test = digits_split()
    gm = prepare_qat(model, torch.from_numpy(x_train[:64]))
    opt = torch.optim.SGD(gm.parameters(), lr=1e-3, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):  # a short fine-tune: observers settle, weights adapt to the int8 grid
        idx = torch.randperm(len(x_train), generator=gen)[:64].numpy()
        loss = F.cross_entropy(gm(torch.from_numpy(x_train[idx])), torch.from_numpy(y_train[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    path = tmp_path / "qat.pte"
    path.write_bytes(lower_program(convert_qat(gm, torch.zeros(1, 3, 32, 32)))[0])
    with torch.no_grad():
        ref = model(torch.from_numpy(x_test)).numpy()
    acc = compare_accuracy(ref, pte_logits(path, x_test), y_test)
    assert acc.top1_drop <= 0.01 + 1e-9 and acc.top1_agreement >= 0.97, acc.summary()
