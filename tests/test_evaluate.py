import json

import numpy as np
import pytest
import torch
from agreement import assert_agrees

from gandiag.cli import main
from gandiag.data.glyphs import make_glyphs
from gandiag.evaluate import evaluate, load_images
from gandiag.features import get_extractor
from gandiag.metrics import frechet_distance
from gandiag.store import RunReader, RunWriter


@pytest.fixture(scope="module")
def glyph_sets():
    real, _ = make_glyphs(300, seed=21)
    good, _ = make_glyphs(300, seed=22)
    collapsed, _ = make_glyphs(300, seed=23, classes=(4,))
    return np.array(real), np.array(good), np.array(collapsed)


def test_collapsed_generator_scores_worse_on_every_metric(glyph_sets):
    real, good, collapsed = glyph_sets
    kw = {"metrics": ("fid", "kid", "is", "pr", "dc"), "kid_subset_size": 100, "bootstrap": 5}
    g, c = evaluate(real, good, **kw), evaluate(real, collapsed, **kw)
    assert c["fid"].value > 10 * g["fid"].value
    assert c["kid"].value > g["kid"].value
    assert c["is"].value < 1.5 and g["is"].value > 5
    assert c["recall"].value < 0.3 and g["recall"].value > 0.8
    assert c["coverage"].value < g["coverage"].value
    fid = g["fid"]
    assert fid.interval[0] <= fid.value <= fid.interval[1]
    assert fid.protocol.feature_extractor == "glyph" and fid.protocol.num_fake == 300
    assert fid.protocol.weights_sha256 == get_extractor("glyph").weights_sha256


def test_generator_callable_num_samples_and_seeded_subsampling(glyph_sets):
    real, good, _ = glyph_sets
    pool = torch.from_numpy(good)
    gen = torch.Generator().manual_seed(0)
    draw = lambda n: pool[torch.randint(0, len(pool), (n,), generator=gen)]
    out = evaluate(real, draw, metrics=("fid",), num_samples=150, bootstrap=0)
    assert out["fid"].protocol.num_fake == 150 and out["fid"].protocol.num_real == 150
    a = evaluate(real, good, metrics=("fid",), num_samples=200, bootstrap=0, seed=3)
    b = evaluate(real, good, metrics=("fid",), num_samples=200, bootstrap=0, seed=3)
    assert a["fid"].value == b["fid"].value
    with pytest.raises(ValueError, match="num_samples"):
        evaluate(real, draw, metrics=("fid",))
    with pytest.raises(ValueError, match="only 300"):
        evaluate(real, good, metrics=("fid",), num_samples=301)
    with pytest.raises(ValueError, match="valid names"):
        evaluate(real, good, metrics=("fidd",))


def test_cache_hit_gives_the_same_answer(glyph_sets, tmp_path):
    real, good, _ = glyph_sets
    first = evaluate(real, good, metrics=("fid",), bootstrap=0, cache=tmp_path)
    files = list((tmp_path / "stats").glob("*.npz"))
    assert len(files) == 1
    second = evaluate(real, good, metrics=("fid",), bootstrap=0, cache=tmp_path)
    assert second["fid"].value == first["fid"].value
    evaluate(real[:-1], good, metrics=("fid",), bootstrap=0, cache=tmp_path)  # new content, new key
    assert len(list((tmp_path / "stats").glob("*.npz"))) == 2


def test_cache_stores_knn_radii_and_clean_fid_statistics(glyph_sets, tmp_path):
    from cleanfid.fid import frechet_distance as cleanfid_fd

    from gandiag.metrics import knn_radii

    real, good, _ = glyph_sets
    kw = {"metrics": ("fid", "pr", "dc"), "bootstrap": 0, "k_pr": 3, "k_dc": 5}
    plain = evaluate(real, good, **kw)
    first = evaluate(real, good, cache=tmp_path, **kw)
    (npz,) = [p for p in (tmp_path / "stats").glob("*.npz") if ".knn" not in p.name]

    def read_radii(k):
        with np.load(npz.with_name(f"{npz.stem}.knn{k}.npz")) as z:
            return z["radii"]

    radii = {k: read_radii(k) for k in (3, 5)}
    with np.load(npz) as z:
        feats, mu, sigma = z["features"], z["mu"], z["sigma"]
    for k, r in radii.items():
        np.testing.assert_array_equal(r, knn_radii(feats, k))
    # A damaged radii file is recomputed rather than trusted; a hit reads the rest.
    npz.with_name(f"{npz.stem}.knn5.npz").write_bytes(b"PK\x03\x04 truncated")
    second = evaluate(real, good, cache=tmp_path, **kw)
    np.testing.assert_array_equal(read_radii(5), radii[5])
    for name in ("fid", "precision", "recall", "density", "coverage"):
        assert plain[name].value == first[name].value == second[name].value
    # The statistics file is clean-fid's format: its frechet_distance reads mu/sigma as is.
    fake = evaluate(good, real, cache=tmp_path / "other", **kw)  # roles swapped: new entry
    (other,) = [p for p in (tmp_path / "other" / "stats").glob("*.npz") if ".knn" not in p.name]
    with np.load(other) as z:
        ref = cleanfid_fd(mu, sigma, z["mu"], z["sigma"])
        scale = sum(np.trace(s) + m @ m for m, s in ((mu, sigma), (z["mu"], z["sigma"])))
        assert_agrees(fake["fid"].value, ref, scale=scale, rel=1e-9)


def test_load_images_from_folder_npy_npz(tmp_path, glyph_sets):
    from PIL import Image

    real = glyph_sets[0][:5]
    (tmp_path / "d").mkdir()
    for i, im in enumerate(real):
        Image.fromarray(im).save(tmp_path / "d" / f"{i}.png")
    np.save(tmp_path / "x.npy", real[..., None])  # NHWC
    np.savez(tmp_path / "x.npz", images=real)
    for src in (tmp_path / "d", tmp_path / "x.npy", tmp_path / "x.npz"):
        loaded = load_images(src)
        assert loaded.shape == (5, 1, 28, 28) and loaded.dtype == torch.uint8
        assert torch.equal(loaded[:, 0], torch.from_numpy(real))
    with pytest.raises(FileNotFoundError):
        load_images(tmp_path / "missing")


def test_cli_json_and_run_store(tmp_path, glyph_sets, capsys):
    real, good, _ = glyph_sets
    np.save(tmp_path / "real.npy", real)
    np.save(tmp_path / "fake.npy", good)
    run = tmp_path / "run"
    with RunWriter(run, kind="gan") as w:
        w.set_meta(note="x")
    out = tmp_path / "out.json"
    rc = main(
        [
            "evaluate",
            "--real",
            str(tmp_path / "real.npy"),
            "--fake",
            str(tmp_path / "fake.npy"),
            "--metrics",
            "fid,pr",
            "--bootstrap",
            "0",
            "--json",
            str(out),
            "--run",
            str(run),
            "--step",
            "7",
        ]
    )
    assert rc == 0
    payload = json.loads(out.read_text())
    assert set(payload) == {"fid", "precision", "recall"}
    fid = frechet_distance(
        get_extractor("glyph")(real).numpy(), get_extractor("glyph")(good).numpy()
    ).fid
    assert payload["fid"]["value"] == pytest.approx(fid, rel=1e-9)
    reader = RunReader(run)
    stored = {m.name: m for m in reader.read_metrics()}
    assert stored["fid"].step == 7 and stored["fid"].value == pytest.approx(fid, rel=1e-9)
    assert reader.info().status == "finished"  # the run's status is left as it was
    assert (
        main(["evaluate", "--real", str(tmp_path / "nope"), "--fake", str(tmp_path / "fake.npy")])
        == 2
    )
    assert "does not exist" in capsys.readouterr().err


def test_cli_metric_options_reach_the_metrics(tmp_path, glyph_sets):
    from gandiag.metrics import prdc

    real, good, _ = glyph_sets
    np.save(tmp_path / "real.npy", real)
    np.save(tmp_path / "fake.npy", good)
    out = tmp_path / "out.json"
    args = ["evaluate", "--real", str(tmp_path / "real.npy"), "--fake", str(tmp_path / "fake.npy")]
    opts = ["--metrics", "pr,dc", "--k-pr", "4", "--k-dc", "2", "--inclusive", "--json", str(out)]
    assert main(args + opts) == 0
    payload = json.loads(out.read_text())
    ext = get_extractor("glyph")
    want = prdc(ext(real).numpy(), ext(good).numpy(), k_pr=4, k_dc=2, inclusive=True)
    for name in ("precision", "recall", "density", "coverage"):
        assert payload[name]["value"] == getattr(want, name)
        assert payload[name]["protocol"]["options"]["inside"] == "<="
    assert payload["precision"]["protocol"]["options"]["k"] == 4
    assert payload["density"]["protocol"]["options"]["k"] == 2


def test_evaluate_leaves_the_global_rng_as_it_was():
    # a training loop that evaluates continues from the random numbers it had
    import torch

    from gandiag.evaluate import evaluate

    g = torch.Generator().manual_seed(0)
    real, fake = torch.rand(64, 1, 28, 28, generator=g), torch.rand(64, 1, 28, 28, generator=g)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    evaluate(real * 2 - 1, fake * 2 - 1, metrics=("kid",), kid_subset_size=32, bootstrap=0)
    assert torch.equal(torch.rand(3), expected)
