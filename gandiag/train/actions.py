"""The reference trainer's side of alert policies: the checkpoint ring, rollback and stop.

The trainer hands every alert to :class:`PolicyRunner`; the runner keeps the ring of
health-tagged checkpoints, and answers each step with the step to run next (the next one,
the one after a restored checkpoint, or None to stop). A rollback restores exactly the
tagged checkpoint (networks, optimisers, EMA, data order, RNG, detector states), forgets
what the store recorded after it, records the event in the run's metadata, and scales the
learning rates, since the same settings from the same state replay the same failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gandiag.policies import Action, AlertPolicy, parse_action
from gandiag.train.config import TrainConfig
from gandiag.train.ring import CheckpointRing
from gandiag.types import Alert

log = logging.getLogger("gandiag.train")

DEFAULT_RING = 4


@dataclass
class PolicyRunner:
    policy: AlertPolicy
    ring: CheckpointRing | None
    ring_every: int
    lr_scale: float
    #: payload of the current state (stepper, data order, RNG, monitor) for a checkpoint
    snapshot: Callable[[int], dict[str, Any]]
    #: restore a payload made by ``snapshot``
    restore: Callable[[dict[str, Any]], None]
    optimizers: Callable[[], list[torch.optim.Optimizer]]
    set_meta: Callable[..., None]
    known: list[Alert] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    rollbacks: int = 0
    stopped_by: Alert | None = None

    @classmethod
    def from_config(cls, cfg: TrainConfig, run_dir: Path, **hooks: Any) -> PolicyRunner:
        p = cfg.policy
        policy = AlertPolicy(
            on_warning=parse_action("on_warning", p.on_warning),
            on_critical=parse_action("on_critical", p.on_critical),
            max_rollbacks=p.max_rollbacks,
        )
        keep = cfg.checkpoint.ring
        uses_ring = Action.ROLLBACK in (policy.on_warning, policy.on_critical)
        uses_ring = uses_ring or Action.CHECKPOINT in (policy.on_warning, policy.on_critical)
        if uses_ring and keep == 0:
            keep = DEFAULT_RING
        every = cfg.checkpoint.ring_every or max(1, (cfg.eval.every or 500) // 2)
        if not 0 < p.rollback_lr_scale <= 1:
            raise ValueError(
                f"policy.rollback_lr_scale must be in (0, 1], got {p.rollback_lr_scale}"
            )
        ring = CheckpointRing(run_dir / "ring", keep) if keep else None
        return cls(policy, ring, every, p.rollback_lr_scale, **hooks)

    def after_step(self, step: int, alerts: list[Alert]) -> int | None:
        """Act on ``alerts`` known after ``step``; return the next step to run, None to stop."""
        self.known.extend(alerts)
        decision = self.policy.decide(alerts, self.rollbacks)
        if decision.action is Action.STOP:
            self.stopped_by = decision.alert
            self._event("stop", step, decision.alert)
            return None
        if decision.action is Action.ROLLBACK and decision.alert is not None:
            ring = self.ring
            target = ring.last_healthy(decision.alert.onset_step) if ring else None
            if ring is None or target is None:
                log.warning(
                    "no healthy checkpoint before step %d to roll back to; stopping",
                    decision.alert.onset_step,
                )
                self.stopped_by = decision.alert
                self._event("stop", step, decision.alert, note="no healthy checkpoint")
                return None
            self.restore(ring.load(target))
            for opt in self.optimizers():
                for group in opt.param_groups:
                    group["lr"] *= self.lr_scale
            self.rollbacks += 1
            self.known = [a for a in self.known if a.step <= target.step]
            self._event("rollback", step, decision.alert, to_step=target.step)
            log.warning(
                "rolled back from step %d to the healthy checkpoint of step %d (before the "
                "onset %d of %s); learning rates x%g",
                step,
                target.step,
                decision.alert.onset_step,
                decision.alert.detector,
                self.lr_scale,
            )
            return target.step + 1
        if self.ring is not None and (
            decision.action is Action.CHECKPOINT or (step > 0 and step % self.ring_every == 0)
        ):
            self.ring.save(step, self.snapshot(step), self.known)
            if decision.action is Action.CHECKPOINT:
                self._event("checkpoint", step, decision.alert)
        return step + 1

    def _event(self, kind: str, step: int, alert: Alert | None, **extra: Any) -> None:
        event = {"action": kind, "step": step, **extra}
        if alert is not None:
            event.update(
                detector=alert.detector,
                severity=alert.severity.value,
                onset_step=alert.onset_step,
                diagnosis=alert.diagnosis,
            )
        self.events.append(event)
        self.set_meta(policy_events=self.events)
