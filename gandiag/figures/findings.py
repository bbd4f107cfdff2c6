"""What a run's verdict rests on: which checks its signals allowed, which they did not, and
what its latest evaluation found (a class or mode taking most samples, modes never covered).

A detector can only fire on signals it was given, so "no alert" means "nothing found by the
checks that ran". :func:`coverage` names those checks from the stored signal names, and
:func:`evaluation_findings` reads the periodic evaluation's shares, so the verdict can state
the worst finding even when no detector fired (a VAE that puts 72% of its samples in one
class is not "fine").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gandiag import signals as sig
from gandiag.detectors.video import FrozenMotionDetector, LoopingDetector, TemporalFlickerDetector
from gandiag.types import Severity

#: a class or mode holding more than this multiple of its uniform share is reported
DOMINANCE_FACTOR = 3.0
#: share of samples near a mode below which a 2-D run's samples are called mostly off-data
LOW_QUALITY_SHARE = 0.5


@dataclass(frozen=True)
class Finding:
    """One thing the latest evaluation says about the samples, with how serious it is."""

    severity: Severity
    text: str
    step: int | None = None


#: kinds of model with no discriminator: the discriminator checks do not apply to them
NO_DISCRIMINATOR = frozenset({"vae", "ae"})

# (check, the signal prefixes or names that enable it, what is missing when it is absent,
# the kinds for which its absence is reported: None for every kind but those without a
# discriminator where the check reads one; an empty set for a check that is named only
# when its signals are there, such as a family's own)
_CHECKS: tuple[tuple[str, tuple[str, ...], str, frozenset[str] | None], ...] = (
    ("loss divergence", ("loss/",), "no losses logged", None),
    ("gradients", ("grad/",), "no gradient norms (watch the networks)", None),
    ("discriminator outputs", ("d/real/", "d/fake/"), "no discriminator outputs", None),
    ("D overfitting", (sig.D_RV,), "no held-out real batch", None),
    ("sample diversity", ("samples/",), "no sample statistics", None),
    ("VAE posterior", ("vae/",), "no VAE terms", frozenset({"vae"})),
    ("translation probes", ("translation/",), "no probe batch", frozenset({"translation"})),
    ("clip motion, looping and flicker", ("video/",), "no clip statistics", frozenset({"video"})),
    ("label-free coverage", ("coverage/",), "", frozenset()),
    ("phase transitions", ("phase/",), "", frozenset()),
    ("W space and style mixing", ("style/",), "", frozenset()),
    ("R1 and path-length traces", ("reg/",), "", frozenset()),
    ("adaptive augmentation", ("ada/",), "", frozenset()),
    ("conditioning augmentation", ("ca/",), "", frozenset()),
    ("use of the condition", ("cond/",), "", frozenset()),
    ("levels and stages copying", ("level/",), "", frozenset()),
    ("evaluation", ("eval/",), "no periodic evaluation", None),
)
_READS_D = ("discriminator outputs", "D overfitting")


def coverage(names: Iterable[str], kind: str = "") -> tuple[list[str], list[str]]:
    """``(checked, not_checked)``: the checks the stored signals allow, and those they do not
    (with why), for a run of ``kind`` (``"gan"``, ``"vae"``, ``"translation"``, ...). A
    family's own checks are named when its signals are there, and reported missing only
    for its kind (a translation run without probes; a GAN is not expected to have them)."""
    names = list(names)
    checked, missing = [], []
    for check, needs, why, kinds in _CHECKS:
        if check == "VAE posterior" and kind != "vae":
            continue  # an autoencoder's point posterior logs KL terms that say nothing
        if any(n == p or n.startswith(p) for n in names for p in needs):
            checked.append(check)
            continue
        if kinds is None:
            expected = not (check in _READS_D and kind in NO_DISCRIMINATOR)
        else:
            expected = kind in kinds
        if expected:
            missing.append(f"{check} ({why})")
    return checked, missing


def evaluation_findings(latest: Mapping[str, tuple[int, float]]) -> list[Finding]:
    """Findings from the latest ``eval/*`` values (``name -> (step, value)``), worst first."""
    out: list[Finding] = []

    def val(name: str) -> float | None:
        return latest[name][1] if name in latest else None

    share, dominant = val(sig.EVAL_DOMINANT_SHARE), val(sig.EVAL_DOMINANT_MODE)
    modes, num_modes = val(sig.EVAL_MODES_COVERED), val(sig.EVAL_NUM_MODES)
    classes = val(sig.EVAL_CLASSES_COVERED)
    hq = val(sig.EVAL_HQ_SHARE)
    step = max((s for s, _ in latest.values()), default=None)
    unit = "mode" if num_modes is not None else "class"
    num_classes = val("eval/num_classes")
    if num_modes is not None:
        total = num_modes
    elif classes is not None:
        total = num_classes if num_classes else 10.0  # runs before eval/num_classes: 10 glyphs
    else:
        total = None
    if share is not None and total and share > min(0.9, DOMINANCE_FACTOR / total):
        which = f" ({unit} {int(dominant)})" if dominant is not None else ""
        sev = Severity.CRITICAL if share >= 0.9 else Severity.WARNING
        out.append(Finding(sev, f"{share:.0%} of samples fall in one {unit}{which}", step))
    covered = modes if num_modes is not None else classes
    if covered is not None and total and covered < total:
        sev = Severity.CRITICAL if covered <= total / 2 else Severity.WARNING
        plural = "modes" if unit == "mode" else "classes"
        out.append(Finding(sev, f"samples cover {covered:.0f} of {total:.0f} {plural}", step))
    if hq is not None and hq < LOW_QUALITY_SHARE:
        out.append(
            Finding(Severity.WARNING, f"only {hq:.0%} of samples lie near a real mode", step)
        )
    motion = val(sig.EVAL_MOTION_RATIO)
    if motion is not None and motion < FROZEN_MOTION:
        text = f"generated clips move {motion:.2f}x as much as real ones (frozen video)"
        out.append(Finding(Severity.WARNING, text, latest[sig.EVAL_MOTION_RATIO][0]))
    recurrence, coherence = val(sig.EVAL_RECURRENCE_EXCESS), val(sig.EVAL_COHERENCE_RATIO)
    moving = motion is not None and motion >= FROZEN_MOTION
    if moving and recurrence is not None and recurrence > LOOPING_EXCESS:
        text = (
            f"generated clips come back to earlier frames ({recurrence:.2f} more recurrence "
            "than real ones): looping video"
        )
        out.append(Finding(Severity.WARNING, text, latest[sig.EVAL_RECURRENCE_EXCESS][0]))
    elif moving and coherence is not None and coherence < FLICKER_COHERENCE:
        text = (
            f"neighbouring frames of the generated clips are alike only {coherence:.2f}x as "
            "much (over distant ones) as real clips': each frame drawn anew (flickering video)"
        )
        out.append(Finding(Severity.WARNING, text, latest[sig.EVAL_COHERENCE_RATIO][0]))
    out += translation_findings(latest)
    out.sort(key=lambda f: -f.severity.rank)
    return out


#: a video run's evaluated clips change from frame to frame less than this fraction of the
#: real clips' change: they stand still; while they move, more recurrence than real clips
#: by this much (a loop), or a temporal coherence under this share of the real clips'
#: (flicker). The video detectors' thresholds, which the video benchmark's outcome labels
#: share (bench/failure_suite_video.py)
FROZEN_MOTION = FrozenMotionDetector.params["ratio_max"]
LOOPING_EXCESS = LoopingDetector.params["excess_max"]
FLICKER_COHERENCE = TemporalFlickerDetector.params["coherence_ratio_min"]


def ended_failures(
    alert_steps: Mapping[str, int], latest: Mapping[str, tuple[int, float]]
) -> dict[str, str]:
    """Detectors (``name -> step of their last alert``) whose failure the latest evaluation,
    taken after that alert, no longer shows, with what it shows instead.

    Only failures an evaluation measures as the detector judges them, on fresh samples and
    with the detector's own threshold: a video standing still (``frozen_video``: the clips'
    motion ratio) and looping (``looping_video``: recurrence over the reals', while the
    clips move). A DVD-GAN whose clips stand still while it learns its frames and move
    from step 350 on is not still failing at step 600 (docs/dashboard.md, the run page).
    ``temporal_flicker`` is not among them: its class-flip clause has no evaluation
    counterpart, so a coherent evaluation does not clear it."""

    def val(name: str, after: int) -> tuple[int, float] | None:
        if name not in latest or latest[name][0] <= after:
            return None
        return latest[name]

    out: dict[str, str] = {}
    for detector, last in alert_steps.items():
        motion = val(sig.EVAL_MOTION_RATIO, last)
        if motion is None or motion[1] < FROZEN_MOTION:
            continue
        step, ratio = motion
        if detector == "frozen_video":
            out[detector] = f"at step {step} the clips move {ratio:.2f}x as much as real ones"
        elif detector == "looping_video":
            rec = val(sig.EVAL_RECURRENCE_EXCESS, last)
            if rec is not None and rec[1] <= LOOPING_EXCESS:
                out[detector] = (
                    f"at step {rec[0]} the clips recur {rec[1]:.2f} more than real ones "
                    f"(a loop: above {LOOPING_EXCESS:g})"
                )
    return out


#: the held-out outcomes of an image-to-image generator that say it failed, as the
#: translation benchmark defines its failures (bench/translation_suite.py): the input's
#: class kept in under this share of the outputs (chance is 10% for ten classes)...
CLASS_KEPT_MIN = 0.2
#: ... or the outputs in at most this many effective classes ...
CLASSES_EFFECTIVE_MIN = 2.0
#: ... where the classifier reads the output domain's real images at least this well
TARGET_ACC_MIN = 0.5
#: correlation with the correct translation below this: the grey levels are swapped
TRUE_CORR_MIN = -0.3
#: a cycle whose error is below this and grows by more than half (and by 0.02) of what a
#: half-resolution 8-bit save changes in G(x): it reads a signal finer than G(x) shows
CYCLE_MAX, HIDING_GAIN, HIDING_MIN = 0.15, 0.5, 0.02


def translation_findings(latest: Mapping[str, tuple[int, float]]) -> list[Finding]:
    """Findings from an image-to-image run's held-out evaluation (``eval/<NET>_*``, one set
    per generator NET; gandiag.train.translation_eval): a person looking at the triplets
    would see each of these, whether or not a detector fired on the probes."""
    nets = sorted(
        n.removeprefix("eval/").removesuffix("_input_l1")
        for n in latest
        if n.startswith("eval/") and n.endswith("_input_l1")
    )
    out: list[Finding] = []
    for net in nets:

        def val(what: str, net: str = net) -> float | None:
            key = f"eval/{net}_{what}"
            return latest[key][1] if key in latest else None

        step = latest[f"eval/{net}_input_l1"][0]
        readable = (val("target_class_acc") or 0.0) >= TARGET_ACC_MIN
        kept, classes = val("class_kept"), val("classes_effective")
        if readable and classes is not None and classes <= CLASSES_EFFECTIVE_MIN:
            text = f"{net} gives nearly one output for all inputs: {classes:.1f} classes"
            out.append(Finding(Severity.CRITICAL, text, step))
        elif readable and kept is not None and kept < CLASS_KEPT_MIN:
            text = f"{net} loses the input's glyph: its class kept in {kept:.0%} of outputs"
            out.append(Finding(Severity.WARNING, text, step))
        l1, true_l1, corr = val("input_l1"), val("true_l1"), val("true_corr")
        if l1 is not None and true_l1 is not None and l1 < true_l1 / 2:
            text = f"{net} returns its input: outputs twice as near it as the correct ones"
            out.append(Finding(Severity.WARNING, text, step))
        if corr is not None and corr < TRUE_CORR_MIN:
            text = f"{net} inverts: correlation {corr:.2f} with the correct translation"
            out.append(Finding(Severity.WARNING, text, step))
        cycle, halfres, change = val("cycle_l1"), val("cycle_l1_halfres"), val("halfres_change")
        if cycle is not None and halfres is not None and change is not None:
            growth = halfres - cycle
            if cycle < CYCLE_MAX and growth >= max(HIDING_GAIN * change, HIDING_MIN):
                text = (
                    f"{net}'s cycle hides the input: a half-resolution save raises the cycle "
                    f"error by {growth / max(change, 1e-12):.2f} of what it changes in G(x)"
                )
                out.append(Finding(Severity.WARNING, text, step))
        psnr, bicubic = val("psnr"), val("psnr_bicubic")
        if psnr is not None and bicubic is not None and psnr <= bicubic:
            text = f"{net} is no sharper than bicubic: PSNR {psnr:.1f} vs {bicubic:.1f} dB"
            out.append(Finding(Severity.WARNING, text, step))
    return out
