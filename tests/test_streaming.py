"""Streaming evaluation gives today's numbers: the whole-set pipeline on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from gandiag import streaming
from gandiag.data.glyphs import make_glyphs
from gandiag.evaluate import evaluate, load_images, sample_callable
from gandiag.features import get_extractor
from gandiag.features.cache import content_key
from gandiag.metrics import (
    feature_stats,
    fid_bootstrap,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    prdc,
)


@pytest.fixture(scope="module")
def sets():
    real, _ = make_glyphs(700, seed=31)
    fake, _ = make_glyphs(650, seed=32)
    return np.array(real), np.array(fake)


def whole_set(real, fake, num_samples=None, seed=0, bootstrap=3, kid_subset_size=100):
    """The pre-streaming pipeline: every image in memory, one extractor call per set."""
    rng = np.random.default_rng(seed)
    ext = get_extractor("glyph")
    sets = []
    for images in (load_images(real), load_images(fake) if not callable(fake) else None):
        if images is not None and num_samples is not None and num_samples < images.shape[0]:
            idx = np.sort(rng.choice(images.shape[0], num_samples, replace=False))
            images = images[torch.from_numpy(idx)]
        sets.append(images)
    if callable(fake):
        chunks, have = [], 0
        with torch.no_grad():
            while have < num_samples:
                chunks.append(fake(min(500, num_samples - have)).detach().cpu())
                have += chunks[-1].shape[0]
        sets[1] = torch.cat(chunks)[:num_samples]
    rf, ff = ext(sets[0]).numpy(), ext(sets[1]).numpy()
    stats = feature_stats(rf)
    kid = kernel_inception_distance(rf, ff, 100, kid_subset_size, seed)
    res = prdc(rf, ff, k_pr=3, k_dc=5)
    return {
        "fid": frechet_distance(stats, ff).fid,
        "fid_std": fid_bootstrap(stats, ff, bootstrap, seed=seed).std,
        "kid": kid.mean,
        "kid_std": kid.std,
        "is": inception_score(ext.logits(sets[1]).numpy(), 10).mean,
        "precision": res.precision,
        "recall": res.recall,
        "density": res.density,
        "coverage": res.coverage,
    }


def streamed(real, fake, **kw):
    out = evaluate(real, fake, kid_subset_size=100, bootstrap=3, progress=False, **kw)
    return {
        "fid": out["fid"].value,
        "fid_std": out["fid"].uncertainty,
        "kid": out["kid"].value,
        "kid_std": out["kid"].uncertainty,
        "is": out["is"].value,
        **{k: out[k].value for k in ("precision", "recall", "density", "coverage")},
    }


def test_arrays_give_identical_numbers(sets):
    real, fake = sets
    assert streamed(real, fake) == whole_set(real, fake)
    assert streamed(real, fake, num_samples=400, seed=5) == whole_set(real, fake, 400, seed=5)


def test_folder_with_worker_processes_and_npy_memmap_give_identical_numbers(sets, tmp_path):
    from PIL import Image

    real, fake = sets
    (tmp_path / "real").mkdir()
    for i, im in enumerate(real):
        Image.fromarray(im).save(tmp_path / "real" / f"{i:04d}.png")
    np.save(tmp_path / "fake.npy", fake[..., None])  # NHWC, memory-mapped when streamed
    want = whole_set(tmp_path / "real", tmp_path / "fake.npy", 500, seed=2)
    got = streamed(tmp_path / "real", tmp_path / "fake.npy", num_samples=500, seed=2, workers=2)
    assert got == want


def test_generator_is_streamed_with_identical_numbers(sets):
    real, _ = sets
    G = torch.nn.Sequential(
        torch.nn.Linear(8, 28 * 28), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 28, 28))
    )
    calls = []

    def draw_fn(seed):
        inner = sample_callable(G, 8, seed=seed)

        def draw(n):
            calls.append(n)
            return inner(n)

        return draw

    want = whole_set(real, draw_fn(7), num_samples=650)
    calls.clear()
    got = streamed(real, draw_fn(7), num_samples=650)
    assert got == want
    assert calls == [500, 150]  # the same generator calls as before


def test_batches_are_bounded_by_the_extractor_batch(sets, monkeypatch):
    _real, fake = sets
    ext = get_extractor("glyph")
    ext.batch_size = 100
    seen = []
    original = ext.check_images
    monkeypatch.setattr(ext, "check_images", lambda x: seen.append(x.shape[0]) or original(x))
    got = streaming.stream_features(
        fake, ext, num_samples=None, rng=np.random.default_rng(0), name="fake", progress=False
    )
    assert seen == [100] * 6 + [50]
    np.testing.assert_array_equal(got.features, ext(fake).numpy())


def test_streamed_cache_key_is_the_in_memory_key(sets, tmp_path):
    real, fake = sets
    ext = get_extractor("glyph")
    key = streaming.stream_features(
        real,
        ext,
        num_samples=None,
        rng=np.random.default_rng(0),
        name="real",
        features=False,
        content_key=True,
        progress=False,
    ).content_sha256
    assert key == content_key(ext.check_images(real), ext)
    first = evaluate(real, fake, metrics=("fid",), bootstrap=0, cache=tmp_path, num_samples=300)
    again = evaluate(real, fake, metrics=("fid",), bootstrap=0, cache=tmp_path, num_samples=300)
    assert first["fid"].value == again["fid"].value == whole_set(real, fake, 300)["fid"]


def test_mixed_sizes_in_a_folder_name_the_fix(tmp_path):
    from PIL import Image

    for i, size in enumerate((8, 8, 9)):
        Image.fromarray(np.zeros((size, size), np.uint8)).save(tmp_path / f"{i}.png")
    src = streaming.open_source(tmp_path, workers=0)
    with pytest.raises(ValueError, match="resize them to one size"):
        list(src.batches(np.arange(3), 2))


def _rank(rank, init, real, out):
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    try:
        torch.manual_seed(0)
        G = torch.nn.Sequential(
            torch.nn.Linear(8, 28 * 28), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 28, 28))
        )
        calls = []
        draw = sample_callable(G, 8, seed=3)
        counted = lambda n: calls.append(n) or draw(n)
        counted.skip = draw.skip
        res = evaluate(
            real,
            counted,
            metrics=("fid", "pr"),
            num_samples=650,
            bootstrap=0,
            generator_batch_size=200,
            progress=False,
        )
        np.save(
            f"{out}_{rank}.npy", np.array([res["fid"].value, res["precision"].value, sum(calls)])
        )
        # a callable that every rank seeds alike is refused, not counted twice
        same = lambda n: G(torch.randn(n, 8, generator=torch.Generator().manual_seed(1)))
        try:
            evaluate(
                real, same, metrics=("fid",), num_samples=400, bootstrap=0, generator_batch_size=100
            )
        except ValueError as exc:
            assert "same first batch on several ranks" in str(exc)
        else:
            raise AssertionError("identical per-rank generators were not refused")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_generation_is_split_across_two_gloo_ranks(sets, tmp_path):
    real = sets[0]
    out = str(tmp_path / "res")
    mp.spawn(_rank, args=(f"file://{tmp_path / 'init'}", real, out), nprocs=2, join=True)
    r0, r1 = np.load(f"{out}_0.npy"), np.load(f"{out}_1.npy")
    assert r0[:2].tolist() == r1[:2].tolist()
    assert r0[2] + r1[2] == 650  # each rank generated only its share
    torch.manual_seed(0)
    G = torch.nn.Sequential(
        torch.nn.Linear(8, 28 * 28), torch.nn.Tanh(), torch.nn.Unflatten(1, (1, 28, 28))
    )
    single = evaluate(
        real,
        sample_callable(G, 8, seed=3),
        metrics=("fid", "pr"),
        num_samples=650,
        bootstrap=0,
        generator_batch_size=200,
        progress=False,
    )
    assert r0[0] == pytest.approx(single["fid"].value, rel=1e-6)
    assert r0[1] == pytest.approx(single["precision"].value, abs=1e-12)


def test_prefetch_on_and_off_give_identical_features(sets):
    real, _ = sets
    ext = get_extractor("glyph")
    ext.batch_size = 128
    runs = [
        streaming.stream_features(
            real,
            ext,
            num_samples=500,
            rng=np.random.default_rng(3),
            name="real",
            logits=True,
            progress=False,
            prefetch=prefetch,
        )
        for prefetch in (True, False)
    ]
    np.testing.assert_array_equal(runs[0].features, runs[1].features)
    np.testing.assert_array_equal(runs[0].logits, runs[1].logits)
    assert runs[0].features.shape[0] == 500


def test_prefetch_thread_keeps_order_reraises_and_stops_its_source():
    assert list(streaming.Prefetched(iter(range(7)))) == list(range(7))

    def failing():
        yield 1
        raise ValueError("images under X have different sizes")

    it = streaming.Prefetched(failing())
    assert next(it) == 1
    with pytest.raises(ValueError, match="different sizes"):
        next(it)

    produced, closed = [], []

    def endless():
        try:
            i = 0
            while True:
                produced.append(i)
                yield i
                i += 1
        finally:
            closed.append(True)

    it = streaming.Prefetched(endless(), depth=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()
    assert closed == [True]  # the source is closed, not left running
    assert len(produced) <= 3 + 2 + 1  # at most depth ahead, plus the one in hand
    with pytest.raises(StopIteration):
        next(it)


def test_grad_mode_is_off_in_the_prefetch_thread():
    def modes():
        while True:
            yield torch.is_grad_enabled()

    it = streaming.Prefetched(modes())
    assert next(it) is False
    it.close()
