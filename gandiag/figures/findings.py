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


# (check, the signal prefix or names that enable it, what is missing when it is absent)
_CHECKS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("loss divergence", ("loss/",), "no losses logged"),
    ("gradients", ("grad/",), "no gradient norms (watch the networks)"),
    ("discriminator outputs", ("d/real/", "d/fake/"), "no discriminator outputs"),
    ("D overfitting", (sig.D_RV,), "no held-out real batch"),
    ("sample diversity", ("samples/",), "no sample statistics"),
    ("VAE posterior", ("vae/",), "no VAE terms"),
    ("evaluation", ("eval/",), "no periodic evaluation"),
)


def coverage(names: Iterable[str], kind: str = "") -> tuple[list[str], list[str]]:
    """``(checked, not_checked)``: the checks the stored signals allow, and those they do not
    (with why), for a run of ``kind`` (``"gan"``, ``"vae"`` or other)."""
    names = list(names)
    checked, missing = [], []
    for check, needs, why in _CHECKS:
        gan_only = check in ("discriminator outputs", "D overfitting")
        if (gan_only and kind == "vae") or (check == "VAE posterior" and kind != "vae"):
            continue
        if any(n == p or n.startswith(p) for n in names for p in needs):
            checked.append(check)
        else:
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
    out.sort(key=lambda f: -f.severity.rank)
    return out
