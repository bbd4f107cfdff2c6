"""``write_report``: one self-contained HTML file for one or several runs, read through RunReader."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path

from plotly.offline import get_plotlyjs

from gandiag import __version__
from gandiag import signals as sig
from gandiag._atomic import atomic_write
from gandiag.figures import (
    alert_timeline_figure,
    build_run_panels,
    compare_runs,
    metric_bars_figure,
    points_figure,
    precision_recall_figure,
    read_alerts_for_display,
    steps_by_run_figure,
    summarize_run,
)
from gandiag.reports.html import (
    CSS,
    SMOOTHING_CONTROL,
    alerts_block,
    comparison_block,
    config_block,
    esc,
    figure_div,
    image_tag,
    metrics_block,
    side_by_side_block,
    summary_table,
    verdict_block,
)
from gandiag.store import RunReader, SampleGrid

REPORT_MAX_POINTS = 500
GRIDS_PER_NAME = 6


def write_report(
    run_dirs: Sequence[str | Path],
    out_path: str | Path,
    title: str | None = None,
    *,
    max_points: int = REPORT_MAX_POINTS,
) -> Path:
    """Write a self-contained HTML report on ``run_dirs`` to ``out_path`` and return its path.

    The file works offline: plotly.js is embedded once and sample grids inline as base64.
    Series are averaged into at most ``max_points`` buckets, so a 100,000-step run stays a
    few megabytes. Given several runs, a comparison section puts their metrics, protocols,
    precision–recall and FID over steps side by side. Runs are only read.
    """
    if not run_dirs:
        raise ValueError("write_report needs at least one run directory")
    out_path = Path(out_path)
    if out_path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"report path {out_path} should end in .html (e.g. -o report.html)")
    readers = [RunReader(d) for d in run_dirs]  # raises NotARunError etc. with the fix named
    try:
        html_text = _render(readers, title, max_points)
    finally:
        for r in readers:
            r.close()
    return atomic_write(out_path, lambda f: f.write(html_text.encode("utf-8")))


class _Figures:
    """Numbers figure divs so ids stay unique across runs."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, fig) -> str:
        self.count += 1
        return figure_div(fig, f"fig-{self.count}")


def _render(readers: list[RunReader], title: str | None, max_points: int) -> str:
    summaries = {}
    for i, reader in enumerate(readers):
        summaries[f"run-{i + 1}"] = summarize_run(reader)
    names = [s.name for s in summaries.values()]
    title = title or ("gandiag report: " + ", ".join(names))
    fig = _Figures()
    body = [
        f"<h1>{esc(title)}</h1>",
        (
            f'<p class="sub">Generated {esc(_dt.datetime.now().strftime("%Y-%m-%d %H:%M"))} by '
            f"gandiag {esc(__version__)} from {len(readers)} run(s); curves averaged into at most "
            f"{max_points} points per series.</p>"
        ),
        SMOOTHING_CONTROL,
        "<h2>Verdict</h2>",
        summary_table(summaries),
    ]
    if len(readers) > 1:
        body.append(_comparison(readers, summaries, fig))
    for (anchor, summary), reader in zip(summaries.items(), readers):
        body.append(_run_section(anchor, summary, reader, fig, max_points))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{CSS}</style>"
        # plotly.js once, inline: the file works offline and figures carry only their data.
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        + "\n".join(body)
        + "</body></html>\n"
    )


def _comparison(readers: list[RunReader], summaries: dict, fig: _Figures) -> str:
    labels = _unique([s.name for s in summaries.values()])
    by_label = dict(zip(labels, summaries.values()))
    metrics = {lab: dict(s.latest_metrics) for lab, s in by_label.items()}
    over_steps: dict[str, dict] = {}
    for name in _STEP_METRICS:
        for lab, reader in zip(labels, readers):
            s = reader.read_scalars([name]).get(name)
            if s is not None and len(s):
                over_steps.setdefault(name, {})[lab] = s
    grids = []
    for lab, reader in zip(labels, readers):
        latest = (reader.sample_grids("samples") or reader.sample_grids())[-1:]
        grids += [_grid_figure(reader, g, f"{lab} — step {g.step}", fig) for g in latest]
    parts = [
        '<section id="comparison"><h2>Comparison</h2>',
        comparison_block(compare_runs(by_label), by_label),
    ]
    if any(metrics.values()):
        parts += [
            side_by_side_block(metrics),
            fig(metric_bars_figure(metrics)),
            fig(precision_recall_figure(metrics)),
        ]
    for name, series in over_steps.items():
        title = f"{_STEP_METRICS[name]} over steps"
        parts.append(fig(steps_by_run_figure(series, title=title, y_title=_STEP_METRICS[name])))
    if grids:
        parts.append('<h3>Latest sample grids</h3><div class="grids">' + "".join(grids) + "</div>")
    return "".join(parts) + "</section>"


#: evaluation series drawn over steps for every compared run that has them
_STEP_METRICS = {
    sig.eval_metric("fid"): "FID",
    sig.EVAL_MODES_COVERED: "modes covered",
    sig.EVAL_HQ_SHARE: "high-quality share",
    sig.EVAL_DOMINANT_SHARE: "share in the largest class/mode",
}


def _run_section(anchor: str, summary, reader: RunReader, fig: _Figures, max_points: int) -> str:
    info = reader.info()
    alerts = read_alerts_for_display(reader)
    parts = [
        f'<section class="run" id="{esc(anchor)}"><h2>{esc(summary.name)}</h2>',
        (
            f'<p class="sub">{esc(info.kind)} run at {esc(info.run_dir)} · status '
            f"{esc(info.status)} · {info.num_steps} recorded steps</p>"
        ),
        verdict_block(summary),
        config_block(summary.config),
        "<h3>Alerts</h3>",
        alerts_block(summary.groups),
    ]
    if alerts:
        parts.append(fig(alert_timeline_figure(alerts, last_step=info.last_step)))
    parts += ["<h3>Metrics</h3>", metrics_block(summary.latest_metrics)]
    grids = reader.sample_grids()
    if grids:
        parts.append("<h3>Sample grids</h3>")
        for name in sorted({g.name for g in grids}):
            chosen = _evenly([g for g in grids if g.name == name], GRIDS_PER_NAME)
            parts.append(
                '<div class="grids">'
                + "".join(_grid_figure(reader, g, f"{g.name} — step {g.step}", fig) for g in chosen)
                + "</div>"
            )
    if info.num_steps == 0:
        parts.append("<p>No steps recorded yet: nothing to plot.</p>")
    section = None
    for panel in build_run_panels(reader, max_points=max_points, alerts=alerts):
        if panel.section != section:
            section = panel.section
            parts.append(f"<h3>{esc(section)}</h3>")
        parts.append(fig(panel.figure))
    return "".join(parts) + "</section>"


def _grid_figure(reader: RunReader, grid: SampleGrid, caption: str, fig: _Figures) -> str:
    """A grid's picture; 2-D samples as a scatter with axes over the real data instead."""
    points = reader.sample_points(grid)
    if points is not None:
        body = fig(points_figure(points, caption, height=380))
        return f'<figure class="scatter">{body}</figure>'
    return (
        f"<figure>{image_tag(grid.path, caption)}<figcaption>{esc(caption)}</figcaption></figure>"
    )


def _evenly(items: list, n: int) -> list:
    if len(items) <= n:
        return items
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)] if n > 1 else items[-1:]


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out
