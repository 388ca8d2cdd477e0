"""A public corpus of submissions: correct answers written differently, the catalogued mistakes,
cheats and faults. Answers are exercise-cell sources; `notebook_with` turns them into a submission.
"""
from __future__ import annotations

import copy

import nbformat

from autograde.trusted import mistakes, solution as reference

# Correct solutions written the way students do: state in a dict on the optimizer, in-place ops,
# lerp/addcdiv, a different but equivalent order of operations. All must get full marks.
CORRECT_VARIANTS = {
    "inplace_ops": {
        "sgd": """class SGD:
    def __init__(self, params, lr, wd=0.):
        self.params, self.lr, self.wd = list(params), lr, wd
        self.i = 0

    def step(self):
        with torch.no_grad():
            for p in self.params:
                self.reg_step(p)
                self.opt_step(p)
        self.i += 1

    def opt_step(self, p):
        p.add_(p.grad, alpha=-self.lr)

    def reg_step(self, p):
        if self.wd: p.mul_(1 - self.lr * self.wd)

    def zero_grad(self):
        for p in self.params:
            if p.grad is not None: p.grad.zero_()
""",
        "momentum": """class Momentum(SGD):
    def __init__(self, params, lr, wd=0., mom=0.9):
        super().__init__(params, lr=lr, wd=wd)
        self.mom = mom

    def opt_step(self, p):
        if not hasattr(p, 'grad_avg'): p.grad_avg = torch.zeros_like(p.grad)
        p.grad_avg.lerp_(p.grad, 1 - self.mom)
        p.sub_(self.lr * p.grad_avg)
""",
        "rmsprop": """class RMSProp(SGD):
    def __init__(self, params, lr, wd=0., sqr_mom=0.99, eps=1e-5):
        super().__init__(params, lr=lr, wd=wd)
        self.sqr_mom, self.eps = sqr_mom, eps

    def opt_step(self, p):
        if not hasattr(p, 'sqr_avg'): p.sqr_avg = p.grad.square()
        p.sqr_avg.mul_(self.sqr_mom).addcmul_(p.grad, p.grad, value=1 - self.sqr_mom)
        p.addcdiv_(p.grad, p.sqr_avg.sqrt().add(self.eps), value=-self.lr)
""",
        "adam": """class Adam(SGD):
    def __init__(self, params, lr, wd=0., beta1=0.9, beta2=0.99, eps=1e-5):
        super().__init__(params, lr=lr, wd=wd)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def opt_step(self, p):
        if not hasattr(p, 'avg'):
            p.avg, p.sqr_avg = torch.zeros_like(p.grad), torch.zeros_like(p.grad)
        t = self.i + 1
        p.avg.lerp_(p.grad, 1 - self.beta1)
        p.sqr_avg.mul_(self.beta2).addcmul_(p.grad, p.grad, value=1 - self.beta2)
        denom = (p.sqr_avg / (1 - self.beta2 ** t)).add_(self.eps).sqrt_()
        p.addcdiv_(p.avg, denom, value=-self.lr / (1 - self.beta1 ** t))
""",
    },
    "state_in_a_dict": {
        "momentum": """class Momentum(SGD):
    def __init__(self, params, lr, wd=0., mom=0.9):
        super().__init__(params, lr=lr, wd=wd)
        self.mom = mom

    def opt_step(self, p):
        state = self.__dict__.setdefault('state', {})
        avg = state.get(p)
        avg = p.grad * (1 - self.mom) if avg is None else avg * self.mom + p.grad * (1 - self.mom)
        state[p] = avg
        p -= self.lr * avg
""",
        "rmsprop": """class RMSProp(SGD):
    def __init__(self, params, lr, wd=0., sqr_mom=0.99, eps=1e-5):
        super().__init__(params, lr=lr, wd=wd)
        self.sqr_mom, self.eps = sqr_mom, eps

    def opt_step(self, p):
        state = self.__dict__.setdefault('state', {})
        g2 = p.grad * p.grad
        sq = state.get(p, g2)
        sq = self.sqr_mom * sq + (1 - self.sqr_mom) * g2
        state[p] = sq
        p -= self.lr * p.grad / (torch.sqrt(sq) + self.eps)
""",
        "adam": """class Adam(SGD):
    def __init__(self, params, lr, wd=0., beta1=0.9, beta2=0.99, eps=1e-5):
        super().__init__(params, lr=lr, wd=wd)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def opt_step(self, p):
        st = self.__dict__.setdefault('st', {}).setdefault(id(p), {'m': 0., 'v': 0.})
        st['m'] = self.beta1 * st['m'] + (1 - self.beta1) * p.grad
        st['v'] = self.beta2 * st['v'] + (1 - self.beta2) * p.grad.pow(2)
        m_hat = st['m'] / (1 - self.beta1 ** (self.i + 1))
        v_hat = st['v'] / (1 - self.beta2 ** (self.i + 1))
        p.sub_(self.lr * m_hat / torch.sqrt(v_hat + self.eps))
""",
        "recorder_cb": """from collections import defaultdict
class RecorderCB(Callback):
    def __init__(self, **d): self.d = d

    def before_fit(self, learn):
        self.recs = defaultdict(list)
        self.pg = learn.opt.param_groups[0]

    def after_batch(self, learn):
        if learn.training:
            for name, fn in self.d.items(): self.recs[name].append(fn(self))

    def plot(self):
        for k, v in self.recs.items():
            plt.plot(v, label=k)
            plt.legend()
            plt.show()
""",
        "batch_sched_cb": """class BatchSchedCB(BaseSchedCB):
    def after_batch(self, learn):
        if learn.training: self.schedo.step()
""",
        "epoch_sched_cb": """class EpochSchedCB(BaseSchedCB):
    def after_epoch(self, learn): return self._step(learn)
""",
        "has_learn_cb": """class HasLearnCB(Callback):
    def before_fit(self, learn): self.learn = learn
    def after_fit(self, learn): del self.learn; self.learn = None
""",
    },
    # Unusual but correct: their own __init__ without super(), extra attributes, a call to the parent's
    # opt_step with the averaged gradient, a callback with its own state.
    "unusual": {
        "momentum": """class Momentum(SGD):
    def __init__(self, params, lr, wd=0., mom=0.9):
        SGD.__init__(self, params, lr, wd)
        self.mom, self.steps_seen = mom, 0

    def opt_step(self, p):
        if not hasattr(p, 'grad_avg'): p.grad_avg = torch.zeros_like(p.grad)
        p.grad_avg.mul_(self.mom).add_(p.grad, alpha=1 - self.mom)
        raw, p.grad = p.grad, p.grad_avg
        super().opt_step(p)
        p.grad = raw
        self.steps_seen += 1
""",
        "adam": """class Adam(SGD):
    def __init__(self, params, lr, wd=0., beta1=0.9, beta2=0.99, eps=1e-5):
        self.params, self.lr, self.wd, self.i = list(params), lr, wd, 0
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.moments = {}

    def opt_step(self, p):
        m, v = self.moments.get(p, (torch.zeros_like(p), torch.zeros_like(p)))
        m = self.beta1 * m + (1 - self.beta1) * p.grad
        v = self.beta2 * v + (1 - self.beta2) * p.grad * p.grad
        self.moments[p] = (m, v)
        t = self.i + 1
        p -= self.lr * (m / (1 - self.beta1 ** t)) / ((v / (1 - self.beta2 ** t)) + self.eps).sqrt()
""",
        "epoch_sched_cb": """class EpochSchedCB(BaseSchedCB):
    def __init__(self, sched):
        super().__init__(sched)
        self.epochs_stepped = 0

    def after_epoch(self, learn):
        if learn.training: self.epochs_stepped += 1
        super()._step(learn)
""",
    },
}


def variant_sources(answers: dict) -> dict:
    """The solution sources with some exercises replaced."""
    sources = reference.solution_sources()
    return {e: answers.get(e, src) for e, src in sources.items()}


def mistake_sources(key: str) -> dict:
    return mistakes.variant_sources(mistakes.BY_KEY[key], reference.solution_sources())


def notebook_with(lesson, answers: dict, extra_cells=(), edit=None) -> dict:
    """A submission: the released lesson with these answer sources filled in (by grade_id)."""
    nb = copy.deepcopy(lesson)
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    for index, source in extra_cells:
        nb.cells.insert(index, nbformat.v4.new_code_cell(source))
    if edit:
        edit(nb)
    return nb


# A student's own helper cell, and a Momentum answer that uses it (the self-check and the kit must
# see the helper, as grading does).
HELPER = "def ema(avg, new, mom):\n    return avg * mom + new * (1 - mom)\n"
MOMENTUM_WITH_HELPER = """class Momentum(SGD):
    def __init__(self, params, lr, wd=0., mom=0.9):
        super().__init__(params, lr=lr, wd=wd)
        self.mom = mom

    def opt_step(self, p):
        if not hasattr(p, 'grad_avg'): p.grad_avg = torch.zeros_like(p.grad)
        p.grad_avg = ema(p.grad_avg, p.grad, self.mom)
        p -= self.lr * p.grad_avg
"""
