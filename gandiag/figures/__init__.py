"""Plotly figure builders shared by the dashboard and the HTML reports (no torch, no dash).

Builders take plain data read through :class:`gandiag.store.RunReader` (series, histograms,
alerts, metric results) and return ``plotly.graph_objects.Figure`` objects; stored text is
escaped before plotly renders it.
"""

from gandiag.figures.compare import metric_bars_figure, precision_recall_figure
from gandiag.figures.comparison import Comparison, MetricComparison, compare_runs
from gandiag.figures.curves import (
    alert_timeline_figure,
    label,
    lines_figure,
    message_figure,
    steps_by_run_figure,
)
from gandiag.figures.directions import DIRECTIONS, direction_mark
from gandiag.figures.heatmaps import (
    align_series,
    common_edges,
    heatmap_figure,
    histogram_heatmap,
    histogram_matrix,
    rebin,
)
from gandiag.figures.panels import (
    DEFAULT_MAX_POINTS,
    SECTIONS,
    Panel,
    build_run_panels,
    jsonable,
    read_alerts_for_display,
    read_updates,
    summarize_run,
)
from gandiag.figures.scatter import points_figure
from gandiag.figures.text import (
    LEVEL_COLORS,
    METRIC_COLUMNS,
    MIXED_PROTOCOLS,
    SEVERITY_COLORS,
    STATUS_COLORS,
    AlertGroup,
    RunSummary,
    SideBySide,
    format_config,
    format_evidence,
    format_metric,
    format_protocol,
    group_alerts,
    latest_metrics,
    metric_rows,
    protocol_key,
    side_by_side,
    verdict,
)

__all__ = [
    "DEFAULT_MAX_POINTS",
    "DIRECTIONS",
    "LEVEL_COLORS",
    "METRIC_COLUMNS",
    "MIXED_PROTOCOLS",
    "SECTIONS",
    "SEVERITY_COLORS",
    "STATUS_COLORS",
    "AlertGroup",
    "Comparison",
    "MetricComparison",
    "Panel",
    "RunSummary",
    "SideBySide",
    "alert_timeline_figure",
    "align_series",
    "build_run_panels",
    "common_edges",
    "compare_runs",
    "direction_mark",
    "format_config",
    "format_evidence",
    "format_metric",
    "format_protocol",
    "group_alerts",
    "heatmap_figure",
    "histogram_heatmap",
    "histogram_matrix",
    "jsonable",
    "label",
    "latest_metrics",
    "lines_figure",
    "message_figure",
    "metric_bars_figure",
    "metric_rows",
    "points_figure",
    "precision_recall_figure",
    "protocol_key",
    "read_alerts_for_display",
    "read_updates",
    "rebin",
    "side_by_side",
    "steps_by_run_figure",
    "summarize_run",
    "verdict",
]  # fmt: skip
