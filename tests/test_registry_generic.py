"""One registry type for detectors, extractors, datasets, models and metrics: same rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gandiag.data import DATASETS
from gandiag.detectors import DETECTORS, Detector, register_detector
from gandiag.evaluate import evaluate
from gandiag.features import EXTRACTORS, register_extractor
from gandiag.metrics.registry import METRICS, register_metric
from gandiag.reference_models import MODELS
from gandiag.registry import Registry, UnknownNameError, is_callable

ALL = {
    "detector": DETECTORS,
    "feature extractor": EXTRACTORS,
    "dataset": DATASETS,
    "model": MODELS,
    "metric": METRICS,
}


@pytest.mark.parametrize("what", sorted(ALL))
def test_every_extension_point_is_one_registry_type(what) -> None:
    reg = ALL[what]
    assert isinstance(reg, Registry) and reg.what == what
    name = max(reg.names(), key=len)
    assert reg[name] is reg.lookup(name)
    typo = name[:-1] + ("x" if name[-1] != "x" else "y")
    with pytest.raises(
        UnknownNameError, match=rf"unknown {what} '{typo}' \(did you mean '{name}'\?\)"
    ):
        reg.lookup(typo)
    # One exception for every registry: a KeyError for dict-like use, a ValueError for callers.
    with pytest.raises(KeyError):
        reg[typo]
    with pytest.raises(ValueError, match=", ".join(reg.names()[:2])):
        reg[typo]


def test_rules_names_duplicates_and_types() -> None:
    reg: Registry = Registry("widget", check=is_callable)
    f, g = (lambda: 1), (lambda: 2)
    assert reg.register("w_1", f) is f
    reg.register("w_1", f)  # the same object again: nothing happens
    with pytest.raises(ValueError, match="already registered.*replace=True"):
        reg.register("w_1", g)
    reg.register("w_1", g, replace=True)
    assert reg["w_1"] is g
    for bad in ("", "1st", "a/b", "a.b", "a b", "a,b", "a-b"):
        with pytest.raises(ValueError, match="not valid"):
            reg.register(bad, f)
    with pytest.raises(TypeError, match="must be callable"):
        reg.register("w_2", 3)
    assert reg.unregister("w_1") is g and "w_1" not in reg


def test_detector_and_extractor_follow_the_same_duplicate_rule() -> None:
    class Twin(Detector):
        name = "nonfinite"

        def update(self, record):
            return []

        def state_dict(self):
            return {}

        def load_state_dict(self, state):
            pass

    with pytest.raises(ValueError, match="detector named 'nonfinite' is already registered"):
        register_detector(Twin)
    with pytest.raises(ValueError, match="feature extractor named 'glyph' is already registered"):
        register_extractor("glyph")(lambda device=None: None)
    with pytest.raises(TypeError, match="subclass of"):
        DETECTORS.register("not_a_detector", object)


def test_a_user_metric_is_registered_like_a_detector() -> None:
    @register_metric("mean_shift_test", summary="L2 distance of the feature means")
    def mean_shift(ctx):
        return float(np.linalg.norm(ctx.real_feats.mean(0) - ctx.fake_feats.mean(0)))

    try:
        g = torch.Generator().manual_seed(0)
        real = torch.rand(64, 3, generator=g)
        fake = real + 1.0
        out = evaluate(
            real, fake, metrics=("fid", "mean_shift_test"), extractor="identity", bootstrap=0
        )
        assert list(out) == ["fid", "mean_shift_test"]
        assert out["mean_shift_test"].value == pytest.approx(3**0.5, rel=1e-5)
        assert out["mean_shift_test"].protocol.num_fake == 64
        with pytest.raises(ValueError, match="unknown metrics.*register_metric"):
            evaluate(real, fake, metrics=("mean_shfit",), extractor="identity")
    finally:
        METRICS.unregister("mean_shift_test")
