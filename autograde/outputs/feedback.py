"""The page each student gets back: what every hidden test checked, what it found, and their own code.

Only three things reach the page: the test descriptions from cases.TESTS, the judge's scores and
messages, and the student's own answer cells. Test cells are never read, so hidden test source
cannot leak. Everything that came from a submission (code, messages, ids) is escaped, because a
submission may contain markup meant to run in the reader's browser.
"""
from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

from autograde.visible import cases
from autograde.trusted import mistakes
from autograde.outputs.style import CSS

STATES = {  # state -> (symbol, word)
    "pass": ("\u2713", "passed"),
    "partial": ("\u25D0", "partly"),
    "fail": ("\u2717", "not yet"),
    "pending": ("\u270E", "by hand"),
}

STATUS_HEADLINES = {
    "timeout": "Your notebook reached the time limit",
    "dead": "The Python kernel stopped while running your notebook",
    "error": "The grader could not finish running your notebook",
    "unreadable": "Your notebook could not be read",
}

WRITTEN_TITLES = {
    "written_wd_vs_l2": "Written answer: weight decay and L2 regularisation",
    "written_adam_eps": "Written answer: Adam's eps",
}


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fmt(x) -> str:
    """Points as people write them: 2, 1.5, 1.71."""
    if x is None:
        return "\u2013"
    return f"{float(x):.2f}".rstrip("0").rstrip(".")


def cell_state(cell: dict) -> str:
    if cell.get("score") is None:
        return "pending"
    if cell["score"] >= cell["max_score"] - 1e-9:
        return "pass"
    return "partial" if cell["score"] > 0 else "fail"


def totals(result: dict) -> dict:
    """Auto points (scored, available) and the hand-graded points still waiting for a person."""
    auto = [c for c in result["cells"] if c.get("auto", True)]
    hand = [c for c in result["cells"] if not c.get("auto", True)]
    return {"score": round(sum(c["score"] or 0.0 for c in auto), 4),
            "max": round(sum(c["max_score"] for c in auto), 4),
            "pending": round(sum(c["max_score"] for c in hand if c["score"] is None), 4),
            "hand_score": round(sum(c["score"] for c in hand if c["score"] is not None), 4),
            "hand_graded_max": round(sum(c["max_score"] for c in hand if c["score"] is not None), 4),
            "hand_max": round(sum(c["max_score"] for c in hand), 4)}


def with_hand_grading(result: dict, scores: dict[str, float], comments: dict[str, str]) -> dict:
    """The result as the gradebook now has it: a score a person entered (a written answer, or an
    override of a test) replaces the automatic one, and their comments join the page."""
    cells = []
    for c in result["cells"]:
        if c["grade_id"] in scores:
            c = {**c, "score": scores[c["grade_id"]], "by_hand": True, "auto_score": c["score"]}
        cells.append(c)
    return {**result, "cells": cells, "comments": dict(comments)}


def _comment_html(text: str | None) -> str:
    if not text:
        return ""
    return f'<div class="comment" role="note"><strong>Comment from your instructor</strong><p>{esc(text)}</p></div>'


def section_of(grade_id: str) -> str:
    """Tests group under their exercise; a written answer is a section of its own."""
    spec = cases.TESTS.get(grade_id)
    return spec.exercise if spec else grade_id


def sections(result: dict) -> list[tuple[str, list[dict]]]:
    """(section, its cells) in lesson order.

    The result's cells follow the notebook, so ordering sections by their first cell gives the
    lesson order, with written answers where the lesson asks them; the 1cycle test, which comes
    at the end of the notebook, joins the batch_sched_cb section that appeared earlier."""
    groups: dict[str, list[dict]] = {}
    for c in result["cells"]:
        groups.setdefault(section_of(c["grade_id"]), []).append(c)
    return list(groups.items())


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def answer_sources(executed) -> dict[str, str]:
    """grade_id -> the student's answer cell text. Only solution cells: test cells hold hidden tests."""
    out: dict[str, str] = {}
    for cell in (executed or {}).get("cells", []) if isinstance(executed, dict) else []:
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if meta.get("solution") and meta.get("grade_id") and meta["grade_id"] not in out:
            out[meta["grade_id"]] = _source(cell)
    return out


def _number(v) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def curve_png(curve: dict) -> str:
    """A small PNG (base64) of the student's loss over the solution's.

    Losses above a ceiling (inf included) are drawn at the ceiling as triangles, and NaN/None
    are left out, so a diverging run still plots without flattening the solution's curve.
    Uses matplotlib's Figure directly on the Agg canvas: no pyplot, no global backend change."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    yours = [_number(v) for v in curve.get("yours") or []]
    sol = [_number(v) for v in curve.get("solution") or []]
    finite = [v for v in sol + yours if math.isfinite(v)]
    top_ref = max((v for v in sol if math.isfinite(v)), default=max(finite, default=1.0))
    ceiling = max(3.0 * abs(top_ref), 1e-6)

    fig = Figure(figsize=(4.4, 2.6), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if sol:
        ax.plot(range(1, len(sol) + 1), [v if math.isfinite(v) else math.nan for v in sol],
                color="#0072B2", linestyle="--", linewidth=1.8, label="solution", zorder=3)
    xs = [i + 1 for i, v in enumerate(yours) if not math.isnan(v)]
    ys = [min(v, ceiling) for v in yours if not math.isnan(v)]
    ax.plot(xs, ys, color="#D55E00", linewidth=1.8, marker="o", markersize=2.5, label="your loss")
    off = [(x, ceiling) for x, v in zip(xs, ys) if v >= ceiling]
    if off:
        ax.plot(*zip(*off), linestyle="none", marker="^", color="#D55E00", markersize=6,
                label="off the chart")
    ax.set_xlabel("training batch")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _accuracy_line(acc: dict) -> str:
    def pct(v):
        v = _number(v)
        return f"{100 * v:.1f}%" if math.isfinite(v) else "not available"
    return f"Final accuracy: yours {pct(acc.get('yours'))}, solution {pct(acc.get('solution'))}."


def _curve_html(details: dict) -> str:
    curve = (details or {}).get("curve")
    if not isinstance(curve, dict):
        return ""
    alt = "your training loss and the solution's, per batch"
    img = f'<img alt="{esc(alt)}" src="data:image/png;base64,{curve_png(curve)}">'
    acc = details.get("accuracy")
    cap = [_accuracy_line(acc)] if isinstance(acc, dict) else []
    yours = [_number(v) for v in curve.get("yours") or []]
    missing = sum(math.isnan(v) for v in yours)
    if missing:
        cap.append(f"Your loss was not a number at {missing} of {len(yours)} batches; those are left out.")
    cap = " ".join(cap)
    return f"<figure>{img}<figcaption>{esc(cap)}</figcaption></figure>"


def _test_html(cell: dict, run_message: str) -> str:
    gid = cell["grade_id"]
    state = cell_state(cell)
    symbol, word = STATES[state]
    spec = cases.TESTS.get(gid)
    what = spec.what if spec else gid
    parts = [f'<div class="test {state}"><div class="test-head"><span><span class="state">{symbol} {word}</span>'
             f'{esc(what[:1].upper() + what[1:])}</span>'
             f'<span class="points">{fmt(cell["score"])} / {fmt(cell["max_score"])}</span></div>']
    message = cell.get("message") or ""
    m = mistakes.BY_KEY.get(cell.get("mistake") or "")
    if m:
        parts.append(f'<div class="mistake">Recognised mistake: {esc(m.name)}</div>')
        message = message.removeprefix(f"Looks like: {m.name}. ")
    if run_message and message == run_message:
        parts.append('<p class="muted">This test did not run (see the note at the top).</p>')
    elif message:
        parts.append(f"<p>{esc(message)}</p>")
    elif state == "pass":
        parts.append('<p class="muted">Matches the solution.</p>')
    if cell.get("by_hand") and cell.get("auto", True):
        parts.append(f'<p class="muted">Score set by your instructor (the automatic test gave '
                     f'{fmt(cell.get("auto_score"))}).</p>')
    parts.append(_curve_html(cell.get("details") or {}))
    parts.append("</div>")
    return "".join(parts)


def _exercise_html(number: int, exercise: str, cells: list[dict], code: str | None, run_message: str,
                   have_notebook: bool, comment: str | None = None) -> str:
    got = sum(c["score"] or 0.0 for c in cells)
    avail = sum(c["max_score"] for c in cells)
    full = all(cell_state(c) == "pass" for c in cells)
    tick = STATES["pass"][0] + " " if full else ""
    title = f"Exercise {number}: <code>{esc(cases.EXERCISES[exercise])}</code>"
    out = [f'<section class="ex" id="{esc(exercise)}"><div class="ex-head"><h2>{title}</h2>'
           f'<span class="ex-score">{tick}{fmt(got)} / {fmt(avail)} points</span></div>']
    out.append(_comment_html(comment))
    out += [_test_html(c, run_message) for c in cells]
    if code is not None:
        opened = "" if full else " open"
        out.append(f"<details{opened}><summary>Your code</summary><pre>{esc(code)}</pre></details>")
    elif have_notebook:
        out.append(f'<p class="muted">No answer cell for this exercise was found in your notebook '
                   f'(grade id <code>{esc(exercise)}</code>).</p>')
    out.append("</section>")
    return "".join(out)


def _written_html(gid: str, cells: list[dict], text: str | None, have_notebook: bool,
                  comment: str | None = None) -> str:
    cell = cells[0]
    title = WRITTEN_TITLES.get(gid, f"Written answer ({gid})")
    if cell.get("score") is None:
        score = f"{fmt(cell['max_score'])} points, graded by hand"
    else:
        score = f"{fmt(cell['score'])} / {fmt(cell['max_score'])} points, graded by hand"
    if text and text.strip():
        body = f'<h3>Your answer</h3><div class="answer">{esc(text.strip())}</div>'
    elif have_notebook:
        body = '<p class="muted">No written answer was found in your notebook.</p>'
    else:
        body = ""
    return (f'<section class="ex" id="{esc(gid)}"><div class="ex-head"><h2>{esc(title)}</h2>'
            f'<span class="ex-score">{STATES["pending"][0]} {score}</span></div>'
            f'{body}{_comment_html(comment)}</section>')


def _submission_note_html(result: dict) -> str:
    """Which notebook was graded, when the student handed in several (submissions.choose_notebook)."""
    note = result.get("submission_note")
    if not note:
        return ""
    return (f'<div class="notice" role="note"><strong>Which notebook was graded</strong>'
            f'<p>{esc(note)}</p></div>')


def _notice_html(result: dict) -> str:
    status, message = result.get("status", "ok"), result.get("message") or ""
    if status == "ok" and not message:
        return ""
    headline = STATUS_HEADLINES.get(status, "A note about this run")
    tail = ("Tests that could not run score 0 on this page. Once the problem is fixed, they will "
            "be graded like the others." if status != "ok" else "")
    return (f'<div class="notice" role="note"><strong>{esc(headline)}</strong>'
            f'<p>{esc(message)}</p><p>{tail}</p></div>')


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>{body}</main></body></html>\n")


def render_feedback(result: dict) -> str:
    """The student's feedback page, as one self-contained HTML document."""
    t = totals(result)
    run_message = result.get("message") or ""
    answers = answer_sources(result.get("executed"))
    head = (f"<h1>Feedback: {esc(result['assignment_id'])}</h1>"
            f'<p class="muted">Notebook {esc(result["notebook_id"])} \u00b7 student {esc(result["student_id"])}'
            + (f' \u00b7 submitted {esc(result["timestamp"])}' if result.get("timestamp") else "") + "</p>")
    pending = (f"<p>Written answers: {fmt(t['pending'])} more points, pending: graded by hand.</p>"
               if t["pending"] else "")
    hand = (f"<p>Written answers graded by hand: {fmt(t['hand_score'])} / {fmt(t['hand_graded_max'])}.</p>"
            if t["hand_graded_max"] else "")
    if t["hand_graded_max"]:
        so_far = " so far" if t["pending"] else ""
        hand += (f"<p><strong>Total{so_far}: {fmt(t['score'] + t['hand_score'])} / "
                 f"{fmt(t['max'] + t['hand_max'])}</strong></p>")
    summary = (f'<div class="summary"><div class="big">{fmt(t["score"])} / {fmt(t["max"])}</div>'
               f"<p>points from the automatic tests so far.</p>{pending}{hand}"
               f'<p class="muted">Each section below is one exercise: what the hidden tests checked, how '
               f"your code did, and, where points were lost, what differed from the expected result. "
               f"The hidden tests use inputs you have not seen, so they can find things the checks in "
               f"the notebook miss.</p></div>")
    comments = dict(result.get("comments") or {})
    body = [head, _submission_note_html(result), _notice_html(result), summary]
    have_notebook = isinstance(result.get("executed"), dict)
    number = 0
    for key, cells in sections(result):
        if key in cases.EXERCISES:
            number += 1
            body.append(_exercise_html(number, key, cells, answers.get(key), run_message, have_notebook,
                                       comments.pop(key, None)))
        elif all(not c.get("auto", True) for c in cells):
            body.append(_written_html(key, cells, answers.get(key), have_notebook, comments.pop(key, None)))
        else:  # a test the course does not describe: still show its score and message
            body.append(f'<section class="ex">{"".join(_test_html(c, run_message) for c in cells)}</section>')
    body += [_comment_html(text) for _, text in sorted(comments.items())]  # on cells without a section
    body.append('<p class="muted">Questions about this feedback? Ask your instructor; '
                "they can see the same results.</p>")
    return page(f"Feedback: {result['assignment_id']} ({result['student_id']})", "".join(body))


def safe_part(name: str) -> str:
    """A path component from a student or assignment id: never a way out of the feedback folder."""
    name = str(name)
    if not name or name in (".", "..") or Path(name).name != name or "\\" in name or "\x00" in name:
        raise ValueError(f"unsafe id for a file name: {name!r}")
    return name


def feedback_relpath(result: dict) -> Path:
    """Where nbgrader looks for feedback: feedback/{student}/{assignment}/{notebook}.html."""
    return Path("feedback", safe_part(result["student_id"]), safe_part(result["assignment_id"]),
                safe_part(result["notebook_id"]) + ".html")


def write_feedback(result: dict, out_dir: Path, feedback_dir: Path | None = None) -> Path:
    """Into out_dir/feedback/ (nbgrader's default), or the course's configured feedback_dir."""
    rel = feedback_relpath(result)
    path = Path(feedback_dir).joinpath(*rel.parts[1:]) if feedback_dir else Path(out_dir) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_feedback(result), encoding="utf-8")
    return path
