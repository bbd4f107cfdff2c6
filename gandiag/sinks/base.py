"""What a sink receives, and the tee that hands the Monitor's commits to the store and the sinks.

A sink is anything with the five methods of :class:`Sink`. The Monitor's background
thread calls them with exactly what it commits to the run store, in the same order, so
a sink sees the run live without slowing the training thread. A sink that raises is
switched off with one logged warning; the store and the detectors carry on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gandiag.types import Alert, Histogram, MetricResult, StepRecord

log = logging.getLogger(__name__)


@runtime_checkable
class Sink(Protocol):
    """Receives every record the Monitor commits (called from its background thread)."""

    def write_steps(self, records: Sequence[StepRecord]) -> None: ...

    def write_alerts(self, alerts: Sequence[Alert]) -> None: ...

    def write_metrics(self, results: Sequence[MetricResult]) -> None: ...

    def write_image(self, step: int, name: str, png: bytes) -> None: ...

    def close(self) -> None: ...


class Tee:
    """Stands in for a :class:`~gandiag.store.RunWriter`: writes to it, then to each sink.

    Everything not intercepted (``truncate_after``, ``set_meta``, ``run_dir``...) goes to
    the store unchanged.
    """

    def __init__(self, store: Any, sinks: Iterable[Sink]) -> None:
        self._store = store
        self.sinks: list[Sink] = list(sinks)
        for sink in self.sinks:
            if not isinstance(sink, Sink):
                raise TypeError(
                    f"sinks=: {sink!r} is not a sink; pass gandiag.sinks.TensorBoardSink(...), "
                    "WandbSink(...), LoggerSink(...) or an object with write_steps, write_alerts, "
                    "write_metrics, write_image and close"
                )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def write_steps(self, records: Iterable[StepRecord]) -> None:
        records = list(records)
        self._store.write_steps(records)
        self._each("write_steps", records)

    def write_alerts(self, alerts: Iterable[Alert]) -> None:
        alerts = list(alerts)
        self._store.write_alerts(alerts)
        self._each("write_alerts", alerts)

    def write_metrics(self, results: Iterable[MetricResult]) -> None:
        results = list(results)
        self._store.write_metrics(results)
        self._each("write_metrics", results)

    def write_sample_grid(self, step: int, png: bytes, name: str = "samples") -> Any:
        path = self._store.write_sample_grid(step, png, name=name)
        self._each("write_image", int(step), name, png)
        return path

    def close_sinks(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - closing one sink must not stop the others
                log.warning("gandiag: closing sink %r failed: %s", sink, exc)
        self.sinks = []

    def _each(self, method: str, *args: Any) -> None:
        for sink in list(self.sinks):
            try:
                getattr(sink, method)(*args)
            except Exception as exc:  # noqa: BLE001 - a sink must never stop the store
                log.warning(
                    "gandiag: sink %s failed in %s (%s: %s); it receives nothing more, the run "
                    "store is unaffected",
                    type(sink).__name__,
                    method,
                    type(exc).__name__,
                    exc,
                )
                self.sinks.remove(sink)


# -- shared conversions ---------------------------------------------------------------------
def alert_markdown(alert: Alert) -> str:
    """An alert as the markdown a text panel shows: diagnosis, evidence, remedies."""
    head = f"**{alert.severity.value.upper()}** {alert.detector} at step {alert.step}"
    lines = [
        f"{head} (onset {alert.onset_step})",
        "",
        alert.diagnosis,
    ]
    if alert.evidence:
        lines += ["", "Evidence: " + ", ".join(f"{k}={v:.4g}" for k, v in alert.evidence.items())]
    if alert.remedies:
        lines += ["", "Remedies:"] + [f"- {r}" for r in alert.remedies]
    return "\n".join(lines)


def histogram_moments(hist: Histogram) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Bin edges, counts and the sum and sum of squares at the bin centres."""
    edges = np.asarray(hist.edges, dtype=np.float64)
    counts = np.asarray(hist.counts, dtype=np.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    return edges, counts, float((centres * counts).sum()), float((centres**2 * counts).sum())


def png_to_array(png: bytes) -> np.ndarray:
    """Decode PNG bytes to an ``[H, W, 3]`` uint8 array."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB"))


def metric_tag(result: MetricResult) -> str:
    return f"metrics/{result.name}"
