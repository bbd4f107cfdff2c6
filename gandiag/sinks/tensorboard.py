"""Send a run to TensorBoard through ``torch.utils.tensorboard.SummaryWriter``.

Scalars keep their signal names as tags (``loss/G``, ``d/p_real``...), histograms go
in as the monitor's own bins, sample grids as images, alerts as markdown text under
``alerts/<detector>`` and metric results as ``metrics/<name>`` scalars. Needs the
``tensorboard`` package (``pip install gandiag[tensorboard]``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gandiag.sinks.base import alert_markdown, histogram_moments, metric_tag, png_to_array
from gandiag.types import Alert, MetricResult, StepRecord


def _summary_writer(log_dir: str | Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise ImportError(
            "TensorBoardSink needs the tensorboard package; install it with "
            "`pip install gandiag[tensorboard]`"
        ) from exc
    return SummaryWriter(log_dir=str(log_dir))


class TensorBoardSink:
    """Write to ``log_dir`` (a new SummaryWriter) or to an existing ``writer``.

    >>> mon = gandiag.Monitor("runs/dcgan", G, D, sinks=[TensorBoardSink("tb/dcgan")])  # doctest: +SKIP
    """

    def __init__(self, log_dir: str | Path | None = None, *, writer: Any = None) -> None:
        if (log_dir is None) == (writer is None):
            raise ValueError(
                "TensorBoardSink: pass log_dir= or writer= (a SummaryWriter), not both"
            )
        self._own = writer is None
        self.writer = _summary_writer(log_dir) if writer is None else writer

    def write_steps(self, records: Sequence[StepRecord]) -> None:
        w = self.writer
        for rec in records:
            for name, value in rec.scalars.items():
                w.add_scalar(name, value, rec.step, walltime=rec.wall_time or None)
            for name, hist in rec.histograms.items():
                if hist.total == 0:
                    continue
                edges, counts, s, s2 = histogram_moments(hist)
                w.add_histogram_raw(
                    name,
                    min=hist.lo,
                    max=hist.hi,
                    num=hist.total,
                    sum=s,
                    sum_squares=s2,
                    bucket_limits=edges[1:].tolist(),
                    bucket_counts=counts.tolist(),
                    global_step=rec.step,
                    walltime=rec.wall_time or None,
                )

    def write_alerts(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            self.writer.add_text(f"alerts/{alert.detector}", alert_markdown(alert), alert.step)

    def write_metrics(self, results: Sequence[MetricResult]) -> None:
        for r in results:
            if r.step is None or not math.isfinite(r.value):
                continue  # TensorBoard scalars need a step
            self.writer.add_scalar(metric_tag(r), r.value, r.step)

    def write_image(self, step: int, name: str, png: bytes) -> None:
        self.writer.add_image(f"samples/{name}", png_to_array(png), step, dataformats="HWC")

    def close(self) -> None:
        if self._own:
            self.writer.close()
        else:
            self.writer.flush()
