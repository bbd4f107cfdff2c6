"""The metric registry: ``evaluate(..., metrics=("fid", "my_metric"))`` looks names up here.

A metric is a function of a :class:`MetricContext` (the features of both sets, the
extractor's logits on demand, the options of the call) that returns ``{name: MetricResult}``
or a bare float. Register your own as you register a detector::

    from gandiag.metrics.registry import register_metric

    @register_metric("mean_shift", summary="L2 distance of the feature means")
    def mean_shift(ctx):
        return float(((ctx.real_feats.mean(0) - ctx.fake_feats.mean(0)) ** 2).sum() ** 0.5)

The built-in metrics live in :mod:`gandiag.metrics.standard`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gandiag.registry import Registry, instance_of
from gandiag.types import MetricProtocol, MetricResult

#: what a metric reads: "features" (real_feats, fake_feats, real_stats), "logits" (fake_logits),
#: "images" (fake_source as given to evaluate), "generator" (fake_source: a LatentSampler)
NEEDS = ("features", "logits", "images", "generator")

MetricFn = Callable[["MetricContext"], "Mapping[str, MetricResult] | float"]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    compute: MetricFn
    needs: tuple[str, ...] = ("features",)
    summary: str = ""


#: The metric registry: name -> MetricSpec (see gandiag.registry for its rules).
METRICS: Registry[MetricSpec] = Registry("metric", check=instance_of(MetricSpec))


def register_metric(
    name: str, *, needs: tuple[str, ...] = ("features",), summary: str = "", replace: bool = False
) -> Callable[[MetricFn], MetricFn]:
    """Decorator registering ``fn(ctx) -> {name: MetricResult} | float`` as metric ``name``."""
    bad = [n for n in needs if n not in NEEDS]
    if bad:
        raise ValueError(f"metric {name!r}: unknown needs {bad}; choose from {', '.join(NEEDS)}")

    def deco(fn: MetricFn) -> MetricFn:
        if not callable(fn):
            raise TypeError(f"metric {name!r} must be a function of a MetricContext")
        METRICS.register(name, MetricSpec(name, fn, tuple(needs), summary), replace=replace)
        return fn

    return deco


@dataclass
class MetricContext:
    """What a metric computes from: one ``evaluate`` call's features, logits and options."""

    base_protocol: Mapping[str, Any]
    num_real: int
    num_fake: int
    seed: int
    step: int | None
    options: Mapping[str, Any]
    real_feats: Any = None
    fake_feats: Any = None
    real_stats: Any = None
    reference: Any = None  # a cached real set (gandiag.features.cache), when caching
    logits: Callable[[], Any] | None = None
    fake_source: Any = None  # the ``fake`` given to evaluate (images, a path, or a sampler)
    extractor: Any = None  # the feature extractor of this call (images -> features)
    _memo: dict[str, Any] = field(default_factory=dict)

    def fake_logits(self) -> Any:
        """The extractor's class logits on the fakes (computed once)."""
        if "logits" not in self._memo:
            if self.logits is None:
                raise ValueError("this metric needs logits; register it with needs=('logits',)")
            self._memo["logits"] = self.logits()
        return self._memo["logits"]

    def shared(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per call, for metrics that share a computation (pr and dc)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def result(
        self, name: str, value: float, options: Mapping[str, Any], **kw: Any
    ) -> MetricResult:
        """A :class:`MetricResult` carrying this call's protocol plus the metric's ``options``."""
        base = self.base_protocol
        proto = MetricProtocol(
            feature_extractor=base["feature_extractor"],
            weights_sha256=base["weights_sha256"],
            preprocessing=base["preprocessing"],
            num_real=self.num_real,
            num_fake=self.num_fake,
            options={"seed": self.seed, **options},
        )
        return MetricResult(name=name, value=float(value), protocol=proto, step=self.step, **kw)

    def run(self, spec: MetricSpec) -> dict[str, MetricResult]:
        out = spec.compute(self)
        if isinstance(out, Mapping):
            return dict(out)
        return {spec.name: self.result(spec.name, float(out), {})}
