"""The optimizer exercises' drivers: a few steps on small tensors with known gradients.

The same drivers run on the student's classes (in the kernel, through the probe) and on the
solution versions and catalogued mistakes (in the trusted judge); only data crosses over.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from autograde.visible.compare import agrees
from autograde.visible.lessons.accel_sgd.guard import guarded


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
    return {"cases": {c.name: guarded(run_opt_case, opt_cls, exercise, c) for c in cases}}


def public_optimizer(exercise: str):
    """The visible check's driver for one optimizer exercise."""
    return partial(optimizer_data, exercise=exercise, public=True)


def hidden_optimizer(exercise: str):
    """The hidden small-tensor test's driver for one optimizer exercise."""
    return partial(optimizer_data, exercise=exercise)


def judged_without_decay(exercise: str, cls, parent, want: dict) -> str | None:
    """When the parent (SGD) fails its own check: the lesson's reg_step does nothing without weight
    decay, so the checks without weight decay can judge this class's own step without the solution."""
    if "reg_step" in vars(cls):
        return None

    class WithoutDecay(cls):
        def reg_step(self, p):
            pass

    want = want["cases"]
    free = [c for c in PUBLIC_OPT_CASES if c.wd == 0 and c.name in want]
    got = {c.name: guarded(run_opt_case, WithoutDecay, exercise, c) for c in free}
    if not free or not agrees({"cases": got}, {"cases": {c.name: want[c.name] for c in free}}):
        return None
    name = cls.__name__
    return (f"{name}'s own code agrees on the checks without weight decay; those with weight decay "
            f"differ through {parent.__name__}.reg_step, which {name} inherits, and {parent.__name__} "
            f"fails its own check: fix {parent.__name__} first.")
