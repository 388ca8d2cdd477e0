"""Short FashionMNIST runs on the course model: the optimizers and 1cycle in a real (brief) training.

One intra-op thread, a fixed seed and fixed data make a run repeatable to the bit for the same code
on the same device; the judge compares loss curves with a tolerance (trusted side).
"""
from __future__ import annotations

import math
from functools import lru_cache, partial

from autograde.visible.lessons.accel_sgd.callbacks import rec_lr


RUN_LR = {"sgd": 0.4, "momentum": 1.5, "rmsprop": 3e-3, "adam": 6e-3}
RUN_SEED = 42
RUN_N_TRAIN, RUN_N_VALID, RUN_BS, RUN_EPOCHS = 2560, 1000, 256, 2
ONECYCLE_MAX_LR = 6e-2


@lru_cache(maxsize=1)
def run_data_tensors():
    """A fixed, class-balanced slice of the committed real FashionMNIST sample, as tensors."""
    from miniai.datasets import fashion_tensors
    xt, yt = fashion_tensors("train", sample=True, n=RUN_N_TRAIN)
    xv, yv = fashion_tensors("test", sample=True, n=RUN_N_VALID)
    return xt, yt, xv, yv


def short_run(opt_func, lr, extra_cbs=(), epochs=RUN_EPOCHS, seed=RUN_SEED) -> dict:
    """Train the course model briefly; per-batch training losses and the final eval accuracy.

    One intra-op thread, a fixed seed and fixed data make the run repeatable to the bit for the
    same code on the same device, whoever runs it."""
    import torch
    from torch import nn
    import torch.nn.functional as F
    from miniai.activations import set_seed
    from miniai.conv import def_device
    from miniai.datasets import tensor_dls
    from miniai.init import GeneralRelu, get_model, init_weights
    from miniai.learner import Callback, DeviceCB, TrainLearner

    class LossLog(Callback):
        order = 90

        def __init__(self): self.losses = []

        def after_loss(self, learn):
            if learn.training:
                self.losses.append(learn.loss.detach().item())

    threads = torch.get_num_threads()
    was = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(1)
    try:
        xt, yt, xv, yv = run_data_tensors()
        set_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)  # same numbers on every GPU of a kind (gpus.py)
        dls = tensor_dls(xt, yt, xv, yv, RUN_BS)
        model = get_model(partial(GeneralRelu, leak=0.1, sub=0.4), norm=nn.BatchNorm2d)
        model.apply(partial(init_weights, leaky=0.1))
        log = LossLog()
        learn = TrainLearner(model, dls, F.cross_entropy, lr=lr, cbs=[DeviceCB(), log, *extra_cbs],
                             opt_func=opt_func)
        learn.fit(epochs, valid=False)
        model.eval()
        with torch.no_grad():
            logits = model(xv.to(def_device)).float().cpu()
        loss = float(F.cross_entropy(logits, yv))
        acc = float((logits.argmax(1) == yv).float().mean())
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(was[0], warn_only=was[1])
    return {"losses": log.losses, "valid_loss": loss if math.isfinite(loss) else None,
            "accuracy": acc, "seed": seed, "device": str(def_device)}


def run_data(opt_cls, exercise: str) -> dict:
    return short_run(opt_cls, RUN_LR[exercise])


def _beta1(cb): return cb.pg["betas"][0]


def onecycle_data(batch_sched_cls, recorder_cls) -> dict:
    """The lesson's 1cycle set-up (AdamW + OneCycleLR, lr and beta1 recorded), shortened."""
    from torch import optim
    from torch.optim import lr_scheduler
    total = RUN_EPOCHS * math.ceil(RUN_N_TRAIN / RUN_BS)
    sched = partial(lr_scheduler.OneCycleLR, max_lr=ONECYCLE_MAX_LR, total_steps=total)
    rec = recorder_cls(lr=rec_lr, mom=_beta1)
    out = short_run(optim.AdamW, ONECYCLE_MAX_LR, extra_cbs=[batch_sched_cls(sched), rec])
    out["recs"] = {k: [float(v) for v in vals] for k, vals in dict(rec.recs).items()}
    return out
