"""Phases of a run (resolutions, pyramid levels, stages) as recorded by ``Monitor.set_phase``.

Needs no torch: the dashboard, reports and detectors read phases from the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Phase:
    name: str
    start_step: int
    end_step: int | None  # first step of the next phase; None for the last phase


def phases_from_meta(raw: Any) -> list[Phase]:
    items = list(raw or [])
    out = []
    for i, item in enumerate(items):
        end = int(items[i + 1]["start_step"]) if i + 1 < len(items) else None
        out.append(Phase(str(item["name"]), int(item["start_step"]), end))
    return out


def read_phases(reader: Any) -> list[Phase]:
    """The phases of the run open in ``reader`` (a :class:`gandiag.store.RunReader`)."""
    return phases_from_meta(reader.meta("phases", []))


def boundaries(phases: list[Phase]) -> list[tuple[int, str]]:
    """``(start_step, name)`` of every phase after the first: where the figures draw lines."""
    return [(p.start_step, p.name) for p in phases[1:]]
