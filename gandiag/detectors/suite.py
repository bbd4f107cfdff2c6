"""Building detector sets: the defaults per model kind, by name, with overridden thresholds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gandiag.detectors.base import DETECTORS, Detector, get_detector_class
from gandiag.roles import Role, parse_roles, parse_stages
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
# image-to-image models: the GAN set minus d_overfitting (no held-out D batch) and
# vanishing_gradients (G's gradient is dominated by the L1/cycle/MSE terms, so its drop says
# nothing about D), plus the translation detectors (gandiag.detectors.translation)
TRANSLATION_DEFAULTS = (
    "nonfinite",
    "exploding_gradients",
    "stalled_training",
    "mode_collapse",
    "non_convergence",
    "identity_mapping",
    "colour_inversion",
    "steganography",
    "translation_collapse",
    "content_lost",
    "sr_no_gain",
    "ignored_noise",
)
# class_concentration is registered but not a default: every DVD-GAN-lite run, healthy
# ones included, piles its clips into one class for a while as it learns to draw
# (gandiag.detectors.video.ClassConcentrationDetector); add it with class_concentration=True
VIDEO_DETECTORS = ("frozen_video", "looping_video", "temporal_flicker", "d_imbalance")
KINDS = {
    "gan": GAN_DEFAULTS,
    "translation": TRANSLATION_DEFAULTS,
    "video": GAN_DEFAULTS + VIDEO_DETECTORS,  # video GANs (clips [B, T, C, H, W])
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
    """Several detectors fed together: the one loop that turns records into alerts.

    The Monitor feeds its suite live, ``gandiag replay`` and the benchmark feed one over
    stored records, and the state format (``state_dict``, keyed by detector name) is the
    one a Monitor checkpoint holds. :meth:`spec` is what a run records in its metadata so
    that :meth:`from_spec` rebuilds the very set that ran live.
    """

    def __init__(
        self, detectors: Iterable[Detector], roles: Mapping[str, Role | str] | None = None
    ) -> None:
        self.detectors = list(detectors)
        for d in self.detectors:
            if not isinstance(d, Detector):
                raise TypeError(f"detectors must be Detector instances, got {type(d).__name__}")
        names = [d.name for d in self.detectors]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(
                f"detector(s) {', '.join(dup)} appear twice in the suite; pass each detector "
                "once (one instance with the parameters you want)"
            )
        self.bind(roles)

    def bind(
        self, roles: Mapping[str, Role | str] | None, stages: Mapping[str, str] | None = None
    ) -> None:
        """Tell every detector the run's network roles (None: the Monitor's default names)
        and the stages of the networks that are one stage of a multi-stage model."""
        self.roles = parse_roles(roles)
        self.stages = parse_stages(stages)
        for d in self.detectors:
            d.bind(self.roles, self.stages)

    @classmethod
    def default(
        cls, kind: str = "gan", **overrides: Mapping[str, Any] | bool | None
    ) -> DetectorSuite:
        return cls(default_detectors(kind, **overrides))

    @classmethod
    def from_spec(
        cls,
        spec: Sequence[Mapping[str, Any]],
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        roles: Mapping[str, Role | str] | None = None,
    ) -> DetectorSuite:
        """Rebuild the suite a run recorded (:meth:`spec`), with parameter overrides on top.

        An override for a detector the run did not have adds that detector.
        """
        names: list[str] = []
        params: dict[str, dict[str, Any]] = {}
        for entry in spec:
            name = str(entry["name"])
            if name not in DETECTORS:
                where = entry.get("class", "?")
                raise ValueError(
                    f"the run was monitored by detector {name!r} ({where}), which is not "
                    "registered here; import the module that registers it (@register_detector) "
                    "or choose the detectors with --detectors"
                )
            names.append(name)
            params[name] = dict(entry.get("params", {}))
        for name, values in (overrides or {}).items():
            get_detector_class(name)
            if name not in names:
                names.append(name)
            params.setdefault(name, {}).update(values)
        return cls(build_detectors(names, params), roles)

    def spec(self) -> list[dict[str, Any]]:
        """JSON-ready ``[{"name", "params", "class"}]``: what the run metadata records."""
        return [
            {
                "name": d.name,
                "params": d.config(),
                "class": f"{type(d).__module__}.{type(d).__qualname__}",
            }
            for d in self.detectors
        ]

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.detectors]

    def update(self, record: StepRecord) -> list[Alert]:
        alerts: list[Alert] = []
        for det in self.detectors:
            found = det.update(record)
            if found:
                alerts.extend(found)
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
        extra = [n for n in state if n not in self.names]
        if missing or extra:
            what = (
                f"has no entry for {', '.join(missing)}"
                if missing
                else f"holds {', '.join(extra)}, which this suite does not run"
            )
            raise ValueError(
                f"saved detector state {what} (it holds {', '.join(state) or 'nothing'}); "
                "build the suite (or the Monitor's detectors=) with the same detectors as the "
                "saved run"
            )
        for d in self.detectors:
            d.load_state_dict(state[d.name])


def registered() -> list[str]:
    return sorted(DETECTORS)
