"""The reference-statistics cache never uses an entry it cannot vouch for: tampered (well
formed, wrong numbers), foreign (another key's file), truncated or keyless entries are named
in a warning, recomputed and replaced, and the metrics equal those computed without a cache."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from gandiag.data.glyphs import make_glyphs
from gandiag.evaluate import evaluate

KW = {"metrics": ("fid", "pr"), "bootstrap": 0, "k_pr": 3}


@pytest.fixture(scope="module")
def sets() -> tuple[np.ndarray, np.ndarray, dict]:
    real, _ = make_glyphs(200, seed=31)
    fake, _ = make_glyphs(200, seed=32)
    real, fake = np.array(real), np.array(fake)
    return real, fake, evaluate(real, fake, **KW)


def _entry(cache: Path) -> Path:
    (npz,) = [p for p in (cache / "stats").glob("*.npz") if ".knn" not in p.name]
    return npz


def _rewrite(path: Path, **changes: np.ndarray) -> None:
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    np.savez(path, **arrays)  # well formed; the stored checksum is kept as it was


def _check_recomputed(sets, cache: Path, caplog, damaged: Path, why: str) -> None:
    real, fake, plain = sets
    with caplog.at_level(logging.WARNING, logger="gandiag.features.cache"):
        again = evaluate(real, fake, cache=cache, **KW)
    warned = [r.getMessage() for r in caplog.records if str(damaged) in r.getMessage()]
    assert warned and why in warned[0], [r.getMessage() for r in caplog.records]
    for name in ("fid", "precision", "recall"):
        assert again[name].value == plain[name].value, name
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gandiag.features.cache"):
        evaluate(real, fake, cache=cache, **KW)  # the replaced entry is intact again
    assert not caplog.records


@pytest.mark.parametrize(
    "damage, why",
    [
        (lambda p: _rewrite(p, mu=np.load(p)["mu"] * 50), "checksum"),
        (lambda p: _rewrite(p, sigma=np.zeros_like(np.load(p)["sigma"])), "checksum"),
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "cannot be read"),
        (lambda p: np.savez(p, mu=np.load(p)["mu"], sigma=np.load(p)["sigma"]), "lacks"),
        (lambda p: p.write_bytes(b"not a zip at all"), "cannot be read"),
    ],
    ids=["tampered-mu", "zeroed-sigma", "truncated", "keyless", "garbage"],
)
def test_damaged_statistics_entry_is_named_and_recomputed(sets, tmp_path, caplog, damage, why):
    real, fake, _ = sets
    evaluate(real, fake, cache=tmp_path, **KW)
    npz = _entry(tmp_path)
    damage(npz)
    _check_recomputed(sets, tmp_path, caplog, npz, why)


def test_foreign_entry_under_this_key_is_not_used(sets, tmp_path, caplog):
    real, fake, _ = sets
    evaluate(fake, real, cache=tmp_path / "other", **KW)  # another reference set's entry
    evaluate(real, fake, cache=tmp_path, **KW)
    mine, theirs = _entry(tmp_path), _entry(tmp_path / "other")
    shutil.copyfile(theirs, mine)
    _check_recomputed(sets, tmp_path, caplog, mine, "another key")


@pytest.mark.parametrize(
    "damage, why",
    [
        (lambda p: _rewrite(p, radii=np.zeros_like(np.load(p)["radii"])), "checksum"),
        (lambda p: p.write_bytes(p.read_bytes()[:100]), "cannot be read"),
    ],
    ids=["zeroed-radii", "truncated-radii"],
)
def test_damaged_knn_radii_are_named_and_recomputed(sets, tmp_path, caplog, damage, why):
    real, fake, _ = sets
    evaluate(real, fake, cache=tmp_path, **KW)
    radii = _entry(tmp_path).with_name(f"{_entry(tmp_path).stem}.knn3.npz")
    assert radii.is_file()
    damage(radii)
    _check_recomputed(sets, tmp_path, caplog, radii, why)
