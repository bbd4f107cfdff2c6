"""A detector that raises one critical alert at a fixed step, for policy and doctor tests."""

from __future__ import annotations

from typing import Any

from gandiag.detectors.base import Detector
from gandiag.types import Alert, Severity

FIRE_AT, ONSET = 150, 120


class FaultAt(Detector):
    """Raises one critical alert when it sees step FIRE_AT, dated back to ONSET."""

    name = "fault_at"

    def __init__(self) -> None:
        self.fired = False

    def update(self, record):
        if self.fired or record.step < FIRE_AT:
            return []
        self.fired = True
        return [Alert(self.name, Severity.CRITICAL, record.step, ONSET, "injected fault")]

    def state_dict(self) -> dict[str, Any]:
        return {"fired": self.fired}

    def load_state_dict(self, state) -> None:
        self.fired = bool(state["fired"])
