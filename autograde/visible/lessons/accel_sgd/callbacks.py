"""The callback exercises' drivers: each callback driven by the real miniai Learner over a tiny fit.

Scheduler callbacks get a scripted stand-in scheduler that logs when it is stepped; HasLearnCB and
RecorderCB are watched by a second callback. Two successive fits check that state is rebuilt per fit.
"""
from __future__ import annotations

from functools import partial

from autograde.visible.lessons.accel_sgd.guard import guarded


# (training batches, validation batches, epochs of each successive fit): the second fit checks
# that state is rebuilt per fit; the public plan is a smaller sibling of the hidden one.
HIDDEN_PLAN = (3, 2, (2, 1))
PUBLIC_PLAN = (2, 1, (1, 1))


class ScriptedSched:
    """A stand-in scheduler that logs when it is stepped (epoch, batch, phase) and halves the lr."""

    def __init__(self, opt, learner_ref, log):
        self.optimizer, self._learner_ref, self.log = opt, learner_ref, log
        log["created"].append(opt is learner_ref[0].opt)

    def step(self):
        learn = self._learner_ref[0]
        self.log["steps"].append([int(learn.epoch), int(getattr(learn, "iter", -1)), bool(learn.training)])
        for g in self.optimizer.param_groups:
            g["lr"] = g["lr"] * 0.5


def _tiny_learner(cbs, plan, lr=0.1, opt_func=None):
    import torch
    from torch import nn, optim
    import torch.nn.functional as F
    from miniai.datasets import DataLoaders
    from miniai.learner import TrainLearner
    gen = torch.Generator().manual_seed(5)

    def batches(n):
        return [(torch.randn(4, 3, generator=gen), torch.randn(4, 1, generator=gen)) for _ in range(n)]

    torch.manual_seed(5)
    dls = DataLoaders(batches(plan[0]), batches(plan[1]))
    return TrainLearner(nn.Linear(3, 1), dls, F.mse_loss, lr=lr, cbs=list(cbs),
                        opt_func=opt_func or partial(optim.SGD, momentum=0.9))


def _lr_watch():
    """A callback that notes the lr each training batch runs with (set before the batch)."""
    from miniai.learner import Callback

    class LrWatch(Callback):
        order = 100

        def __init__(self): self.lrs = []

        def before_batch(self, learn):
            if learn.training:
                self.lrs.append(learn.opt.param_groups[0]["lr"])
    return LrWatch()


def sched_data(cb_cls, kind: str, plan=HIDDEN_PLAN) -> dict:
    """Fit with a scheduler callback; log every scheduler step and the lr each batch ran with."""
    if kind == "base_sched":
        class EveryEvent(cb_cls):
            """Calls _step after every batch and every epoch, training and validation alike."""
            def after_batch(self, learn): self._step(learn)
            def after_epoch(self, learn): self._step(learn)
        cb_cls = EveryEvent
    log: dict[str, list] = {"created": [], "steps": []}
    ref = [None]
    watch = _lr_watch()
    learn = _tiny_learner([cb_cls(partial(ScriptedSched, learner_ref=ref, log=log)), watch], plan)
    ref[0] = learn
    out = {}
    for i, epochs in enumerate(plan[2]):
        learn.fit(epochs)
        out[f"fit{i + 1}"] = {"created": list(log["created"]), "steps": list(log["steps"]), "lrs": list(watch.lrs)}
        log["created"].clear()
        log["steps"].clear()
        watch.lrs.clear()
    return out


def has_learn_data(cb_cls, plan=HIDDEN_PLAN) -> dict:
    """Whether the callback holds the learner during each fit and lets go of it afterwards."""
    from miniai.learner import Callback
    cb = cb_cls()

    class Look(Callback):
        order = 100

        def __init__(self): self.seen = []

        def after_batch(self, learn): self.seen.append(getattr(cb, "learn", None) is learn)

    look = Look()
    learn = _tiny_learner([cb, look], plan)
    out = {}
    for i, epochs in enumerate(plan[2]):
        look.seen.clear()
        learn.fit(epochs)
        after = getattr(cb, "learn", "missing")
        out[f"fit{i + 1}"] = {"during": list(look.seen),
                              "after": "none" if after is None else "missing" if after == "missing"
                              else "learner" if after is learn else "other"}
    return out


def rec_lr(cb): return cb.pg["lr"]
def rec_mom(cb): return cb.pg["momentum"]


def recorder_data(cb_cls, plan=HIDDEN_PLAN) -> dict:
    """Record lr and momentum while a scripted callback moves them, over successive fits."""
    from miniai.learner import Callback

    class Script(Callback):
        order = -10

        def before_batch(self, learn):
            g = learn.opt.param_groups[0]
            g["lr"] = round(0.01 * (1 + learn.iter) + 0.1 * learn.epoch + (0.5 if not learn.training else 0), 6)
            g["momentum"] = round(0.9 - 0.01 * learn.iter, 6)

    rec = cb_cls(lr=rec_lr, mom=rec_mom)
    learn = _tiny_learner([Script(), rec], plan)
    out = {}
    for i, epochs in enumerate(plan[2]):
        learn.fit(epochs)
        out[f"fit{i + 1}"] = {k: [float(v) for v in vals] for k, vals in dict(rec.recs).items()}
    return out


def public_sched(kind: str):
    return partial(guarded, sched_data, kind=kind, plan=PUBLIC_PLAN)


def hidden_sched(kind: str):
    return partial(guarded, sched_data, kind=kind)
