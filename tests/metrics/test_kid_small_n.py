"""KID when the subset size reaches N: every subset is the same set, so no spread is claimed."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

from gandiag.evaluate import evaluate
from gandiag.metrics import kernel_inception_distance


def test_identical_subsets_report_no_std_and_warn(caplog):
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(80, 8)), rng.normal(size=(90, 8)) + 0.3
    with caplog.at_level(logging.WARNING, logger="gandiag.metrics.kid"):
        small = kernel_inception_distance(real, fake, 20, 1000, 0)
    assert small.subset_size == 80 and not small.identical_subsets  # 80 of 90 fakes: varies
    assert small.std > 1e-6
    with caplog.at_level(logging.WARNING, logger="gandiag.metrics.kid"):
        same = kernel_inception_distance(real, fake[:80], 20, 1000, 0)
    assert same.identical_subsets and math.isnan(same.std)
    assert "every subset is the same set" in caplog.text
    # the mean is still the unbiased MMD^2 of the whole sets
    full = kernel_inception_distance(real, fake[:80], 1, 80, 0)
    assert same.mean == pytest.approx(full.mean, rel=1e-12)


def test_evaluate_records_it_and_reports_no_uncertainty():
    rng = np.random.default_rng(1)
    real = rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8)
    fake = rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8)
    out = evaluate(real, fake, metrics=("kid",), kid_subset_size=1000, bootstrap=5, progress=False)
    kid = out["kid"]
    assert kid.uncertainty is None and kid.protocol.options["identical_subsets"] is True
    assert kid.interval is not None  # the bootstrap interval still means something
    ok = evaluate(real, fake, metrics=("kid",), kid_subset_size=30, bootstrap=0, progress=False)
    assert ok["kid"].uncertainty > 0 and ok["kid"].protocol.options["identical_subsets"] is False
