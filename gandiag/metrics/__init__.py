"""Sample-quality metrics on feature matrices ``[N, D]`` (numpy arrays or torch tensors).

Each function returns a named tuple. Conventions, anchors and where we differ are in
docs/metrics.md; images and generators go through :func:`gandiag.evaluate.evaluate`.
"""

from gandiag.metrics.frechet import FeatureStats, FIDResult, feature_stats, frechet_distance
from gandiag.metrics.inception_score import ISResult, inception_score
from gandiag.metrics.kid import KIDResult, kernel_inception_distance
from gandiag.metrics.prdc import (
    DCResult,
    PRDCResult,
    PRResult,
    density_coverage,
    knn_radii,
    prdc,
    precision_recall,
)
from gandiag.metrics.uncertainty import (
    FDInfResult,
    Interval,
    fd_infinity,
    fid_bootstrap,
    kid_bootstrap,
)

__all__ = [
    "DCResult",
    "FDInfResult",
    "FIDResult",
    "FeatureStats",
    "ISResult",
    "Interval",
    "KIDResult",
    "PRDCResult",
    "PRResult",
    "density_coverage",
    "fd_infinity",
    "feature_stats",
    "fid_bootstrap",
    "frechet_distance",
    "inception_score",
    "kernel_inception_distance",
    "kid_bootstrap",
    "knn_radii",
    "prdc",
    "precision_recall",
]
