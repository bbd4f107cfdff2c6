"""The compare page (``/compare?runs=a,b``): metrics side by side, precision–recall, FID over
steps, sample grids side by side."""

from __future__ import annotations

from urllib.parse import parse_qs

from dash import Dash, Input, Output, dcc, html

from gandiag import signals as sig
from gandiag.dashboards.components import (
    comparison_statement,
    graph,
    message,
    metrics_side_by_side,
)
from gandiag.dashboards.context import READ_ERRORS, RunsFolder
from gandiag.figures import (
    compare_runs,
    metric_bars_figure,
    precision_recall_figure,
    steps_by_run_figure,
    summarize_run,
)
from gandiag.store import Series

PATH = "/compare"


def layout(folder: RunsFolder, search: str = "") -> html.Div:
    options = [
        {"label": str(p.relative_to(folder.root)), "value": folder.run_id(p)}
        for p in folder.run_dirs()
    ]
    chosen = [r for r in parse_qs(search.lstrip("?")).get("runs", [""])[0].split(",") if r]
    if not chosen:
        chosen = [o["value"] for o in options[:2]]
    return html.Div(
        [
            html.H2("Compare runs"),
            message("No runs to compare in this folder yet.", "empty")
            if not options
            else html.Div(),
            dcc.Dropdown(
                options=options,
                value=chosen,
                multi=True,
                id="compare-runs",
                placeholder="pick runs (a GAN and a VAE, say)",
            ),
            dcc.Loading(html.Div(id="compare-body")),
        ]
    )


def compare_body(folder: RunsFolder, run_ids: list[str]) -> list:
    if not run_ids:
        return [message("Pick at least one run above.", "empty")]
    summaries, metrics, fid, grids, problems = {}, {}, {}, [], []
    evals: dict[str, dict] = {name: {} for name in EVAL_OVER_STEPS}
    for run_id in run_ids:
        try:
            with folder.reader(run_id) as reader:
                summary = summarize_run(reader)
                label = (
                    summary.name if summary.name not in metrics else f"{summary.name} ({run_id})"
                )
                summaries[label] = summary
                metrics[label] = dict(summary.latest_metrics)
                fid[label] = _fid_series(reader)
                for name, s in reader.read_scalars(list(EVAL_OVER_STEPS)).items():
                    if len(s):
                        evals[name][label] = s
                last = reader.sample_grids("samples") or reader.sample_grids()
        except READ_ERRORS as exc:
            problems.append(message(f"{run_id}: {exc}", "error"))
            continue
        grid = last[-1] if last else None
        grids.append(
            html.Figure(
                [
                    html.Img(
                        src=folder.file_url(grid.path),
                        className="gd-grid-img",
                        style={"width": "300px", "imageRendering": "pixelated"},
                    )
                    if grid
                    else html.Div("(no sample grid)"),
                    html.Figcaption(f"{label}" + (f" — step {grid.step}" if grid else "")),
                ],
                style={"display": "inline-block", "margin": "6px"},
            )
        )
    fid = {k: v for k, v in fid.items() if len(v)}
    body = problems + [
        html.H3("Which is better"),
        comparison_statement(compare_runs(summaries), summaries),
    ]
    if any(metrics.values()):
        body += [
            html.H3("Metrics"),
            metrics_side_by_side(metrics),
            graph(metric_bars_figure(metrics), "compare-bars"),
            graph(precision_recall_figure(metrics), "compare-pr"),
        ]
    if fid:
        body.append(
            graph(steps_by_run_figure(fid, title="FID over steps", y_title="FID"), "compare-fid")
        )
    for name, series in evals.items():
        if series:
            title = EVAL_OVER_STEPS[name]
            fig = steps_by_run_figure(series, title=f"{title} over steps", y_title=title)
            body.append(graph(fig, f"compare-{name.replace('/', '-')}"))
    if not fid and not any(evals.values()) and not any(metrics.values()):
        body.append(message("No metric or evaluation stored for these runs yet.", "empty"))
    return body + [html.H3("Latest sample grids"), html.Div(grids)]


#: periodic-evaluation series drawn over steps when the compared runs have them (2-D runs
#: have no FID; they are compared on these)
EVAL_OVER_STEPS = {
    sig.EVAL_MODES_COVERED: "modes covered",
    sig.EVAL_HQ_SHARE: "high-quality share",
    sig.EVAL_DOMINANT_SHARE: "share in the largest class/mode",
}


def _fid_series(reader) -> Series:
    """FID over steps: the periodic ``eval/fid`` series, else stored FID results with a step."""
    s = reader.read_scalars([sig.eval_metric("fid")]).get(sig.eval_metric("fid"))
    if s is not None and len(s):
        return s
    import numpy as np

    rs = [r for r in reader.read_metrics("fid") if r.step is not None]
    return Series("fid", np.array([r.step for r in rs], np.int64), np.array([r.value for r in rs]))


def register(app: Dash, folder: RunsFolder) -> None:
    @app.callback(Output("compare-body", "children"), Input("compare-runs", "value"))
    def update(run_ids: list[str] | None) -> list:
        return compare_body(folder, list(run_ids or []))
