"""Mistakes the catalogue does not know, each with the hint grading should give it (issue 20 item 3).

They are kept out of trusted/lessons/accel_sgd/mistakes.py on purpose: grading cannot name them,
so all a student gets is what the hidden cases have in common (trusted/lessons/accel_sgd/diagnosis.py).
Each is a text edit of one exercise's solution cell, like the catalogue's. `expect[0]` must be the
first hint shown; every other `expect` must be in the message; no `forbid` may be (a hint whose premise
the data do not support, or one that contradicts the right one).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Uncatalogued:
    name: str
    exercise: str
    edits: tuple        # (old, new) pairs applied to the exercise's solution cell
    expect: tuple       # substrings: the first is the first hint shown
    forbid: tuple = ()  # substrings that must not be in the message


FIRST = "the very first step already differs"
LATER = "the first step is right"
WD = "only the cases with weight decay differ"
TWO = "only with two parameters"
VALID = "during validation"
BEFORE = "before the batch"

# Hints that must never be shown together: their premises exclude each other.
CONTRADICTIONS = (
    (WD, TWO),
    (WD, "with tiny gradients but not with large ones"),
    (WD, "with large gradients but not with tiny ones"),
    (FIRST, LATER), (FIRST, "only after warm-up"), (LATER, "only after warm-up"),
    ("does not move the parameters", "the error scales with the gradient's size"),
    ("the error scales with the gradient's size", "does not simply scale"),
    ("only during validation", "also stepped during validation"),
    (BEFORE, "not built again"),
    ("the first fit is right and the second differs", "every fit differs"),
    ("never the learner", "let go of before the fit ends"),
)

CORPUS = (
    # --- SGD
    Uncatalogued("sgd_decay_doubled", "sgd",
                 (("p *= 1 - self.lr * self.wd", "p *= 1 - 2 * self.lr * self.wd"),),
                 (WD,), (TWO, "tiny gradients")),
    Uncatalogued("sgd_decay_after_step", "sgd",
                 (("                self.reg_step(p)\n                self.opt_step(p)",
                   "                self.opt_step(p)\n                self.reg_step(p)"),),
                 (WD,), (TWO, "tiny gradients")),
    Uncatalogued("sgd_lr_squared", "sgd",
                 (("p -= self.lr * p.grad", "p -= self.lr ** 2 * p.grad"),),
                 ("the error scales with the gradient's size", FIRST), (WD, TWO)),
    # --- Momentum
    Uncatalogued("momentum_shared_average", "momentum",
                 (("if not hasattr(p, 'grad_avg'): p.grad_avg = torch.zeros_like(p.grad)\n"
                   "        p.grad_avg = p.grad_avg * self.mom + p.grad * (1 - self.mom)\n"
                   "        p -= self.lr * p.grad_avg",
                   "if not hasattr(self, 'grad_avg'): self.grad_avg = torch.zeros_like(p.grad)\n"
                   "        self.grad_avg = self.grad_avg * self.mom + p.grad * (1 - self.mom)\n"
                   "        p -= self.lr * self.grad_avg"),),
                 (TWO, "shared between"), (WD, FIRST, LATER)),
    Uncatalogued("momentum_steps_with_old_average", "momentum",
                 (("        p.grad_avg = p.grad_avg * self.mom + p.grad * (1 - self.mom)\n"
                   "        p -= self.lr * p.grad_avg",
                   "        p -= self.lr * p.grad_avg\n"
                   "        p.grad_avg = p.grad_avg * self.mom + p.grad * (1 - self.mom)"),),
                 ("does not move the parameters",), (WD, TWO, "0 times")),
    Uncatalogued("momentum_average_starts_at_grad", "momentum",
                 (("p.grad_avg = torch.zeros_like(p.grad)", "p.grad_avg = p.grad.clone()"),),
                 ("the value a running average starts from", FIRST), (WD, TWO, LATER)),
    # --- RMSProp
    Uncatalogued("rmsprop_average_updated_after_step", "rmsprop",
                 (("        p.sqr_avg = p.sqr_avg * self.sqr_mom + p.grad ** 2 * (1 - self.sqr_mom)\n"
                   "        p -= self.lr * p.grad / (p.sqr_avg.sqrt() + self.eps)",
                   "        p -= self.lr * p.grad / (p.sqr_avg.sqrt() + self.eps)\n"
                   "        p.sqr_avg = p.sqr_avg * self.sqr_mom + p.grad ** 2 * (1 - self.sqr_mom)"),),
                 (LATER,), (FIRST, WD, TWO)),
    Uncatalogued("rmsprop_undamped_average", "rmsprop",
                 (("p.sqr_avg * self.sqr_mom + p.grad ** 2 * (1 - self.sqr_mom)",
                   "p.sqr_avg * self.sqr_mom + p.grad ** 2"),),
                 ("a missing or extra constant factor", FIRST), (WD, TWO, LATER)),
    # --- Adam
    Uncatalogued("adam_own_counter_per_parameter", "adam",   # issue 20's first example
                 (("        super().__init__(params, lr=lr, wd=wd)\n",
                   "        super().__init__(params, lr=lr, wd=wd)\n        self.t = 0\n"),
                  ("        avg_hat = p.avg / (1 - self.beta1 ** (self.i + 1))",
                   "        self.t += 1\n        avg_hat = p.avg / (1 - self.beta1 ** self.t)"),
                  ("self.beta2 ** (self.i + 1)", "self.beta2 ** self.t")),
                 (TWO, "once per parameter"), (WD, "update rule itself", FIRST)),
    Uncatalogued("adam_bias_correction_divides_by_zero", "adam",
                 (("self.beta1 ** (self.i + 1)", "self.beta1 ** self.i"),
                  ("self.beta2 ** (self.i + 1)", "self.beta2 ** self.i")),
                 (FIRST,), (WD, TWO, LATER)),
    Uncatalogued("adam_no_square_root", "adam",
                 (("(sqr_avg_hat + self.eps).sqrt()", "(sqr_avg_hat + self.eps)"),),
                 ("does not simply scale", FIRST), (WD, TWO, LATER)),
    Uncatalogued("adam_state_reset_every_step", "adam",
                 (("if not hasattr(p, 'avg'): p.avg = torch.zeros_like(p.grad)", "p.avg = torch.zeros_like(p.grad)"),
                  ("if not hasattr(p, 'sqr_avg'): p.sqr_avg = torch.zeros_like(p.grad)",
                   "p.sqr_avg = torch.zeros_like(p.grad)")),
                 (LATER,), (FIRST, WD, TWO)),
    # --- BaseSchedCB
    Uncatalogued("base_sched_not_rebuilt", "base_sched_cb",   # issue 20's second example
                 (("        self.schedo = self.sched(learn.opt)",
                   "        if not hasattr(self, 'schedo'): self.schedo = self.sched(learn.opt)"),),
                 ("not built again for the second fit", "the first fit is right and the second differs"),
                 (BEFORE, "0 time", "time(s)")),
    Uncatalogued("base_sched_steps_only_in_validation", "base_sched_cb",
                 (("if learn.training: self.schedo.step()", "if not learn.training: self.schedo.step()"),),
                 ("only during validation",), ("also stepped", BEFORE)),
    Uncatalogued("base_sched_built_every_epoch", "base_sched_cb",
                 (("    def before_fit(self, learn):", "    def before_epoch(self, learn):"),),
                 ("built 4 times in the first fit",), (BEFORE, VALID, "time(s)")),
    # --- BatchSchedCB
    Uncatalogued("batch_sched_also_after_epoch", "batch_sched_cb",
                 (("    def after_batch(self, learn):\n        self._step(learn)",
                   "    def after_batch(self, learn):\n        self._step(learn)\n"
                   "    def after_epoch(self, learn):\n        self._step(learn)"),),
                 ("stepped 8 times in the first fit instead of 6", "once per training batch"), (BEFORE, VALID)),
    Uncatalogued("batch_sched_steps_directly", "batch_sched_cb",
                 (("        self._step(learn)", "        self.schedo.step()"),),
                 ("also stepped during validation",), (BEFORE, "only during validation")),
    # --- HasLearnCB
    Uncatalogued("has_learn_deleted_after_fit", "has_learn_cb",
                 (("self.learn = None", "del self.learn"),),
                 ("after the fit ends", "After the first fit, self.learn is not set; it should be None"),
                 ("'missing'", "after is")),
    Uncatalogued("has_learn_forgot_self", "has_learn_cb",
                 (("    def before_fit(self, learn):\n        self.learn = learn",
                   "    def before_fit(self, learn):\n        learn = learn"),),
                 ("never the learner", "During the first fit, self.learn was not the learner"),
                 ("after the fit ends", "let go of before")),
    Uncatalogued("has_learn_let_go_after_epoch", "has_learn_cb",
                 (("    def after_fit(self, learn):", "    def after_epoch(self, learn):"),),
                 ("let go of before the fit ends", "self.learn was not the learner (from batch 4 of 10 on)"),
                 ("never the learner", "after the fit ends")),
    # --- RecorderCB
    Uncatalogued("recorder_param_group_of_first_fit", "recorder_cb",
                 (("        self.pg = learn.opt.param_groups[0]",
                   "        if not hasattr(self, 'pg'): self.pg = learn.opt.param_groups[0]"),),
                 ("the first fit is right and the second differs",), (VALID, "entries per name")),
    Uncatalogued("recorder_records_per_epoch", "recorder_cb",
                 (("    def after_batch(self, learn):", "    def after_epoch(self, learn):"),),
                 ("one entry per training batch",), (VALID, "earlier fit's record")),
    # --- EpochSchedCB
    Uncatalogued("epoch_sched_steps_directly", "epoch_sched_cb",
                 (("        self._step(learn)", "        self.schedo.step()"),),
                 ("also stepped during validation",), (BEFORE, "only during validation")),
    Uncatalogued("epoch_sched_after_fit", "epoch_sched_cb",
                 (("    def after_epoch(self, learn):", "    def after_fit(self, learn):"),),
                 ("stepped 0 times in the first fit instead of 2",), (BEFORE, VALID)),
)
