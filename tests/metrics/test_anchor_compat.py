"""The clean-fid anchor keeps its numbers on a SciPy whose sqrtm has lost ``disp``."""

import types

import numpy as np
import pytest
import scipy.linalg
from anchor_compat import install, sqrtm_has_disp

cleanfid_fid = pytest.importorskip("cleanfid.fid")


def _stats(seed, d=6, n=40):
    x = np.random.default_rng(seed).normal(size=(n, d)) * np.linspace(0.5, 2.0, d)
    return x.mean(0), np.cov(x, rowvar=False)


def test_cleanfid_frechet_distance_unchanged_on_a_scipy_without_disp(monkeypatch):
    mu1, s1 = _stats(0)
    mu2, s2 = _stats(1)
    # the same numbers clean-fid would get from a SciPy that still takes disp
    want = float(
        np.sum((mu1 - mu2) ** 2)
        + np.trace(s1 + s2 - 2 * np.real(scipy.linalg.sqrtm(s1 @ s2)))
    )  # fmt: skip

    real_sqrtm = scipy.linalg.sqrtm

    def sqrtm_without_disp(A, blocksize=64):  # SciPy 1.18's signature
        return real_sqrtm(A)

    fake_linalg = types.ModuleType("scipy.linalg")
    fake_linalg.sqrtm = sqrtm_without_disp
    monkeypatch.setattr(cleanfid_fid, "linalg", fake_linalg)
    with pytest.raises(TypeError):  # what clean-fid does there unpatched
        cleanfid_fid.frechet_distance(mu1, s1, mu2, s2)
    assert install() is True and not isinstance(cleanfid_fid.linalg, types.ModuleType)
    got = cleanfid_fid.frechet_distance(mu1, s1, mu2, s2)
    assert abs(got - want) <= 1e-9 * (np.trace(s1) + np.trace(s2))


def test_nothing_is_patched_on_a_scipy_that_takes_disp(monkeypatch):
    if not sqrtm_has_disp(scipy.linalg.sqrtm):
        pytest.skip("this SciPy has no sqrtm(disp=): the patch is in use (test above)")
    monkeypatch.setattr(cleanfid_fid, "linalg", scipy.linalg)
    assert install() is False and cleanfid_fid.linalg is scipy.linalg
