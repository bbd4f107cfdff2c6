"""Which panels a run has, built from its store, and the new data a live view appends to them.

The dashboard's run page and the HTML report both call :func:`build_run_panels`, so a
signal shows up the same way in both. A :class:`Panel` carries a JSON-able ``spec`` that
:func:`read_updates` uses to fetch only the steps after the last one shown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gandiag import signals as sig
from gandiag.advice import advise_alert, entry_point_of
from gandiag.figures.curves import (
    TraceSpec,
    alert_markers,
    base_layout,
    label,
    lines_figure,
    phase_markers,
)
from gandiag.figures.directions import direction_mark
from gandiag.figures.findings import coverage, ended_failures, evaluation_findings
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


def read_alerts_for_display(reader: RunReader) -> list[Alert]:
    """The run's alerts, their advice worded for how the run was made (a config key for a
    ``gandiag train`` run, a ``Monitor`` argument for a user's own loop; gandiag.advice)."""
    entry = entry_point_of(
        {"entry_point": reader.meta("entry_point"), "config": reader.meta("config")}
    )
    return [advise_alert(a, entry) for a in reader.read_alerts()]


def summarize_run(reader: RunReader) -> RunSummary:
    info = reader.info()
    alerts = read_alerts_for_display(reader)
    groups = group_alerts(alerts)
    names = reader.scalar_names()
    checked, not_checked = coverage(names, info.kind)
    evals = latest_eval(reader, names)
    findings = evaluation_findings(evals)
    ended = ended_failures({g.detector: g.last_step for g in groups}, evals)
    text, level = verdict(
        info.status,
        info.num_steps,
        info.last_step,
        groups,
        findings=findings,
        checked=checked,
        not_checked=not_checked,
        ended=ended,
    )
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
        findings=findings,
        checked=checked,
        not_checked=not_checked,
        latest_eval=evals,
    )


def latest_eval(
    reader: RunReader, names: Sequence[str] | None = None
) -> dict[str, tuple[int, float]]:
    """The last stored ``(step, value)`` of each ``eval/*`` scalar (evaluations are sparse)."""
    every = reader.scalar_names() if names is None else names
    names = [n for n in every if n.startswith("eval/")]
    out: dict[str, tuple[int, float]] = {}
    for name, s in (reader.read_scalars(names) if names else {}).items():
        finite = np.isfinite(s.values)
        if finite.any():
            i = int(np.flatnonzero(finite)[-1])
            out[name] = (int(s.steps[i]), float(s.values[i]))
    return out


def _natural(name: str) -> list:
    """``block2`` before ``block10``: layer names sorted as a person numbers them."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _kl_dim_order(name: str) -> int:
    m = _KL_DIM.match(name)
    return int(m.group(1)) if m else -1


@dataclass(frozen=True)
class PanelContext:
    """What a panel builder sees: the run's signal names, split by family, and a reader."""

    reader: RunReader
    names: list[str]
    plain: list[str]  # scalar series that are not per-layer or per-latent-dimension
    layers: list[str]  # grad/<NET>/layer/<layer>/norm
    kl_dims: list[str]  # vae/kl_dim/<j>, in dimension order
    nets: list[str]  # networks with gradient series, G* then D* then the rest
    max_points: int
    alerts: Sequence[Alert]
    last_step: int | None
    smoothing: float = 0.0
    #: (start step, name) of each phase after the first (Monitor.set_phase)
    phases: Sequence[tuple[int, str]] = ()

    def read(self, keys: Sequence[str]) -> list[Series]:
        """The non-empty series among ``keys`` (plain scalars only), downsampled."""
        keys = [k for k in keys if k in set(self.plain)]
        data = self.reader.read_scalars(keys, max_points=self.max_points) if keys else {}
        return [data[k] for k in keys if k in data and len(data[k])]


@dataclass(frozen=True)
class LinesPanel:
    """A line panel: which series it draws (``select``) and how."""

    key: str
    title: str
    section: str
    select: Callable[[PanelContext], list[str]]
    y_title: str = ""
    bands: bool = False
    log_y: bool = False
    names: Mapping[str, str] | None = None
    alert_markers: bool = False
    smooth: bool = True  # follows the page's smoothing control
    show_if: Callable[[list[Series]], bool] | None = None

    def build(self, ctx: PanelContext) -> list[Panel]:
        series = ctx.read(self.select(ctx))
        if not series or (self.show_if is not None and not self.show_if(series)):
            return []
        fig, specs = lines_figure(
            series,
            title=self.title,
            y_title=self.y_title,
            bands=self.bands,
            log_y=self.log_y,
            names=self.names,
            smoothing=ctx.smoothing if self.smooth else 0.0,
            smoothable=self.smooth,
        )
        if self.alert_markers and ctx.alerts:
            alert_markers(fig, ctx.alerts)
        phase_markers(fig, ctx.phases)  # phase boundaries on every curve over steps
        return [Panel(self.key, self.title, fig, "lines", self.section, traces=specs)]


@dataclass(frozen=True)
class CustomPanels:
    """Panels a function builds (heatmaps, the evaluation grid): zero or more of them."""

    section: str
    build_fn: Callable[[PanelContext], list[Panel]]

    def build(self, ctx: PanelContext) -> list[Panel]:
        return self.build_fn(ctx)


def _loss_names(ctx: PanelContext) -> list[str]:
    return [n for n in ctx.plain if n.startswith("loss/") and n != sig.LOSS_NONFINITE]


def _any_positive(series: list[Series]) -> bool:
    return any(np.nanmax(s.hi if s.hi is not None else s.values, initial=0) > 0 for s in series)


def _histogram_panels(ctx: PanelContext) -> list[Panel]:
    out = []
    for hname, title in (
        (sig.HIST_D_REAL, "D(real) distribution over time"),
        (sig.HIST_D_FAKE, "D(fake) distribution over time"),
    ):
        if hname not in ctx.reader.histogram_names():
            continue
        hists = ctx.reader.read_histograms(hname, max_points=ctx.max_points)
        if not hists:
            continue
        unit = all(0.0 <= h.lo and h.hi <= 1.0 for _, h in hists[:20])
        edges = common_edges([h for _, h in hists], unit_range=unit)
        fig = histogram_heatmap(
            hists, edges, title=title, y_title="sigmoid(D)" if unit else "D raw"
        )
        key = f"hist-{hname.replace('/', '-')}"
        out.append(
            Panel(
                key, title, fig, "heatmap", "Discriminator", histogram=hname, edges=edges.tolist()
            )
        )
    return out


def _layer_heatmaps(ctx: PanelContext) -> list[Panel]:
    out = []
    for net in ctx.nets:
        rows = sorted(
            (n for n in ctx.layers if _LAYER.match(n).group(1) == net),  # type: ignore[union-attr]
            key=_natural,
        )
        if not rows:
            continue
        series = ctx.reader.read_scalars(rows, max_points=ctx.max_points)
        steps, z = align_series([series[r] for r in rows])
        title = f"{net}: per-layer gradient norm (log10)"
        fig = heatmap_figure(
            steps,
            [_LAYER.match(r).group(2) for r in rows],  # type: ignore[union-attr]
            log10_safe(z),
            title=title,
            colorbar="log10 ‖∇‖",
            y_title="layer",
        )
        out.append(
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
    return out


def _kl_heatmap(ctx: PanelContext) -> list[Panel]:
    if not ctx.kl_dims:
        return []
    series = ctx.reader.read_scalars(ctx.kl_dims, max_points=ctx.max_points)
    steps, z = align_series([series[r] for r in ctx.kl_dims])
    title = "VAE: KL per latent dimension (nats)"
    fig = heatmap_figure(
        steps,
        [f"z{_kl_dim_order(r)}" for r in ctx.kl_dims],
        z,
        title=title,
        colorbar="KL (nats)",
        y_title="latent dim",
        zmin=0.0,
    )
    return [Panel("vae-kl-dims", title, fig, "heatmap", "VAE", rows=ctx.kl_dims)]


def _evaluation(ctx: PanelContext) -> list[Panel]:
    evals = ctx.read([n for n in ctx.plain if n.startswith("eval/")])
    return [_eval_panel(evals, ctx.last_step)] if evals else []


#: Every panel a run page or report can show, in display order. A panel appears when the
#: run has the signals it selects; each entry names its section, so a page can load one
#: section at a time (only the series of the wanted sections are read).
PANELS: tuple[LinesPanel | CustomPanels, ...] = (
    LinesPanel("losses", "Losses", "Training curves", _loss_names, "loss", alert_markers=True),
    LinesPanel(
        "d-outputs",
        "D(real) and D(fake): mean, band = min–max per bucket",
        "Training curves",
        lambda c: [sig.D_REAL_PROB_MEAN, sig.D_FAKE_PROB_MEAN],
        "sigmoid(D)",
        bands=True,
        names={sig.D_REAL_PROB_MEAN: "D(real)", sig.D_FAKE_PROB_MEAN: "D(fake)"},
    ),
    LinesPanel(
        "d-raw",
        "Critic raw outputs (mean per batch)",
        "Training curves",
        lambda c: [sig.D_REAL_RAW_MEAN, sig.D_FAKE_RAW_MEAN, sig.D_VAL_RAW_MEAN],
        "D raw",
        bands=True,
    ),
    LinesPanel(
        "vae-terms",
        "VAE: reconstruction and KL",
        "Training curves",
        lambda c: [sig.VAE_RECON, sig.VAE_KL],
        "nats / loss",
    ),
    CustomPanels("Discriminator", _histogram_panels),
    LinesPanel(
        "grad-norms",
        "Gradient norms (global, per network)",
        "Gradients",
        lambda c: [sig.grad_norm(n) for n in c.nets],
        "‖∇‖",
        log_y=True,
    ),
    CustomPanels("Gradients", _layer_heatmaps),
    LinesPanel(
        "nonfinite",
        "Non-finite values (count per step)",
        "Gradients",
        lambda c: [sig.LOSS_NONFINITE] + [sig.grad_nonfinite(n) for n in c.nets],
        "count",
        show_if=_any_positive,
    ),
    LinesPanel(
        "updates",
        "Update-to-weight ratio",
        "Gradients",
        lambda c: [sig.update_ratio(n) for n in c.nets],
        "ratio",
        log_y=True,
    ),
    LinesPanel(
        "rotation",
        "Cosine between successive updates",
        "Gradients",
        lambda c: [sig.update_cosine(n) for n in c.nets],
        "cosine",
    ),
    LinesPanel(
        "overfit",
        "Discriminator overfitting: r_t and r_v",
        "Discriminator",
        lambda c: [sig.D_RT, sig.D_RV],
        "ratio",
    ),
    LinesPanel(
        "diversity",
        "Sample diversity (fake / real)",
        "Samples",
        lambda c: [n for n in c.plain if n.startswith("samples/")],
        "ratio",
    ),
    CustomPanels("VAE", _kl_heatmap),
    LinesPanel("vae-units", "VAE: active units", "VAE", lambda c: [sig.VAE_ACTIVE_UNITS], "units"),
    LinesPanel(
        "vae-sensitivity",
        "VAE: decoder sensitivity",
        "VAE",
        lambda c: [sig.VAE_DECODER_SENSITIVITY],
        "‖Δx‖/‖Δz‖",
    ),
    CustomPanels("Evaluation", _evaluation),
)


def build_run_panels(
    reader: RunReader,
    *,
    max_points: int = DEFAULT_MAX_POINTS,
    alerts: Sequence[Alert] | None = None,
    sections: Sequence[str] | None = None,
    smoothing: float = 0.0,
) -> list[Panel]:
    """Every panel of :data:`PANELS` the run's signals support, downsampled to ``max_points``.

    ``sections`` (names from :data:`SECTIONS`) restricts the work to those sections: only
    their series are read, so a page can load section by section. ``smoothing`` in [0, 1)
    overlays an exponential moving average on the line panels.
    """
    names = reader.scalar_names()
    wanted = set(SECTIONS if sections is None else sections)
    if alerts is None and "Training curves" in wanted:
        alerts = read_alerts_for_display(reader)
    layers = [n for n in names if _LAYER.match(n)]
    kl_dims = sorted((n for n in names if _KL_DIM.match(n)), key=_kl_dim_order)
    skip = set(layers) | set(kl_dims)
    nets = sig.nets_with_prefix(names, "G") + sig.nets_with_prefix(names, "D")
    nets += [n for n in sig.nets_with_prefix(names, "") if n not in nets]
    ctx = PanelContext(
        reader,
        names,
        [n for n in names if n not in skip],
        layers,
        kl_dims,
        nets,
        max_points,
        alerts or (),
        reader.last_step(),
        smoothing,
        boundaries(read_phases(reader)),
    )
    panels: list[Panel] = []
    for entry in PANELS:
        if entry.section in wanted:
            panels += entry.build(ctx)
    return panels


def _eval_panel(evals: list[Series], last_step: int | None = None) -> Panel:
    """Periodic evaluation, a small plot per quantity (FID and shares do not share a scale),
    two per row, every x axis spanning the run's steps (one evaluation is a point at its
    step, not an axis from 499 to 501)."""
    cols = 2 if len(evals) > 1 else 1
    rows = -(-len(evals) // cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        shared_xaxes=True,
        vertical_spacing=min(0.12, 0.5 / rows),
        horizontal_spacing=0.1,
        subplot_titles=[f"{label(s.name)} {direction_mark(s.name)}".rstrip() for s in evals],
    )
    for i, s in enumerate(evals):
        fig.add_trace(
            go.Scatter(
                x=s.steps,
                y=s.values,
                mode="lines+markers",
                name=label(s.name),
                marker={"size": 6},
                showlegend=False,
            ),
            row=i // cols + 1,
            col=i % cols + 1,
        )
    title = "Periodic evaluation (↓ lower is better, ↑ higher is better)"
    base_layout(fig, title, height=110 + 200 * rows)
    fig.update_xaxes(title_text="")
    if last_step is not None:
        fig.update_xaxes(range=[0, max(1, last_step)])
    fig.update_annotations(font_size=12)
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
