"""The instructor's overview of a graded class: how it did, where it struggled, what to re-teach.

Pass rates count students with full marks, so a test most students half-pass still stands out;
mistakes count students (not test cells), so one misunderstanding that fails two tests of the same
exercise is counted once per student. Submissions that did not run cleanly are listed, because
their low scores say nothing about the material.
"""
from __future__ import annotations

import base64
import io
import statistics
from pathlib import Path
from urllib.parse import quote

from autograde.visible import cases
from autograde.trusted import mistakes
from autograde.outputs.feedback import cell_state, esc, feedback_relpath, fmt, page, totals

REPORT_CSS = """
.cards { display: flex; flex-wrap: wrap; gap: .75rem; margin: 1rem 0 1.5rem; }
.card { background: #fff; border: 1px solid #d8dce0; border-radius: 8px; padding: .6rem 1rem; min-width: 9rem; }
.card .big { font-size: 1.6rem; }
.bar { background: #e6eef5; border-radius: 3px; height: .7rem; width: 8rem; display: inline-block;
       vertical-align: middle; margin-left: .4rem; }
.bar > span { display: block; height: 100%; background: #0072B2; border-radius: 3px; }
main { max-width: 72rem; }
td.rate { white-space: nowrap; }
.warn { border-left: 6px solid #D55E00; background: #fdf0e8; padding: .6rem 1rem; border-radius: 4px; }
"""


def _pct(n: int, d: int) -> str:
    return f"{n} / {d} ({100 * n / d:.0f}%)" if d else "\u2013"


def _bar(frac: float) -> str:
    return f'<span class="bar" aria-hidden="true"><span style="width:{100 * frac:.1f}%"></span></span>'


def _rate_cell(s: dict) -> str:
    return f"<td class=rate>{_pct(s['full'], s['n'])}{_bar(s['full'] / s['n'])}</td>"


def histogram_png(scores: list[float], max_points: float) -> str:
    """Auto totals in one-point bins, as a base64 PNG (Figure on the Agg canvas, no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    top = max(1, int(max_points + 0.999), int(max(scores, default=0) + 0.999))
    fig = Figure(figsize=(6.4, 2.8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    # The last bin is closed, so full marks land in [top-1, top] rather than past the edge.
    ax.hist(scores, bins=range(0, top + 1), color="#0072B2", edgecolor="white")
    ax.set_xlabel(f"automatic score (of {fmt(max_points)})")
    ax.set_ylabel("students")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def per_test_stats(results: list[dict]) -> dict[str, dict]:
    """grade_id -> {n, full, mean, max}: autograded cells only, in notebook order."""
    stats: dict[str, dict] = {}
    for r in results:
        for c in r["cells"]:
            if not c.get("auto", True):
                continue
            s = stats.setdefault(c["grade_id"], {"n": 0, "full": 0, "sum": 0.0, "max": c["max_score"]})
            s["n"] += 1
            s["full"] += cell_state(c) == "pass"
            s["sum"] += c["score"] or 0.0
    for s in stats.values():
        s["mean"] = s["sum"] / s["n"] if s["n"] else 0.0
    return stats


def per_exercise_stats(results: list[dict]) -> dict[str, dict]:
    """exercise -> {n, full, mean, max}: full means every test of the exercise at full marks."""
    stats: dict[str, dict] = {}
    for r in results:
        per: dict[str, list[dict]] = {}
        for c in r["cells"]:
            spec = cases.TESTS.get(c["grade_id"])
            if spec and c.get("auto", True):
                per.setdefault(spec.exercise, []).append(c)
        for ex, cells in per.items():
            s = stats.setdefault(ex, {"n": 0, "full": 0, "sum": 0.0, "max": sum(c["max_score"] for c in cells)})
            s["n"] += 1
            s["full"] += all(cell_state(c) == "pass" for c in cells)
            s["sum"] += sum(c["score"] or 0.0 for c in cells)
    order = list(cases.EXERCISES)
    out = {ex: stats[ex] for ex in sorted(stats, key=lambda e: order.index(e) if e in order else len(order))}
    for s in out.values():
        s["mean"] = s["sum"] / s["n"] if s["n"] else 0.0
    return out


def mistake_counts(results: list[dict]) -> list[tuple[str, int, list[str]]]:
    """(mistake key, number of students, tests that flagged it), most common first."""
    students: dict[str, set] = {}
    tests: dict[str, list[str]] = {}
    for r in results:
        for c in r["cells"]:
            key = c.get("mistake")
            if key:
                students.setdefault(key, set()).add(r["student_id"])
                if c["grade_id"] not in tests.setdefault(key, []):
                    tests[key].append(c["grade_id"])
    order = [m.key for m in mistakes.CATALOGUE]
    rank = {k: i for i, k in enumerate(order)}
    keys = sorted(students, key=lambda k: (-len(students[k]), rank.get(k, len(order)), k))
    return [(k, len(students[k]), tests[k]) for k in keys]


def _link(result: dict, prefix: str = "") -> str:
    rel = prefix + feedback_relpath(result).as_posix()
    return f'<a href="{esc(quote(rel))}">{esc(result["student_id"])}</a>'


def render_report(results: list[dict], link_prefix: str = "") -> str:
    """The instructor's report for one assignment, as a self-contained HTML document."""
    n = len(results)
    tots = [totals(r) for r in results]
    scores = [t["score"] for t in tots]
    max_points = max((t["max"] for t in tots), default=0.0)
    aid = results[0]["assignment_id"] if results else ""
    body = [f"<h1>Grading report: {esc(aid)}</h1>"]

    pending = sum(1 for r in results for c in r["cells"] if not c.get("auto", True) and c["score"] is None)
    mean = statistics.fmean(scores) if scores else 0.0
    median = statistics.median(scores) if scores else 0.0
    cards = [("students", str(n)), ("mean auto score", f"{fmt(mean)} / {fmt(max_points)}"),
             ("median auto score", f"{fmt(median)} / {fmt(max_points)}"),
             ("written answers to grade by hand", str(pending))]
    body.append('<div class="cards">' + "".join(
        f'<div class="card"><div class="big">{v}</div><div class="muted">{label}</div></div>' for label, v in cards)
        + "</div>")

    unsandboxed = [r for r in results if r.get("sandboxed") is False]
    if unsandboxed:
        body.append(f'<p class="warn"><strong>{len(unsandboxed)} submission(s) ran without the sandbox</strong> '
                    f"(student code had the grader's access): "
                    + ", ".join(esc(r["student_id"]) for r in unsandboxed) + ".</p>")

    if n:
        body.append("<h2>Grade distribution</h2>"
                    f'<figure><img style="width:640px" alt="histogram of automatic scores" '
                    f'src="data:image/png;base64,{histogram_png(scores, max_points)}"></figure>')

    body.append("<h2>Exercises</h2><table><tr><th>exercise</th><th>class</th><th class=num>points</th>"
                "<th>students with full marks</th><th class=num>mean score</th></tr>")
    for ex, s in per_exercise_stats(results).items():
        body.append(f"<tr><td>{esc(ex)}</td><td><code>{esc(cases.EXERCISES.get(ex, ''))}</code></td>"
                    f"<td class=num>{fmt(s['max'])}</td>{_rate_cell(s)}"
                    f"<td class=num>{fmt(s['mean'])}</td></tr>")
    body.append("</table>")

    body.append("<h2>Tests</h2><table><tr><th>test</th><th>what it checks</th><th class=num>points</th>"
                "<th>students with full marks</th><th class=num>mean score</th></tr>")
    for gid, s in per_test_stats(results).items():
        spec = cases.TESTS.get(gid)
        body.append(f"<tr><td><code>{esc(gid)}</code></td><td>{esc(spec.what if spec else '')}</td>"
                    f"<td class=num>{fmt(s['max'])}</td>{_rate_cell(s)}"
                    f"<td class=num>{fmt(s['mean'])}</td></tr>")
    body.append("</table>")

    body.append("<h2>Named mistakes</h2>")
    counted = mistake_counts(results)
    if counted:
        body.append('<p class="muted">Students whose results matched a catalogued mistake, most common '
                    "first: the misconceptions worth going over again.</p>"
                    "<table><tr><th class=num>students</th><th>mistake</th><th>exercise</th>"
                    "<th>hint given</th><th>seen in</th></tr>")
        for key, count, tests in counted:
            m = mistakes.BY_KEY.get(key)
            body.append(f"<tr><td class=num>{_pct(count, n)}</td><td><strong>{esc(m.name if m else key)}</strong></td>"
                        f"<td>{esc(m.exercise if m else '')}</td><td>{esc(m.hint if m else '')}</td>"
                        f"<td>{', '.join(f'<code>{esc(t)}</code>' for t in tests)}</td></tr>")
        body.append("</table>")
    else:
        body.append('<p class="muted">No catalogued mistake was recognised.</p>')

    body.append("<h2>Submissions that did not run cleanly</h2>")
    troubled = [r for r in results if r.get("status", "ok") != "ok" or r.get("message")]
    if troubled:
        body.append("<table><tr><th>student</th><th>status</th><th>message</th></tr>")
        for r in troubled:
            body.append(f"<tr><td>{_link(r, link_prefix)}</td><td>{esc(r.get('status'))}</td><td>{esc(r.get('message'))}</td></tr>")
        body.append("</table>")
    else:
        body.append('<p class="muted">Every notebook ran to the end.</p>')

    body.append("<h2>Students</h2><table><tr><th>student (feedback page)</th><th class=num>auto score</th>"
                "<th class=num>of</th><th class=num>pending by hand</th><th>status</th></tr>")
    for r, t in sorted(zip(results, tots), key=lambda rt: str(rt[0]["student_id"])):
        body.append(f"<tr><td>{_link(r, link_prefix)}</td><td class=num>{fmt(t['score'])}</td><td class=num>{fmt(t['max'])}</td>"
                    f"<td class=num>{fmt(t['pending'])}</td><td>{esc(r.get('status', 'ok'))}</td></tr>")
    body.append("</table>")
    html_doc = page(f"Grading report: {aid}", "".join(body))
    return html_doc.replace("</style>", REPORT_CSS + "</style>", 1)


def write_report(results: list[dict], out_dir: Path, link_prefix: str = "") -> Path:
    """out_dir/report.html; link_prefix leads from there to the folder that holds feedback/."""
    path = Path(out_dir) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(results, link_prefix), encoding="utf-8")
    return path
