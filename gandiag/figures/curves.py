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
from gandiag.types import Alert, Severity

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


def spans_decades(series: Sequence[Series], decades: float = 1.5) -> bool:
    """Whether positive series span at least ``decades`` orders of magnitude (a VAE loss going
    from 35,000 to 300): such curves read on a log axis, a linear one flattens them."""
    vals = [np.asarray(s.values, dtype=np.float64) for s in series]
    vals = [v[np.isfinite(v)] for v in vals]
    vals = [v for v in vals if v.size]
    if not vals or any((v <= 0).any() for v in vals):
        return False
    allv = np.concatenate(vals)
    return bool(np.log10(allv.max() / allv.min()) >= decades)


def axis_toggle(fig: go.Figure, log_first: bool) -> go.Figure:
    """Linear / log buttons on the y axis (as TensorBoard and W&B offer); relayout only, so
    a live view that extends the traces keeps working."""
    order = [("log", "log y"), ("linear", "linear y")]
    if not log_first:
        order.reverse()
    fig.update_layout(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "showactive": True,
                "active": 0,
                "x": 1.0,
                "xanchor": "right",
                "y": 1.13,
                "yanchor": "bottom",
                "pad": {"r": 0, "t": 0},
                "font": {"size": 10},
                "buttons": [
                    {"label": text, "method": "relayout", "args": [{"yaxis.type": kind}]}
                    for kind, text in order
                ],
            }
        ]
    )
    return fig


def lines_figure(
    series: Sequence[Series],
    *,
    title: str,
    y_title: str = "",
    bands: bool = False,
    log_y: bool | None = False,
    names: Mapping[str, str] | None = None,
    height: int = 320,
    smoothing: float = 0.0,
    smoothable: bool = True,
) -> tuple[go.Figure, list[TraceSpec]]:
    """One line per series; with ``bands``, the min–max of each downsampling bucket shaded.

    The y axis is log when ``log_y`` is true or when positive series span 1.5 decades
    (a factor of 30 or more; ``False`` still switches on for such a span),
    with buttons to switch. A series identical to an earlier one is drawn dashed and named
    so (``loss/D (= loss/D_adv)``) instead of hiding under it. ``smoothing`` in [0, 1)
    draws an exponential moving average over the raw curve, which stays as a faint line
    (TensorBoard's convention, debiased as there). ``smoothable`` marks each series' line
    (``meta`` ``{"smooth": "raw"}`` or ``"ema"``) for a client-side smoothing control, such
    as the static report's (gandiag.reports).
    """
    fig = go.Figure()
    specs: list[TraceSpec] = []
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        name = label((names or {}).get(s.name, s.name))
        twin = next((t for t in series[:i] if _same(t, s)), None)
        dash = None
        if twin is not None:
            name += label(f" (= {(names or {}).get(twin.name, twin.name)})")
            dash = "dash"
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
        ys = s.values
        if smoothing > 0:
            fig.add_trace(
                go.Scatter(
                    x=s.steps,
                    y=s.values,
                    mode="lines",
                    line={"color": color, "width": 1},
                    opacity=0.25,
                    showlegend=False,
                    hoverinfo="skip",
                    legendgroup=name,
                )
            )
            specs.append((s.name, "values"))
            ys = ema(s.values, smoothing)
        fig.add_trace(
            go.Scatter(
                x=s.steps,
                y=ys,
                mode="lines",
                name=name,
                line={"color": color, "width": 2.5 if dash else 1.5, "dash": dash},
                legendgroup=name,
                meta={"smooth": "ema" if smoothing > 0 else "raw"} if smoothable else None,
            )
        )
        specs.append((s.name, "values") if smoothing <= 0 else None)
    base_layout(fig, title, y_title=y_title, height=height)
    log = bool(log_y) or spans_decades(series)
    if log:
        fig.update_yaxes(type="log")
    axis_toggle(fig, log)
    return fig, specs


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Debiased exponential moving average (TensorBoard's smoothing); NaNs are skipped."""
    if not 0 <= weight < 1:
        raise ValueError(f"smoothing must be in [0, 1), got {weight}")
    out = np.full(len(values), np.nan)
    acc, norm = 0.0, 0.0
    for i, v in enumerate(np.asarray(values, dtype=np.float64)):
        if np.isfinite(v):
            acc = weight * acc + (1 - weight) * v
            norm = weight * norm + (1 - weight)
        if norm > 0:
            out[i] = acc / norm
    return out


def _same(a: Series, b: Series) -> bool:
    return (
        len(a) == len(b)
        and np.array_equal(a.steps, b.steps)
        and np.array_equal(a.values, b.values, equal_nan=True)
    )


def alert_markers(fig: go.Figure, alerts: Sequence[Alert], limit: int = 50) -> go.Figure:
    """Dotted vertical lines at the onset of each detector's warnings and critical alerts.

    Informational alerts (a missing optional signal) get no line: they are not events in
    the training and would be the most visible mark on the plot."""
    seen: set[tuple[str, int]] = set()
    for a in alerts:
        if a.severity is Severity.INFO:
            continue
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
                marker={
                    "color": SEVERITY_COLORS[sev],
                    "size": 6 if sev == "info" else 11,
                    "symbol": "circle-open" if sev == "info" else "diamond",
                    "opacity": 0.5 if sev == "info" else 1.0,
                },
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
    # From step 0: a single evaluation is a point at its step, not an axis from 98 to 100.
    fig.update_xaxes(rangemode="tozero")
    fig.update_layout(hovermode="closest")
    return fig


def message_figure(text: str, height: int = 200) -> go.Figure:
    """An empty figure that says why there is nothing to plot."""
    fig = go.Figure()
    fig.add_annotation(text=label(text), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(
        height=height, template="plotly_white", xaxis={"visible": False}, yaxis={"visible": False}
    )
    return fig
