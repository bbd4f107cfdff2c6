"""What to do when an alert arrives: checkpoint, stop, or roll back to the last healthy state.

A policy is a pure decision on alerts, so the same policy drives the reference trainer
(``[policy]`` in a config) and a user's own loop::

    policy = AlertPolicy(on_warning=Action.CHECKPOINT, on_critical=Action.ROLLBACK)
    for step, x in enumerate(loader):
        ...
        alerts = mon.step(step, ...)
        decision = policy.decide(alerts)
        if decision.action is Action.ROLLBACK:
            entry = ring.last_healthy(before_step=decision.alert.onset_step)
            ...  # load entry's state dicts (gandiag.train.ring.CheckpointRing.load)

``StopTraining`` is what ``stop_on_critical`` raises from the Monitor's ``on_alert``
callback (as ignite's ``TerminateOnNan`` ends a run), so a loop with no policy code of its
own stops at the step the critical alert is drained, with the alert attached.

Nothing here imports torch.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gandiag.types import Alert, Severity

log = logging.getLogger("gandiag.policies")


class Action(str, enum.Enum):
    """An action on alerts, ordered by how much it changes the run."""

    NONE = "none"
    CHECKPOINT = "checkpoint"  # keep the state at this step (a warning: worth keeping the evidence)
    ROLLBACK = "rollback"  # restore the last checkpoint before the alert's onset
    STOP = "stop"  # end the run here

    @property
    def rank(self) -> int:
        return {"none": 0, "checkpoint": 1, "rollback": 2, "stop": 3}[self.value]


@dataclass(frozen=True)
class Decision:
    """The action to take now and the alert that asked for it (None with ``Action.NONE``)."""

    action: Action
    alert: Alert | None = None
    reason: str = ""


class StopTraining(RuntimeError):
    """Raised by :func:`stop_on_critical` to end a loop; ``.alert`` is the alert that did it."""

    def __init__(self, alert: Alert) -> None:
        super().__init__(
            f"stopped by gandiag policy on {alert.severity.value} alert: {alert.one_line()}"
        )
        self.alert = alert


def parse_action(name: str, value: Action | str) -> Action:
    """``value`` as an :class:`Action` (its name, as a config writes it, or the member);
    an unknown one names the option ``name`` and lists the valid actions."""
    if isinstance(value, Action):
        return value
    try:
        return Action(value)
    except ValueError:
        valid = ", ".join(a.value for a in Action)
        raise ValueError(
            f"policy {name}={value!r} is not an action; choose one of {valid}"
        ) from None


@dataclass(frozen=True)
class AlertPolicy:
    """Map each alert severity to an action; ``decide`` takes the strongest one due.

    ``max_rollbacks`` bounds how often a run rolls back: a rollback that the same failure
    follows again is turned into ``fallback`` (stop, by default) rather than looping.
    INFO alerts (a missing optional signal) never trigger an action.
    """

    on_warning: Action = Action.NONE
    on_critical: Action = Action.NONE
    max_rollbacks: int = 2
    fallback: Action = Action.STOP

    def __post_init__(self) -> None:
        for name in ("on_warning", "on_critical", "fallback"):
            object.__setattr__(self, name, parse_action(name, getattr(self, name)))
        if self.max_rollbacks < 0:
            raise ValueError(f"max_rollbacks must be >= 0, got {self.max_rollbacks}")
        if self.fallback is Action.ROLLBACK:
            raise ValueError("fallback cannot be rollback (it applies when rollbacks run out)")

    @property
    def active(self) -> bool:
        return self.on_warning is not Action.NONE or self.on_critical is not Action.NONE

    def decide(self, alerts: Iterable[Alert], rollbacks_done: int = 0) -> Decision:
        """The strongest action the alerts ask for (ties: the earliest onset)."""
        best = Decision(Action.NONE)
        for alert in alerts:
            if alert.severity is Severity.CRITICAL:
                action = self.on_critical
            elif alert.severity is Severity.WARNING:
                action = self.on_warning
            else:
                continue
            reason = f"{alert.severity.value} alert from {alert.detector}"
            if action is Action.ROLLBACK and rollbacks_done >= self.max_rollbacks:
                action = self.fallback
                reason += f" after {rollbacks_done} rollback(s) (max_rollbacks reached)"
            better = action.rank > best.action.rank or (
                action is best.action
                and best.alert is not None
                and alert.onset_step < best.alert.onset_step
            )
            if action is not Action.NONE and better:
                best = Decision(action, alert, reason)
        return best


def stop_on_critical(also: Callable[[Alert], None] | None = None) -> Callable[[Alert], None]:
    """An ``on_alert`` callback for ``gandiag.Monitor`` that raises :class:`StopTraining` on a
    critical alert (after logging it and calling ``also``, for example a checkpoint save)."""

    def on_alert(alert: Alert) -> None:
        log.warning("%s", alert.one_line())
        if also is not None:
            also(alert)
        if alert.severity is Severity.CRITICAL:
            raise StopTraining(alert)

    return on_alert


def checkpoint_on_warning(save: Callable[[Alert], None]) -> Callable[[Alert], None]:
    """An ``on_alert`` callback that calls ``save(alert)`` on every warning or critical alert."""

    def on_alert(alert: Alert) -> None:
        log.warning("%s", alert.one_line())
        if alert.severity.rank >= Severity.WARNING.rank:
            save(alert)

    return on_alert
