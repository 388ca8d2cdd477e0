"""Behaviour of miniai.init: activations, initialisation, the course model and LSUV."""
import importlib
import math
from functools import partial

import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from miniai.activations import set_seed
from miniai.init import *
import miniai.init
from miniai.init import _lsuv_stats
from miniai.learner import Callback, TrainLearner

X = torch.tensor([-2., -0.5, 0., 0.5, 2., 8.])


def test_general_relu_defaults_to_relu():
    assert torch.equal(GeneralRelu()(X), F.relu(X))


def test_general_relu_leak_sub_maxv_exact():
    out = GeneralRelu(leak=0.1, sub=0.4, maxv=6.)(X)
    expected = torch.tensor([-0.2 - 0.4, -0.05 - 0.4, -0.4, 0.5 - 0.4, 2. - 0.4, 6.])
    assert torch.allclose(out, expected, atol=1e-7)
    assert torch.equal(GeneralRelu(sub=0.)(X), F.relu(X))       # sub=0 is a real (no-op) shift
    assert torch.equal(GeneralRelu(maxv=1.)(X), F.relu(X).clamp_max(1.))


def test_plot_func_headless():
    plot_func(GeneralRelu(leak=0.1, sub=0.4))
    line = plt.gca().lines[0]
    assert len(line.get_xdata()) == 100 and line.get_xdata()[0] == -5. and line.get_ydata()[0] == pytest.approx(-0.9)


@pytest.mark.parametrize('leaky', [0., 0.1])
def test_init_weights_gives_kaiming_std(leaky):
    set_seed(0)
    convl, lin, bn = nn.Conv2d(64, 64, 3), nn.Linear(1000, 500), nn.BatchNorm2d(8)
    model = nn.Sequential(convl, lin, bn)
    model.apply(partial(init_weights, leaky=leaky))
    gain = math.sqrt(2 / (1 + leaky ** 2))
    assert convl.weight.std().item() == pytest.approx(gain / math.sqrt(64 * 9), rel=0.03)


def test_init_weights_touches_only_convolutions_as_the_course():
    layers = nn.Sequential(nn.Conv1d(4, 4, 3), nn.Conv3d(2, 2, 3), nn.Linear(1000, 500), nn.BatchNorm2d(8))
    before = {k: v.clone() for k, v in layers.state_dict().items()}
    layers.apply(init_weights)
    changed = {k for k, v in layers.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {'0.weight', '1.weight'}


def test_conv_layers_and_bias():
    c = conv(1, 8)
    assert [type(m) for m in c] == [nn.Conv2d, nn.ReLU]
    assert c[0].stride == (2, 2) and c[0].padding == (1, 1) and c[0].bias is not None
    c = conv(8, 16, ks=5, stride=1, act=None)
    assert len(c) == 1 and c[0].padding == (2, 2) and c[0].stride == (1, 1)


@pytest.mark.parametrize('norm', [nn.BatchNorm2d, nn.BatchNorm1d, partial(nn.BatchNorm2d, momentum=0.2)])
def test_conv_omits_bias_under_batchnorm(norm):
    c = conv(1, 8, norm=norm)
    assert c[0].bias is None
    assert isinstance(c[1], nn.modules.batchnorm._BatchNorm) and c[1].num_features == 8
    assert isinstance(c[2], nn.ReLU)


def test_conv_keeps_bias_with_other_norms_or_when_told():
    assert conv(1, 8, norm=lambda nf: nn.GroupNorm(2, nf))[0].bias is not None
    assert conv(1, 8, norm=nn.BatchNorm2d, bias=True)[0].bias is not None
    assert conv(1, 8, bias=False)[0].bias is None


def test_get_model_structure_and_output():
    model = get_model()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 8), (8, 16), (16, 32), (32, 64), (64, 10)]
    assert all(c.stride == (2, 2) for c in convs)
    head = model[-2]
    assert [type(m) for m in head] == [nn.Conv2d] and head[0].bias is not None
    assert isinstance(model[-1], nn.Flatten)
    assert model(torch.zeros(5, 1, 28, 28)).shape == (5, 10)


def test_get_model_with_norm_and_custom_act():
    model = get_model(act=partial(GeneralRelu, leak=0.1), norm=nn.BatchNorm2d)
    body = list(model)[:-2]
    assert [[type(m) for m in blk] for blk in body] == [[nn.Conv2d, nn.BatchNorm2d, GeneralRelu]] * 4
    assert all(blk[0].bias is None for blk in body)
    head = model[-2]
    assert len(head) == 1 and head[0].in_channels == 64 and head[0].bias is not None   # no norm on the head
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)   # 28 -> 14 -> 7 -> 4 -> 2 -> 1, flattened
    small = get_model(nfs=[1, 8, 16])
    assert [c.out_channels for c in small.modules() if isinstance(c, nn.Conv2d)] == [8, 16, 10]


def test_batch_transform_cb_respects_phase(make_dls):
    seen = []
    class Spy(Callback):
        order = 1
        def before_batch(self, learn): seen.append((learn.training, learn.batch[0].abs().max().item() == 0))
    zero = lambda b: (torch.zeros_like(b[0]), b[1])
    dls = make_dls(3, n_train=3, n_valid=3)
    for on_train, on_val, expected in ((True, False, [(True, True), (False, False)]),
                                       (False, True, [(True, False), (False, True)])):
        seen.clear()
        cb = BatchTransformCB(zero, on_train=on_train, on_val=on_val)
        TrainLearner(get_model(), dls, F.cross_entropy, cbs=[cb, Spy()]).fit(1)
        assert seen == expected


def test_lsuv_init_gives_unit_stats(fmnist):
    set_seed(0)
    xb = fmnist[0][:256]
    model = get_model(act=partial(GeneralRelu, leak=0.1, sub=0.4))
    relus = [m for m in model.modules() if isinstance(m, GeneralRelu)]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    for relu, cnv in zip(relus, convs): lsuv_init(model, relu, cnv, xb)
    stats = []
    def record(mod, inp, outp): stats.append((outp.mean().item(), outp.std().item()))
    handles = [r.register_forward_hook(record) for r in relus]
    with torch.no_grad(): model(xb)
    for h in handles: h.remove()
    assert len(stats) == 4
    for mean, std in stats:
        assert abs(mean) < 1e-2 and abs(std - 1) < 1e-2
    assert all(len(m._forward_hooks) == 0 for m in model.modules())


def test_lsuv_init_is_bounded_on_plain_relu(fmnist):
    "Plain ReLU can never reach mean 0: lsuv_init must still return, with finite weights."
    set_seed(0)
    model = get_model()
    lsuv_init(model, model[0][1], model[0][0], fmnist[0][:64])
    assert torch.isfinite(model[0][0].weight).all()


def test_lsuv_stats_records_mean_and_std():
    class H: pass
    h = H()
    _lsuv_stats(h, None, None, torch.tensor([1., 3.]))
    assert h.mean == 2. and h.std == pytest.approx(math.sqrt(2))


def test_get_model_returns_the_model_on_def_device(monkeypatch):
    monkeypatch.setattr(miniai.init, 'def_device', 'meta')  # a device no model starts on
    assert {p.device.type for p in get_model().parameters()} == {'meta'}


@pytest.mark.parametrize('name', ['datasets', 'conv', 'learner', 'activations', 'init', 'data', 'data.fashion',
                                  'data.idx', 'data.batches'])
def test_private_helpers_stay_out_of_all(name):
    mod = importlib.import_module(f'miniai.{name}')
    assert [n for n in mod.__all__ if n.startswith('_')] == []
    assert all(hasattr(mod, n) for n in mod.__all__)


def test_clean_mem_runs():
    clean_mem()
