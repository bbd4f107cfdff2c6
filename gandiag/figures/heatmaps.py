"""Heatmaps over time: D-output histograms, per-layer gradient norms, KL per latent dimension.

``z`` is always ``rows × steps`` so a live view extends a heatmap by appending one value
to each row (see :mod:`gandiag.figures.panels`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from gandiag.figures.curves import base_layout, label
from gandiag.store import Series
from gandiag.types import Histogram


def align_series(series: Sequence[Series]) -> tuple[np.ndarray, np.ndarray]:
    """Steps (union over ``series``) and a ``len(series) × steps`` matrix, NaN where missing."""
    if not series:
        return np.zeros(0, np.int64), np.zeros((0, 0))
    steps = np.unique(np.concatenate([s.steps for s in series]))
    z = np.full((len(series), steps.size), np.nan)
    for i, s in enumerate(series):
        z[i, np.searchsorted(steps, s.steps)] = s.values
    return steps, z


def log10_safe(z: np.ndarray) -> np.ndarray:
    """log10 of norms; zero becomes -inf masked as NaN so one dead layer does not flatten the scale."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(np.asarray(z, dtype=np.float64))
    out[~np.isfinite(out)] = np.nan
    return out


def heatmap_figure(
    steps: np.ndarray,
    rows: Sequence[str],
    z: np.ndarray,
    *,
    title: str,
    colorbar: str,
    y_title: str = "",
    colorscale: str = "Viridis",
    zmin: float | None = None,
    zmax: float | None = None,
    y_values: Sequence[float] | None = None,
) -> go.Figure:
    """A ``rows × steps`` heatmap; ``y_values`` numeric rows (bin centres) instead of labels."""
    y = list(y_values) if y_values is not None else [label(r) for r in rows]
    fig = go.Figure(
        go.Heatmap(
            x=np.asarray(steps),
            y=y,
            z=np.asarray(z, dtype=np.float64),
            colorscale=colorscale,
            zmin=zmin,
            zmax=zmax,
            colorbar={"title": {"text": label(colorbar)}, "thickness": 12},
            hoverongaps=False,
        )
    )
    height = 320 if y_values is not None else max(220, min(700, 90 + 22 * len(rows)))
    base_layout(fig, title, y_title=y_title, height=height)
    fig.update_layout(hovermode="closest")
    if y_values is None:
        fig.update_yaxes(type="category", automargin=True)
    return fig


# -- histograms over time ------------------------------------------------------------------------
def common_edges(
    hists: Sequence[Histogram], nbins: int = 40, unit_range: bool = False
) -> np.ndarray:
    """Bin edges covering every histogram (``[0, 1]`` for probabilities)."""
    if unit_range or not hists:
        lo, hi = 0.0, 1.0
    else:
        lo = min(h.lo for h in hists)
        hi = max(h.hi for h in hists)
        if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
            lo, hi = (lo - 0.5, lo + 0.5) if np.isfinite(lo) else (0.0, 1.0)
    return np.linspace(lo, hi, nbins + 1)


def rebin(h: Histogram, edges: np.ndarray) -> np.ndarray:
    """Fractions of ``h``'s counts in each target bin (uniform mass inside a source bin)."""
    counts = np.asarray(h.counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0 or counts.size == 0:
        return np.zeros(edges.size - 1)
    src = np.linspace(h.lo, h.hi, counts.size + 1)
    if not (src[-1] > src[0]):
        out = np.zeros(edges.size - 1)
        out[int(np.clip(np.searchsorted(edges, h.lo, "right") - 1, 0, out.size - 1))] = 1.0
        return out
    cum = np.concatenate([[0.0], np.cumsum(counts)])
    # Mass outside the target range lands in the end bins, as the store clips into its own.
    at = np.interp(np.clip(edges, src[0], src[-1]), src, cum)
    at[0], at[-1] = 0.0, total
    return np.diff(at) / total


def histogram_matrix(
    hists: Sequence[tuple[int, Histogram]], edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Steps and a ``bins × steps`` matrix of fractions."""
    steps = np.array([s for s, _ in hists], dtype=np.int64)
    if not hists:
        return steps, np.zeros((edges.size - 1, 0))
    return steps, np.stack([rebin(h, edges) for _, h in hists], axis=1)


def histogram_heatmap(
    hists: Sequence[tuple[int, Histogram]], edges: np.ndarray, *, title: str, y_title: str
) -> go.Figure:
    steps, z = histogram_matrix(hists, edges)
    centres = (edges[:-1] + edges[1:]) / 2
    return heatmap_figure(
        steps,
        [],
        z,
        title=title,
        colorbar="share",
        y_title=y_title,
        colorscale="Magma",
        zmin=0.0,
        y_values=centres.round(6).tolist(),
    )
