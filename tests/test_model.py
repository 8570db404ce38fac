"""The network itself: Table 1 shapes, padding modes, a live random init, determinism."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from toolkit import mobilenet_v1
from toolkit.cost import count
from toolkit.data import sample_images
from toolkit.models.mobilenet_v1 import MobileNetV1, init_weights


def _activations(model: MobileNetV1, x: torch.Tensor) -> list[torch.Tensor]:
    outs: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: outs.append(o)) for m in model.modules()
             if isinstance(m, nn.Conv2d)]  # fmt: skip
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return outs


@pytest.mark.parametrize(("alpha", "res"), [(1.0, 224), (0.5, 160), (0.25, 128)])
def test_layer_shapes_match_table1(alpha, res):
    model = MobileNetV1(alpha, resolution=res).eval()
    acts = _activations(model, torch.zeros(1, 3, res, res))
    convs = [layer for layer in count(alpha, res).layers if layer.type.startswith("Conv")]
    assert len(acts) == len(convs) == 27
    for act, layer in zip(acts, convs, strict=True):
        assert tuple(act.shape[1:]) == (layer.out_shape[2], *layer.out_shape[:2])


def test_random_init_keeps_activations_alive_through_27_convs():
    """Plain He init with BN as identity: the deepest conv still carries signal (PyTorch's default does not)."""
    model = MobileNetV1(1.0).eval()
    init_weights(model, seed=0)
    x = torch.from_numpy(sample_images(224))
    acts = _activations(model, x)
    assert acts[-1].std() > 0.02 * acts[0].std()
    default = MobileNetV1(1.0).eval()
    for m in default.modules():
        if isinstance(m, nn.Conv2d):
            m.reset_parameters()  # PyTorch's default init, for contrast
    assert _activations(default, x)[-1].std() < 1e-3 * acts[-1].std()


@pytest.mark.parametrize(("alpha", "res"), [(1.0, 224), (0.25, 128), (0.25, 32)])
def test_random_model_logits_vary_across_photos(alpha, res):
    model = mobilenet_v1(alpha, res, weights="random")
    with torch.no_grad():
        logits = model(torch.from_numpy(sample_images(res)))
    assert logits.std() > 0.1
    assert logits.std(dim=0).mean() > 0.1 * logits.std()
    assert len(set(logits.argmax(1).tolist())) >= 2


def test_deterministic_from_seed():
    a, b, c = (mobilenet_v1(0.25, 64, weights="random", seed=s) for s in (7, 7, 8))
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    assert not torch.equal(a.conv1.conv.weight, c.conv1.conv.weight)


def test_tf_padding_is_asymmetric_and_symmetric_is_not():
    tf = MobileNetV1(0.25, padding="tf").eval()
    sym = MobileNetV1(0.25, padding="symmetric").eval()
    sym.load_state_dict(tf.state_dict())
    assert isinstance(tf.conv1.pad, nn.ZeroPad2d) and tf.conv1.pad.padding == (0, 1, 0, 1)
    assert sym.conv1.pad is None
    assert sym.conv1.conv.padding == (1, 1)
    x = torch.from_numpy(sample_images(64))
    with torch.no_grad():
        manual = nn.functional.conv2d(nn.functional.pad(x, (0, 1, 0, 1)), tf.conv1.conv.weight, stride=2)
        assert torch.allclose(tf.conv1.conv(tf.conv1.pad(x)), manual)
        assert not torch.allclose(tf(x), sym(x))


def test_activation_choice_and_heads():
    relu = MobileNetV1(0.25, 7, activation="relu")
    assert not any(isinstance(m, nn.ReLU6) for m in relu.modules())
    assert relu(torch.zeros(2, 3, 64, 64)).shape == (2, 7)
    relu.reset_classifier(3)
    assert relu(torch.zeros(1, 3, 96, 96)).shape == (1, 3)


@pytest.mark.parametrize("kwargs", [{"activation": "gelu"}, {"padding": "same"}, {"num_classes": 0}, {"dropout": 1.0}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        MobileNetV1(0.5, **{"num_classes": 10, **kwargs})
