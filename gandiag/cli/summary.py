"""What a command prints when its runs are done: each run's verdict and latest metrics, and,
for several runs, which is better (the same statements as the reports and the dashboard)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gandiag.figures import compare_runs, direction_mark, format_metric, summarize_run
from gandiag.store import RunReader


def summary_lines(run_dirs: Sequence[str | Path]) -> list[str]:
    """Lines to print after training: per run, the verdict, the metrics and the alerts."""
    summaries = {}
    for d in run_dirs:
        with RunReader(d) as reader:
            summaries[reader.info().name] = summarize_run(reader)
    lines = []
    for name, s in summaries.items():
        counts = ", ".join(f"{n} {k}" for k, n in s.alert_counts.items() if n) or "no alerts"
        lines.append(f"{name}: {s.verdict}")
        lines.append(f"  alerts: {counts}")
        for metric, r in sorted(s.latest_metrics.items()):
            lines.append(f"  {metric} {direction_mark(metric)}: {format_metric(r)}")
        for metric, (step, value) in sorted(s.latest_eval.items()):
            if metric.removeprefix("eval/") not in s.latest_metrics:
                lines.append(f"  {metric} (step {step}): {value:.4g}")
    if len(summaries) > 1:
        lines.append(f"comparison: {compare_runs(summaries).overall}")
    return lines
