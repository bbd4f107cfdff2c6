"""The built-in metrics of :func:`gandiag.evaluate.evaluate`, registered by name.

``fid``, ``fd_inf``, ``kid``, ``is``, ``pr`` (precision and recall) and ``dc`` (density
and coverage); conventions and anchors are in docs/metrics.md.
"""

from __future__ import annotations

from typing import Any

from gandiag.metrics.frechet import frechet_distance
from gandiag.metrics.inception_score import inception_score
from gandiag.metrics.kid import kernel_inception_distance
from gandiag.metrics.prdc import prdc
from gandiag.metrics.registry import MetricContext, register_metric
from gandiag.metrics.uncertainty import fd_infinity, fid_bootstrap, kid_bootstrap
from gandiag.types import MetricResult


@register_metric("fid", summary="Frechet distance of the feature Gaussians")
def fid(ctx: MetricContext) -> dict[str, MetricResult]:
    bootstrap = ctx.options["bootstrap"]
    value = frechet_distance(ctx.real_stats, ctx.fake_feats).fid
    kw: dict[str, Any] = {}
    if bootstrap >= 2:
        iv = fid_bootstrap(ctx.real_stats, ctx.fake_feats, bootstrap, seed=ctx.seed)
        kw = {"uncertainty": iv.std, "interval": (iv.low, iv.high)}
    return {"fid": ctx.result("fid", value, {"bootstrap": bootstrap}, **kw)}


@register_metric("fd_inf", summary="FID extrapolated to infinitely many samples")
def fd_inf(ctx: MetricContext) -> dict[str, MetricResult]:
    fdi = fd_infinity(ctx.real_stats, ctx.fake_feats, seed=ctx.seed)
    return {"fd_inf": ctx.result("fd_inf", fdi.fd_inf, {"sizes": list(fdi.sizes)})}


@register_metric("kid", summary="kernel (MMD) distance, unbiased, over subsets")
def kid(ctx: MetricContext) -> dict[str, MetricResult]:
    o = ctx.options
    res = kernel_inception_distance(
        ctx.real_feats, ctx.fake_feats, o["kid_subsets"], o["kid_subset_size"], ctx.seed
    )
    kw: dict[str, Any] = {"uncertainty": res.std}
    if o["bootstrap"] >= 2:
        iv = kid_bootstrap(
            ctx.real_feats,
            ctx.fake_feats,
            o["bootstrap"],
            subset_size=o["kid_subset_size"],
            seed=ctx.seed,
        )
        kw["interval"] = (iv.low, iv.high)
    opts = {
        "num_subsets": res.num_subsets,
        "subset_size": res.subset_size,
        "bootstrap": o["bootstrap"],
    }
    return {"kid": ctx.result("kid", res.mean, opts, **kw)}


@register_metric("is", needs=("logits",), summary="Inception Score of the fakes")
def inception(ctx: MetricContext) -> dict[str, MetricResult]:
    splits = ctx.options["is_splits"]
    res = inception_score(ctx.fake_logits(), splits)
    return {
        "is": ctx.result("is", res.mean, {"splits": splits, "std_ddof": 0}, uncertainty=res.std)
    }


def _prdc(ctx: MetricContext) -> Any:
    o = ctx.options
    radii: dict[str, Any] = {}
    if ctx.reference is not None:  # the real set's k-NN radii come from the cache too
        radii = {
            "real_radii_pr": ctx.reference.radii(o["k_pr"], device=o["device"]),
            "real_radii_dc": ctx.reference.radii(o["k_dc"], device=o["device"]),
        }
    return prdc(
        ctx.real_feats,
        ctx.fake_feats,
        k_pr=o["k_pr"],
        k_dc=o["k_dc"],
        inclusive=o["inclusive"],
        device=o["device"],
        **radii,
    )


def _pair(ctx: MetricContext, k: str, names: tuple[str, str]) -> dict[str, MetricResult]:
    """Two results read off one shared prdc computation (``names`` are its attributes)."""
    res = ctx.shared("prdc", lambda: _prdc(ctx))
    opts = {"k": ctx.options[k], "inside": "<=" if ctx.options["inclusive"] else "<"}
    return {n: ctx.result(n, getattr(res, n), opts) for n in names}


@register_metric("pr", summary="precision and recall (Kynkaanniemi et al. 2019)")
def precision_recall(ctx: MetricContext) -> dict[str, MetricResult]:
    return _pair(ctx, "k_pr", ("precision", "recall"))


@register_metric("dc", summary="density and coverage (Naeem et al. 2020)")
def density_coverage(ctx: MetricContext) -> dict[str, MetricResult]:
    return _pair(ctx, "k_dc", ("density", "coverage"))
