"""Building detector sets: the defaults per model kind, by name, with overridden thresholds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gandiag.detectors.base import DETECTORS, Detector, get_detector_class
from gandiag.types import Alert, StepRecord

GAN_DEFAULTS = (
    "nonfinite",
    "exploding_gradients",
    "stalled_training",
    "vanishing_gradients",
    "mode_collapse",
    "non_convergence",
    "d_overfitting",
    "sample_coverage",
    "oscillation",
    "discriminator_imbalance",
)
VAE_DEFAULTS = (
    "nonfinite",
    "exploding_gradients",
    "stalled_training",
    "posterior_collapse",
    "mode_collapse",
    "sample_coverage",
)
KINDS = {
    "gan": GAN_DEFAULTS,
    "vae": VAE_DEFAULTS,
    "ae": ("nonfinite", "exploding_gradients", "stalled_training"),
}


def default_detectors(
    kind: str = "gan", **overrides: Mapping[str, Any] | bool | None
) -> list[Detector]:
    """The detectors that suit a model ``kind`` ("gan", "vae" or "ae"), with optional overrides.

    Each keyword is a detector name; its value is a dict of parameter overrides, or
    ``False``/``None`` to leave that detector out, or ``True`` to add one that is not a
    default for this kind::

        default_detectors("gan", mode_collapse={"patience_steps": 300}, d_overfitting=False)
    """
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; valid kinds: {', '.join(sorted(KINDS))}")
    names = list(KINDS[kind])
    params: dict[str, Mapping[str, Any]] = {}
    for name, value in overrides.items():
        get_detector_class(name)  # raises, listing the valid names
        if value is False or value is None:
            if name in names:
                names.remove(name)
            continue
        if name not in names:
            names.append(name)
        if isinstance(value, Mapping):
            params[name] = value
        elif value is not True:
            raise ValueError(
                f"override for detector {name!r} must be a dict of parameters, True or False, "
                f"not {value!r}"
            )
    return build_detectors(names, params)


def build_detectors(
    names: Iterable[str], params: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Detector]:
    """Instantiate registered detectors by name, each with its parameter overrides."""
    params = dict(params or {})
    names = list(names)
    stray = sorted(set(params) - set(names))
    if stray:
        raise ValueError(
            f"parameters given for detector(s) {', '.join(stray)} that are not in the set "
            f"{', '.join(names)}; add them to the set or drop the parameters"
        )
    return [get_detector_class(n)(**dict(params.get(n, {}))) for n in names]


def parse_overrides(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Parse ``["mode_collapse.pdist_max=0.2", ...]`` (the CLI's ``--set``) into nested dicts."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        det, dot, param = key.strip().partition(".")
        if not sep or not dot or not det or not param:
            raise ValueError(
                f"bad override {item!r}; write detector.param=value, e.g. mode_collapse.pdist_max=0.2"
            )
        get_detector_class(det)
        out.setdefault(det, {})[param] = _parse_value(raw.strip())
    return out


def _parse_value(raw: str) -> Any:
    low = raw.lower()
    if low in ("none", "null", "off"):
        return None
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"override value {raw!r} is not a number, true/false or none") from None


class DetectorSuite:
    """Several detectors fed together, with one state dict (keyed by detector name)."""

    def __init__(self, detectors: Iterable[Detector]) -> None:
        self.detectors = list(detectors)
        names = [d.name for d in self.detectors]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"detector(s) {', '.join(dup)} appear twice in the suite")

    @classmethod
    def default(
        cls, kind: str = "gan", **overrides: Mapping[str, Any] | bool | None
    ) -> DetectorSuite:
        return cls(default_detectors(kind, **overrides))

    def update(self, record: StepRecord) -> list[Alert]:
        alerts: list[Alert] = []
        for det in self.detectors:
            alerts.extend(det.update(record))
        return alerts

    def run(self, records: Iterable[StepRecord]) -> list[Alert]:
        alerts: list[Alert] = []
        for rec in records:
            alerts.extend(self.update(rec))
        return alerts

    def state_dict(self) -> dict[str, Any]:
        return {d.name: d.state_dict() for d in self.detectors}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        missing = [d.name for d in self.detectors if d.name not in state]
        if missing:
            raise ValueError(
                f"saved detector state has no entry for {', '.join(missing)} "
                f"(it holds {', '.join(state) or 'nothing'}); build the suite with the same detectors"
            )
        for d in self.detectors:
            d.load_state_dict(state[d.name])


def registered() -> list[str]:
    return sorted(DETECTORS)
