"""The inputs every check runs on, and the drivers that turn an implementation into plain data.

Both sides of the trust boundary use this module: the probe runs these drivers on the student's
classes inside the sandboxed kernel, and the judge runs the very same drivers on the solution
versions and on the catalogued mistakes in the trusted process. Only data (numbers, lists, flags)
crosses over, so nothing here may hold a solution: it only *drives* whatever classes it is given.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache, partial

# Exercise name -> the class the lesson asks for, in the order the lesson defines them.
EXERCISES = {
    "sgd": "SGD",
    "momentum": "Momentum",
    "rmsprop": "RMSProp",
    "adam": "Adam",
    "base_sched_cb": "BaseSchedCB",
    "batch_sched_cb": "BatchSchedCB",
    "has_learn_cb": "HasLearnCB",
    "recorder_cb": "RecorderCB",
    "epoch_sched_cb": "EpochSchedCB",
}

# Exercise -> the earlier exercises its class builds on (subclasses). The one place this fact
# lives: the judge matches only an exercise's own mistakes, and a test whose parents lost points
# is graded again over the solution's parents (isolation.py), so a slip costs points only once.
BUILDS_ON = {
    "momentum": ("sgd",),
    "rmsprop": ("sgd",),
    "adam": ("sgd",),
    "batch_sched_cb": ("base_sched_cb",),
    "epoch_sched_cb": ("base_sched_cb",),
}


@dataclass(frozen=True)
class TestSpec:
    """One autograded test cell: which exercise it grades, how, and with which classes."""
    exercise: str
    kind: str
    classes: tuple
    what: str


TESTS = {
    "test_sgd_small": TestSpec("sgd", "optimizer", ("SGD",), "SGD on small tensors"),
    "test_sgd_run": TestSpec("sgd", "run", ("SGD",), "a short FashionMNIST run with SGD"),
    "test_momentum_small": TestSpec("momentum", "optimizer", ("Momentum",), "Momentum on small tensors"),
    "test_momentum_run": TestSpec("momentum", "run", ("Momentum",), "a short FashionMNIST run with Momentum"),
    "test_rmsprop_small": TestSpec("rmsprop", "optimizer", ("RMSProp",), "RMSProp on small tensors"),
    "test_rmsprop_run": TestSpec("rmsprop", "run", ("RMSProp",), "a short FashionMNIST run with RMSProp"),
    "test_adam_small": TestSpec("adam", "optimizer", ("Adam",), "Adam on small tensors"),
    "test_adam_run": TestSpec("adam", "run", ("Adam",), "a short FashionMNIST run with Adam"),
    "test_base_sched_cb": TestSpec("base_sched_cb", "base_sched", ("BaseSchedCB",),
                                   "BaseSchedCB driven by a real Learner"),
    "test_batch_sched_cb": TestSpec("batch_sched_cb", "batch_sched", ("BatchSchedCB",),
                                    "BatchSchedCB driven by a real Learner"),
    "test_has_learn_cb": TestSpec("has_learn_cb", "has_learn", ("HasLearnCB",),
                                  "HasLearnCB driven by a real Learner"),
    "test_recorder_cb": TestSpec("recorder_cb", "recorder", ("RecorderCB",),
                                 "RecorderCB driven by a real Learner, over two fits"),
    "test_epoch_sched_cb": TestSpec("epoch_sched_cb", "epoch_sched", ("EpochSchedCB",),
                                    "EpochSchedCB driven by a real Learner"),
    "test_batch_sched_cb_onecycle": TestSpec("batch_sched_cb", "onecycle", ("BatchSchedCB", "RecorderCB"),
                                             "a short 1cycle FashionMNIST run with BatchSchedCB and RecorderCB"),
}



def exercise_of(class_name: str) -> str:
    return next(e for e, c in EXERCISES.items() if c == class_name)


def parents(test_id: str) -> tuple:
    """The exercises, other than its own, whose classes a test runs (bases and helpers), in lesson order."""
    spec = TESTS[test_id]
    found = set(BUILDS_ON.get(spec.exercise, ()))
    for name in spec.classes:
        ex = exercise_of(name)
        if ex != spec.exercise:
            found |= {ex, *BUILDS_ON.get(ex, ())}
    return tuple(e for e in EXERCISES if e in found)


# ---------------------------------------------------------------------------------------------
# Optimizers on small tensors


@dataclass(frozen=True)
class OptCase:
    """A few optimizer steps on fresh parameters with a known sequence of gradients."""
    name: str
    shapes: tuple
    seed: int
    grad_scale: float = 1.0
    wd: float = 0.0
    steps: int = 6
    sign_step: bool = False  # drive reg_step through a subclass whose opt_step ignores the gradient's size
    only: tuple = ()  # the exercises this case measures (empty: every optimizer)


OPT_LR = {"sgd": 0.1, "momentum": 0.1, "rmsprop": 0.01, "adam": 0.01}

HIDDEN_OPT_CASES = (
    OptCase("cold start", ((5,),), seed=1101),
    OptCase("weight decay", ((3, 4),), seed=1102, wd=0.1),
    OptCase("tiny gradients", ((4,),), seed=1103, grad_scale=1e-4, steps=8),
    OptCase("large gradients", ((2, 3),), seed=1104, grad_scale=100.0, wd=0.01),
    OptCase("after warm-up", ((6,),), seed=1105, grad_scale=0.5, wd=0.05, steps=40),
    OptCase("two parameters", ((3,), (2, 2)), seed=1106, wd=0.02),
    # Replaces opt_step, so it measures reg_step only: SGD's exercise, not its subclasses'.
    OptCase("decay through a subclass", ((4,),), seed=1107, wd=0.1, steps=5, sign_step=True, only=("sgd",)),
)
PUBLIC_OPT_CASES = (
    OptCase("public: a few steps", ((3,),), seed=7, steps=3),
    OptCase("public: weight decay", ((2, 2),), seed=8, wd=0.1, steps=3),
    OptCase("public: tiny gradients", ((3,),), seed=9, grad_scale=1e-4, steps=3),
    OptCase("public: decay through a subclass", ((3,),), seed=10, wd=0.1, steps=3, sign_step=True),
)


def _sign_step(opt_cls):
    """A subclass whose step size ignores the gradient's scale: there L2 and decoupled decay differ."""
    class SignStep(opt_cls):
        def opt_step(self, p):
            p -= self.lr * p.grad.sign()
    return SignStep


def run_opt_case(opt_cls, exercise: str, case: OptCase) -> dict:
    """The parameters after every step, flattened: a trajectory any correct optimizer reproduces."""
    import torch
    gen = torch.Generator().manual_seed(case.seed)
    params = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in case.shapes]
    targets = [torch.randn(s, generator=gen) for s in case.shapes]
    cls = _sign_step(opt_cls) if case.sign_step else opt_cls
    opt = cls(params, lr=OPT_LR[exercise], wd=case.wd)
    traj = []
    for _ in range(case.steps):
        for p, t in zip(params, targets):
            noise = torch.randn(p.shape, generator=gen)
            p.grad = case.grad_scale * (torch.tanh(p.detach() - t) + 0.5 * noise)
        opt.step()
        opt.zero_grad()
        traj.append([float(v) for p in params for v in p.detach().reshape(-1).tolist()])
    return {"traj": traj}


def hidden_opt_cases(exercise: str) -> tuple:
    """The hidden cases of one optimizer exercise: each fails for that exercise's trivial answers."""
    return tuple(c for c in HIDDEN_OPT_CASES if not c.only or exercise in c.only)


def optimizer_data(opt_cls, exercise: str, public: bool = False) -> dict:
    cases = PUBLIC_OPT_CASES if public else hidden_opt_cases(exercise)
    return {"cases": {c.name: _guarded(run_opt_case, opt_cls, exercise, c) for c in cases}}


def _guarded(fn, *args):
    """Run one case; an exception becomes data (the student's error message), never a crash."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - any failure of student code is a result
        return {"error": f"{type(e).__name__}: {e}"[:500]}


# ---------------------------------------------------------------------------------------------
# Scheduler callbacks, driven by the real Learner over a tiny fit

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
            if learn.training: self.lrs.append(learn.opt.param_groups[0]["lr"])
    return LrWatch()


def sched_data(cb_cls, kind: str, plan=HIDDEN_PLAN) -> dict:
    """Fit with a scheduler callback; log every scheduler step and the lr each batch ran with."""
    if kind == "base_sched":
        class EveryEvent(cb_cls):
            """Calls _step after every batch and every epoch, training and validation alike."""
            def after_batch(self, learn): self._step(learn)
            def after_epoch(self, learn): self._step(learn)
        cb_cls = EveryEvent
    log = {"created": [], "steps": []}
    ref = [None]
    watch = _lr_watch()
    learn = _tiny_learner([cb_cls(partial(ScriptedSched, learner_ref=ref, log=log)), watch], plan)
    ref[0] = learn
    out = {}
    for i, epochs in enumerate(plan[2]):
        learn.fit(epochs)
        out[f"fit{i + 1}"] = {"created": list(log["created"]), "steps": list(log["steps"]), "lrs": list(watch.lrs)}
        log["created"].clear(); log["steps"].clear(); watch.lrs.clear()
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


def _rec_lr(cb): return cb.pg["lr"]
def _rec_mom(cb): return cb.pg["momentum"]


def recorder_data(cb_cls, plan=HIDDEN_PLAN) -> dict:
    """Record lr and momentum while a scripted callback moves them, over successive fits."""
    from miniai.learner import Callback

    class Script(Callback):
        order = -10

        def before_batch(self, learn):
            g = learn.opt.param_groups[0]
            g["lr"] = round(0.01 * (1 + learn.iter) + 0.1 * learn.epoch + (0.5 if not learn.training else 0), 6)
            g["momentum"] = round(0.9 - 0.01 * learn.iter, 6)

    rec = cb_cls(lr=_rec_lr, mom=_rec_mom)
    learn = _tiny_learner([Script(), rec], plan)
    out = {}
    for i, epochs in enumerate(plan[2]):
        learn.fit(epochs)
        out[f"fit{i + 1}"] = {k: [float(v) for v in vals] for k, vals in dict(rec.recs).items()}
    return out


# ---------------------------------------------------------------------------------------------
# Short FashionMNIST runs on the course model

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
            if learn.training: self.losses.append(learn.loss.detach().item())

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
    rec = recorder_cls(lr=_rec_lr, mom=_beta1)
    out = short_run(optim.AdamW, ONECYCLE_MAX_LR, extra_cbs=[batch_sched_cls(sched), rec])
    out["recs"] = {k: [float(v) for v in vals] for k, vals in dict(rec.recs).items()}
    return out


# ---------------------------------------------------------------------------------------------

def collect(test_id: str, *classes) -> dict:
    """The data one test cell produces from the classes it is given (student's or solution's)."""
    spec = TESTS[test_id]
    if spec.kind == "optimizer":
        return optimizer_data(classes[0], spec.exercise)
    if spec.kind == "run":
        return _guarded(run_data, classes[0], spec.exercise)
    if spec.kind in ("base_sched", "batch_sched", "epoch_sched"):
        return _guarded(sched_data, classes[0], spec.kind)
    if spec.kind == "has_learn":
        return _guarded(has_learn_data, classes[0])
    if spec.kind == "recorder":
        return _guarded(recorder_data, classes[0])
    if spec.kind == "onecycle":
        return _guarded(onecycle_data, *classes)
    raise KeyError(f"unknown test kind {spec.kind!r}")


def public_data(exercise: str, cls) -> dict:
    """The data the visible check compares: public inputs only, no training runs."""
    if exercise in OPT_LR:
        return optimizer_data(cls, exercise, public=True)
    kind = {"base_sched_cb": "base_sched", "batch_sched_cb": "batch_sched", "epoch_sched_cb": "epoch_sched"}
    if exercise in kind:
        return _guarded(sched_data, cls, kind[exercise], PUBLIC_PLAN)
    if exercise == "has_learn_cb":
        return _guarded(has_learn_data, cls, PUBLIC_PLAN)
    if exercise == "recorder_cb":
        return _guarded(recorder_data, cls, PUBLIC_PLAN)
    raise KeyError(f"unknown exercise {exercise!r}")
