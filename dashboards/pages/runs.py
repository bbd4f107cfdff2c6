"""The runs page (``/``): every run under the folder with its status, progress, timing, alerts
and metrics; searchable, filterable by status, sortable."""

from __future__ import annotations

import datetime as _dt
import time
from typing import Any

from dash import Dash, Input, Output, dcc, html

from gandiag.dashboards.components import message, severity_badges, status_badge, table
from gandiag.dashboards.context import READ_ERRORS, RunsFolder
from gandiag.figures import format_metric, summarize_run
from gandiag.store import RunInfo

PATH = "/"
HEADLINE_METRICS = ("fid", "kid", "precision", "recall")
SORTS = {
    "started": "newest first",
    "name": "name",
    "alerts": "most alerts first",
    "fid": "best FID first",
}


def layout(folder: RunsFolder) -> html.Div:
    return html.Div(
        [
            html.H2("Runs"),
            html.Div(f"Folder: {folder.root}", style={"color": "#777", "fontSize": "13px"}),
            html.Div(
                [
                    dcc.Input(
                        id="runs-search",
                        type="search",
                        placeholder="search name, model, path",
                        debounce=True,
                        style={"width": "240px", "marginRight": "8px"},
                    ),
                    dcc.Dropdown(
                        id="runs-status",
                        options=["training", "finished", "crashed", "no steps"],
                        multi=True,
                        placeholder="any status",
                        style={"width": "260px", "display": "inline-block"},
                    ),
                    dcc.Dropdown(
                        id="runs-sort",
                        options=[{"label": f"sort: {v}", "value": k} for k, v in SORTS.items()],
                        value="started",
                        clearable=False,
                        style={"width": "220px", "display": "inline-block", "marginLeft": "8px"},
                    ),
                ],
                style={"display": "flex", "alignItems": "center", "margin": "8px 0"},
            ),
            dcc.Interval(id="runs-tick", interval=folder.live_interval_ms),
            html.Div(runs_table(folder), id="runs-body"),
            dcc.Link("Compare runs →", href="/compare", id="runs-compare-link"),
        ]
    )


def total_steps(config: dict[str, Any]) -> int | None:
    """The planned number of steps, from the run's config (``steps`` or ``train.steps``)."""
    for holder in (config, config.get("train") or {}):
        v = holder.get("steps") if isinstance(holder, dict) else None
        if isinstance(v, (int, float)) and v > 0:
            return int(v)
    return None


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def timing(info: RunInfo, status: str) -> tuple[str, str, str, str]:
    """``(progress, started, duration, ETA)`` as shown in the table."""
    total = total_steps(info.config)
    done = 0 if info.last_step is None else info.last_step + 1
    progress = f"{done}/{total} ({min(done / total, 1):.0%})" if total else f"{done}"
    started = (
        _dt.datetime.fromtimestamp(info.created).strftime("%Y-%m-%d %H:%M") if info.created else "–"
    )
    end = time.time() if status == "training" else (info.heartbeat or info.created)
    elapsed = max(0.0, end - info.created) if info.created else 0.0
    duration = _duration(elapsed) if info.created else "–"
    eta = "–"
    if status == "training" and total and 0 < done < total and elapsed > 0:
        eta = _duration((total - done) * elapsed / done)
    elif status == "finished":
        eta = "done"
    return progress, started, duration, eta


def runs_table(
    folder: RunsFolder,
    search: str | None = None,
    statuses: list[str] | None = None,
    sort: str = "started",
) -> html.Div:
    run_dirs = folder.run_dirs()
    if not run_dirs:
        return message(
            f"No gandiag runs in {folder.root} yet. Start one with `gandiag train CONFIG --out "
            f"{folder.root}/NAME` or `gandiag demo`, or point the dashboard at the folder that "
            "holds your runs; this page updates when one appears.",
            "empty",
            id="runs-empty",
        )
    rows: list[tuple[tuple, list]] = []
    needle = (search or "").strip().lower()
    for run_dir in run_dirs:
        run_id = folder.run_id(run_dir)
        rel = str(run_dir.relative_to(folder.root))
        link = dcc.Link(rel, href=f"/run/{run_id}", className="gd-run-link")
        try:
            with folder.reader(run_id) as reader:
                s = summarize_run(reader)
                info = reader.info()
        except READ_ERRORS as exc:
            if needle and needle not in rel.lower():
                continue
            error = html.Span(str(exc), className="gd-run-error")
            cells = [link, "–", status_badge("unreadable"), "–", "–", "–", "–", "–", error]
            rows.append(((1, rel), cells))
            continue
        # A run that ended before its first step did not finish anything.
        status = "no steps" if s.num_steps == 0 and s.status != "training" else s.status
        haystack = f"{rel} {s.name} {s.kind} {info.config.get('model', '')}".lower()
        if needle and needle not in haystack:
            continue
        if statuses and status not in statuses:
            continue
        metrics = (
            ", ".join(
                f"{n} {format_metric(s.latest_metrics[n])}"
                for n in HEADLINE_METRICS
                if n in s.latest_metrics
            )
            or "–"
        )
        progress, started, duration, eta = timing(info, s.status)
        fid = s.latest_metrics.get("fid")
        key = {
            "started": (-info.created,),
            "name": (s.name.lower(),),
            "alerts": tuple(-s.alert_counts.get(k, 0) for k in ("critical", "warning", "info")),
            "fid": (fid is None, fid.value if fid is not None else 0.0),
        }.get(sort, (-info.created,))
        cells = [
            link,
            s.name,
            status_badge(status),
            s.kind,
            progress,
            started,
            duration,
            eta,
            html.Div([severity_badges(s.alert_counts), html.Div(metrics)]),
        ]
        rows.append(((0, *key, rel), cells))
    if not rows:
        return message("No run matches the search and filter.", "empty", id="runs-none")
    rows.sort(key=lambda r: r[0])
    headers = ["run", "name", "status", "kind", "steps (progress)", "started", "duration", "ETA"]
    return table(headers + ["alerts · latest metrics"], [c for _, c in rows], id="runs-table")


def register(app: Dash, folder: RunsFolder) -> None:
    @app.callback(
        Output("runs-body", "children"),
        Input("runs-tick", "n_intervals"),
        Input("runs-search", "value"),
        Input("runs-status", "value"),
        Input("runs-sort", "value"),
        prevent_initial_call=True,
        running=[(Output("runs-tick", "disabled"), True, False)],
    )
    def refresh(_n: int, search: str | None, statuses: list[str] | None, sort: str) -> html.Div:
        return runs_table(folder, search, statuses, sort or "started")
