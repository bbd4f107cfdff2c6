"""A small ring of checkpoints, each tagged with the run's health at its step.

Detectors raise an alert some steps after its onset (they need evidence), so the state to
go back to after an alert is not the newest checkpoint but the newest one *before the
onset*: :meth:`CheckpointRing.last_healthy`. Each entry records the step, whether any
warning or critical alert was known when it was written, and those alerts; its payload
holds the monitor's detector states, so a run restored from it alerts exactly as the
original did up to that step.

Files: ``<dir>/step-00001234.pt`` (``torch.load(weights_only=True)``) and
``<dir>/index.json``, both replaced atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from gandiag._atomic import atomic_write
from gandiag.train.checkpoint import FORMAT
from gandiag.types import Alert, Severity

INDEX = "index.json"
#: the newest healthy checkpoints always kept beyond the newest `keep` entries
HEALTHY_KEPT = 2


def _healthy_chain(healthy: list[int], newest: int) -> list[int]:
    """From the newest of the sorted ``healthy`` steps back: each next step is the oldest
    one at most the current one's age (``newest - current``) behind it, or the adjacent
    older one where none is that close (see :class:`CheckpointRing`)."""
    chain = healthy[-1:]
    older = healthy[:-1]
    while older:
        current = chain[-1]
        close = [s for s in older if current - s <= newest - current]
        step = close[0] if close else older[-1]
        chain.append(step)
        older = [s for s in older if s < step]
    return chain


@dataclass(frozen=True)
class RingEntry:
    step: int
    file: str
    healthy: bool  # no warning or critical alert known at this step
    alerts: tuple[str, ...] = ()  # detectors with a warning/critical alert known then

    def path(self, ring_dir: Path) -> Path:
        return ring_dir / self.file


class CheckpointRing:
    """Keep the newest ``keep`` checkpoints, the two newest healthy ones, and older healthy
    ones thinned so that the fork point before any onset is at most the alert's delay back.

    An alert is known some steps after its onset (``delay`` = newest step - onset), and the
    state to go back to is the newest healthy checkpoint before the onset. The older healthy
    checkpoints are kept as a chain, newest to oldest, in which each gap is at most the age
    of the checkpoint it leaves (its distance from the newest step). An onset ``o`` between
    two kept checkpoints ``h1 < o <= h0`` is then at most ``h0 - h1 <= newest - h0 <=
    delay`` steps after ``h1``: a branch replays at most as many steps before the onset as
    the detector took to see it, whatever the delay, and the gaps double along the chain, so
    about 2 log2(checkpoints) are kept. Pruning only thins the chain: ages grow, so a chain
    valid at one step is valid at every later one.
    """

    def __init__(self, directory: str | Path, keep: int = 4) -> None:
        if keep < 1:
            raise ValueError(f"a checkpoint ring keeps at least 1 checkpoint, got keep={keep}")
        self.dir = Path(directory)
        self.keep = keep
        self._entries = self._read_index()

    # -- writing ------------------------------------------------------------------------------
    def save(self, step: int, payload: dict[str, Any], known_alerts: Iterable[Alert]) -> RingEntry:
        """Write ``payload`` for ``step``, tagged healthy unless a warning/critical is known."""
        serious = sorted(
            {a.detector for a in known_alerts if a.severity.rank >= Severity.WARNING.rank}
        )
        entry = RingEntry(int(step), f"step-{int(step):08d}.pt", not serious, tuple(serious))
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write(
            entry.path(self.dir),
            lambda f: torch.save({"format": FORMAT, **payload, "ring": asdict(entry)}, f),
        )
        self._entries = [e for e in self._entries if e.step != entry.step] + [entry]
        self._entries.sort(key=lambda e: e.step)
        self._prune()
        self._write_index()
        return entry

    def _prune(self) -> None:
        # The newest `keep` entries, the newest healthy ones and the healthy chain: an
        # alert's onset lies before the step it is known, often well before it.
        healthy = [e.step for e in self._entries if e.healthy]
        kept = {e.step for e in self._entries[-self.keep :]} | set(healthy[-HEALTHY_KEPT:])
        if self._entries:
            kept |= set(_healthy_chain(healthy, newest=self._entries[-1].step))
        for e in self._entries:
            if e.step not in kept:
                e.path(self.dir).unlink(missing_ok=True)
        self._entries = [e for e in self._entries if e.step in kept]

    def _write_index(self) -> None:
        text = json.dumps({"format": 1, "entries": [asdict(e) for e in self._entries]}, indent=1)
        atomic_write(self.dir / INDEX, lambda f: f.write(text.encode()))

    def _read_index(self) -> list[RingEntry]:
        path = self.dir / INDEX
        if not path.is_file():
            return []
        try:
            raw = json.loads(path.read_text())
            return [
                RingEntry(int(e["step"]), str(e["file"]), bool(e["healthy"]), tuple(e["alerts"]))
                for e in raw["entries"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{path} is not a gandiag checkpoint-ring index ({exc}); delete the folder "
                f"{self.dir} to start a new ring"
            ) from None

    # -- reading ------------------------------------------------------------------------------
    @property
    def entries(self) -> list[RingEntry]:
        return list(self._entries)

    def last_healthy(self, before_step: int) -> RingEntry | None:
        """The newest healthy checkpoint written strictly before ``before_step`` (an onset)."""
        fit = [e for e in self._entries if e.healthy and e.step < before_step]
        return fit[-1] if fit else None

    def load(self, entry: RingEntry) -> dict[str, Any]:
        path = entry.path(self.dir)
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"checkpoint {path} listed in {self.dir / INDEX} is missing"
            ) from None
        if payload.get("ring", {}).get("step") != entry.step:
            raise ValueError(f"{path} does not hold the checkpoint of step {entry.step}")
        return payload
