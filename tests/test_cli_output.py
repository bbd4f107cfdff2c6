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


def test_resize_fits_images_to_the_extractor(sets, capsys):
    args = ["evaluate", "--real", str(sets / "real.npy"), "--fake", str(sets / "big.npy")]
    args += ["--metrics", "fid", "--bootstrap", "0"]
    assert main(args) == 2
    assert "28x28" in capsys.readouterr().err
    assert main(args + ["--resize"]) == 0
    assert "fid ↓" in capsys.readouterr().out
