"""Dash building blocks shared by the pages: messages, run headers, alert details, metric tables.

Dash renders strings as text (React escapes them), so stored text goes in as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from dash import dcc, html

from gandiag.figures import (
    LEVEL_COLORS,
    METRIC_COLUMNS,
    MIXED_PROTOCOLS,
    SEVERITY_COLORS,
    STATUS_COLORS,
    AlertGroup,
    Comparison,
    RunSummary,
    format_config,
    format_evidence,
    jsonable,
    metric_rows,
    side_by_side,
)
from gandiag.types import Alert, MetricResult

CELL = {
    "padding": "4px 10px",
    "borderBottom": "1px solid #e5e5e5",
    "textAlign": "left",
    "verticalAlign": "top",
}


def message(text: str, level: str = "info", *, id: str | None = None) -> html.Div:
    """A framed sentence: why a page is empty, what went wrong, what to do."""
    color = LEVEL_COLORS.get(level, "#7f7f7f")
    kw = {"id": id} if id else {}
    return html.Div(
        text,
        className=f"gd-message gd-{level}",
        **kw,
        style={
            "borderLeft": f"4px solid {color}",
            "padding": "8px 12px",
            "background": "#fafafa",
            "margin": "8px 0",
        },
    )


def badge(text: str, color: str) -> html.Span:
    return html.Span(
        text,
        className="gd-badge",
        style={
            "background": color,
            "color": "white",
            "borderRadius": "4px",
            "padding": "1px 7px",
            "fontSize": "12px",
            "marginRight": "4px",
        },
    )


def status_badge(status: str) -> html.Span:
    return badge(status, STATUS_COLORS.get(status, "#7f7f7f"))


def severity_badges(counts: Mapping[str, int]) -> html.Span:
    items = [badge(f"{n} {sev}", SEVERITY_COLORS[sev]) for sev, n in counts.items() if n]
    return html.Span(items or [html.Span("none", style={"color": "#999"})])


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    id: str | None = None,
    class_name: str = "gd-table",
) -> html.Table:
    kw = {"id": id} if id else {}
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h, style=CELL) for h in headers])),
            html.Tbody([html.Tr([html.Td(c, style=CELL) for c in row]) for row in rows]),
        ],
        className=class_name,
        style={"borderCollapse": "collapse", "fontSize": "13px"},
        **kw,
    )


def run_header(summary: RunSummary) -> html.Div:
    counts = summary.alert_counts
    return html.Div(
        [
            html.H2(summary.name, className="gd-run-name", style={"margin": "4px 0"}),
            html.Div(
                [
                    status_badge(summary.status),
                    badge(summary.kind, "#555"),
                    html.Span(
                        f" step {summary.last_step if summary.last_step is not None else '–'}"
                        f" · {summary.num_steps} recorded steps · alerts: "
                    ),
                    severity_badges(counts),
                ]
            ),
            message(summary.verdict, summary.level, id="run-verdict"),
        ]
    )


def alert_body(alert: Alert) -> html.Div:
    return html.Div(
        [
            html.Div(
                f"{alert.severity.value} at step {alert.step} (onset {alert.onset_step}) "
                f"from {alert.detector}: {alert.diagnosis}",
                style={"fontWeight": "bold"},
            ),
            html.Div("Evidence", style={"marginTop": "6px"}),
            table(["signal", "value"], format_evidence(alert.evidence))
            if alert.evidence
            else html.Div("(no numbers attached)"),
            html.Div("Remedies", style={"marginTop": "6px"}),
            html.Ul([html.Li(r) for r in alert.remedies])
            if alert.remedies
            else html.Div("(none suggested)"),
        ],
        className="gd-alert-body",
    )


def alert_groups(groups: Sequence[AlertGroup]) -> html.Div:
    if not groups:
        return message("No alerts: no detector fired on this run.", "ok")
    items = []
    for g in groups:
        summary = html.Summary(
            [
                badge(g.severity.value, SEVERITY_COLORS[g.severity.value]),
                html.B(g.detector),
                f" — {g.latest.diagnosis} ",
                html.Span(
                    f"(×{g.count}, steps {g.onset_step}–{g.last_step})", style={"color": "#777"}
                ),
            ]
        )
        items.append(
            html.Details(
                [summary, alert_body(g.latest)], className="gd-alert", style={"margin": "4px 0"}
            )
        )
    return html.Div(items)


def metrics_table(metrics: Mapping[str, MetricResult], *, id: str | None = None) -> html.Div:
    if not metrics:
        return message(
            "No metrics stored yet (run `gandiag evaluate` or enable periodic evaluation).", "empty"
        )
    return table(list(METRIC_COLUMNS), metric_rows(metrics), id=id)


def metrics_side_by_side(metrics_by_run: Mapping[str, Mapping[str, MetricResult]]) -> html.Div:
    """Metric rows, a column per run, and a warning when protocols differ between runs."""
    sbs = side_by_side(metrics_by_run)
    return html.Div(
        [
            table(sbs.columns, sbs.rows, id="compare-metrics"),
            message(MIXED_PROTOCOLS, "warning") if sbs.mixed_protocols else html.Div(),
            html.H4("Protocols"),
            table(["run", "protocol"], sbs.protocol_rows),
        ]
    )


def comparison_statement(comparison: Comparison, summaries: Mapping[str, RunSummary]) -> html.Div:
    """Which run is better (overall, then per metric), then each run's verdict and alerts."""
    items = [
        html.Li(
            m.sentence,
            className="gd-tie" if m.within_uncertainty else "gd-decided",
            style={"color": "#666"} if m.within_uncertainty else {},
        )
        for m in comparison.metrics
        if m.sentence
    ]
    rows = [
        [
            label,
            s.level,
            s.verdict,
            " / ".join(f"{s.alert_counts.get(k, 0)} {k}" for k in ("critical", "warning", "info")),
        ]
        for label, s in summaries.items()
    ]
    return html.Div(
        [
            html.Div(
                [
                    html.P(html.B(comparison.overall), id="compare-overall"),
                    html.Ul(items, id="compare-per-metric"),
                    html.P(
                        "↓ lower is better · ↑ higher is better · →1 closest to 1 is best; a "
                        "difference is called only when the intervals do not overlap.",
                        style={"color": "#777", "fontSize": "13px"},
                    ),
                ],
                id="compare-statement",
                style={
                    "borderLeft": "4px solid #1f77b4",
                    "padding": "6px 14px",
                    "background": "#f5f9fd",
                },
            ),
            table(["run", "level", "verdict", "alerts"], rows, id="compare-verdicts"),
        ]
    )


def config_details(config: Mapping[str, object]) -> html.Details:
    rows = format_config(config)
    return html.Details(
        [
            html.Summary("Configuration"),
            table(["key", "value"], rows) if rows else html.Div("(empty)"),
        ]
    )


def graph(figure: object, id: object) -> dcc.Graph:
    return dcc.Graph(
        figure=plain_figure(figure), id=id, config={"displaylogo": False}, className="gd-graph"
    )


def plain_figure(figure: object) -> dict:
    """The figure as a dict of plain lists.

    Plotly serialises numpy arrays as typed base64 blobs, which a live ``Patch`` cannot
    extend; lists can (NaN and infinities become null, a gap).
    """
    if not hasattr(figure, "data"):
        return _lists(dict(figure))
    # Not to_dict(): since plotly 6 it already base64-encodes the arrays.
    return {
        "data": [_lists(t.to_plotly_json()) for t in figure.data],
        "layout": _lists(figure.layout.to_plotly_json()),
    }


def _lists(obj: object) -> object:
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "iub":
            return obj.tolist()
        if obj.dtype.kind == "f":
            return _lists([_lists(row) for row in obj]) if obj.ndim > 1 else jsonable(obj)
        return obj.tolist()
    if isinstance(obj, dict):
        return {k: _lists(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_lists(v) for v in obj]
    return obj
