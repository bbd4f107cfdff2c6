"""The 2-D sample scatter: a generator's points over real data, on equal axes.

Mode collapse on a ring or grid of Gaussians reads at a glance only when the samples sit
on the same, square axes as the data they imitate: real points (a batch stored with the
samples) in blue, the known mode centres (run metadata ``data_modes``) as black open circles, the
samples on top in a contrasting colour, each named in the legend.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from gandiag.figures.curves import base_layout, label
from gandiag.store import SamplePoints

SAMPLE_COLOR = "#ff7f0e"
REAL_COLOR = "#1f77b4"
CENTER_COLOR = "#222222"
#: points drawn per set: plotly stays responsive and overlapping points stay readable
MAX_POINTS = 2048


def points_figure(points: SamplePoints, title: str, *, height: int = 480) -> go.Figure:
    """Samples, real points and mode centres on square axes with ticks and a legend."""
    fig = go.Figure()
    shown = []
    centers = _finite(points.centers)
    if centers is not None:  # first, so the real points and the samples draw over them
        shown.append(centers)
        fig.add_trace(
            go.Scatter(
                x=centers[:, 0],
                y=centers[:, 1],
                mode="markers",
                name=f"mode centres ({len(centers)})",
                marker={
                    "color": CENTER_COLOR,
                    "size": 18,
                    "symbol": "circle-open",
                    "line": {"width": 1.5, "color": CENTER_COLOR},
                },
            )
        )
    sets = [
        ("real data", points.reference, {"color": REAL_COLOR, "size": 6, "opacity": 0.5}),
        ("samples", points.points, {"color": SAMPLE_COLOR, "size": 6, "opacity": 0.75}),
    ]
    for name, pts, marker in sets:
        pts = _finite(pts)
        if pts is None:
            continue
        shown.append(pts)
        fig.add_trace(
            go.Scattergl(
                x=pts[:, 0], y=pts[:, 1], mode="markers", name=f"{name} ({len(pts)})", marker=marker
            )
        )
    base_layout(fig, title, x_title="x₁", y_title="x₂", height=height)
    fig.update_layout(
        hovermode="closest", width=height + 40, legend={"orientation": "h", "y": -0.18}
    )
    lo, hi = _square_range(shown)
    fig.update_xaxes(range=[lo, hi], showgrid=True, zeroline=True, ticks="outside")
    # equal aspect: one unit is as long on both axes, so a ring reads as a circle
    fig.update_yaxes(
        range=[lo, hi],
        scaleanchor="x",
        scaleratio=1,
        showgrid=True,
        zeroline=True,
        ticks="outside",
        title_text=label("x₂"),
    )
    return fig


def _finite(pts: np.ndarray | None) -> np.ndarray | None:
    if pts is None:
        return None
    pts = np.asarray(pts, np.float64).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(axis=1)][:MAX_POINTS]
    return pts if len(pts) else None


def _square_range(sets: list[np.ndarray]) -> tuple[float, float]:
    """One range for both axes holding every drawn point, with a margin; samples that flew
    far off (a diverged generator) widen it, so they stay visible."""
    if not sets:
        return -1.0, 1.0
    allpts = np.concatenate(sets)
    lo, hi = float(allpts.min()), float(allpts.max())
    pad = 0.08 * max(hi - lo, 1e-6)
    return lo - pad, hi + pad
