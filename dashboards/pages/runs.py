"""The runs page (``/``): every run under the folder with its status, step, alerts and metrics."""

from __future__ import annotations

from dash import Dash, Input, Output, dcc, html
from gandiag.dashboards.components import message, severity_badges, status_badge, table
from gandiag.dashboards.context import READ_ERRORS, RunsFolder

from gandiag.figures import format_metric, summarize_run

PATH = "/"
HEADLINE_METRICS = ("fid", "kid", "precision", "recall")


def layout(folder: RunsFolder) -> html.Div:
    return html.Div(
        [
            html.H2("Runs"),
            html.Div(f"Folder: {folder.root}", style={"color": "#777", "fontSize": "13px"}),
            dcc.Interval(id="runs-tick", interval=folder.live_interval_ms),
            html.Div(runs_table(folder), id="runs-body"),
            dcc.Link("Compare runs →", href="/compare", id="runs-compare-link"),
        ]
    )


def runs_table(folder: RunsFolder) -> html.Div:
    run_dirs = folder.run_dirs()
    if not run_dirs:
        return message(
            f"No gandiag runs in {folder.root} yet. Start one with `gandiag train CONFIG --out "
            f"{folder.root}/NAME` or `gandiag demo`, or point the dashboard at the folder that "
            "holds your runs; this page updates when one appears.",
            "empty",
            id="runs-empty",
        )
    rows = []
    for run_dir in run_dirs:
        run_id = folder.run_id(run_dir)
        link = dcc.Link(
            str(run_dir.relative_to(folder.root)), href=f"/run/{run_id}", className="gd-run-link"
        )
        try:
            with folder.reader(run_id) as reader:
                s = summarize_run(reader)
        except READ_ERRORS as exc:
            rows.append(
                [
                    link,
                    "–",
                    status_badge("unreadable"),
                    "–",
                    "–",
                    html.Span(str(exc), className="gd-run-error"),
                ]
            )
            continue
        metrics = (
            ", ".join(
                f"{n} {format_metric(s.latest_metrics[n])}"
                for n in HEADLINE_METRICS
                if n in s.latest_metrics
            )
            or "–"
        )
        rows.append(
            [
                link,
                s.name,
                status_badge(s.status),
                s.kind,
                "–" if s.last_step is None else str(s.last_step),
                html.Div([severity_badges(s.alert_counts), html.Div(metrics)]),
            ]
        )
    return table(
        ["run", "name", "status", "kind", "step", "alerts · latest metrics"], rows, id="runs-table"
    )


def register(app: Dash, folder: RunsFolder) -> None:
    @app.callback(
        Output("runs-body", "children"),
        Input("runs-tick", "n_intervals"),
        prevent_initial_call=True,
        running=[(Output("runs-tick", "disabled"), True, False)],
    )
    def refresh(_n: int) -> html.Div:
        return runs_table(folder)
