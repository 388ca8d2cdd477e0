"""The catalogue of typical mistakes, as small edits of the solution versions.

Each mistake is a text edit of one exercise's solution cell (see reference.py). The judge runs every
variant on the same inputs as the student's code; when the student's numbers match a variant, the
feedback names the mistake and explains it. Variants are derived from the solution, so they follow
it when the solution changes (a test checks every edit still applies).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from autograde.trusted import solution as reference


@dataclass(frozen=True)
class Mistake:
    key: str
    exercise: str
    name: str   # what the student did, in a few words
    hint: str   # what to change, and why
    edits: tuple  # (old text, new text) pairs applied to the exercise's solution source


CATALOGUE = (
    # --- SGD
    Mistake("sgd_forgot_lr", "sgd", "forgot the learning rate",
            "The step is the gradient scaled by the learning rate: p -= lr * grad.",
            (("p -= self.lr * p.grad", "p -= p.grad"),)),
    Mistake("sgd_wrong_sign", "sgd", "stepped up the gradient (wrong sign)",
            "Gradient descent moves against the gradient: subtract lr * grad.",
            (("p -= self.lr * p.grad", "p += self.lr * p.grad"),)),
    Mistake("sgd_l2_not_decay", "sgd", "L2 regularisation instead of decoupled weight decay",
            "reg_step should shrink the weights directly, p *= 1 - lr*wd, not add wd*p to the gradient: "
            "the two only agree while the step is the raw gradient times lr, and differ as soon as an "
            "optimizer rescales the gradient.",
            (("if self.wd != 0: p *= 1 - self.lr * self.wd", "if self.wd != 0: p.grad += self.wd * p"),)),
    Mistake("sgd_decay_without_lr", "sgd", "weight decay without the learning rate",
            "Decoupled decay multiplies the weights by 1 - lr*wd: the learning rate scales the decay too.",
            (("if self.wd != 0: p *= 1 - self.lr * self.wd", "if self.wd != 0: p *= 1 - self.wd"),)),
    Mistake("sgd_no_decay", "sgd", "weight decay not applied",
            "When wd is not zero, reg_step must shrink every parameter by the factor 1 - lr*wd.",
            (("if self.wd != 0: p *= 1 - self.lr * self.wd", "pass"),)),
    # --- Momentum
    Mistake("momentum_undampened", "momentum", "un-dampened (PyTorch-style) momentum",
            "This lesson's momentum is an exponential moving average: grad_avg*mom + grad*(1-mom). "
            "Adding the raw gradient (as torch.optim.SGD does) makes steps about 1/(1-mom) times larger.",
            (("p.grad_avg * self.mom + p.grad * (1 - self.mom)", "p.grad_avg * self.mom + p.grad"),)),
    Mistake("momentum_state_reset", "momentum", "momentum state reset every step",
            "Create grad_avg only the first time a parameter is seen; re-creating it each step forgets the average.",
            (("if not hasattr(p, 'grad_avg'): p.grad_avg = torch.zeros_like(p.grad)",
              "p.grad_avg = torch.zeros_like(p.grad)"),)),
    Mistake("momentum_weights_swapped", "momentum", "momentum weights swapped",
            "The old average keeps weight mom and the new gradient gets 1 - mom.",
            (("p.grad_avg * self.mom + p.grad * (1 - self.mom)", "p.grad_avg * (1 - self.mom) + p.grad * self.mom"),)),
    Mistake("momentum_plain_grad", "momentum", "stepped with the raw gradient, not the average",
            "Step with the moving average grad_avg, not with p.grad.",
            (("p -= self.lr * p.grad_avg", "p -= self.lr * p.grad"),)),
    Mistake("momentum_forgot_lr", "momentum", "forgot the learning rate",
            "Scale the averaged gradient by the learning rate: p -= lr * grad_avg.",
            (("p -= self.lr * p.grad_avg", "p -= p.grad_avg"),)),
    # --- RMSProp
    Mistake("rmsprop_zero_init", "rmsprop", "RMSProp state initialised with zeros",
            "Start sqr_avg at grad**2: from zeros the average is biased toward 0 for the first steps, "
            "and dividing by its small square root makes those steps far too large.",
            (("if not hasattr(p, 'sqr_avg'): p.sqr_avg = p.grad ** 2",
              "if not hasattr(p, 'sqr_avg'): p.sqr_avg = torch.zeros_like(p.grad)"),)),
    Mistake("rmsprop_eps_inside", "rmsprop", "eps inside the square root",
            "This lesson's RMSProp divides by sqrt(sqr_avg) + eps (eps outside the root); with tiny "
            "gradients the placement changes the step a lot.",
            (("(p.sqr_avg.sqrt() + self.eps)", "(p.sqr_avg + self.eps).sqrt()"),)),
    Mistake("rmsprop_no_sqrt", "rmsprop", "divided by the squared average without the square root",
            "Divide by the square root of the squared-gradient average (plus eps).",
            (("(p.sqr_avg.sqrt() + self.eps)", "(p.sqr_avg + self.eps)"),)),
    Mistake("rmsprop_weights_swapped", "rmsprop", "sqr_mom weights swapped",
            "The old average keeps weight sqr_mom and the new squared gradient gets 1 - sqr_mom.",
            (("p.sqr_avg * self.sqr_mom + p.grad ** 2 * (1 - self.sqr_mom)",
              "p.sqr_avg * (1 - self.sqr_mom) + p.grad ** 2 * self.sqr_mom"),)),
    Mistake("rmsprop_forgot_lr", "rmsprop", "forgot the learning rate",
            "Scale the step by the learning rate.",
            (("p -= self.lr * p.grad / (p.sqr_avg.sqrt() + self.eps)",
              "p -= p.grad / (p.sqr_avg.sqrt() + self.eps)"),)),
    # --- Adam
    Mistake("adam_eps_outside", "adam", "eps outside the square root",
            "This lesson's Adam puts eps inside the root: sqrt(sqr_avg_hat + eps). torch.optim.Adam uses "
            "sqrt(v_hat) + eps instead; the two differ when gradients are tiny.",
            (("(sqr_avg_hat + self.eps).sqrt()", "(sqr_avg_hat.sqrt() + self.eps)"),)),
    Mistake("adam_no_bias_correction", "adam", "missing bias correction",
            "Both averages start at zero, so divide them by 1 - beta**(i+1) to undo the bias toward 0.",
            (("p.avg / (1 - self.beta1 ** (self.i + 1))", "p.avg"),
             ("p.sqr_avg / (1 - self.beta2 ** (self.i + 1))", "p.sqr_avg"))),
    Mistake("adam_bias_off_by_one", "adam", "bias correction off by one step",
            "self.i counts completed steps, so during step i+1 the correction is 1 - beta**(i+1).",
            (("self.beta1 ** (self.i + 1)", "self.beta1 ** (self.i + 2)"),
             ("self.beta2 ** (self.i + 1)", "self.beta2 ** (self.i + 2)"))),
    Mistake("adam_betas_swapped", "adam", "beta1 and beta2 swapped",
            "beta1 weighs the gradient average (momentum), beta2 the squared-gradient average.",
            (("p.avg = self.beta1 * p.avg + (1 - self.beta1) * p.grad",
              "p.avg = self.beta2 * p.avg + (1 - self.beta2) * p.grad"),
             ("p.sqr_avg = self.beta2 * p.sqr_avg + (1 - self.beta2) * p.grad ** 2",
              "p.sqr_avg = self.beta1 * p.sqr_avg + (1 - self.beta1) * p.grad ** 2"))),
    Mistake("adam_counter_in_opt_step", "adam", "step counter advanced inside opt_step",
            "step() already does self.i += 1 once per step; advancing it in opt_step counts once per "
            "parameter and shifts the bias correction.",
            (("        avg_hat = p.avg", "        self.i += 1\n        avg_hat = p.avg"),)),
    Mistake("adam_forgot_lr", "adam", "forgot the learning rate",
            "Scale the step by the learning rate.",
            (("p -= self.lr * avg_hat", "p -= avg_hat"),)),
    # --- scheduler callbacks
    Mistake("sched_steps_in_validation", "base_sched_cb", "scheduler stepped during validation",
            "_step must only step the scheduler while learn.training is True; validation batches must "
            "not move the schedule.",
            (("if learn.training: self.schedo.step()", "self.schedo.step()"),)),
    Mistake("batch_sched_before_batch", "batch_sched_cb", "scheduler stepped before the batch",
            "Step after each training batch (after_batch), so the first batch runs at the initial lr.",
            (("def after_batch(self, learn):", "def before_batch(self, learn):"),)),
    Mistake("batch_sched_per_epoch", "batch_sched_cb", "per-batch scheduler stepped once per epoch",
            "BatchSchedCB steps after every training batch (after_batch), not after each epoch.",
            (("def after_batch(self, learn):", "def after_epoch(self, learn):"),)),
    Mistake("epoch_sched_per_batch", "epoch_sched_cb", "per-epoch scheduler stepped every batch",
            "EpochSchedCB steps once per training epoch, in after_epoch.",
            (("def after_epoch(self, learn):", "def after_batch(self, learn):"),)),
    Mistake("epoch_sched_before_epoch", "epoch_sched_cb", "scheduler stepped before the epoch",
            "Step after each training epoch (after_epoch), so the first epoch runs at the initial lr.",
            (("def after_epoch(self, learn):", "def before_epoch(self, learn):"),)),
    Mistake("has_learn_not_cleared", "has_learn_cb", "learner kept after the fit",
            "Set self.learn = None in after_fit so the callback does not keep the learner (and its model) alive.",
            (("self.learn = None", "pass"),)),
    Mistake("recorder_not_reset", "recorder_cb", "recorder not reset between fits",
            "Create fresh lists in before_fit, so a second fit starts a new record.",
            (("self.recs = {k: [] for k in self.d}", "self.recs = getattr(self, 'recs', None) or {k: [] for k in self.d}"),)),
    Mistake("recorder_records_validation", "recorder_cb", "recorded during validation",
            "Record only after training batches: return early when learn.training is False.",
            (("if not learn.training: return", "pass"),)),
)

BY_KEY = {m.key: m for m in CATALOGUE}


def apply_edits(source: str, mistake: Mistake) -> str:
    for old, new in mistake.edits:
        if old not in source:
            raise LookupError(f"mistake {mistake.key}: {old!r} is not in the {mistake.exercise} solution")
        source = source.replace(old, new)
    return source


def variant_sources(mistake: Mistake, sources: dict) -> dict:
    return {e: apply_edits(src, mistake) if e == mistake.exercise else src for e, src in sources.items()}


@lru_cache(maxsize=None)
def variant_classes(key: str) -> dict:
    """Class name -> class, for the whole lesson with this one mistake made (subclasses inherit it)."""
    return reference.solution_classes(variant_sources(BY_KEY[key], reference.solution_sources()))


def affecting(exercise: str, class_names=()) -> list:
    """The mistakes a test of this exercise can name: its own only. Tests run an exercise's class
    over the solution's versions of the classes it builds on when those lost points (isolation.py),
    so a base class's mistake is charged in the base class's exercise alone."""
    return [m for m in CATALOGUE if m.exercise == exercise]
