"""HTML assembly for reports: escaping, sections, inline images and figures.

Every string that came from a run store goes through :func:`esc`; plotly escapes what
it serialises into figure JSON (``<`` as ``\\u003c``), so no stored text reaches the page
as markup.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import plotly.graph_objects as go

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
    metric_rows,
    side_by_side,
)
from gandiag.types import MetricResult

CSS = """
body { font-family: system-ui, -apple-system, sans-serif; margin: 0 auto; max-width: 1150px;
       padding: 0 24px 48px; color: #222; }
h1 { margin-bottom: 0; } .sub { color: #777; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 12px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e5e5e5; text-align: left; vertical-align: top; }
.badge { color: white; border-radius: 4px; padding: 1px 7px; font-size: 12px; margin-right: 4px; }
.verdict { border-left: 4px solid; padding: 8px 12px; background: #fafafa; margin: 8px 0; }
details { margin: 4px 0; } summary { cursor: pointer; }
.grids figure { display: inline-block; margin: 6px; text-align: center; font-size: 12px; }
.statement { border-left: 4px solid #1f77b4; padding: 6px 14px; background: #f5f9fd; }
.statement li.tie { color: #666; }
.grids img { width: 300px; image-rendering: pixelated; border: 1px solid #ddd; }
section.run { border-top: 2px solid #ddd; margin-top: 28px; }
.warn { border-left: 4px solid #ff7f0e; padding: 6px 10px; background: #fff8ef; }
.smoothing { position: sticky; top: 0; z-index: 10; background: #fff; padding: 6px 0;
             border-bottom: 1px solid #eee; font-size: 13px; }
.smoothing input { vertical-align: middle; width: 220px; }
.grids figure.scatter { vertical-align: top; }
"""

#: The report's smoothing control: the dashboard's EMA (TensorBoard's debiased smoothing,
#: gandiag.figures.curves.ema) computed in the page, so it works offline without a server.
#: It smooths every line marked ``meta.smooth == "raw"`` and keeps the raw curve as a faint
#: line, as the dashboard draws it.
SMOOTHING_CONTROL = """
<div class="smoothing" id="gd-smoothing">Smoothing (EMA)
<input type="range" id="gd-smoothing-input" min="0" max="0.99" step="0.01" value="0"
 aria-label="smoothing weight">
<output id="gd-smoothing-value">0.00</output>
<span class="sub">the raw curve stays as a faint line; each y axis has linear / log buttons</span>
</div>
<script>
(function () {
  function ema(values, w) {
    var acc = 0, norm = 0;
    return values.map(function (v) {
      if (v !== null && isFinite(v)) { acc = w * acc + (1 - w) * v; norm = w * norm + (1 - w); }
      return norm > 0 ? acc / norm : null;
    });
  }
  function full(gd, i) {
    return (gd._fullData || []).find(function (t) { return t.index === i; }) || gd.data[i];
  }
  function smoothFigure(gd, w) {
    if (!gd.data) return;
    gd._gdRaw = gd._gdRaw || {};
    var idx = [], ys = [], faint = [];
    gd.data.forEach(function (t, i) {
      var kind = t.meta && t.meta.smooth;
      if (kind === "faint") faint.push(i);
      if (kind !== "raw") return;
      if (!(i in gd._gdRaw)) gd._gdRaw[i] = Array.from(full(gd, i).y);
      idx.push(i);
      ys.push(w > 0 ? ema(gd._gdRaw[i], w) : gd._gdRaw[i]);
    });
    if (!idx.length) return;
    Plotly.restyle(gd, {y: ys}, idx);
    if (faint.length) {
      Plotly.restyle(gd, {visible: w > 0}, faint);
    } else if (w > 0) {
      Plotly.addTraces(gd, idx.map(function (i) {
        var f = full(gd, i);
        return {x: Array.from(f.x), y: gd._gdRaw[i], mode: "lines", opacity: 0.25,
                line: {color: f.line.color, width: 1}, showlegend: false, hoverinfo: "skip",
                legendgroup: gd.data[i].legendgroup, meta: {smooth: "faint"}};
      }));
    }
  }
  window.gandiagSmooth = function (w) {
    document.getElementById("gd-smoothing-value").textContent = w.toFixed(2);
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) { smoothFigure(gd, w); });
  };
  document.getElementById("gd-smoothing-input").addEventListener("input", function (e) {
    window.gandiagSmooth(parseFloat(e.target.value));
  });
})();
</script>
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def badge(text: str, color: str) -> str:
    return f'<span class="badge" style="background:{color}">{esc(text)}</span>'


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, raw: bool = False, cls: str = ""
) -> str:
    """A table of escaped cells (``raw=True``: cells are already HTML built here)."""
    cell = (lambda c: str(c)) if raw else esc
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{esc(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def figure_div(fig: go.Figure, div_id: str) -> str:
    """A figure without plotly.js (the page embeds it once, in its head)."""
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )


def image_tag(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}">'


def verdict_block(summary: RunSummary) -> str:
    color = LEVEL_COLORS.get(summary.level, "#7f7f7f")
    return f'<div class="verdict" style="border-color:{color}">{esc(summary.verdict)}</div>'


def summary_table(summaries: Mapping[str, RunSummary]) -> str:
    rows = []
    for anchor, s in summaries.items():
        counts = (
            " ".join(
                badge(f"{n} {sev}", SEVERITY_COLORS[sev]) for sev, n in s.alert_counts.items() if n
            )
            or "none"
        )
        rows.append(
            [
                f'<a href="#{esc(anchor)}">{esc(s.name)}</a>',
                esc(s.kind),
                badge(s.status, STATUS_COLORS.get(s.status, "#7f7f7f")),
                esc("–" if s.last_step is None else s.last_step),
                counts,
                f'<span style="color:{LEVEL_COLORS.get(s.level, "#777")}">{esc(s.verdict)}</span>',
            ]
        )
    return table(["run", "kind", "status", "last step", "alerts", "verdict"], rows, raw=True)


def alerts_block(groups: Sequence[AlertGroup]) -> str:
    if not groups:
        return "<p>No detector fired on this run.</p>"
    out = []
    for g in groups:
        a = g.latest
        evidence = (
            table(["signal", "value"], format_evidence(a.evidence))
            if a.evidence
            else "<p>(no numbers attached)</p>"
        )
        remedies = (
            "<ul>" + "".join(f"<li>{esc(r)}</li>" for r in a.remedies) + "</ul>"
            if a.remedies
            else "<p>(none suggested)</p>"
        )
        out.append(
            f'<details class="alert" open><summary>{badge(g.severity.value, SEVERITY_COLORS[g.severity.value])}'
            f"<b>{esc(g.detector)}</b> — {esc(a.diagnosis)} "
            f'<span class="sub">(×{g.count}, onset step {g.onset_step}, last at step {g.last_step})</span>'
            f"</summary><p>Evidence at step {a.step}:</p>{evidence}<p>Remedies:</p>{remedies}</details>"
        )
    return "".join(out)


def metrics_block(metrics: Mapping[str, MetricResult]) -> str:
    if not metrics:
        return "<p>No metrics stored for this run.</p>"
    return table(list(METRIC_COLUMNS), metric_rows(metrics))


def side_by_side_block(metrics_by_run: Mapping[str, Mapping[str, MetricResult]]) -> str:
    sbs = side_by_side(metrics_by_run)
    warn = f'<p class="warn">{html.escape(MIXED_PROTOCOLS)}</p>' if sbs.mixed_protocols else ""
    return (
        table(sbs.columns, sbs.rows, cls="side-by-side")
        + warn
        + "<h3>Protocols</h3>"
        + table(["run", "protocol"], sbs.protocol_rows)
    )


def comparison_block(comparison: Comparison, summaries: Mapping[str, RunSummary]) -> str:
    """The comparison's statement first (overall, then per metric), then each run's verdict
    and alert counts beside its numbers."""
    items = "".join(
        f'<li class="{"tie" if m.within_uncertainty else "decided"}">{html.escape(m.sentence)}</li>'
        for m in comparison.metrics
        if m.sentence
    )
    rows = [
        [
            label,
            s.level,
            s.verdict,
            " / ".join(f"{s.alert_counts.get(k, 0)} {k}" for k in ("critical", "warning", "info")),
        ]
        for label, s in summaries.items()
    ]
    return (
        f'<div class="statement" id="comparison-statement"><p class="overall"><b>'
        f"{html.escape(comparison.overall)}</b></p><ul>{items}</ul>"
        '<p class="sub">↓ lower is better · ↑ higher is better · →1 closest to 1 is best; '
        "a difference is called only when the intervals do not overlap.</p></div>"
        + table(["run", "level", "verdict", "alerts"], rows, cls="verdicts")
    )


def config_block(config: Mapping[str, object]) -> str:
    rows = format_config(config)
    inner = table(["key", "value"], rows) if rows else "<p>(empty)</p>"
    return f"<details><summary>Configuration</summary>{inner}</details>"
