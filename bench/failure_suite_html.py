"""The benchmark's HTML page: each run's outcome curve and signals, with labels and alerts."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

OUTCOME = {
    "ring": ("effective_modes", "effective modes (2,000 fresh samples)"),
    "vae": ("active_units", "active units (held-out glyphs)"),
    "glyph": ("r_v_large", "r_v on train vs 1,000 held-out reals"),
    "video": ("motion_ratio", "motion of 256 fresh clips / held-out reals"),
}
SIGNALS = {
    "ring": ("samples/pdist_ratio", "d/real/prob_mean", "d/fake/prob_mean", "grad/G/norm"),
    "vae": ("vae/kl", "vae/active_fraction"),
    "glyph": ("d/r_v", "d/real/prob_mean", "d/fake/prob_mean"),
    "video": ("video/motion_ratio", "video/recurrence_excess", "loss/D_S", "loss/D_T"),
}


def run_figure(run: dict[str, Any], alerts: list[dict[str, Any]]):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fam = run["case"]["family"]
    key, title = OUTCOME[fam]
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=(f"outcome: {title}", "signals the detectors read"),
    )
    o = run["outcomes"]
    fig.add_trace(go.Scatter(x=o["step"], y=o[key], name=key, mode="lines+markers"), row=1, col=1)
    for name in SIGNALS[fam]:
        pts = run["signals"].get(name)
        if pts:
            fig.add_trace(
                go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], name=name, mode="lines"),
                row=2,
                col=1,
            )
    if fam == "ring":
        fig.update_yaxes(type="log", row=2, col=1)
    for failure, onset in run["labels"].items():
        fig.add_vline(
            x=onset,
            line_dash="dash",
            line_color="green",
            annotation_text=f"label: {failure}",
            annotation_position="top left",
        )
    for a in alerts:
        if a["severity"] == "info":
            continue
        fig.add_vline(
            x=a["step"],
            line_color="red",
            annotation_text=f"alert: {a['detector']}",
            annotation_position="bottom right",
        )
    fig.update_layout(height=420, margin={"l": 40, "r": 20, "t": 40, "b": 30}, showlegend=True)
    return fig


def write_page(
    path: Path,
    title: str,
    summary_html: str,
    runs: list[dict[str, Any]],
    alerts_per_run: list[list[dict[str, Any]]],
) -> None:
    parts = [
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        summary_html,
    ]
    first = True
    for run, alerts in zip(runs, alerts_per_run):
        name = f"{run['case']['config']} seed {run['case']['seed']}"
        labels = ", ".join(f"{k}@{v}" for k, v in run["labels"].items()) or "healthy"
        if run.get("ambiguous"):
            labels += "; margin band (not scored): " + ", ".join(run["ambiguous"])
        shown = (
            ", ".join(f"{a['detector']}@{a['step']}" for a in alerts if a["severity"] != "info")
            or "none"
        )
        parts.append(
            f"<h3>{html.escape(name)}</h3><p>labels: {html.escape(labels)}; "
            f"alerts: {html.escape(shown)}</p>"
        )
        parts.append(
            run_figure(run, alerts).to_html(
                full_html=False, include_plotlyjs="inline" if first else False
            )
        )
        first = False
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts))
