"""The second run over the course's parent classes hands out no solution text.

When an exercise is judged again over the course's versions of the classes it builds on, student
code runs in a kernel that holds the course's code. Whatever that code chooses (an exception's text,
what it prints, the values it records) must not reach the page, cells.csv or the gradebook: from that
run only a score and a catalogued mistake's key come back (trusted/isolation.py).
"""
import csv
import os
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pytest

from autograde import paths
from autograde.running.sandbox import bwrap_available
from autograde.trusted import isolation, mistakes, solution as reference
from autograde.trusted.judge import Verdict
from corpus import notebook_with

LESSON = paths.REPO_ROOT / "lessons" / "accel_sgd" / "accel_sgd.ipynb"

# An SGD in the student's own words (no line in common with the course's), with decay that forgets
# the learning rate: Momentum's cases with weight decay lose points over it.
OWN_SGD = """class SGD:
    def __init__(self, params, lr, wd=0.):
        self.params = list(params); self.lr = lr; self.wd = wd; self.i = 0
    def step(self):
        with torch.no_grad():
            for q in self.params:
                self.reg_step(q); self.opt_step(q)
        self.i += 1
    def opt_step(self, q): q -= self.lr * q.grad
    def reg_step(self, q):
        if self.wd: q *= 1 - self.wd
    def zero_grad(self):
        for q in self.params:
            if q.grad is not None: q.grad.zero_()
"""

# A Momentum that is right, except in one hidden case ("cold start": one parameter of shape (5,)),
# where it raises an exception carrying whatever of the course's code the kernel holds: the cell
# history, inspect's source, the disassembly of the code objects. It prints all that too.
LEAKING_MOMENTUM = '''class Momentum(SGD):
    def __init__(self, params, lr, wd=0., mom=0.9):
        super().__init__(params, lr=lr, wd=wd)
        self.mom = mom
        if len(self.params) == 1 and tuple(self.params[0].shape) == (5,):
            import dis, inspect, io
            found = [h for h in globals().get("In", []) if ("class SGD" in h or "marshal" in h)][1:]  # not its own
            for fn in (lambda: inspect.getsource(SGD), lambda: SGD.__doc__ or "",
                       lambda: (dis.dis(SGD, file=(b := io.StringIO())), b.getvalue())[1]):
                try:
                    found.append(fn())
                except Exception as e:
                    found.append(repr(e))
            leak = " | ".join(found).replace("\\n", " | ")
            print(leak)
            raise ValueError(leak)

    def opt_step(self, p):  # LEAKING
        if not hasattr(p, 'grad_avg'): p.grad_avg = torch.zeros_like(p.grad)
        p.grad_avg = p.grad_avg * self.mom + p.grad * (1 - self.mom)
        p -= self.lr * p.grad_avg
'''


def _unwritten_solution_lines(student_sources) -> set[str]:
    """Every line of the course's SGD that the student did not write (long enough to mean something)."""
    own = "\n".join(student_sources)
    sgd = reference.solution_sources()["sgd"]
    return {line.strip() for line in sgd.splitlines() if len(line.strip()) >= 12 and line.strip() not in own}


def test_the_second_run_gives_back_a_score_and_a_catalogue_key_only():
    secret = "class SGD: | self.params, self.lr, self.wd = list(params), lr, wd"
    first = Verdict("test_momentum_small", 0.3333, "2 of 6 cases differ in your run.", None, {"curve": [1, 2]})
    again = Verdict("test_momentum_small", 0.8333, f"your code raised ValueError: {secret}",
                    "momentum_undampened", {"curve": {"yours": [secret], "solution": [1.0]}, "file": secret})
    kept = isolation.retest_verdict(first, again, {"sgd"})
    assert kept.score == 0.8333 and kept.mistake == "momentum_undampened"
    assert secret not in repr(kept.as_dict())
    assert kept.details == {"curve": [1, 2]}  # the student's own first run's data
    name = mistakes.by_key()["momentum_undampened"].name
    assert kept.message == (f"{isolation.note('test_momentum_small', {'sgd'})} Over the course's SGD it still "
                            f"differs from the solution. Looks like: {name}. "
                            f"{mistakes.by_key()['momentum_undampened'].hint} "
                            f"In your own run: 2 of 6 cases differ in your run.")


def test_full_marks_over_the_course_parents_keep_only_the_note():
    again = Verdict("test_momentum_small", 1.0, "", None, {"whatever": "the kernel chose"})
    kept = isolation.retest_verdict(Verdict("test_momentum_small", 0.5, "own", None, {"x": 1}), again, {"sgd"})
    assert (kept.score, kept.message, kept.details) == (1.0, isolation.note("test_momentum_small", {"sgd"}), {})


@pytest.mark.parametrize("exercise", sorted(reference.solution_sources()))
def test_the_course_classes_enter_the_kernel_without_their_text(exercise):
    source = reference.solution_sources()[exercise]
    hidden = isolation.hidden_source(source)
    lines = [line.strip() for line in source.splitlines() if len(line.strip()) >= 8]
    assert not [line for line in lines if line in hidden]
    import torch
    from miniai.learner import Callback
    namespace = {"torch": torch, "Callback": Callback, "__builtins__": __builtins__}
    exec(compile("from torch import nn\nimport matplotlib.pyplot as plt\n", "<exercise imports>", "exec"), namespace)
    for other, src in reference.solution_sources().items():  # the classes before it, as the notebook has them
        if other == exercise:
            break
        exec(compile(src, f"<{other}>", "exec"), namespace)
    exec(hidden, namespace)  # defines the same class, docstrings gone, no source for inspect
    cls = namespace[__import__("autograde.visible.lesson", fromlist=["x"]).current().classes[exercise]]
    assert cls.__doc__ is None
    import inspect
    with pytest.raises((OSError, TypeError)):
        inspect.getsource(cls)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One student whose Momentum tries to carry the course's SGD out through the second run."""
    if not bwrap_available():
        pytest.skip("needs bubblewrap: the attack is only meaningful in the real sandbox")
    root = tmp_path_factory.mktemp("leak")
    submitted, out = root / "submitted", root / "out"
    lesson = nbformat.read(LESSON, as_version=4)
    path = submitted / "mallory" / "accel_sgd" / "accel_sgd.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nbformat.from_dict(notebook_with(lesson, {"sgd": OWN_SGD, "momentum": LEAKING_MOMENTUM})), path)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run([sys.executable, "-m", "autograde.cli", "grade", str(submitted), "--out", str(out),
                           "--timeout", "240", "--cell-timeout", "30"],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.mark.slow
def test_the_leaking_momentum_was_graded_over_the_course_sgd(graded):
    cells = {r["grade_id"]: r for r in csv.DictReader(open(graded / "grader" / "cells.csv"))}
    momentum = cells["test_momentum_small"]
    assert float(momentum["score"]) > 0 and "Graded over the course's SGD" in momentum["message"]


@pytest.mark.slow
def test_no_line_of_the_course_sgd_reaches_page_csv_or_gradebook(graded):
    from nbgrader.api import Gradebook
    unwritten = _unwritten_solution_lines([OWN_SGD, LEAKING_MOMENTUM])
    assert len(unwritten) >= 5
    texts = {"cells.csv": (graded / "grader" / "cells.csv").read_text(),
             "grades.csv": (graded / "grader" / "grades.csv").read_text()}
    for page in (graded / "feedback").rglob("*.html"):
        texts[str(page)] = page.read_text()
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{graded / 'gradebook.db'}") as gb:
        warnings.simplefilter("ignore")
        nb = gb.find_submission_notebook(paths.ASSIGNMENT, paths.ASSIGNMENT, "mallory")
        texts["gradebook"] = "\n".join(f"{c.auto_comment or ''}\n{c.manual_comment or ''}" for c in nb.comments)
    import html
    leaked = {(where, line) for where, text in texts.items() for line in unwritten
              if line in text or html.escape(line) in text}
    assert not leaked
