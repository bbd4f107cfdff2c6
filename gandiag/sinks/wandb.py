"""Send a run to Weights & Biases.

Every logged row carries ``gandiag/step`` and each key gandiag logs is plotted against
it (``define_metric`` per key, so the user's own keys keep their step), so rows that arrive out of order (a metric computed for an
earlier step) keep their own step instead of being dropped by W&B's monotonic step.
Scalars keep their signal names, histograms become ``wandb.Histogram`` from the
monitor's bins, sample grids ``wandb.Image``, alerts rows of an ``alerts`` table and
markdown under ``alerts/<detector>``. Needs ``pip install gandiag[wandb]``; tests and
air-gapped clusters use ``mode="offline"`` (``wandb sync`` uploads later).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gandiag.sinks.base import alert_markdown, metric_tag, png_to_array
from gandiag.types import Alert, MetricResult, StepRecord

STEP_KEY = "gandiag/step"
ALERT_COLUMNS = ["step", "onset_step", "detector", "severity", "diagnosis", "remedies"]


def _wandb() -> Any:
    try:
        import wandb
    except ImportError as exc:
        raise ImportError(
            "WandbSink needs the wandb package; install it with `pip install gandiag[wandb]`"
        ) from exc
    return wandb


class WandbSink:
    """Log to an existing W&B ``run`` or to one started with ``wandb.init(**init_kwargs)``.

    >>> sink = WandbSink(project="gans", mode="offline")  # doctest: +SKIP
    """

    def __init__(self, run: Any = None, **init_kwargs: Any) -> None:
        self._wandb = _wandb()
        self._own = run is None
        self.run = self._wandb.init(**init_kwargs) if run is None else run
        self.run.define_metric(STEP_KEY)
        self._defined: set[str] = set()  # keys plotted against STEP_KEY (only gandiag's own)
        self._alerts: list[list[Any]] = []

    def write_steps(self, records: Sequence[StepRecord]) -> None:
        wb = self._wandb
        for rec in records:
            row: dict[str, Any] = {STEP_KEY: rec.step}
            row.update(rec.scalars)
            for name, hist in rec.histograms.items():
                row[name] = wb.Histogram(np_histogram=(list(hist.counts), hist.edges))
            self._log(row)

    def write_alerts(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        row: dict[str, Any] = {STEP_KEY: alerts[-1].step}
        for a in alerts:
            self._alerts.append(
                [
                    a.step,
                    a.onset_step,
                    a.detector,
                    a.severity.value,
                    a.diagnosis,
                    "\n".join(a.remedies),
                ]
            )
            row[f"alerts/{a.detector}"] = self._wandb.Html(
                "<pre>" + _escape(alert_markdown(a)) + "</pre>"
            )
        # W&B tables are immutable once logged: log the whole table so far.
        row["alerts"] = self._wandb.Table(columns=ALERT_COLUMNS, data=[r[:] for r in self._alerts])
        self._log(row)

    def write_metrics(self, results: Sequence[MetricResult]) -> None:
        for r in results:
            if not math.isfinite(r.value):
                continue
            row: dict[str, Any] = {metric_tag(r): r.value}
            if r.step is not None:
                row[STEP_KEY] = r.step
            if r.uncertainty is not None:
                row[metric_tag(r) + "_std"] = r.uncertainty
            self._log(row)

    def write_image(self, step: int, name: str, png: bytes) -> None:
        self._log({STEP_KEY: step, f"samples/{name}": self._wandb.Image(png_to_array(png))})

    def close(self) -> None:
        if self._own:
            self.run.finish()

    def _log(self, row: dict[str, Any]) -> None:
        for key in row.keys() - self._defined - {STEP_KEY}:
            self.run.define_metric(key, step_metric=STEP_KEY)
            self._defined.add(key)
        self.run.log(row)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
