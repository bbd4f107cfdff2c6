"""Line figures: losses, D outputs as bands, diagnostics, metrics over steps, the alert timeline.

Each builder returns the figure and, for live extension, the ``(series, field)`` that each
trace draws (``field`` is ``"values"``, ``"lo"`` or ``"hi"``; ``None`` for a trace that is
never extended).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from gandiag.figures.text import SEVERITY_COLORS
from gandiag.store import Series
from gandiag.types import Alert

PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip

TraceSpec = tuple[str, str] | None


def label(text: object) -> str:
    """Stored text made safe for plotly, which renders a subset of HTML in names and titles."""
    return html.escape(str(text), quote=False)


def base_layout(
    fig: go.Figure, title: str, x_title: str = "step", y_title: str = "", height: int = 320
) -> go.Figure:
    fig.update_layout(
        title={"text": label(title), "x": 0.01, "font": {"size": 14}},
        height=height,
        margin={"l": 55, "r": 15, "t": 40, "b": 40},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.22, "font": {"size": 11}},
        hovermode="x unified",
        uirevision="keep",  # live updates keep the user's zoom
    )
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=label(y_title))
    return fig


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def lines_figure(
    series: Sequence[Series],
    *,
    title: str,
    y_title: str = "",
    bands: bool = False,
    log_y: bool = False,
    names: Mapping[str, str] | None = None,
    height: int = 320,
) -> tuple[go.Figure, list[TraceSpec]]:
    """One line per series; with ``bands``, the min–max of each downsampling bucket shaded."""
    fig = go.Figure()
    specs: list[TraceSpec] = []
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        name = label((names or {}).get(s.name, s.name))
        if bands and s.lo is not None and s.hi is not None:
            fig.add_trace(
                go.Scatter(
                    x=s.steps,
                    y=s.hi,
                    mode="lines",
                    line={"width": 0},
                    showlegend=False,
                    hoverinfo="skip",
                    legendgroup=name,
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=s.steps,
                    y=s.lo,
                    mode="lines",
                    line={"width": 0},
                    fill="tonexty",
                    fillcolor=_rgba(color, 0.2),
                    showlegend=False,
                    hoverinfo="skip",
                    legendgroup=name,
                )
            )
            specs += [(s.name, "hi"), (s.name, "lo")]
        fig.add_trace(
            go.Scatter(
                x=s.steps,
                y=s.values,
                mode="lines",
                name=name,
                line={"color": color, "width": 1.5},
                legendgroup=name,
            )
        )
        specs.append((s.name, "values"))
    base_layout(fig, title, y_title=y_title, height=height)
    if log_y:
        fig.update_yaxes(type="log")
    return fig, specs


def alert_markers(fig: go.Figure, alerts: Sequence[Alert], limit: int = 50) -> go.Figure:
    """Dotted vertical lines at the onset of each detector's first alerts, on any step plot."""
    seen: set[tuple[str, int]] = set()
    for a in alerts:
        key = (a.detector, a.onset_step)
        if key in seen:
            continue
        seen.add(key)
        fig.add_vline(
            x=a.onset_step,
            line_dash="dot",
            line_width=1,
            line_color=SEVERITY_COLORS[a.severity.value],
            opacity=0.7,
        )
        if len(seen) >= limit:
            break
    return fig


def phase_markers(fig: go.Figure, boundaries: Sequence[tuple[int, str]]) -> go.Figure:
    """Solid grey vertical lines, labelled, where each phase (resolution, level, stage) starts."""
    for step, name in boundaries:
        fig.add_vline(
            x=step,
            line_width=1,
            line_color="#888888",
            opacity=0.6,
            annotation_text=label(name),
            annotation_position="top left",
            annotation_font_size=9,
        )
    return fig


def alert_timeline_figure(
    alerts: Sequence[Alert], *, last_step: int | None = None, limit: int = 2000
) -> go.Figure:
    """Alerts as markers on a step axis, one row per detector; ``customdata`` is the alert index.

    A long run repeats an alert at every flush: beyond ``limit`` markers an even subset is
    drawn (every alert still appears in the lists and reports).
    """
    idx = np.arange(len(alerts))
    if len(alerts) > limit:
        idx = np.unique(np.linspace(0, len(alerts) - 1, limit).round().astype(int))
    fig = go.Figure()
    for sev in ("info", "warning", "critical"):
        chosen = [int(i) for i in idx if alerts[i].severity.value == sev]
        if not chosen:
            continue
        fig.add_trace(
            go.Scatter(
                x=[alerts[i].step for i in chosen],
                y=[label(alerts[i].detector) for i in chosen],
                mode="markers",
                name=sev,
                marker={"color": SEVERITY_COLORS[sev], "size": 10, "symbol": "diamond"},
                customdata=chosen,
                hovertext=[
                    label(f"step {alerts[i].step}: {alerts[i].diagnosis}")[:200] for i in chosen
                ],
                hoverinfo="text",
            )
        )
    detectors = sorted({a.detector for a in alerts})
    base_layout(
        fig,
        "Alerts (click a marker for its evidence and remedies)",
        height=max(160, 70 + 28 * len(detectors)),
    )
    fig.update_layout(hovermode="closest", legend={"y": -0.5})
    if last_step is not None:
        fig.update_xaxes(range=[0, max(1, last_step)])
    if not alerts:
        fig.update_layout(height=140)
        fig.update_yaxes(visible=False)
        fig.add_annotation(
            text="no alerts", showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
        )
    return fig


def steps_by_run_figure(
    series_by_run: Mapping[str, Series], *, title: str, y_title: str
) -> go.Figure:
    """One metric over steps for several runs (FID over steps on the compare page)."""
    fig = go.Figure()
    for i, (run, s) in enumerate(series_by_run.items()):
        fig.add_trace(
            go.Scatter(
                x=s.steps,
                y=s.values,
                mode="lines+markers",
                name=label(run),
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
    base_layout(fig, title, y_title=y_title)
    return fig


def message_figure(text: str, height: int = 200) -> go.Figure:
    """An empty figure that says why there is nothing to plot."""
    fig = go.Figure()
    fig.add_annotation(text=label(text), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(
        height=height, template="plotly_white", xaxis={"visible": False}, yaxis={"visible": False}
    )
    return fig
