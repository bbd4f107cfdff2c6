"""The background thread that owns the RunWriter and runs the detectors.

The training thread hands it whole flushes; it waits for their host copy, turns the
reduced sums into :class:`~gandiag.types.StepRecord` objects, writes them, feeds the
*same objects* to the detectors (so replaying the store gives what the live run
gave), writes the alerts and posts them to an outbox the training thread drains in
``mon.step``. The queue is bounded: a store slower than training slows training
down instead of growing memory without limit.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gandiag.detectors.suite import DetectorSuite
from gandiag.images import grid_png, scatter_png
from gandiag.monitor.buffer import HostBatch
from gandiag.store import RunWriter
from gandiag.types import Alert, Histogram, MetricResult, StepRecord

_STOP = object()


class Worker:
    """Runs jobs in submission order on one daemon thread."""

    def __init__(self, writer: RunWriter, suite: DetectorSuite, maxsize: int = 8) -> None:
        self.writer = writer
        self.suite = suite
        self.outbox: collections.deque[Alert] = collections.deque()
        self.error: BaseException | None = None
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
        self._thread = threading.Thread(target=self._run, name="gandiag-monitor", daemon=True)
        self._thread.start()

    # -- submission (training thread) -------------------------------------------------------
    def submit(self, job: Callable[[], None]) -> None:
        if self.error is None:
            self._queue.put(job)

    def submit_records(
        self,
        batch: HostBatch | None,
        steps: list[int],
        extra: Mapping[int, Mapping[str, float]],
        wall: Mapping[int, float],
    ) -> None:
        self.submit(lambda: self._records(batch, steps, extra, wall))

    def submit_metrics(self, results: list[MetricResult]) -> None:
        self.submit(lambda: self.writer.write_metrics(results))

    def submit_image(self, step: int, name: str, image: Any, reference: Any = None) -> None:
        self.submit(lambda: self._image(step, name, image, reference))

    def drain(self) -> None:
        """Wait until every submitted job has run."""
        self._queue.join()

    def stop(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()

    # -- jobs (worker thread) ---------------------------------------------------------------
    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is _STOP:
                    return
                if self.error is None:
                    job()
            except BaseException as exc:  # noqa: BLE001 - reported on the training thread
                self.error = exc
            finally:
                self._queue.task_done()

    def _records(
        self,
        batch: HostBatch | None,
        steps: list[int],
        extra: Mapping[int, Mapping[str, float]],
        wall: Mapping[int, float],
    ) -> None:
        values = batch.values() if batch is not None else {}
        records = []
        for step in steps:
            scalars: dict[str, float] = {}
            hists: dict[str, Histogram] = {}
            for key, v in values.get(step, {}).items():
                if isinstance(v, Histogram):
                    hists[key] = v
                else:
                    scalars[key] = float(v)
            scalars.update({k: float(v) for k, v in extra.get(step, {}).items()})
            records.append(StepRecord(step, scalars, hists, wall.get(step, time.time())))
        self.writer.write_steps(records)
        alerts = self.suite.run(records)
        if alerts:
            self.writer.write_alerts(alerts)
            self.outbox.extend(alerts)

    def _image(self, step: int, name: str, image: Any, reference: Any) -> None:
        if isinstance(image, (bytes, bytearray)):
            png = bytes(image)
        else:
            arr = _to_numpy(image)
            if arr.ndim == 2 and arr.shape[1] == 2:
                ref = None if reference is None else _to_numpy(reference).reshape(-1, 2)
                png = scatter_png(arr, reference=ref)
                # the points themselves, so a viewer can draw axes and a legend
                self.writer.write_sample_points(step, arr, reference=ref, name=name)
            else:
                png = grid_png(arr, min_size=256)
        self.writer.write_sample_grid(step, png, name=name)


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x)
