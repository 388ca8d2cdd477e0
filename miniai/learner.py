"""A small, callback-driven `Learner`.

The training loop itself knows almost nothing: every step (predict, loss, backward, step,
zero_grad) and every extra (metrics, devices, progress bars, LR finding) is either a method
of a subclass or a callback, so the lesson can swap pieces without touching the loop.
"""
import math
import time
from collections.abc import Mapping
from copy import copy
from functools import partial, wraps
from operator import attrgetter

import fastcore.all as fc
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from fastprogress import master_bar, progress_bar
from fastprogress.core import format_time
from torch import optim
from torch.optim.lr_scheduler import ExponentialLR
from torcheval.metrics import Mean

from .conv import def_device, to_device

__all__ = ['CancelFitException', 'CancelBatchException', 'CancelEpochException', 'Callback', 'run_cbs',
           'with_cbs', 'Learner', 'TrainLearner', 'MomentumLearner', 'TrainCB', 'DeviceCB', 'to_cpu',
           'MetricsCB', 'ProgressCB', 'SingleBatchCB', 'LRFinderCB', 'lr_find']


# Raising one of these from a callback skips the rest of that fit/epoch/batch (cleanup still runs).
class CancelFitException(Exception): pass
class CancelBatchException(Exception): pass
class CancelEpochException(Exception): pass


class Callback:
    "Base class for callbacks: lower `order` runs first."
    order = 0


def run_cbs(cbs, method_nm, learn=None):
    "Call `method_nm(learn)` on each callback that defines it, in `order`."
    for cb in sorted(cbs, key=attrgetter('order')):
        method = getattr(cb, method_nm, None)
        if method is not None: method(learn)


class with_cbs:
    "Decorator wrapping a loop stage in before_/after_/cleanup_ callbacks, so callbacks can cancel it."
    def __init__(self, nm): self.nm = nm

    def __call__(self, f):
        nm = self.nm
        @wraps(f)
        def _f(o, *args, **kwargs):
            try:
                o.callback(f'before_{nm}')
                f(o, *args, **kwargs)
                o.callback(f'after_{nm}')
            except globals()[f'Cancel{nm.title()}Exception']: pass
            finally: o.callback(f'cleanup_{nm}')
        return _f


class Learner:
    "Runs the training loop; the steps themselves come from subclasses or callbacks."
    def __init__(self, model, dls=(0,), loss_func=F.mse_loss, lr=0.1, cbs=None, opt_func=optim.SGD):
        self.model, self.dls, self.loss_func, self.lr, self.opt_func = model, dls, loss_func, lr, opt_func
        self.cbs = fc.L(cbs)  # as the course holds them: None -> empty, one callback -> a list of one

    @with_cbs('batch')
    def _one_batch(self):
        self.predict()
        self.callback('after_predict')
        self.get_loss()
        self.callback('after_loss')
        if self.training:
            self.backward()
            self.callback('after_backward')
            self.step()
            self.callback('after_step')
            self.zero_grad()

    @with_cbs('epoch')
    def _one_epoch(self):
        for self.iter, self.batch in enumerate(self.dl): self._one_batch()

    def one_epoch(self, training):
        self.model.train(training)
        self.dl = self.dls.train if training else self.dls.valid
        self._one_epoch()

    @with_cbs('fit')
    def _fit(self, train, valid):
        for self.epoch in self.epochs:
            if train: self.one_epoch(True)
            if valid: torch.no_grad()(self.one_epoch)(False)

    def fit(self, n_epochs=1, train=True, valid=True, cbs=None, lr=None):
        "Train for `n_epochs`; `cbs` are used for this call only."
        cbs = fc.L(cbs)
        for cb in cbs: self.cbs.append(cb)
        try:
            self.n_epochs = n_epochs
            self.epochs = range(n_epochs)
            # Built before `before_fit` so callbacks (schedulers, LR finder) can see `learn.opt`.
            # Only `opt_func(params, lr)` is assumed, so hand-written optimizers work too; with
            # `opt_func=None` no optimizer is made (a callback or the caller provides `learn.opt`).
            if self.opt_func: self.opt = self.opt_func(self.model.parameters(), self.lr if lr is None else lr)
            self._fit(train, valid)
        finally:
            for cb in cbs: self.cbs.remove(cb)

    def __getattr__(self, name):
        # Steps missing from the class are looked up on callbacks (e.g. `TrainCB`).
        if name in ('predict', 'get_loss', 'backward', 'step', 'zero_grad'): return partial(self.callback, name)
        raise AttributeError(name)

    def callback(self, method_nm): run_cbs(self.cbs, method_nm, self)

    @property
    def training(self): return self.model.training


class TrainLearner(Learner):
    "A `Learner` for the usual `(x, y)` batches."
    def predict(self): self.preds = self.model(self.batch[0])
    def get_loss(self): self.loss = self.loss_func(self.preds, self.batch[1])
    def backward(self): self.loss.backward()
    def step(self): self.opt.step()
    def zero_grad(self): self.opt.zero_grad()


class MomentumLearner(TrainLearner):
    "Momentum without an optimizer: keep a fraction `mom` of the old gradients instead of zeroing them."
    def __init__(self, model, dls=(0,), loss_func=F.mse_loss, lr=0.1, cbs=None, opt_func=optim.SGD, mom=0.85):
        self.mom = mom
        super().__init__(model, dls, loss_func, lr, cbs, opt_func)

    def zero_grad(self):
        with torch.no_grad():
            for p in self.model.parameters():
                if p.grad is not None: p.grad *= self.mom


class TrainCB(Callback):
    "Supplies the training steps to a plain `Learner`; the first `n_inp` batch items go to the model."
    def __init__(self, n_inp=1): self.n_inp = n_inp
    def predict(self, learn): learn.preds = learn.model(*learn.batch[:self.n_inp])
    def get_loss(self, learn): learn.loss = learn.loss_func(learn.preds, *learn.batch[self.n_inp:])
    def backward(self, learn): learn.loss.backward()
    def step(self, learn): learn.opt.step()
    def zero_grad(self, learn): learn.opt.zero_grad()


class DeviceCB(Callback):
    "Keeps the model and each batch on `device`."
    def __init__(self, device=def_device): self.device = device
    def before_fit(self, learn):
        if hasattr(learn.model, 'to'): learn.model.to(self.device)
    def before_batch(self, learn): learn.batch = to_device(learn.batch, device=self.device)


def to_cpu(x):
    "Detached CPU copy of `x` (recursing into containers); half floats become float32 for metrics."
    if isinstance(x, Mapping): return {k: to_cpu(v) for k, v in x.items()}
    if isinstance(x, list): return [to_cpu(o) for o in x]
    if isinstance(x, tuple): return tuple(to_cpu(o) for o in x)
    if not isinstance(x, torch.Tensor): return x
    res = x.detach().cpu()
    return res.float() if res.dtype == torch.float16 else res


_clock = time.perf_counter  # a name of our own, so a test can stop time


class MetricsCB(Callback):
    """Accumulates torcheval metrics and the sample-weighted mean loss; logs them each epoch, with the
    epoch's wall time as fastai shows it (mm:ss), so a student sees what a run costs on their machine."""
    def __init__(self, *ms, **metrics):
        for o in ms: metrics[type(o).__name__] = o
        self.metrics = metrics
        self.all_metrics = copy(metrics)
        self.all_metrics['loss'] = self.loss = Mean()

    def _log(self, d): print(d)
    def before_fit(self, learn): learn.metrics = self
    def before_epoch(self, learn):
        for m in self.all_metrics.values(): m.reset()
        self.start = _clock()

    def after_epoch(self, learn):
        log = {k: f'{v.compute():.3f}' for k, v in self.all_metrics.items()}
        log['epoch'] = learn.epoch
        log['train'] = 'train' if learn.model.training else 'eval'
        log['time'] = format_time(_clock() - self.start)
        self._log(log)

    def after_batch(self, learn):
        y = to_cpu(learn.batch[1])
        preds = to_cpu(learn.preds)
        for m in self.metrics.values(): m.update(preds, y)
        # Weighting by batch size makes the epoch loss a per-sample mean even with a short last batch.
        self.loss.update(to_cpu(learn.loss), weight=len(y))


class ProgressCB(Callback):
    "fastprogress bars, a metrics table and (optionally) a live loss graph."
    order = MetricsCB.order + 1
    graph_every = 1.0  # seconds between two redraws of the loss graph within an epoch
    def __init__(self, plot=False): self.plot = plot

    def before_fit(self, learn):
        learn.epochs = self.mbar = master_bar(learn.epochs)
        self.first = True
        self.losses, self.val_losses, self.val_iters = [], [], []
        self._batch_losses, self._drawn, self._next_draw = [], 0, 0.
        if hasattr(learn, 'metrics'): learn.metrics._log = self._log

    def _log(self, d):
        if self.first:
            self.mbar.write(list(d), table=True)
            self.first = False
        self.mbar.write([str(v) for v in d.values()], table=True)

    def before_epoch(self, learn):
        learn.dl = progress_bar(learn.dl, leave=False, parent=self.mbar)
        self._batch_losses = []

    def after_batch(self, learn):
        loss = learn.loss.item()
        learn.dl.comment = f'{loss:.3f}'
        if not self.plot: return
        if learn.training:
            self.losses.append(loss)
            if self.val_losses: self._update_graph(force=False)
        else: self._batch_losses.append(loss)

    def after_epoch(self, learn):
        if not self.plot or learn.training: return
        if hasattr(learn, 'metrics'): vl = learn.metrics.loss.compute().item()
        elif self._batch_losses: vl = sum(self._batch_losses) / len(self._batch_losses)
        else: return
        self.val_losses.append(vl)
        self.val_iters.append(len(self.losses))  # plot each validation loss where its epoch's training ended
        self._update_graph()

    def cleanup_fit(self, learn):
        if self.plot and self.val_losses and self._drawn < len(self.losses): self._update_graph()  # cancelled fit
        # Give the metrics their own logger back, so a later fit without this callback still prints.
        m = getattr(learn, 'metrics', None)
        if m is not None and m.__dict__.get('_log') == self._log: del m._log

    def _update_graph(self, force=True):
        """Redraw the loss graph: always at the end of an epoch, and between batches at most once every
        `graph_every` seconds (or 4x the last redraw's time, if longer). In a notebook each redraw renders
        a PNG, a good part of a second on a CPU (the lesson's run times: `python bench/lesson.py`,
        BENCHMARKS.md §3); redrawing after every training batch,
        as the course does, did that ~950 times in the lesson. The final graph is the same."""
        start = _clock()
        if not force and start < self._next_draw: return
        self.mbar.update_graph([[list(range(len(self.losses))), self.losses], [self.val_iters, self.val_losses]])
        self._drawn, end = len(self.losses), _clock()
        self._next_draw = end + max(self.graph_every, 4 * (end - start))


class SingleBatchCB(Callback):
    "Stop after one batch: a quick smoke test of model, data and callbacks."
    order = 1
    def after_batch(self, learn): raise CancelFitException()


class LRFinderCB(Callback):
    "Multiplies the LR by `gamma` each batch, recording losses until they exceed `max_mult` x the best."
    def __init__(self, gamma=1.3, max_mult=3): self.gamma, self.max_mult = gamma, max_mult

    def before_fit(self, learn):
        self.sched = ExponentialLR(learn.opt, self.gamma)
        self.lrs, self.losses = [], []
        self.min = math.inf

    def after_batch(self, learn):
        if not learn.training: raise CancelEpochException()
        self.lrs.append(learn.opt.param_groups[0]['lr'])
        loss = to_cpu(learn.loss).item()
        self.losses.append(loss)
        if loss < self.min: self.min = loss
        if math.isnan(loss) or loss > self.min * self.max_mult: raise CancelFitException()
        self.sched.step()

    def cleanup_fit(self, learn):
        fig, ax = plt.subplots()
        ax.plot(self.lrs, self.losses)
        ax.set_xscale('log')
        ax.set_xlabel('learning rate')
        ax.set_ylabel('loss')


def lr_find(self: Learner, gamma=1.3, max_mult=3, start_lr=1e-5, max_epochs=10):
    "Grow the LR exponentially from `start_lr` until the loss blows up, then plot loss vs LR."
    self.fit(max_epochs, lr=start_lr, cbs=LRFinderCB(gamma=gamma, max_mult=max_mult))

Learner.lr_find = lr_find  # a method, defined after LRFinderCB as in the course
