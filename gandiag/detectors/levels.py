"""A pyramid level or stage that only copies the one below it (LAPGAN, StackGAN).

Reads ``level/<k>/copy_ratio``: the energy of the detail a level adds (its generated
residual, or what stage II adds over the upsampled stage I) over the real detail's
energy at that level. A level that only upsamples its input has a ratio near 0
(hanzhanggit/StackGAN-Pytorch#26: stage II copying stage I).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from gandiag.advice import Advice
from gandiag.detectors._stats import Streak, finite, new_streak, streak_held, streak_update
from gandiag.detectors.base import register_detector
from gandiag.detectors.support import SignalDetector
from gandiag.state import DeclaredState
from gandiag.types import Alert, Severity, StepRecord

REMEDIES = (
    (
        "check that the level's generator receives its noise and that its output is added, not "
        "replaced, and that its discriminator sees the residual with the coarse image"
    ),
    "give the level its own learning rate (LAPGAN used larger ones for finer levels)",
)


@dataclass
class LevelCopyState(DeclaredState):
    """State of :class:`LevelCopyDetector`."""

    streaks: dict[str, Streak] = field(default_factory=dict)  # by copy-ratio signal
    alerted: list[str] = field(default_factory=list)


@register_detector
class LevelCopyDetector(SignalDetector):
    """Any level's ``copy_ratio`` below ``ratio_min`` for ``patience_steps`` after warm-up."""

    name: ClassVar[str] = "level_copy"
    requires_any = (("level/*/copy_ratio",),)
    provided_by_groups = (
        Advice(
            "train with the lapgan stepper, or log level/<k>/copy_ratio",
            "the lapgan model's stepper logs level/<k>/copy_ratio; nothing to do for other models",
        ),
    )
    params: ClassVar[dict[str, Any]] = {
        "ratio_min": 0.05,
        "warmup_steps": 200,
        "patience_steps": 100,
        "min_records": 3,
    }

    State = LevelCopyState

    def check(self, record: StepRecord) -> list[Alert]:
        st, c = self.state, self.cfg
        out = []
        for name, v in record.scalars.items():
            if not (name.startswith("level/") and name.endswith("/copy_ratio")) or not finite(v):
                continue
            streak = st["streaks"].setdefault(name, new_streak())
            bad = v < c["ratio_min"] and record.step >= c["warmup_steps"]
            streak_update(streak, bad, record.step)
            if not bad or name in st["alerted"]:
                continue
            if not streak_held(streak, record.step, c["patience_steps"], c["min_records"]):
                continue
            st["alerted"].append(name)
            level = name.split("/")[1]
            out.append(
                self.alert(
                    Severity.WARNING,
                    record.step,
                    streak["since"],
                    f"level {level} only copies the level below: the detail it adds has "
                    f"{v:.2%} of the real detail's energy (threshold {c['ratio_min']:.0%})",
                    {name: v, "ratio_min": c["ratio_min"]},
                    REMEDIES,
                )
            )
        return out
