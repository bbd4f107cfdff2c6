"""Which panels a run has, built from its store, and the new data a live view appends to them.

The dashboard's run page and the HTML report both call :func:`build_run_panels`, so a
signal shows up the same way in both. A :class:`Panel` carries a JSON-able ``spec`` that
:func:`read_updates` uses to fetch only the steps after the last one shown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gandiag import signals as sig
from gandiag.figures.curves import (
    TraceSpec,
    alert_markers,
    base_layout,
    label,
    lines_figure,
    phase_markers,
)
from gandiag.figures.heatmaps import (
    align_series,
    common_edges,
    heatmap_figure,
    histogram_heatmap,
    histogram_matrix,
    log10_safe,
)
from gandiag.figures.text import RunSummary, alert_counts, group_alerts, latest_metrics, verdict
from gandiag.phases import boundaries, read_phases
from gandiag.store import RunReader, Series
from gandiag.types import Alert

DEFAULT_MAX_POINTS = 600
SECTIONS = ("Training curves", "Discriminator", "Gradients", "Samples", "VAE", "Evaluation")
_LAYER = re.compile(r"^grad/([^/]+)/layer/(.+)/norm$")
_KL_DIM = re.compile(r"^vae/kl_dim/(\d+)$")


@dataclass
class Panel:
    """One figure of a run page or report, plus what a live view needs to extend it.

    ``kind`` is ``"lines"`` (``traces``: the ``(series, field)`` of each trace) or
    ``"heatmap"`` (``rows``: the scalar series of each row, or ``histogram``: the histogram
    series with its bin ``edges``; ``transform`` ``"log10"`` for gradient norms).
    """

    key: str
    title: str
    figure: go.Figure
    kind: str = "lines"
    section: str = "Training curves"
    traces: list[TraceSpec] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    histogram: str | None = None
    edges: list[float] | None = None
    transform: str = "none"

    def spec(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "traces": self.traces,
            "rows": self.rows,
            "histogram": self.histogram,
            "edges": self.edges,
            "transform": self.transform,
        }


def summarize_run(reader: RunReader) -> RunSummary:
    info = reader.info()
    alerts = reader.read_alerts()
    groups = group_alerts(alerts)
    text, level = verdict(info.status, info.num_steps, info.last_step, groups)
    return RunSummary(
        name=info.name,
        kind=info.kind,
        status=info.status,
        last_step=info.last_step,
        num_steps=info.num_steps,
        alert_counts=alert_counts(alerts),
        groups=groups,
        latest_metrics=latest_metrics(reader.read_metrics()),
        verdict=text,
        level=level,
        config=info.config,
    )


def _natural(name: str) -> list:
    """``block2`` before ``block10``: layer names sorted as a person numbers them."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _kl_dim_order(name: str) -> int:
    m = _KL_DIM.match(name)
    return int(m.group(1)) if m else -1


def build_run_panels(
    reader: RunReader,
    *,
    max_points: int = DEFAULT_MAX_POINTS,
    alerts: Sequence[Alert] | None = None,
    sections: Sequence[str] | None = None,
) -> list[Panel]:
    """Every panel the run's signals support, each downsampled to ``max_points`` steps.

    ``sections`` (names from :data:`SECTIONS`) restricts the work to those sections: only
    their series are read, so a page can load section by section.
    """
    names = reader.scalar_names()
    phase_lines = boundaries(read_phases(reader))
    wanted = set(SECTIONS if sections is None else sections)
    alerts = reader.read_alerts() if alerts is None and "Training curves" in wanted else alerts
    layer_names = [n for n in names if _LAYER.match(n)]
    kl_dims = sorted((n for n in names if _KL_DIM.match(n)), key=_kl_dim_order)
    plain = [n for n in names if n not in set(layer_names) | set(kl_dims)]
    plain_set = set(plain)
    panels: list[Panel] = []
    section = ""  # set before each group of panels below

    def pick(keys: Sequence[str]) -> list[Series]:
        if section not in wanted:
            return []
        keys = [k for k in keys if k in plain_set]
        data = reader.read_scalars(keys, max_points=max_points) if keys else {}
        return [data[k] for k in keys if k in data and len(data[k])]

    def add_lines(
        key: str, title: str, series: list[Series], section: str, **kw: Any
    ) -> Panel | None:
        if not series or section not in wanted:
            return None
        fig, specs = lines_figure(series, title=title, **kw)
        phase_markers(fig, phase_lines)  # phase boundaries on every curve over steps
        panel = Panel(key, title, fig, "lines", section, traces=specs)
        panels.append(panel)
        return panel

    section = "Training curves"
    losses = pick([n for n in plain if n.startswith("loss/") and n != sig.LOSS_NONFINITE])
    p = add_lines("losses", "Losses", losses, "Training curves", y_title="loss")
    if p is not None and alerts:
        alert_markers(p.figure, alerts)
    probs = pick([sig.D_REAL_PROB_MEAN, sig.D_FAKE_PROB_MEAN])
    raws = pick([sig.D_REAL_RAW_MEAN, sig.D_FAKE_RAW_MEAN, sig.D_VAL_RAW_MEAN])
    if probs:
        add_lines(
            "d-outputs",
            "D(real) and D(fake): mean, band = min–max per bucket",
            probs,
            "Training curves",
            y_title="sigmoid(D)",
            bands=True,
            names={sig.D_REAL_PROB_MEAN: "D(real)", sig.D_FAKE_PROB_MEAN: "D(fake)"},
        )
    if raws:
        add_lines(
            "d-raw",
            "Critic raw outputs (mean per batch)",
            raws,
            "Training curves",
            y_title="D raw",
            bands=True,
        )
    vae_terms = pick([sig.VAE_RECON, sig.VAE_KL])
    add_lines(
        "vae-terms",
        "VAE: reconstruction and KL",
        vae_terms,
        "Training curves",
        y_title="nats / loss",
    )

    section = "Discriminator"
    for hname, title in (
        (sig.HIST_D_REAL, "D(real) distribution over time"),
        (sig.HIST_D_FAKE, "D(fake) distribution over time"),
    ):
        if section not in wanted or hname not in reader.histogram_names():
            continue
        hists = reader.read_histograms(hname, max_points=max_points)
        if not hists:
            continue
        unit = all(0.0 <= h.lo and h.hi <= 1.0 for _, h in hists[:20])
        edges = common_edges([h for _, h in hists], unit_range=unit)
        fig = histogram_heatmap(
            hists, edges, title=title, y_title="sigmoid(D)" if unit else "D raw"
        )
        panels.append(
            Panel(
                f"hist-{hname.replace('/', '-')}",
                title,
                fig,
                "heatmap",
                "Discriminator",
                histogram=hname,
                edges=edges.tolist(),
            )
        )

    section = "Gradients"
    nets = sig.nets_with_prefix(names, "G") + sig.nets_with_prefix(names, "D")
    nets += [n for n in sig.nets_with_prefix(names, "") if n not in nets]
    add_lines(
        "grad-norms",
        "Gradient norms (global, per network)",
        pick([sig.grad_norm(n) for n in nets]),
        "Gradients",
        y_title="‖∇‖",
        log_y=True,
    )
    for net in nets:
        rows = sorted(
            (n for n in layer_names if _LAYER.match(n).group(1) == net),  # type: ignore[union-attr]
            key=_natural,
        )
        if not rows or section not in wanted:
            continue
        series = reader.read_scalars(rows, max_points=max_points)
        steps, z = align_series([series[r] for r in rows])
        title = f"{net}: per-layer gradient norm (log10)"
        fig = heatmap_figure(
            steps,
            [_LAYER.match(r).group(2) for r in rows],
            log10_safe(z),  # type: ignore[union-attr]
            title=title,
            colorbar="log10 ‖∇‖",
            y_title="layer",
        )
        panels.append(
            Panel(
                f"grad-layers-{net}",
                title,
                fig,
                "heatmap",
                "Gradients",
                rows=rows,
                transform="log10",
            )
        )
    nonfinite = pick([sig.LOSS_NONFINITE] + [sig.grad_nonfinite(n) for n in nets])
    if any(np.nanmax(s.hi if s.hi is not None else s.values, initial=0) > 0 for s in nonfinite):
        add_lines(
            "nonfinite",
            "Non-finite values (count per step)",
            nonfinite,
            "Gradients",
            y_title="count",
        )
    add_lines(
        "updates",
        "Update-to-weight ratio",
        pick([sig.update_ratio(n) for n in nets]),
        "Gradients",
        y_title="ratio",
        log_y=True,
    )
    add_lines(
        "rotation",
        "Cosine between successive updates",
        pick([sig.update_cosine(n) for n in nets]),
        "Gradients",
        y_title="cosine",
    )

    section = "Discriminator"
    add_lines(
        "overfit",
        "Discriminator overfitting: r_t and r_v",
        pick([sig.D_RT, sig.D_RV]),
        "Discriminator",
        y_title="ratio",
    )
    section = "Samples"
    add_lines(
        "diversity",
        "Sample diversity (fake / real)",
        pick([n for n in plain if n.startswith("samples/")]),
        "Samples",
        y_title="ratio",
    )

    section = "VAE"
    if kl_dims and section in wanted:
        series = reader.read_scalars(kl_dims, max_points=max_points)
        steps, z = align_series([series[r] for r in kl_dims])
        title = "VAE: KL per latent dimension (nats)"
        fig = heatmap_figure(
            steps,
            [f"z{_kl_dim_order(r)}" for r in kl_dims],
            z,
            title=title,
            colorbar="KL (nats)",
            y_title="latent dim",
            zmin=0.0,
        )
        panels.append(Panel("vae-kl-dims", title, fig, "heatmap", "VAE", rows=kl_dims))
    add_lines(
        "vae-units", "VAE: active units", pick([sig.VAE_ACTIVE_UNITS]), "VAE", y_title="units"
    )
    add_lines(
        "vae-sensitivity",
        "VAE: decoder sensitivity",
        pick([sig.VAE_DECODER_SENSITIVITY]),
        "VAE",
        y_title="‖Δx‖/‖Δz‖",
    )

    section = "Evaluation"
    evals = pick([n for n in plain if n.startswith("eval/")])
    if evals:
        panels.append(_eval_panel(evals))
    return panels


def _eval_panel(evals: list[Series]) -> Panel:
    """Periodic evaluation, one row per quantity: FID and shares do not share a scale."""
    fig = make_subplots(
        rows=len(evals),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        subplot_titles=[label(s.name) for s in evals],
    )
    for i, s in enumerate(evals):
        fig.add_trace(
            go.Scatter(
                x=s.steps,
                y=s.values,
                mode="lines+markers",
                name=label(s.name),
                marker={"size": 4},
                showlegend=False,
            ),
            row=i + 1,
            col=1,
        )
    title = "Periodic evaluation"
    base_layout(fig, title, height=120 + 150 * len(evals))
    fig.update_xaxes(title_text="")
    fig.update_annotations(font_size=11)
    return Panel(
        "eval", title, fig, "lines", "Evaluation", traces=[(s.name, "values") for s in evals]
    )


# -- live extension --------------------------------------------------------------------------
def read_updates(
    reader: RunReader,
    specs: Sequence[dict[str, Any]],
    since_step: int,
    *,
    until_step: int | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> dict[str, dict[str, Any]]:
    """Points in ``(since_step, until_step]`` for each panel spec, as JSON-able lists.

    Lines: ``{"traces": {index: (xs, ys)}}``; heatmaps: ``{"x": xs, "z": [row values]}``.
    Panels with nothing new are left out.
    """
    names = sorted({t[0] for s in specs if s["kind"] == "lines" for t in s["traces"] if t})
    window = {"since_step": since_step, "until_step": until_step, "max_points": max_points}
    data = reader.read_scalars(names, **window) if names else {}
    out: dict[str, dict[str, Any]] = {}
    for spec in specs:
        if spec["kind"] == "lines":
            traces = {}
            for i, t in enumerate(spec["traces"]):
                s = data.get(t[0]) if t else None
                if s is None or not len(s):
                    continue
                ys = {"values": s.values, "lo": s.lo, "hi": s.hi}.get(t[1])
                traces[i] = (s.steps.tolist(), jsonable(s.values if ys is None else ys))
            if traces:
                out[spec["key"]] = {"traces": traces}
        elif spec.get("histogram"):
            hists = reader.read_histograms(
                spec["histogram"], since_step=since_step, max_points=max_points
            )
            hists = [(s, h) for s, h in hists if until_step is None or s <= until_step]
            if hists:
                steps, z = histogram_matrix(hists, np.asarray(spec["edges"]))
                out[spec["key"]] = {"x": steps.tolist(), "z": [jsonable(r) for r in z]}
        else:
            series = reader.read_scalars(spec["rows"], **window)
            steps, z = align_series([series.get(r, _empty(r)) for r in spec["rows"]])
            if steps.size:
                if spec.get("transform") == "log10":
                    z = log10_safe(z)
                out[spec["key"]] = {"x": steps.tolist(), "z": [jsonable(r) for r in z]}
    return out


def jsonable(values: np.ndarray | None) -> list[float | None]:
    """Floats for JSON: NaN and infinities become null (a gap in the plot)."""
    if values is None:
        return []
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=np.float64)]


def _empty(name: str) -> Series:
    return Series(name, np.zeros(0, np.int64), np.zeros(0))


def empty_run_figure(text: str) -> go.Figure:
    fig = go.Figure()
    base_layout(fig, text, height=200)
    return fig
