"""What the command line prints: labelled intervals, the extractor and N, JSON on stdout,
``--resize``, and ``gandiag sample``."""

import json

import numpy as np
import pytest

from gandiag.cli import main
from gandiag.data.glyphs import make_glyphs


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    d = tmp_path_factory.mktemp("sets")
    real, _ = make_glyphs(150, seed=1)
    fake, _ = make_glyphs(150, seed=2)
    np.save(d / "real.npy", real)
    np.save(d / "fake.npy", fake)
    big = np.repeat(np.repeat(np.asarray(fake), 2, axis=1), 2, axis=2)  # 56x56
    np.save(d / "big.npy", big)
    return d


def test_json_dash_writes_to_stdout_and_the_table_to_stderr(sets, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["evaluate", "--real", str(sets / "real.npy"), "--fake", str(sets / "fake.npy")]
    assert (
        main(
            args
            + [
                "--metrics",
                "fid,kid,pr",
                "--bootstrap",
                "5",
                "--kid-subset-size",
                "50",
                "--json",
                "-",
            ]
        )
        == 0
    )
    out, err = capsys.readouterr()
    payload = json.loads(out)
    assert set(payload) == {"fid", "kid", "precision", "recall"}
    assert not (tmp_path / "-").exists()
    assert "extractor glyph, weights " in err and "N = 150 real, 150 fake" in err
    assert "95% bootstrap interval [" in err and "(5 resamples)" in err
    assert "fid ↓" in err and "precision ↑" in err


def test_evaluate_reports_each_stage_with_its_size_and_no_bar_off_a_terminal(sets, capsys):
    args = ["evaluate", "--real", str(sets / "real.npy"), "--fake", str(sets / "fake.npy")]
    assert main(args + ["--metrics", "fid,pr", "--bootstrap", "0"]) == 0
    err = capsys.readouterr().err  # captured: not a terminal
    lines = err.splitlines()
    assert lines[0].startswith("gandiag evaluate: fid, pr with the 'glyph' extractor")
    for i, stage in enumerate(["real set", "fake set", "metric fid", "metric pr"], start=1):
        started = [ln for ln in lines if ln.strip().startswith(f"[{i}/4] {stage}")]
        assert len(started) == 2 and started[1].rstrip().endswith(" s)"), started
    assert "[1/4] real set: reading images and extracting features: done (N = 150, " in err
    assert "[2/4] fake set: reading images and extracting features: done (N = 150, " in err
    assert "\r" not in err and "img/s" not in err  # no tqdm bar without a terminal


def test_resize_fits_images_to_the_extractor(sets, capsys):
    args = ["evaluate", "--real", str(sets / "real.npy"), "--fake", str(sets / "big.npy")]
    args += ["--metrics", "fid", "--bootstrap", "0"]
    assert main(args) == 2
    assert "28x28" in capsys.readouterr().err
    assert main(args + ["--resize"]) == 0
    assert "fid ↓" in capsys.readouterr().out
