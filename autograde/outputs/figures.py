"""The pages' figures, drawn with matplotlib's Figure on the Agg canvas (no pyplot, no global backend
change) and inlined as PNG data URIs, so each page stays one self-contained file."""
from __future__ import annotations

import base64
import io
import math

from autograde.outputs.pages import fmt


def _figure(width: float, height: float, dpi: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def png_data_uri(fig) -> str:
    """The figure as a data: URI an <img> can show."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def number(v) -> float:
    """A loss or accuracy as a float; anything else (None, text, a bool) is NaN."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def loss_curve(curve: dict) -> str:
    """The student's loss over the solution's, per batch.

    Losses above a ceiling (inf included) are drawn at the ceiling as triangles, and NaN/None
    are left out, so a diverging run still plots without flattening the solution's curve."""
    yours = [number(v) for v in curve.get("yours") or []]
    sol = [number(v) for v in curve.get("solution") or []]
    finite = [v for v in sol + yours if math.isfinite(v)]
    top_ref = max((v for v in sol if math.isfinite(v)), default=max(finite, default=1.0))
    ceiling = max(3.0 * abs(top_ref), 1e-6)

    fig = _figure(4.4, 2.6, 150)
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
    return png_data_uri(fig)


def histogram(scores: list[float], max_points: float) -> str:
    """Auto totals in one-point bins."""
    top = max(1, int(max_points + 0.999), int(max(scores, default=0) + 0.999))
    fig = _figure(6.4, 2.8, 100)
    ax = fig.add_subplot()
    # The last bin is closed, so full marks land in [top-1, top] rather than past the edge.
    ax.hist(scores, bins=range(0, top + 1), color="#0072B2", edgecolor="white")
    ax.set_xlabel(f"automatic score (of {fmt(max_points)})")
    ax.set_ylabel("students")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="y", alpha=0.3)
    return png_data_uri(fig)
