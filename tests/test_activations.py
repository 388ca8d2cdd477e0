"""Behaviour of miniai.activations: seeding, hooks and activation statistics."""
import random
from functools import partial

import fastcore.all as fc
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from miniai.activations import *
from miniai.activations import abs_histogram
from miniai.init import GeneralRelu, get_model
from miniai.learner import SingleBatchCB, TrainLearner


def draws():
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)]


def test_set_seed_makes_all_rngs_repeatable():
    set_seed(123)
    first = draws()
    set_seed(123)
    assert draws() == first
    set_seed(124)
    assert all(a != b for a, b in zip(draws(), first))


def test_set_seed_toggles_deterministic_algorithms():
    try:
        set_seed(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        set_seed(0)
    assert not torch.are_deterministic_algorithms_enabled()


def test_hooks_context_manager_records_and_removes():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    def record(hook, mod, inp, outp): hook.shape = tuple(outp.shape)
    with Hooks([model[0], model[2]], record) as hooks:
        model(torch.randn(5, 4))
        assert [h.shape for h in hooks] == [(5, 3), (5, 2)]
        assert all(len(m._forward_hooks) == 1 for m in (model[0], model[2]))
    assert all(len(m._forward_hooks) == 0 for m in model)


def test_single_hook_remove():
    lin = nn.Linear(2, 2)
    calls = []
    h = Hook(lin, lambda hook, *args: calls.append(hook))
    lin(torch.zeros(1, 2))
    h.remove()
    lin(torch.zeros(1, 2))
    assert calls == [h]


def test_hooks_callback_runs_only_in_selected_phases(make_dls):
    counts = {True: 0, False: 0}
    learn = None
    def count(hook, mod, inp, outp): counts[learn.training] += 1
    dls = make_dls(3, n_train=6, n_valid=3)   # 2 training batches, 1 validation batch per epoch
    for on_train, on_valid, expected in ((True, False, {True: 2, False: 0}), (False, True, {True: 0, False: 1}),
                                         (True, True, {True: 2, False: 1})):
        counts = {True: 0, False: 0}
        model = get_model()
        cb = HooksCallback(count, mod_filter=fc.risinstance(nn.Flatten), on_train=on_train, on_valid=on_valid)
        learn = TrainLearner(model, dls, F.cross_entropy, cbs=[cb])
        learn.fit(1)
        assert len(cb) == 1 and counts == expected
        assert all(len(m._forward_hooks) == 0 for m in model.modules())


def test_hooks_callback_explicit_mods_and_removal_after_cancelled_fit(make_dls):
    model = get_model()
    cb = HooksCallback(append_stats, mods=[model[0], model[1]])
    TrainLearner(model, make_dls(3, n_train=6, n_valid=3), F.cross_entropy, cbs=[cb, SingleBatchCB()]).fit(1)
    assert [h for h in cb] == list(cb.hooks) and len(cb) == 2
    assert [len(h.stats[0]) for h in cb] == [1, 1]
    assert all(len(m._forward_hooks) == 0 for m in model.modules())


@pytest.fixture
def astats(make_dls):
    "ActivationStats over the 4 ReLUs of the course model after one epoch of 4 training batches."
    set_seed(0)
    stats = ActivationStats(fc.risinstance(GeneralRelu))
    model = get_model(act=partial(GeneralRelu, leak=0.1, sub=0.4))
    TrainLearner(model, make_dls(64, n_train=256, n_valid=128), F.cross_entropy, lr=0.1, cbs=[stats]).fit(1)
    return stats


def test_activation_stats_shapes(astats):
    assert len(astats) == 4
    for h in astats:
        means, stds, hists = h.stats
        assert len(means) == len(stds) == len(hists) == 4   # training batches only (on_valid=False)
        assert all(m.dim() == 0 and s.dim() == 0 for m, s in zip(means, stds))
        assert all(x.shape == (40,) for x in hists)
        assert get_hist(h).shape == (40, 4)
        frac = get_min(h)
        assert frac.shape == (4,) and ((frac >= 0) & (frac <= 1)).all()


def test_append_stats_values_exact():
    lin = nn.Identity()
    with Hooks([lin], append_stats) as hooks:
        lin(torch.tensor([-1., 0.1, 0.3, 5.]))
    (mean,), (std,), (hist,) = hooks[0].stats
    x = torch.tensor([-1., 0.1, 0.3, 5.])
    assert mean == x.mean() and std == x.std()
    expected = torch.zeros(40)
    expected[[4, 0, 1, 20]] = 1   # |x| in bins of width 0.25 over [0, 10]
    assert torch.equal(hist, expected)
    h = hooks[0]
    assert torch.equal(get_hist(h)[:, 0], expected.log1p())  # row 0 = smallest |activations|, as the course's
    assert get_min(h).tolist() == [0.25]


def test_the_histogram_counts_exactly_as_torch_histc_does():
    """Edges (0, each 0.25, exactly 10), beyond 10, inf and NaN, then real-sized activations."""
    edges = torch.tensor([0., -0., 0.25, 0.2499999, 9.75, 9.9999995, 10., -10., 10.000001, 11., float('inf'),
                          -float('inf'), float('nan'), 1e-40])
    torch.manual_seed(0)
    for acts in (edges, torch.randn(1024, 8, 14, 14) * 4, torch.randn(64, 64, 2, 2).relu()):
        assert torch.equal(abs_histogram(acts), acts.abs().histc(40, 0, 10))


def test_activation_plots_run_headless(astats):
    astats.color_dim()
    astats.dead_chart()
    astats.plot_stats()
    figs = [plt.figure(n) for n in plt.get_fignums()]
    assert len(figs) == 3
    assert sum(bool(ax.images) for ax in figs[0].axes) == 4
    assert {ax.images[0].origin for ax in figs[0].axes if ax.images} == {'lower'}  # smallest at the bottom
    assert sum(bool(ax.lines) for ax in figs[1].axes) == 4
    assert [len(ax.lines) for ax in figs[2].axes] == [4, 4]
