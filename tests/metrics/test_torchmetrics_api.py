"""The torchmetrics.Metric classes give gandiag's numbers, batch by batch and across two ranks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from agreement import assert_agrees, frechet_scale

from gandiag.data.glyphs import make_glyphs
from gandiag.features import get_extractor
from gandiag.metrics import (
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    prdc,
)
from gandiag.metrics.torchmetrics_api import (
    FrechetInceptionDistance,
    InceptionScore,
    KernelInceptionDistance,
    PrecisionRecallDensityCoverage,
)


def _features(seed: int, n: int = 300, d: int = 16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) * rng.uniform(0.5, 2, d) + 3.0).astype(np.float32)


def _feed(metric, real, fake, batch=64):
    for s in range(0, len(real), batch):
        metric.update(torch.from_numpy(real[s : s + batch]), real=True)
    for s in range(0, len(fake), batch):
        metric.update(torch.from_numpy(fake[s : s + batch]), real=False)


def test_fid_kid_prdc_on_features_equal_the_functions():
    real, fake = _features(0), _features(1)
    fid = FrechetInceptionDistance()
    _feed(fid, real, fake)
    assert fid.compute().dtype == torch.float64
    assert_agrees(
        float(fid.compute()),
        frechet_distance(real, fake).fid,
        scale=frechet_scale(real, fake),
        rel=1e-9,
    )
    kid = KernelInceptionDistance(subsets=20, subset_size=100, seed=4)
    _feed(kid, real, fake)
    ref = kernel_inception_distance(real, fake, 20, 100, 4)
    mean, std = kid.compute()
    assert (float(mean), float(std)) == (ref.mean, ref.std)
    pr = PrecisionRecallDensityCoverage(k_pr=3, k_dc=5)
    _feed(pr, real, fake)
    got, ref = pr.compute(), prdc(real, fake, k_pr=3, k_dc=5)
    assert {k: float(v) for k, v in got.items()} == {
        k: getattr(ref, k) for k in ("precision", "recall", "density", "coverage")
    }


def test_images_through_an_extractor_and_inception_score():
    real, fake = (np.array(make_glyphs(200, seed=s)[0]) for s in (1, 2))
    ext = get_extractor("glyph")
    fid = FrechetInceptionDistance("glyph")
    _feed(fid, real, fake, batch=50)
    rf, ff = ext(real).numpy(), ext(fake).numpy()
    assert_agrees(
        float(fid.compute()), frechet_distance(rf, ff).fid, scale=frechet_scale(rf, ff), rel=1e-9
    )
    is_metric = InceptionScore("glyph", splits=4)
    for s in range(0, 200, 50):
        is_metric.update(torch.from_numpy(fake[s : s + 50]))
    ref = inception_score(ext.logits(fake).numpy(), 4)
    mean, std = is_metric.compute()
    assert float(mean) == pytest.approx(ref.mean, rel=1e-12)
    assert float(std) == pytest.approx(ref.std, rel=1e-9, abs=1e-12)


def test_reset_real_features_false_keeps_the_reference():
    real, fake, fake2 = _features(0), _features(1), _features(2)
    for cls in (FrechetInceptionDistance, PrecisionRecallDensityCoverage):
        m = cls(reset_real_features=False)
        _feed(m, real, fake)
        m.reset()
        for s in range(0, len(fake2), 64):
            m.update(torch.from_numpy(fake2[s : s + 64]), real=False)
        fresh = cls()
        _feed(fresh, real, fake2)
        a, b = m.compute(), fresh.compute()
        if isinstance(a, dict):
            assert {k: float(v) for k, v in a.items()} == {k: float(v) for k, v in b.items()}
        else:
            assert float(a) == float(b)
    m = FrechetInceptionDistance()  # default: reset clears both sides
    _feed(m, real, fake)
    m.reset()
    with pytest.raises(RuntimeError, match="at least 2 real samples"):
        m.compute()


def test_images_without_an_extractor_name_the_fix():
    with pytest.raises(ValueError, match="feature_extractor="):
        FrechetInceptionDistance().update(torch.zeros(4, 1, 8, 8), real=True)


def _rank(rank, init, real, fake, out):
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    try:
        mine = slice(rank * len(real) // 2, (rank + 1) * len(real) // 2)
        fid = FrechetInceptionDistance(dim=real.shape[1])
        kid = KernelInceptionDistance(subsets=10, subset_size=50)
        pr = PrecisionRecallDensityCoverage()
        for m in (fid, kid, pr):
            _feed(m, real[mine], fake[mine], batch=40)
        res = [
            float(fid.compute()),
            *map(float, kid.compute()),
            *(float(v) for v in pr.compute().values()),
        ]
        np.save(f"{out}_{rank}.npy", np.array(res))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_ranks_give_the_single_process_numbers(tmp_path):
    real, fake = _features(0), _features(1)
    out = str(tmp_path / "res")
    mp.spawn(_rank, args=(f"file://{tmp_path / 'init'}", real, fake, out), nprocs=2, join=True)
    r0, r1 = np.load(f"{out}_0.npy"), np.load(f"{out}_1.npy")
    np.testing.assert_array_equal(r0, r1)
    assert_agrees(
        r0[0], frechet_distance(real, fake).fid, scale=frechet_scale(real, fake), rel=1e-9
    )
    ref = kernel_inception_distance(real, fake, 10, 50, 0)
    assert (r0[1], r0[2]) == (ref.mean, ref.std)  # cat keeps rank order: same subsets
    p = prdc(real, fake)
    assert r0[3:].tolist() == [p.precision, p.recall, p.density, p.coverage]
