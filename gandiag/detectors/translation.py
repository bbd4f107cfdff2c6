"""Detectors of image-to-image failures (CycleGAN, pix2pix, SRGAN), from the translation probes.

They read ``translation/<NET>/<signal>`` scalars (:mod:`gandiag.monitor.translation`), one
set per generator NET, and alert once per generator when a condition has held on every
probe for ``min_records`` probes in a row, after ``warmup_steps`` (early in training
every translator passes near the identity or near a constant); ``content_lost`` asks it
of the pooled share of those probes instead (a class share of 30 outputs is too noisy to
ask each probe; see :class:`ContentLossDetector`), ``steganography`` and
``translation_collapse`` of their median (two of three probes; the collapse detector also
confirms on one probe a generator that collapses after it had learned to vary: see
:class:`TranslationCollapseDetector`). The probe batch is fixed, so
consecutive probes share its sampling error: persistence guards against a generator still
learning, not against an unlucky batch (docs/detectors.md measures both for the class
signals and explains why they compare a point estimate, not a bound). Thresholds were set from
healthy runs at a stated false-alarm rate; see docs/detectors.md ("Translation
detectors") for how, and ``bench/translation_suite.py`` for the measured rates.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypedDict

from gandiag.advice import Advice
from gandiag.detectors import remedies as R
from gandiag.detectors._stats import finite
from gandiag.detectors.base import register_detector
from gandiag.detectors.support import SignalDetector
from gandiag.state import DeclaredState, StateError
from gandiag.types import Alert, Severity, StepRecord

PROBES = Advice(
    "set [translation] probe_every > 0 (the trainer's translation probes) or log TranslationProbe signals",
    "set translation.probe_every > 0 in the config (the default is 50)",
)

IDENTITY_WEIGHT = "lower the identity weight (CycleGAN lambda_identity, e.g. 0.5 -> 0.1 or 0)"
UPSAMPLING = (
    "check the generator's upsampling (transposed conv vs upsample + conv) and its skip paths"
)
ADV_WEIGHT = "raise the adversarial weight or the discriminator's learning rate"
INIT_GAIN = "re-initialise with a smaller init gain (normal, std 0.02) and another seed"
ADD_IDENTITY = "add the identity loss (lambda_identity 0.5): it anchors colours to the input"
PERTURB_CYCLE = "add noise to the translated image before the inverse generator (Chu et al. 2017)"
LOWER_CYCLE = (
    "lower the cycle weight (lambda_cycle) or check that both domains carry the same information"
)
STRONGER_D = "give D a larger receptive field or more capacity (it must see the hidden signal)"
RAISE_RECON = "raise the reconstruction weight (pix2pix lambda_L1, CycleGAN lambda_cycle)"
PRETRAIN = "pre-train the generator on pixel MSE (SRResNet) before the adversarial phase"
LOWER_ADV = "lower the adversarial weight (SRGAN 1e-3) or the learning rates"
LATENT_NOISE = (
    "for diverse outputs, feed a latent code with a loss that uses it (BicycleGAN, "
    "mode-seeking regularisation); dropout alone gives pix2pix little stochasticity"
)


class NetStreak(TypedDict):
    """Since when (step) and over how many probes one network's signal has been bad."""

    since: int | None
    records: int
    alerted: bool


@dataclass
class SustainedSignalState(DeclaredState):
    """State of :class:`_SustainedSignal`."""

    nets: dict[str, NetStreak] = field(default_factory=dict)


class ProbeWindow(TypedDict):
    """One network's last consecutive eligible probes (steps and values), oldest first."""

    steps: list[int]
    values: list[float]


@dataclass
class PooledSignalState(SustainedSignalState):
    """State of a :class:`_SustainedSignal` that pools its last probes (``pooled``).

    Version 2: ``windows`` added (a version-1 or unversioned state is one of the detector
    before it pooled: it resumes with empty windows)."""

    version: ClassVar[int] = 2
    windows: dict[str, ProbeWindow] = field(default_factory=dict)

    @classmethod
    def upgrade(cls, fields: dict[str, Any], version: int | None) -> dict[str, Any]:
        if version not in (None, 1):
            raise StateError(f"no upgrade from version {version} to {cls.version}")
        return {"nets": dict(fields.get("nets", {})), "windows": {}}


@dataclass
class CollapseState(PooledSignalState):
    """State of :class:`TranslationCollapseDetector`.

    Version 3: the pooled ``windows`` and ``peak_classes`` (the most classes each
    generator's probe has read). A state saved before either (version 1 or unversioned:
    per-net streaks only; version 2: streaks and peaks) resumes with what it has and empty
    windows; without a peak, a collapse right after a resume needs the full confirmation."""

    version: ClassVar[int] = 3
    peak_classes: dict[str, float] = field(default_factory=dict)

    @classmethod
    def upgrade(cls, fields: dict[str, Any], version: int | None) -> dict[str, Any]:
        if version not in (None, 1, 2):
            raise StateError(f"no upgrade from version {version} to {cls.version}")
        return {
            "nets": dict(fields.get("nets", {})),
            "windows": {},
            "peak_classes": dict(fields.get("peak_classes", {})),
        }


class _SustainedSignal(SignalDetector):
    """Alert when ``translation/<NET>/<signal>`` stays beyond ``threshold`` on consecutive probes."""

    signal_name: ClassVar[str]
    below: ClassVar[bool] = True  # the failure is the signal falling below the threshold
    #: compare a statistic (``pool``) of the last ``min_records`` consecutive eligible probes
    #: with the threshold, instead of asking each of them (needs ``State = PooledSignalState``)
    pooled: ClassVar[bool] = False
    #: the pooled statistic: ``"mean"``, or ``"median"`` (of 3 probes: 2 of them beyond the
    #: threshold, so one probe on the wrong side neither makes nor breaks an alert)
    pool: ClassVar[str] = "mean"
    #: pooled: confirm only at a probe that is itself beyond the threshold, so that an
    #: alert never claims the failure at a probe whose own reading contradicts it
    pooled_needs_this_probe: ClassVar[bool] = False
    #: the evidence key of the pooled value and of each probe's (``<key>@<step>``)
    pooled_key: ClassVar[str] = ""
    severity: ClassVar[Severity] = Severity.WARNING
    remedies: ClassVar[tuple[str, ...]] = ()
    params: ClassVar[dict[str, Any]] = {"threshold": 0.0, "warmup_steps": 200, "min_records": 3}
    provided_by_groups = (PROBES,)

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if "signal_name" in cls.__dict__:
            cls.requires_any = ((f"translation/*/{cls.signal_name}",),)

    State = SustainedSignalState

    @classmethod
    def watched_name(cls) -> str:
        """The name of the quantity compared with the threshold, one per generator NET (by
        default the signal itself; a detector that reads several signals names how)."""
        return f"translation/*/{cls.signal_name}"

    def watched(self, record: StepRecord) -> dict[str, float]:
        """Per generator, the value this detector compares with its threshold at ``record``
        (:meth:`value`; finite values only): what a remedy must move, so the doctor judges
        a branch by it (gandiag.doctor.score)."""
        out = {}
        for key in fnmatch.filter(record.scalars.keys(), f"translation/*/{self.signal_name}"):
            net = key.split("/")[1]
            v = self.value(record, net, record.scalars[key])
            if finite(v):
                out[net] = float(v)
        return out

    def check(self, record: StepRecord) -> list[Alert]:
        alerts = []
        pattern = f"translation/*/{self.signal_name}"
        for key in fnmatch.filter(record.scalars.keys(), pattern):
            net = key.split("/")[1]
            v = self.value(record, net, record.scalars[key])
            st = self.state["nets"].setdefault(net, {"since": None, "records": 0, "alerted": False})
            if not finite(v) or record.step < self.cfg["warmup_steps"]:
                continue
            limit = self.threshold(record, net)
            if self.pooled:
                alert = self._pooled_check(record, net, v, limit)
                if alert is not None:
                    alerts.append(alert)
                continue
            bad = self._beyond(v, limit)
            bad = bad and self.extra_condition(record, net)
            if not bad:
                st["since"], st["records"] = None, 0
                continue
            if st["since"] is None:
                st["since"] = int(record.step)
            st["records"] += 1
            confirmed = st["records"] >= self.cfg["min_records"] or self.at_once(record, net)
            if confirmed and not st["alerted"]:
                st["alerted"] = True
                alerts.append(
                    self.alert(
                        self.severity,
                        record.step,
                        st["since"],
                        self.diagnosis(net, v),
                        {
                            self.signal_name: v,
                            "threshold": limit,
                            "probes_in_a_row": st["records"],
                            **self.evidence(record, net),
                        },
                        self.remedies,
                    )
                )
        return alerts

    def _pooled_check(self, record: StepRecord, net: str, v: float, limit: float) -> Alert | None:
        """``pooled``: the mean (or median, ``pool``) of the last ``min_records`` consecutive
        probes where ``extra_condition`` holds, against this record's threshold. A probe
        where it does not hold ends the run of probes (the window starts again)."""
        st = self.state["nets"][net]
        win = self.state["windows"].setdefault(net, {"steps": [], "values": []})
        if not self.extra_condition(record, net):
            win["steps"], win["values"] = [], []
            return None
        k = int(self.cfg["min_records"])
        win["steps"] = [*win["steps"], int(record.step)][-k:]
        win["values"] = [*win["values"], float(v)][-k:]
        key = self.pooled_key or self.signal_name
        if st["alerted"]:
            return None
        if self._beyond(v, limit) and self.at_once(record, net):
            st["alerted"] = True
            return self.alert(
                self.severity,
                record.step,
                int(record.step),
                self.diagnosis(net, v),
                {key: v, "threshold": limit, "probes_pooled": 1, **self.evidence(record, net)},
                self.remedies,
            )
        if len(win["values"]) < k:
            return None
        if self.pool == "median":
            ordered = sorted(win["values"])
            pooled = (ordered[(k - 1) // 2] + ordered[k // 2]) / 2
        else:
            pooled = sum(win["values"]) / k
        if not self._beyond(pooled, limit):
            return None
        if self.pooled_needs_this_probe and not self._beyond(v, limit):
            return None
        st["alerted"] = True
        # onset: the window's first probe that was itself beyond the threshold
        beyond = [s for s, x in zip(win["steps"], win["values"]) if self._beyond(x, limit)]
        return self.alert(
            self.severity,
            record.step,
            beyond[0] if beyond else win["steps"][0],
            self.diagnosis(net, pooled),
            {
                key: pooled,
                "threshold": limit,
                "probes_pooled": k,
                **{f"{key}@{s}": x for s, x in zip(win["steps"], win["values"])},
                **self.evidence(record, net),
            },
            self.remedies,
        )

    def _beyond(self, value: float, limit: float) -> bool:
        """Whether ``value`` is on the failing side of ``limit`` (below it, or above it for a
        detector with ``below = False``)."""
        return value < limit if self.below else value > limit

    def at_once(self, record: StepRecord, net: str) -> bool:
        """Whether this probe, beyond the threshold, confirms the failure on its own, without
        the ``min_records`` probes (by default never)."""
        return False

    def value(self, record: StepRecord, net: str, signal: float) -> float:
        """The value compared with the threshold (by default the signal itself)."""
        return signal

    def threshold(self, record: StepRecord, net: str) -> float:
        """The threshold at this record (by default the ``threshold`` parameter)."""
        return float(self.cfg["threshold"])

    def extra_condition(self, record: StepRecord, net: str) -> bool:
        return True

    def evidence(self, record: StepRecord, net: str) -> dict[str, float]:
        return {}

    def diagnosis(self, net: str, value: float) -> str:
        raise NotImplementedError


def _get(record: StepRecord, net: str, what: str) -> float | None:
    return record.get(f"translation/{net}/{what}")


#: added to ``class_chance`` so that a share equal to it counts as "no more than chance" (both
#: are counts over one probe batch divided by its size; a count differs by at least 1/size)
CHANCE_TIE = 1e-6


def _legible(record: StepRecord, net: str, what: str, acc_min: float) -> float | None:
    """Signal ``what`` of ``net`` where the classifier reads the output domain (its accuracy
    on real output-domain images at least ``acc_min``, or unmeasured); else ``None``."""
    v = _get(record, net, what)
    acc = _get(record, net, "target_class_acc")
    if v is None or not finite(v) or (acc is not None and finite(acc) and acc < acc_min):
        return None
    return v


def _present(record: StepRecord, net: str, *names: str) -> dict[str, float]:
    """The named signals of ``net`` that this record holds (evidence never carries NaN)."""
    out = {}
    for name in names:
        v = _get(record, net, name)
        if v is not None and finite(v):
            out[name] = v
    return out


@register_detector
class IdentityMappingDetector(_SustainedSignal):
    """The generator returns its input (junyanz/pytorch-CycleGAN-and-pix2pix#1159, #1080):
    its outputs' pixel intensities stay at least twice as near the input domain's as the
    output domain's (``domain_progress`` below 1/3; 1/2 is halfway between the domains),
    and each output stays near its own input: ``identity_ratio`` (mean|G(x) - x| over the
    mean distance of unrelated input/target pairs) below ``identity_ratio_max``. The
    second condition tells a copy from a broken generator whose outputs merely have the
    input domain's intensities (a CycleGAN broken by a large init gain shows both)."""

    name = "identity_mapping"
    signal_name = "domain_progress"
    params: ClassVar[dict[str, Any]] = {
        "threshold": 1.0 / 3.0,
        "identity_ratio_max": 0.5,
        "warmup_steps": 200,
        "min_records": 3,
    }
    remedies = (IDENTITY_WEIGHT, UPSAMPLING, ADV_WEIGHT, R.RESTART)

    def extra_condition(self, record: StepRecord, net: str) -> bool:
        r = _get(record, net, "identity_ratio")
        return r is not None and finite(r) and r < self.cfg["identity_ratio_max"]

    def evidence(self, record: StepRecord, net: str) -> dict[str, float]:
        return _present(record, net, "identity_ratio")

    def diagnosis(self, net: str, value: float) -> str:
        return (
            f"{net} returns its input: its outputs' intensities have moved {value:.0%} of the "
            f"way from the input domain to the output domain (below {self.cfg['threshold']:.0%})"
        )


@register_detector
class ColourInversionDetector(_SustainedSignal):
    """Outputs anti-correlated with inputs: the generator inverted the colours
    (the reference's docs/qa.md; junyanz#1301)."""

    name = "colour_inversion"
    signal_name = "input_corr"
    params: ClassVar[dict[str, Any]] = {"threshold": -0.2, "warmup_steps": 200, "min_records": 3}
    remedies = (ADD_IDENTITY, INIT_GAIN, R.LOWER_LR, R.RESTART)

    def diagnosis(self, net: str, value: float) -> str:
        return f"{net} inverts its input: corr(G(x), x) = {value:.2f} (below {self.cfg['threshold']:.2g})"


#: the steganography probe's perturbations, each read as the share of its change to G(x)
#: that passes into the cycle error: a 1 px blur, a 0.5 px blur, low-amplitude noise
HIDING_GAINS = ("blur_gain", "fine_blur_gain", "noise_gain")


@register_detector
class SteganographyDetector(_SustainedSignal):
    """The cycle is satisfied through a hidden signal (Chu et al. 2017; junyanz#1429): the
    inverse generator F rebuilds x from structure of G(x) that a viewer does not see.

    The probe perturbs G(x) in ways a viewer barely notices and reads each as a *gain*: how
    much the cycle error grows per unit of change the perturbation makes to G(x) (0 for an
    F that reads only what the perturbation keeps, 1 for a copy). The detector reads the
    largest gain of a family (``HIDING_GAINS``): a Gaussian blur of 1 px
    (``blur_gain``), one of 0.5 px (``fine_blur_gain``) and low-amplitude noise, 3/255 of
    the range (``noise_gain``, Chu et al.'s own perturbation). Why a family and its
    maximum: a hiding generator is free to put its signal at any scale finer than what the
    translation shows, and one perturbation measures one scale. A 1 px blur also softens
    the edges a viewer sees, which an honest F tolerates, so that part of its change passes
    on little and dilutes the gain of a signal hidden at the pixel scale; a 0.5 px blur
    changes little but that scale, and noise at 3/255 touches every scale lightly. All
    three are read in the same unit (share of the change passed on), so one threshold
    serves them: more than half, ``threshold`` 1/2, as before. What the family costs is a
    higher chance that one member crosses on an honest F (three readings, not one).

    Confirmation: the median of the family's largest gain over the last ``min_records`` (3)
    consecutive eligible probes (``hiding_gain`` in the evidence), so two of three probes
    must cross, not all three. A gain is a ratio of two small changes of the cycle error
    (a few thousandths of the range), so it moves from probe to probe with G and F even on
    a fixed batch: on hiding runs of the benchmark it wandered around the line (0.23-0.68,
    one probe in three under it), so that three crossings in a row came late or not at all
    while the held-out save showed the hiding at every evaluation (docs/detectors.md). The
    median keeps one low probe from breaking the confirmation and, unlike a mean, keeps one
    high probe from making it.

    What the detector must not read: ``halfres_gain``, the same reading with a
    half-resolution 8-bit save, is the perturbation that defines the benchmark's
    steganography label (applied on the whole held-out set); reading it on the probe's
    subset would read the label's own instrument, so it is kept as evidence only. The
    blurs and the noise are different perturbations, so detector and label agree only
    where both measure the hiding.

    It alerts while the clean cycle error is below ``cycle_l1_max`` and G has left its
    input domain (``domain_progress`` at least ``domain_progress_min``, where measured):
    a pair of near-copies also passes a perturbation's change through, without hiding
    anything."""

    name = "steganography"
    signal_name = "blur_gain"
    below = False
    pooled = True
    pool = "median"
    pooled_key = "hiding_gain"
    State = PooledSignalState
    params: ClassVar[dict[str, Any]] = {
        "threshold": 0.5,
        "cycle_l1_max": 0.15,
        "domain_progress_min": 0.5,
        "warmup_steps": 200,
        "min_records": 3,
    }
    remedies = (PERTURB_CYCLE, LOWER_CYCLE, STRONGER_D, R.INSTANCE_NOISE)

    @classmethod
    def watched_name(cls) -> str:
        return f"translation/*/max({','.join(HIDING_GAINS)})"

    def value(self, record: StepRecord, net: str, signal: float) -> float:
        """The largest gain of the family that this record holds (a record of a probe older
        than a member lacks it)."""
        gains = [v for v in _present(record, net, *HIDING_GAINS).values()]
        return max(gains) if gains else signal

    def extra_condition(self, record: StepRecord, net: str) -> bool:
        c = _get(record, net, "cycle_l1")
        if c is None or not finite(c) or c >= self.cfg["cycle_l1_max"]:
            return False
        progress = _get(record, net, "domain_progress")
        return (
            progress is None
            or not finite(progress)
            or (progress >= self.cfg["domain_progress_min"])
        )

    def evidence(self, record: StepRecord, net: str) -> dict[str, float]:
        return _present(
            record,
            net,
            "cycle_l1",
            *HIDING_GAINS,
            "halfres_gain",
            "domain_progress",
        )

    def diagnosis(self, net: str, value: float) -> str:
        return (
            f"{net}'s cycle hides the input: the inverse generator passes {value:.2g} of the "
            "change a slight blur or low-amplitude noise makes to G(x) into its "
            f"reconstruction (above {self.cfg['threshold']:.2g}) while the clean cycle error "
            "is small: it reads a signal finer than the translation shows"
        )


@register_detector
class TranslationCollapseDetector(_SustainedSignal):
    """One output for all inputs (junyanz#1102, #421): the spread of G(x_i) is a small
    fraction of the targets', in pixels (``output_diversity``, pairwise L1) or as the glyph
    classifier reads them (``class_diversity``, effective number of classes, where it reads
    at least ``target_acc_min`` of real output-domain images right). Pixel spread alone
    misses outputs that are one kind of image for every input but differ pixel by pixel,
    such as input-independent noise: their pairwise L1 exceeds the targets'.

    In classes, collapse also needs the outputs' own effective class count
    (``classes_out``) below ``max_classes`` (2): "one output for all inputs" is at most two
    kinds of output, the outcome definition the benchmark labels by. The ratio alone set the
    line at a quarter of the targets' count, 2.5 classes on a class-balanced probe of ten
    classes, above that definition: it claimed collapse on runs whose outputs read 2.0-2.5
    classes on held-out inputs (bench/translation_suite.py, docs/detectors.md). Records
    without ``classes_out`` (runs stored before it was logged) are judged by the ratio.

    Confirmation, two ways. (1) The median of the last ``min_records`` (3) consecutive
    probes below the threshold: two of three, not all three, so a generator whose class
    count wanders around the line (1.4, 2.4, 1.3 classes: one probe of 30 outputs moves
    by about a class when G changes between probes) is confirmed, while one low probe is
    not. (2) One probe, when the generator collapses after it had learned to vary: outputs
    reading at most ``at_once_classes`` (1.5: all but a few of the probe's outputs in one
    class) from a generator whose probe had read at least ``learned_classes`` (4, twice the
    collapse line) at an earlier probe. Persistence guards against a generator that has
    not yet learned to vary (every translator starts by drawing one kind of output: healthy
    pix2pix probes read 1.0 class up to step 150 and 2.0-4.2 at step 200); a generator that
    drew four kinds of output and now draws one has lost what it had. Such a collapse can
    be brief (one probe, the held-out set showing it at one evaluation), which any
    confirmation over several probes misses.

    The median confirms only at a probe that is itself under the threshold
    (``pooled_needs_this_probe``): the alert says G gives one output for all inputs *now*,
    which a probe reading two kinds of output or more contradicts. Without it, a generator
    whose first probes after the warm-up still read one kind of output (its learning
    transient, 1.3-1.9 classes at steps 200-250) was claimed collapsed at the probe where it
    read 3.1-3.3 classes, as the held-out set did from then on (docs/detectors.md). A
    generator wandering around the line (1.4, 2.4, 1.3) is confirmed at its next low probe:
    where the median was under the line at a probe over it, the alert comes one probe
    later if that probe is low, and not while the newest two probes are over it."""

    name = "translation_collapse"
    signal_name = "output_diversity"
    severity = Severity.CRITICAL
    params: ClassVar[dict[str, Any]] = {
        "threshold": 0.25,
        "max_classes": 2.0,
        "at_once_classes": 1.5,
        "learned_classes": 4.0,
        "target_acc_min": 0.5,
        "warmup_steps": 200,
        "min_records": 3,
    }
    remedies = (RAISE_RECON, R.TTUR_LOWER_LR, R.INSTANCE_NOISE, R.RESTART)
    pooled = True
    pool = "median"
    pooled_key = "spread"  # min(output_diversity, class_diversity) as judged
    pooled_needs_this_probe = True
    State = CollapseState

    def check(self, record: StepRecord) -> list[Alert]:
        alerts = super().check(record)
        # the most classes each generator's probe has read so far, updated after the probe
        # is judged: a probe is never its own "earlier" peak (at_once)
        for net in self.state["nets"]:
            count = _legible(record, net, "classes_out", self.cfg["target_acc_min"])
            if count is not None:
                peak = self.state["peak_classes"].get(net, 0.0)
                self.state["peak_classes"][net] = max(peak, float(count))
        return alerts

    def at_once(self, record: StepRecord, net: str) -> bool:
        count = _legible(record, net, "classes_out", self.cfg["target_acc_min"])
        peak = self.state["peak_classes"].get(net, 0.0)
        return (
            count is not None
            and count <= self.cfg["at_once_classes"]
            and peak >= self.cfg["learned_classes"]
        )

    @classmethod
    def watched_name(cls) -> str:
        return "translation/*/min(output_diversity,class_diversity)"

    def value(self, record: StepRecord, net: str, signal: float) -> float:
        classes = _legible(record, net, "class_diversity", self.cfg["target_acc_min"])
        count = _get(record, net, "classes_out")
        if count is not None and finite(count) and count >= self.cfg["max_classes"]:
            classes = None  # two or more kinds of output: not one output for all, in classes
        return signal if classes is None or not finite(signal) else min(signal, classes)

    def evidence(self, record: StepRecord, net: str) -> dict[str, float]:
        out = _present(
            record, net, "output_diversity", "class_diversity", "classes_out", "target_class_acc"
        )
        if net in self.state["peak_classes"]:
            out["peak_classes"] = self.state["peak_classes"][net]
        return out

    def diagnosis(self, net: str, value: float) -> str:
        return (
            f"{net} gives nearly one output for all inputs: output spread (in pixels or in "
            f"classes) is {value:.2g}x the targets' (below {self.cfg['threshold']:.2g})"
        )


@register_detector
class ContentLossDetector(_SustainedSignal):
    """The translation loses the glyph: the bundled classifier finds the input's class in
    too few outputs (a class-preservation analogue of the FCN score of Isola et al. 2017),
    while it does read real images of the output domain (``target_class_acc`` at least
    ``target_acc_min``, when the probe measures it). Too few: below ``threshold`` (near the
    10% chance of ten classes) or no more than ``class_chance``, the largest class share of
    the probe inputs, which an output blind to its input scores when it is read as that
    class. The trainer's probe batch is class-balanced, so there it is 1/classes; a probe
    built otherwise (5 of 32 inputs of one class) moves it (to 16%).

    Pooled (``pooled``): the share over the last ``min_records`` probes together (the count
    over 3 x 30 outputs) is compared with the threshold, not each probe's. A share of 30
    outputs has a binomial standard deviation of 0.055-0.065 near the threshold, as large
    as the gap between chance and the floor, so a generator whose true share lies between
    them passes single probes about half the time and three in a row rarely; the outcome
    it must agree with is a mean over the held-out set. Pooling keeps the 3-probe span of
    persistence and averages the probe-to-probe change; the batch is fixed, so it is not a
    bound on the held-out share (docs/detectors.md)."""

    name = "content_lost"
    signal_name = "class_kept"
    pooled = True
    State = PooledSignalState
    params: ClassVar[dict[str, Any]] = {
        "threshold": 0.15,
        "target_acc_min": 0.5,
        "warmup_steps": 200,
        "min_records": 3,
    }
    remedies = (RAISE_RECON, ADD_IDENTITY, R.LOWER_LR, R.RESTART)

    def threshold(self, record: StepRecord, net: str) -> float:
        chance = _get(record, net, "class_chance")
        floor = float(self.cfg["threshold"])
        if chance is None or not finite(chance):
            return floor
        # "no more than chance": the share itself fails (both are counts over the same batch)
        return max(floor, chance + CHANCE_TIE)

    def extra_condition(self, record: StepRecord, net: str) -> bool:
        # only where the classifier can read the output domain at all (a coarse or foreign
        # domain is illegible to it even on real images)
        acc = _get(record, net, "target_class_acc")
        return acc is None or not finite(acc) or acc >= self.cfg["target_acc_min"]

    def evidence(self, record: StepRecord, net: str) -> dict[str, float]:
        return _present(record, net, "target_class_acc", "class_chance")

    def diagnosis(self, net: str, value: float) -> str:
        return (
            f"{net} loses the input's content: the glyph classifier finds the input's class "
            f"in {value:.0%} of outputs over its last {self.cfg['min_records']} probes, near "
            "what an output blind to its input keeps"
        )


@register_detector
class SRNoGainDetector(_SustainedSignal):
    """Super-resolution no better than bicubic upsampling: PSNR gain over bicubic at or below
    ``threshold`` dB (deepak112/Keras-SRGAN#43; tensorlayer/SRGAN#80)."""

    name = "sr_no_gain"
    signal_name = "psnr_gain"
    params: ClassVar[dict[str, Any]] = {"threshold": 0.0, "warmup_steps": 200, "min_records": 3}
    remedies = (PRETRAIN, LOWER_ADV, R.LOWER_LR, R.RESTART)

    def evidence(self, record: StepRecord, net: str) -> dict[str, float]:
        return _present(record, net, "ssim_gain")

    def diagnosis(self, net: str, value: float) -> str:
        return (
            f"{net} is no better than bicubic upsampling: PSNR gain {value:+.2f} dB "
            f"(at most {self.cfg['threshold']:+.2g} dB)"
        )


@register_detector
class IgnoredNoiseDetector(_SustainedSignal):
    """The generator ignores its noise (dropout): two dropout masks change the output by a tiny
    fraction of the spread across inputs, so it gives one output per input. Isola et al. 2017
    (sec. 3.1) report it for pix2pix and the reference's qa.md answers users who ask about it;
    it is a failure for whoever needs diverse outputs, hence a warning, not critical."""

    name = "ignored_noise"
    signal_name = "noise_diversity"
    params: ClassVar[dict[str, Any]] = {"threshold": 0.02, "warmup_steps": 200, "min_records": 3}
    remedies = (LATENT_NOISE,)

    def diagnosis(self, net: str, value: float) -> str:
        return (
            f"{net} ignores its noise: two dropout masks change outputs by {value:.2g}x the "
            f"spread across inputs (below {self.cfg['threshold']:.2g})"
        )


TRANSLATION_DETECTORS = (
    "identity_mapping",
    "colour_inversion",
    "steganography",
    "translation_collapse",
    "content_lost",
    "sr_no_gain",
    "ignored_noise",
)
