"""Figures that put several runs side by side: precision–recall and metric bars with intervals."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gandiag.figures.curves import PALETTE, base_layout, label
from gandiag.figures.directions import direction_mark
from gandiag.types import MetricResult


def _error(r: MetricResult) -> dict | None:
    if r.interval is not None:
        lo, hi = r.interval
        return {
            "type": "data",
            "symmetric": False,
            "array": [max(0.0, hi - r.value)],
            "arrayminus": [max(0.0, r.value - lo)],
        }
    if r.uncertainty is not None:
        return {"type": "data", "array": [r.uncertainty]}
    return None


def precision_recall_figure(metrics_by_run: Mapping[str, Mapping[str, MetricResult]]) -> go.Figure:
    """Each run as one point (recall, precision), with interval bars where stored.

    Top right is better; a collapsed generator sits high on precision and low on recall.
    """
    fig = go.Figure()
    for i, (run, metrics) in enumerate(metrics_by_run.items()):
        p, r = metrics.get("precision"), metrics.get("recall")
        if p is None or r is None:
            continue
        fig.add_trace(
            go.Scatter(
                x=[r.value],
                y=[p.value],
                mode="markers+text",
                name=label(run),
                text=[label(run)],
                textposition="top center",
                marker={"size": 14, "color": PALETTE[i % len(PALETTE)]},
                error_x=_error(r),
                error_y=_error(p),
            )
        )
    base_layout(
        fig,
        "Precision vs recall (k-NN manifolds)",
        x_title="recall",
        y_title="precision",
        height=380,
    )
    fig.update_layout(hovermode="closest")
    xs = [v for t in fig.data for v in _extent(t.x[0], t.error_x)]
    ys = [v for t in fig.data for v in _extent(t.y[0], t.error_y)]
    # Axes fit the points (with room for the labels), not 0-1: runs at precision 0.03 and
    # 0.05 must not sit on the axis line together.
    fig.update_xaxes(range=_padded(xs), rangemode="normal")
    fig.update_yaxes(range=_padded(ys, top=0.12), rangemode="normal")
    if not fig.data:
        fig.add_annotation(
            text="no run has both precision and recall stored",
            showarrow=False,
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
        )
    return fig


def _extent(v: float, err: object) -> list[float]:
    arr = getattr(err, "array", None)
    minus = getattr(err, "arrayminus", None) or arr
    if arr is None:
        return [v]
    return [v - float(minus[0]), v + float(arr[0])]


def _padded(values: list[float], top: float = 0.06) -> list[float]:
    if not values:
        return [0.0, 1.05]
    lo, hi = min(values), max(values)
    span = max(hi - lo, 0.25)
    return [max(-0.02, lo - 0.15 * span), min(1.1, hi + (0.15 + top) * span)]


def metric_bars_figure(metrics_by_run: Mapping[str, Mapping[str, MetricResult]]) -> go.Figure:
    """One small bar chart per metric name, a bar per run, interval or uncertainty as error bars."""
    names = sorted({n for m in metrics_by_run.values() for n in m})
    if not names:
        fig = go.Figure()
        base_layout(fig, "Metrics: none stored for these runs", height=200)
        return fig
    cols = min(4, len(names))
    nrows = -(-len(names) // cols)
    fig = make_subplots(rows=nrows, cols=cols, subplot_titles=[label(n) for n in names])
    runs = list(metrics_by_run)
    for k, name in enumerate(names):
        row, col = divmod(k, cols)
        for i, run in enumerate(runs):
            r = metrics_by_run[run].get(name)
            if r is None:
                continue
            fig.add_trace(
                go.Bar(
                    x=[label(run)],
                    y=[r.value],
                    name=label(run),
                    error_y=_error(r),
                    marker_color=PALETTE[i % len(PALETTE)],
                    showlegend=k == 0,
                    legendgroup=label(run),
                ),
                row=row + 1,
                col=col + 1,
            )
    for k, name in enumerate(names):
        mark = direction_mark(name)
        if mark and k < len(fig.layout.annotations):
            fig.layout.annotations[k].text = f"{label(name)} {mark}"
    base_layout(
        fig,
        "Metrics side by side (bars: interval or ± uncertainty; ↓ lower / ↑ higher is better)",
        x_title="",
        height=260 * nrows,
    )
    fig.update_layout(hovermode="closest")
    fig.update_xaxes(showticklabels=False)
    return fig
