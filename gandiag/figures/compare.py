"""Figures that put several runs side by side: precision–recall and metric bars with intervals."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gandiag.figures.curves import PALETTE, base_layout, label
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
    fig.update_xaxes(range=[-0.02, 1.05])
    fig.update_yaxes(range=[-0.02, 1.1])
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
    base_layout(
        fig,
        "Metrics side by side (bars: interval or ± uncertainty)",
        x_title="",
        height=260 * nrows,
    )
    fig.update_layout(hovermode="closest")
    fig.update_xaxes(showticklabels=False)
    return fig
