"""Failure detectors: pure, stateful functions of step records that return alerts.

``default_detectors(kind)`` is the set the Monitor runs; ``DETECTORS`` is the registry
(add your own with ``@register_detector``). See docs/detectors.md for what each detector
reads, its parameters and how they were calibrated.
"""

from gandiag.detectors import condition as _condition  # noqa: F401  (conditional GANs: class ignored or collapsed)
from gandiag.detectors import conditioning as _conditioning  # noqa: F401  (StackGAN's CA)
from gandiag.detectors import levels as _levels  # noqa: F401  (and pyramid levels)
from gandiag.detectors import phases as _phases  # noqa: F401  (registers phase detectors)
from gandiag.detectors import stylegan as _stylegan  # noqa: F401  (and style-based ones)
from gandiag.detectors.base import (
    DETECTORS,
    Detector,
    get_detector_class,
    register_detector,
    run_detectors,
)
from gandiag.detectors.collapse import ModeCollapseDetector, NonConvergenceDetector
from gandiag.detectors.coverage import SampleCoverageDetector
from gandiag.detectors.divergence import (
    ExplodingGradientDetector,
    NonFiniteDetector,
    StalledTrainingDetector,
)
from gandiag.detectors.gan import DiscriminatorOverfittingDetector, VanishingGradientDetector
from gandiag.detectors.multi_d import DiscriminatorImbalanceDetector
from gandiag.detectors.oscillation import OscillationDetector
from gandiag.detectors.suite import (
    DetectorSuite,
    build_detectors,
    default_detectors,
    parse_overrides,
)
from gandiag.detectors.support import SignalDetector
from gandiag.detectors.translation import TRANSLATION_DETECTORS
from gandiag.detectors.vae import PosteriorCollapseDetector
from gandiag.detectors.video import (
    ClassConcentrationDetector,
    FrozenMotionDetector,
    LoopingDetector,
    StuckDiscriminatorDetector,
    TemporalFlickerDetector,
)

__all__ = [
    "DETECTORS",
    "TRANSLATION_DETECTORS",
    "ClassConcentrationDetector",
    "Detector",
    "DetectorSuite",
    "DiscriminatorImbalanceDetector",
    "DiscriminatorOverfittingDetector",
    "ExplodingGradientDetector",
    "FrozenMotionDetector",
    "LoopingDetector",
    "ModeCollapseDetector",
    "NonConvergenceDetector",
    "NonFiniteDetector",
    "OscillationDetector",
    "PosteriorCollapseDetector",
    "SampleCoverageDetector",
    "SignalDetector",
    "StalledTrainingDetector",
    "StuckDiscriminatorDetector",
    "TemporalFlickerDetector",
    "VanishingGradientDetector",
    "build_detectors",
    "default_detectors",
    "get_detector_class",
    "parse_overrides",
    "register_detector",
    "run_detectors",
]
