"""Advice that fits its reader: one remedy or hint, written for each way a run is made.

A person who calls ``Monitor.step`` in their own loop acts on "pass d_val= to
Monitor.step"; a person who ran ``gandiag train`` (or ``gandiag demo``) cannot, and needs
the config key, or to know that the reference trainer already does it. So advice is
declared once with both forms (:class:`Advice`); an alert stores the Monitor form (replay
and old runs read as before), and whatever shows an alert renders it for the run's
entry point, which the run records in its metadata (``entry_point``):

>>> hint = Advice(monitor="pass d_val= to Monitor.step", trainer="set data.val_size = 256")
>>> render_advice("r_v is off; pass d_val= to Monitor.step", ENTRY_TRAINER)
'r_v is off; set data.val_size = 256'

No torch here: the figures, the dashboard and the reports use it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gandiag.types import Alert

#: a Monitor in the user's own training loop (the Python API)
ENTRY_MONITOR = "monitor"
#: gandiag's reference trainer: ``gandiag train``, ``gandiag demo``, ``gandiag.train.train``
ENTRY_TRAINER = "trainer"
ENTRY_POINTS = (ENTRY_MONITOR, ENTRY_TRAINER)

_BY_MONITOR_FORM: dict[str, Advice] = {}


@dataclass(frozen=True)
class Advice:
    """One piece of advice in two forms: ``monitor`` for a Monitor user's own loop,
    ``trainer`` for a run of the reference trainer (a config key, or what it already does).

    Creating one registers it, so :func:`render_advice` can turn the stored Monitor form
    into the trainer form. ``str(advice)`` is the Monitor form (what alerts store).
    """

    monitor: str
    trainer: str

    def __post_init__(self) -> None:
        if not self.monitor or not self.trainer:
            raise ValueError("advice needs both a monitor form and a trainer form")
        known = _BY_MONITOR_FORM.get(self.monitor)
        if known is not None and known.trainer != self.trainer:
            raise ValueError(
                f"advice {self.monitor!r} is already declared with the trainer form "
                f"{known.trainer!r}; give each Monitor form one trainer form"
            )
        _BY_MONITOR_FORM[self.monitor] = self

    def __str__(self) -> str:
        return self.monitor

    def for_entry(self, entry_point: str) -> str:
        return self.trainer if entry_point == ENTRY_TRAINER else self.monitor


def entry_point_of(meta: Mapping[str, Any] | None) -> str:
    """How a run was made, from its metadata: the recorded ``entry_point``; a run written
    before it was recorded counts as the trainer's when its config carries the trainer's
    resolved settings, else as a Monitor user's."""
    meta = meta or {}
    entry = meta.get("entry_point")
    if entry in ENTRY_POINTS:
        return str(entry)
    config = meta.get("config")
    if isinstance(config, Mapping) and "resolved" in config:
        return ENTRY_TRAINER
    return ENTRY_MONITOR


def render_advice(text: str, entry_point: str) -> str:
    """``text`` (a diagnosis or a remedy as stored) with every declared Monitor-form advice
    in it replaced by its form for ``entry_point``; other text is returned unchanged.

    Idempotent: text already worded for the trainer stays as it is (a trainer form that
    extends its Monitor form is matched whole, before the Monitor form inside it)."""
    if entry_point != ENTRY_TRAINER or not text:
        return text
    _load_declarations()
    trainer_forms = {a.trainer for a in _BY_MONITOR_FORM.values()}
    # longest first: at each position the longest declared form wins
    forms = sorted(set(_BY_MONITOR_FORM) | trainer_forms, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(f) for f in forms))

    def word(match: re.Match[str]) -> str:
        found = match.group(0)
        return found if found in trainer_forms else _BY_MONITOR_FORM[found].trainer

    return pattern.sub(word, text)


def _load_declarations() -> None:
    """Import the built-in detectors, which declare the advice their alerts carry: a
    reader (a report, the dashboard) may never have imported them."""
    import gandiag.detectors  # noqa: F401


def advise_alert(alert: Alert, entry_point: str) -> Alert:
    """``alert`` with its diagnosis and remedies worded for ``entry_point``."""
    if entry_point != ENTRY_TRAINER:
        return alert
    return dataclasses.replace(
        alert,
        diagnosis=render_advice(alert.diagnosis, entry_point),
        remedies=tuple(render_advice(r, entry_point) for r in alert.remedies),
    )
