"""Forward a run to a PyTorch Lightning trainer's own logger.

Scalars and metrics go through ``logger.log_metrics`` (any Lightning logger: CSV,
TensorBoard, W&B, MLflow...). Histograms, sample grids and alert text have no
logger-neutral call, so they go to ``logger.experiment`` when it is a TensorBoard
``SummaryWriter`` or a W&B run, and are left out otherwise (the run store keeps them).
:class:`~gandiag.monitor.lightning.GandiagCallback` attaches this sink to
``trainer.loggers`` unless ``forward_to_logger=False``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gandiag.sinks.base import Sink, metric_tag
from gandiag.types import Alert, MetricResult, StepRecord


class LoggerSink:
    """Scalars to ``logger.log_metrics``; the rest to its TensorBoard or W&B experiment."""

    def __init__(self, logger: Any) -> None:
        self.logger = logger
        self._rich: Sink | None = _rich_sink(logger)

    def write_steps(self, records: Sequence[StepRecord]) -> None:
        for rec in records:
            if rec.scalars:
                self.logger.log_metrics(dict(rec.scalars), step=rec.step)
        if self._rich is not None:  # histograms only: the scalars went through log_metrics
            hist_only = [StepRecord(r.step, {}, r.histograms, r.wall_time) for r in records]
            self._rich.write_steps([r for r in hist_only if r.histograms])

    def write_alerts(self, alerts: Sequence[Alert]) -> None:
        if self._rich is not None:
            self._rich.write_alerts(alerts)

    def write_metrics(self, results: Sequence[MetricResult]) -> None:
        for r in results:
            if r.step is not None and math.isfinite(r.value):
                self.logger.log_metrics({metric_tag(r): r.value}, step=r.step)

    def write_image(self, step: int, name: str, png: bytes) -> None:
        if self._rich is not None:
            self._rich.write_image(step, name, png)

    def close(self) -> None:
        # The trainer owns the logger and finalises it; only flush what is buffered.
        if self._rich is not None:
            self._rich.close()


def _rich_sink(logger: Any) -> Sink | None:
    experiment = getattr(logger, "experiment", None)
    if experiment is None:
        return None
    kind = type(experiment).__module__ + "." + type(experiment).__name__
    if "tensorboard" in kind and hasattr(experiment, "add_histogram_raw"):
        from gandiag.sinks.tensorboard import TensorBoardSink

        return TensorBoardSink(writer=experiment)
    if kind.startswith("wandb.") and hasattr(experiment, "log"):
        from gandiag.sinks.wandb import WandbSink

        return _Unowned(WandbSink(run=experiment))
    return None


class _Unowned:
    """A sink whose run belongs to someone else: closing it does nothing."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.write_steps = inner.write_steps
        self.write_alerts = inner.write_alerts
        self.write_metrics = inner.write_metrics
        self.write_image = inner.write_image

    def close(self) -> None:
        pass
