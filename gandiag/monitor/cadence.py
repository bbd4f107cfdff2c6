"""How often the monitor measures each family of signals.

The defaults keep the monitor's cost near 1% of a small CPU GAN step (see
``bench/monitor_overhead.py``): the signals that are nearly free after a backward
pass (losses, global gradient norms, discriminator-output summaries) are taken every
step; the ones that cost a pass over the weights or a probe forward are taken every
few dozen steps; sample grids every few hundred.

On an accelerator a training step of a small model can take a few milliseconds, less than
the Python work of one periodic probe, so a fixed step cadence that costs 1% on the CPU
costs tens of percent there (measured on an H200: docs/benchmarks.md, section GPU). There a
:class:`Pacer` keeps the periodic families within ``Cadence.budget`` of the wall time: a
family still runs only at its cadence's steps, and skips such a step while the time it
has taken so far exceeds its share of the time since the first step (a token bucket per
family). On the CPU, and under torch.distributed (ranks must take the same steps), the
cadence stays fixed, so the records of a CPU run are the same run to run.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Cadence:
    """Intervals, in training steps, of each family of signals (0 disables a family).

    A family is measured at steps where ``step % interval == 0``.
    """

    #: per-layer gradient norms and non-finite counts, weight norms, update-to-weight
    #: ratio and update cosine (the last two need the two preceding steps too)
    layers: int = 50
    #: histograms of discriminator outputs (``d/real/prob``, ``d/fake/prob``)
    histograms: int = 50
    #: batch sample statistics, latent sensitivity, VAE active units, per-dimension KL,
    #: decoder sensitivity
    samples: int = 50
    #: sample grids from the fixed latent batch
    grid: int = 500
    #: label-free coverage (gandiag/monitor/coverage.py): the real reservoir and the fixed
    #: probe batch of fakes embedded, PRDC and k-means bin occupancy computed
    coverage: int = 250
    #: steps buffered on the device between two flushes (one host sync, one write,
    #: one all-reduce under torch.distributed); alerts arrive at most this late
    flush: int = 50
    #: also flush when the oldest buffered step is this old, so a slow loop still shows
    #: live data (single process only: ranks must flush at the same steps)
    flush_seconds: float = 10.0
    #: size of the fixed probe batch (latent sensitivity, active units)
    probe_size: int = 64
    #: images in a sample grid (points in a 2-D scatter are 8 times as many)
    grid_size: int = 64
    #: bins of each histogram
    hist_bins: int = 20
    #: at most this many samples of a batch enter the pairwise sample statistics
    max_pairwise: int = 256
    #: real samples kept in the coverage reservoir (uniform over every real batch seen)
    coverage_reservoir: int = 512
    #: fakes in the coverage probe batch (fixed latents)
    coverage_probe: int = 256
    #: k-means bins of the real features (NDB); fewer when the reservoir holds < 10 per bin
    coverage_bins: int = 16
    #: on an accelerator, the largest share of wall time the periodic families (layers,
    #: histograms, samples, grid, coverage) may take together, split evenly among those
    #: enabled: a family skips a due step while it is over its part (:class:`Pacer`).
    #: 0 keeps the fixed cadence everywhere; the CPU always keeps it
    budget: float = 0.02

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"Cadence.{f.name} must be a number, got {value!r}")
            if value < 0:
                raise ValueError(f"Cadence.{f.name} must be >= 0 (0 disables), got {value}")
        for name in (
            "flush",
            "probe_size",
            "grid_size",
            "hist_bins",
            "max_pairwise",
            "coverage_reservoir",
            "coverage_probe",
            "coverage_bins",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"Cadence.{name} must be >= 1, got {getattr(self, name)}")
        if self.budget >= 1:
            raise ValueError(f"Cadence.budget is a share of wall time, < 1; got {self.budget}")
        if self.probe_size < 2 or self.max_pairwise < 2:
            raise ValueError("Cadence.probe_size and Cadence.max_pairwise must be >= 2")

    def due(self, family: str, step: int) -> bool:
        """Whether ``family`` ("layers", "histograms", "samples", "grid", "coverage") is due."""
        every = int(getattr(self, family))
        return every > 0 and step % every == 0


#: the families a :class:`Pacer` paces
PACED = ("layers", "histograms", "samples", "grid", "coverage")


class Pacer:
    """When each periodic family runs: at its cadence's steps and, when ``active``, only
    while it is within its share of the wall time since the first step.

    ``due(family, step)`` decides once per (family, step) and remembers the decision, so
    work that prepares a due step ahead (the update statistics snapshot the weights two
    steps before a layer step) and the step itself agree. The first due step of a family
    always runs (nothing is spent yet). ``charge(family)`` times the family's work;
    ``sync`` (e.g. ``torch.cuda.synchronize``) runs around it so that the time includes
    the device's share, not only the kernel launches.
    """

    def __init__(
        self,
        cadence: Cadence,
        active: bool,
        clock: Callable[[], float] = time.perf_counter,
        sync: Callable[[], None] | None = None,
    ) -> None:
        self.cadence = cadence
        self.active = bool(active) and cadence.budget > 0
        enabled = [f for f in PACED if getattr(cadence, f) > 0]
        self.share = cadence.budget / max(1, len(enabled))
        self._clock, self._sync = clock, sync
        self._start: float | None = None
        self.spent = dict.fromkeys(PACED, 0.0)
        self.ran = dict.fromkeys(PACED, 0)
        self.skipped = dict.fromkeys(PACED, 0)
        self._every: dict[str, int] = {}  # a loop's own families (see :meth:`family`)
        self._decided: dict[tuple[str, int], bool] = {}

    def start(self) -> None:
        """Mark the first step (the budget's time counts from here)."""
        if self._start is None:
            self._start = self._clock()

    def family(self, name: str, every: int) -> PacedFamily:
        """A loop's own periodic probe (e.g. a family's translation or style probes, every
        ``every`` steps), paced like the monitor's own families, with the same share."""
        if name in PACED:
            raise ValueError(f"{name!r} is one of the monitor's own families")
        every = int(every)
        if every < 0:
            raise ValueError(f"every must be >= 0 (0 disables), got {every}")
        self._every[name] = every
        for counter, zero in ((self.spent, 0.0), (self.ran, 0), (self.skipped, 0)):
            counter.setdefault(name, zero)  # type: ignore[arg-type]
        return PacedFamily(self, name)

    def due(self, family: str, step: int) -> bool:
        every = self._every.get(family)
        on_cadence = (
            self.cadence.due(family, step) if every is None else every > 0 and step % every == 0
        )
        if not on_cadence:
            return False
        if not self.active:
            return True
        key = (family, step)
        decided = self._decided.get(key)
        if decided is None:
            elapsed = 0.0 if self._start is None else self._clock() - self._start
            decided = self.spent[family] <= self.share * elapsed
            self._decided[key] = decided
            if decided:
                self.ran[family] += 1
            else:
                self.skipped[family] += 1
            if len(self._decided) > 64:  # decisions are asked at most two steps ahead
                self._decided = {k: v for k, v in self._decided.items() if k[1] >= step - 4}
        return decided

    @contextmanager
    def charge(self, family: str) -> Iterator[None]:
        """Time the block as ``family``'s work (only when pacing)."""
        if not self.active:
            yield
            return
        if self._sync is not None:
            self._sync()
        t0 = self._clock()
        try:
            yield
        finally:
            if self._sync is not None:
                self._sync()
            self.spent[family] += self._clock() - t0

    def summary(self) -> dict[str, object]:
        """What pacing did, for the run's meta: budget, and per family runs and skips."""
        return {
            "active": self.active,
            "budget": self.cadence.budget,
            "ran": {f: n for f, n in self.ran.items() if n},
            "skipped": {f: n for f, n in self.skipped.items() if n},
            "seconds": {f: round(t, 3) for f, t in self.spent.items() if t},
        }


class PacedFamily:
    """One of a loop's own probes under a :class:`Pacer`: ``due(step)``, ``charge()``."""

    def __init__(self, pacer: Pacer, name: str) -> None:
        self.pacer, self.name = pacer, name

    def due(self, step: int) -> bool:
        return self.pacer.due(self.name, step)

    def charge(self) -> contextlib.AbstractContextManager[None]:
        return self.pacer.charge(self.name)
